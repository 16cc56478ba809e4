// The xen machine: a Xen PVH guest (docs/xen.md). Boot: hypercall page and shared_info first
// (before paging: both are pages of the image), then, once the direct map covers Xen's special
// pages, the PV console ring, the event-channel upcall and xenstore. Leaving: the exit status
// goes to xenstore (data/xos-status: "exit N" or "crash N reason", which the harness and
// `xos-run --hypervisor xen` read), the console ring is drained, then SCHEDOP_shutdown
// (poweroff for an exit, crash for a crash).
#include <cstdio>

#include "xos/log.h"
#include "x86_64/cpu.h"
#include "xen/blkfront.h"
#include "xen/gnttab.h"
#include "xen/hypercall.h"
#include "xen/netfront.h"
#include "xen/xen.h"
#include "xen/xenstore.h"

namespace xos::xen {

namespace {

constexpr uint64_t SHUTDOWN_FLUSH_NS = 2'000'000'000;

void early_message(const char* text) { debug_port_write(text, __builtin_strlen(text)); }

void init_console() {
    uint32_t base = x86::hypervisor_leaf_base("XenVMMXenVMM");
    if (!init_hypercalls(base)) {
        early_message("xen: fatal: Xen offers no hypercall page\n");
        x86::halt_forever();
    }
    init_shared_info();
    monotonic_ns();  // time 0
}

void init() {
    init_console_ring();
    init_events();
    if (!xenstore::init()) return;
    gnttab::init();  // the disks and the NIC are connected when libos first asks for them
}

machine::IrqResult handle_irq(uint64_t vector) {
    if (vector == UPCALL_VECTOR) return handle_upcall();
    return machine::IrqResult::Unknown;
}

int64_t realtime_coarse_ns() { return realtime_ns(); }

void shutdown(platform::ExitKind kind, int status, const char* reason) {
    char record[256];
    int n = kind == platform::ExitKind::Exit
        ? snprintf(record, sizeof record, "exit %d", status & 0xff)
        : snprintf(record, sizeof record, "crash %d %s", status & 0xff, reason ? reason : "unknown");
    if (n < 0) record[0] = 0;
    long rc = xenstore::available() ? xenstore::write("data/xos-status", record) : -19;  // ENODEV
    if (rc) klog("xen: cannot record the exit status in xenstore (data/xos-status): %ld", rc);
    debug_port_write("xos-status: ", 12);
    debug_port_write(record, __builtin_strlen(record));
    debug_port_write("\n", 1);
    console_flush(SHUTDOWN_FLUSH_NS);
    sched_shutdown how{kind == platform::ExitKind::Exit ? SHUTDOWN_poweroff : SHUTDOWN_crash};
    sched_op(SCHEDOP_shutdown, &how);
}

}  // namespace

}  // namespace xos::xen

namespace xos::machine {

const Machine xen_machine = {
    .name = "xen",
    .init_console = xen::init_console,
    .init = xen::init,
    .handle_irq = xen::handle_irq,
    .irq_needs_big_lock = [](uint64_t) { return true; },
    .console_write = xen::console_write,
    .console_stdio = xen::console_stdio,
    .console_size = xen::console_size,
    .console_read = xen::console_read,
    .console_set_input_handler = xen::console_set_input_handler,
    .monotonic_ns = xen::monotonic_ns,
    .realtime_ns = xen::realtime_ns,
    .realtime_coarse_ns = xen::realtime_coarse_ns,
    .timer_start = xen::timer_start,
    .timer_start_cpu = nullptr,
    .timer_rearm = xen::timer_rearm,
    .shutdown = xen::shutdown,
    .host_block_devices = xen::blkfront_devices,
    .host_nic = xen::netfront_nic,
};

}  // namespace xos::machine
