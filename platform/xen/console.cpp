// The console on Xen: port 0xE9 until the PV console ring is up (HVM_PARAM_CONSOLE_PFN and
// _EVTCHN: the page Xen reserved in the memory map and the port xenconsoled listens on), then
// the ring, whose output xenconsoled gives to `xl console` and its log. One channel: stdout,
// stderr and libos's messages share it.
//
// Input: what xenconsoled writes into the ring's `in` half (the bytes typed in `xl console`, or
// written to the domain's pty, /local/domain/<domid>/console/tty in dom0) is the app's standard
// input, raw: no framing and so no end of input (a terminal's ^D is libos's line discipline).
// The ring's event channel (xenconsoled signals it when it adds input or takes output) calls
// libos's input handler. The command line's xos.stdio=<in><out><err> (t terminal, p pipe, f file,
// o other) and xos.winsize=<rows>x<cols> say what the streams are, as on KVM
// (docs/host-guest-interface.md); without them nothing is a terminal.
#include <cstring>

#include "xos/log.h"
#include "x86_64/console_tokens.h"
#include "x86_64/cpu.h"
#include "xen/hypercall.h"
#include "xen/xen.h"
#include "xos/platform.h"

namespace xos::xen {

namespace {

constexpr uint16_t DEBUG_PORT = 0xe9;
constexpr uint64_t FULL_RING_TIMEOUT_NS = 5'000'000'000;  // xenconsoled gone: drop output, do not hang

xencons_interface* g_ring;
evtchn_port_t g_port;
void (*g_input_handler)();
bool g_input_broken;  // a bad `in` producer index was seen: input has ended for good
bool g_output_broken;  // a bad `out` consumer index was seen: output goes to port 0xE9

bool on_console_event(evtchn_port_t, void*) {
    if (!g_input_handler) return false;
    g_input_handler();
    return true;
}

void early_text(const char* text) { debug_port_write(text, strlen(text)); }

void ring_write(const char* bytes, size_t count) {
    constexpr uint32_t size = sizeof g_ring->out;
    uint64_t waited_since = 0;
    while (count) {
        uint32_t consumer = __atomic_load_n(&g_ring->out_cons, __ATOMIC_ACQUIRE);
        uint32_t producer = g_ring->out_prod;
        if (producer - consumer > size) {  // xenconsoled's index cannot be right: the ring is unusable
            g_output_broken = true;
            early_text("xen: console: bad output ring indices (the consumer index is beyond the producer's); "
                       "the console stays on port 0xe9\n");
            debug_port_write(bytes, count);
            return;
        }
        uint32_t space = size - (producer - consumer);
        if (space == 0) {
            notify(g_port);
            uint64_t now = system_time_ns();
            if (!waited_since) waited_since = now;
            if (now - waited_since > FULL_RING_TIMEOUT_NS) return;
            wait_on_port(g_port);
            continue;
        }
        waited_since = 0;
        uint32_t n = space < count ? space : uint32_t(count);
        for (uint32_t i = 0; i < n; ++i) g_ring->out[(producer + i) % size] = bytes[i];
        __atomic_store_n(&g_ring->out_prod, producer + n, __ATOMIC_RELEASE);
        bytes += n;
        count -= n;
    }
    notify(g_port);
}

}  // namespace

void debug_port_write(const char* bytes, size_t count) {
    for (size_t i = 0; i < count; ++i) x86::outb(DEBUG_PORT, uint8_t(bytes[i]));
}

void init_console_ring() {
    uint64_t pfn = 0, port = 0;
    if (hvm_get_param(HVM_PARAM_CONSOLE_PFN, pfn) || hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, port) || !pfn) {
        static const char message[] = "xen: no PV console ring; the console stays on port 0xe9\n";
        debug_port_write(message, sizeof message - 1);
        return;
    }
    g_port = evtchn_port_t(port);
    g_ring = static_cast<xencons_interface*>(platform::phys_to_virt(pfn << 12));
}

void console_write(platform::ConsoleStream, const char* bytes, size_t count) {
    if (!g_ring || g_output_broken) return debug_port_write(bytes, count);
    platform::InterruptGuard no_interrupts;  // one writer at a time (single vCPU)
    ring_write(bytes, count);
}

void console_flush(uint64_t timeout_ns) {
    if (!g_ring || g_output_broken) return;
    notify(g_port);
    uint64_t start = system_time_ns();
    while (__atomic_load_n(&g_ring->out_cons, __ATOMIC_ACQUIRE) != g_ring->out_prod &&
           system_time_ns() - start < timeout_ns)
        wait_on_port(g_port);
}

platform::StdioKinds console_stdio() { return x86::console_state().kinds; }

platform::ConsoleSize console_size() { return x86::console_state().size; }

platform::ConsoleInput console_read(char* buffer, size_t count) {
    platform::ConsoleInput result;
    if (!g_ring) return result;
    if (g_input_broken) {
        result.ended = true;
        return result;
    }
    platform::InterruptGuard no_interrupts;
    constexpr uint32_t size = sizeof g_ring->in;
    uint32_t producer = __atomic_load_n(&g_ring->in_prod, __ATOMIC_ACQUIRE);
    uint32_t consumer = g_ring->in_cons;
    if (producer - consumer > size) {  // standard input ends (never a read that waits forever)
        klog("xen: console: bad input ring indices (producer %u, consumer %u); console input has ended", producer,
             consumer);
        g_input_broken = true;
        result.ended = true;
        return result;
    }
    while (consumer != producer && result.bytes < count) buffer[result.bytes++] = g_ring->in[consumer++ % size];
    if (result.bytes) {
        __atomic_store_n(&g_ring->in_cons, consumer, __ATOMIC_RELEASE);
        notify(g_port);  // room for more
    }
    return result;
}

bool console_set_input_handler(void (*handler)()) {
    if (!g_ring) return false;
    {
        platform::InterruptGuard no_interrupts;
        g_input_handler = handler;
    }
    return bind_port(g_port, on_console_event, nullptr);
}

}  // namespace xos::xen
