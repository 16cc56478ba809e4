// shared_info and event channels (2-level ABI). Xen marks a port pending in shared_info, sets
// vCPU 0's evtchn_upcall_pending and injects UPCALL_VECTOR (HVM_PARAM_CALLBACK_IRQ of the
// vector type); handle_upcall clears the selector and the pending bits and calls the port's
// handler. Ports are unmasked when bound and never masked again (single vCPU).
#include "xos/libos.h"
#include "xos/log.h"
#include "xen/hypercall.h"
#include "xen/xen.h"
#include "xos/platform.h"

namespace xos::xen {

namespace {

// The page the shared_info frame replaces (XENMEM_add_to_physmap puts it at this gpfn).
alignas(4096) char g_shared_info_page[4096];
shared_info* g_shared;

constexpr size_t MAX_PORTS = 256;
struct Binding {
    EventHandler handler;
    void* context;
};
Binding g_bindings[MAX_PORTS];
evtchn_port_t g_timer_port;
uint64_t g_tick_ns;  // a time slice: the timer's delay while a thread runs
constexpr uint64_t MIN_TICK_NS = 10'000'000;

bool timer_tick(evtchn_port_t, void*) { return false; }

constexpr uint64_t NEVER = ~0ull;
uint64_t g_armed = NEVER;  // the monotonic_ns() deadline the timer is armed for (NEVER: none)
// The soonest a deadline is asked of Xen (one already past, or about to pass, gets this):
// a tick due before the last one was handled would leave the guest doing nothing but ticks.
constexpr uint64_t MIN_DELTA_NS = 100'000;

// Arms the single-shot timer for `deadline` (monotonic_ns()), replacing what it was armed for.
// Not VCPUOP_set_periodic_timer: Xen stops a vCPU's periodic timer while the vCPU is blocked.
//
// VCPU_SSHOTTMR_future: should our pvclock lag Xen's own time (a stale vcpu_time_info on a
// starved vCPU), a deadline already past would fire at once, and every tick would arm the next
// one in the past: nothing but ticks. Xen refuses such a deadline (-ETIME) instead, and the next
// attempt goes further out (doubling, up to about 1.6 s past the first).
void arm(uint64_t deadline) {
    constexpr uint32_t VCPU_SSHOTTMR_future = 1;
    constexpr long ETIME_ERROR = -62;
    uint64_t now = monotonic_ns();
    uint64_t delta = deadline > now + MIN_DELTA_NS ? deadline - now : MIN_DELTA_NS;
    g_armed = now + delta;
    for (int attempt = 0; attempt < 15; ++attempt, delta *= 2) {
        vcpu_set_singleshot_timer next{system_time_ns() + delta, VCPU_SSHOTTMR_future};
        long rc = hypercall(HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, reinterpret_cast<uint64_t>(&next));
        if (rc == 0) return;
        if (rc != ETIME_ERROR) {
            klog("xen: cannot arm the timer (VCPUOP_set_singleshot_timer: %ld)", rc);
            g_armed = NEVER;
            return;
        }
    }
    g_armed = NEVER;
    klog("xen: cannot arm the timer: every deadline up to %llu ms ahead is already past for Xen",
         (unsigned long long)(delta / 1000000));
}

}  // namespace

shared_info* shared() { return g_shared; }

void init_shared_info() {
    xen_add_to_physmap map{DOMID_SELF, 0, XENMAPSPACE_shared_info, 0, platform::virt_to_phys(g_shared_info_page) >> 12};
    long rc = hypercall(HYPERVISOR_memory_op, XENMEM_add_to_physmap, reinterpret_cast<uint64_t>(&map));
    if (rc != 0) {
        klog("xen: fatal: cannot map shared_info (XENMEM_add_to_physmap: %ld)", rc);
        return;
    }
    g_shared = reinterpret_cast<shared_info*>(g_shared_info_page);
}

bool bind_port(evtchn_port_t port, EventHandler handler, void* context) {
    if (port >= MAX_PORTS || !g_shared) return false;
    g_bindings[port] = {handler, context};
    __atomic_fetch_and(&g_shared->evtchn_mask[port / 64], ~(1ull << (port % 64)), __ATOMIC_SEQ_CST);
    evtchn_unmask unmask{port};
    event_channel_op(EVTCHNOP_unmask, &unmask);  // redelivers an event that arrived masked
    return true;
}

long bind_virq(uint32_t virq, EventHandler handler, void* context) {
    evtchn_bind_virq bind{virq, 0, 0};
    if (long rc = event_channel_op(EVTCHNOP_bind_virq, &bind)) return rc;
    if (!bind_port(bind.port, handler, context)) return -2;  // ENOENT: a port we cannot track
    return bind.port;
}

void init_events() {
    if (!g_shared) return;
    if (long rc = hvm_set_param(HVM_PARAM_CALLBACK_IRQ, HVM_PARAM_CALLBACK_TYPE_VECTOR | UPCALL_VECTOR)) {
        klog("xen: fatal: cannot set the event-channel upcall vector (HVM_PARAM_CALLBACK_IRQ: %ld)", rc);
        return;
    }
    g_shared->vcpu[0].evtchn_upcall_mask = 0;
}

machine::IrqResult handle_upcall() {
    using machine::IrqResult;
    if (!g_shared) return IrqResult::Handled;
    vcpu_info& vcpu = g_shared->vcpu[0];
    bool tick = false, wakeup = false;
    while (__atomic_load_n(&vcpu.evtchn_upcall_pending, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&vcpu.evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
        uint64_t selector = __atomic_exchange_n(&vcpu.evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
        while (selector) {
            unsigned word = __builtin_ctzll(selector);
            selector &= selector - 1;
            uint64_t pending = __atomic_load_n(&g_shared->evtchn_pending[word], __ATOMIC_ACQUIRE) &
                ~__atomic_load_n(&g_shared->evtchn_mask[word], __ATOMIC_ACQUIRE);
            while (pending) {
                unsigned bit = __builtin_ctzll(pending);
                pending &= pending - 1;
                __atomic_fetch_and(&g_shared->evtchn_pending[word], ~(1ull << bit), __ATOMIC_SEQ_CST);
                evtchn_port_t port = word * 64 + bit;
                if (port == g_timer_port && port != 0) {
                    tick = true;
                } else if (port < MAX_PORTS && g_bindings[port].handler) {
                    wakeup |= g_bindings[port].handler(port, g_bindings[port].context);
                }
            }
        }
    }
    XosCpuEvents& events = xos_cpu_events[0];  // one vCPU
    if (wakeup) xos_count_event(events.device_interrupts);
    if (tick) {
        xos_count_event(events.timer_interrupts);
        g_armed = NEVER;  // fired: the scheduler's pass re-arms it (timer_rearm) if anything is due
        return IrqResult::TimerTick;
    }
    return wakeup ? IrqResult::DeviceWakeup : IrqResult::Handled;
}

evtchn_port_t timer_port() { return g_timer_port; }

void timer_start(uint32_t hz) {
    long port = bind_virq(VIRQ_TIMER, timer_tick, nullptr);
    if (port < 0) {
        klog("xen: fatal: cannot bind the timer VIRQ (EVTCHNOP_bind_virq: %ld)", port);
        return;
    }
    g_timer_port = evtchn_port_t(port);
    // Time slices of at most 100 Hz: each tick is an upcall and a hypercall, which under a
    // nested or emulated Xen can take milliseconds.
    g_tick_ns = 1000000000ull / (hz ? hz : 100);
    if (g_tick_ns < MIN_TICK_NS) g_tick_ns = MIN_TICK_NS;
    hypercall(HYPERVISOR_vcpu_op, VCPUOP_stop_periodic_timer, 0, 0);
    arm(monotonic_ns() + g_tick_ns);
}

// Tickless, as kvm's timer (docs/xen.md): after every pass through the scheduler (x86_64/traps.cpp)
// the timer is armed for what the guest needs next (sched::timer_need: a time slice while a
// thread runs, the nearest sleeper's deadline when idle, nothing when no thread sleeps), unless
// it is armed for something sooner already (that upcall comes first and re-arms).
void timer_rearm() {
    if (!g_timer_port) return;
    sched::TimerNeed need = sched::timer_need();
    uint64_t now = monotonic_ns();
    uint64_t wanted = need.deadline_ns;
    if (need.tick && now + g_tick_ns < wanted) wanted = now + g_tick_ns;
    if (wanted < g_armed) arm(wanted);
}

void relax() { sched_op(SCHEDOP_yield, nullptr); }

void wait_on_port(evtchn_port_t port) {
    sched_poll poll{reinterpret_cast<uint64_t>(&port), 1, system_time_ns() + 10'000'000};
    if (sched_op(SCHEDOP_poll, &poll) != 0) relax();
    if (g_shared && port < EVTCHN_2L_NR_CHANNELS)
        __atomic_fetch_and(&g_shared->evtchn_pending[port / 64], ~(1ull << (port % 64)), __ATOMIC_SEQ_CST);
}

}  // namespace xos::xen
