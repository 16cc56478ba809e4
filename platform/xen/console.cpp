// The console on Xen: port 0xE9 until the PV console ring is up (HVM_PARAM_CONSOLE_PFN and
// _EVTCHN: the page Xen reserved in the memory map and the port xenconsoled listens on), then
// the ring, whose output xenconsoled gives to `xl console` and its log. One channel: stdout,
// stderr and libos's messages share it.
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

void ring_write(const char* bytes, size_t count) {
    constexpr uint32_t size = sizeof g_ring->out;
    uint64_t waited_since = 0;
    while (count) {
        uint32_t consumer = __atomic_load_n(&g_ring->out_cons, __ATOMIC_ACQUIRE);
        uint32_t producer = g_ring->out_prod;
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
    if (!g_ring) return debug_port_write(bytes, count);
    platform::InterruptGuard no_interrupts;  // one writer at a time (single vCPU)
    ring_write(bytes, count);
}

void console_flush(uint64_t timeout_ns) {
    if (!g_ring) return;
    notify(g_port);
    uint64_t start = system_time_ns();
    while (__atomic_load_n(&g_ring->out_cons, __ATOMIC_ACQUIRE) != g_ring->out_prod &&
           system_time_ns() - start < timeout_ns)
        wait_on_port(g_port);
}

}  // namespace xos::xen
