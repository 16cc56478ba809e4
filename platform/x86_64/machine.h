// What platform/x86_64 needs from the machine it runs on: kvm (QEMU/KVM-style VMs: 16550s, PIT,
// CMOS, isa-debug-exit) or xen (a Xen PVH guest: hypercalls, PV console, event channels). Both
// are linked into the same image and chosen at boot from CPUID (machine.cpp), so one image file
// boots on either. The console comes up first so every later failure is visible.
#pragma once

#include <cstddef>
#include <cstdint>

#include <span>

#include "xos/block.h"
#include "xos/nic.h"
#include "xos/platform.h"

namespace xos::machine {

// Device interrupts arrive on vectors 32..255; the machine acknowledges them and says whether
// it was the scheduler's timer.
// DeviceWakeup: a device interrupt that may have made a thread runnable (switch to it if the
// CPU was idle, without charging the running thread a timer tick).
enum class IrqResult { TimerTick, DeviceWakeup, Handled, Unknown };

// One machine's implementation of the platform calls that differ between kvm and xen.
struct Machine {
    const char* name;
    void (*init_console)();
    void (*init)();  // after paging, before libos
    IrqResult (*handle_irq)(uint64_t vector);
    // Whether a device vector's handler runs under the big lock (kvm: per route,
    // xos/platform.h InterruptLocking; xen: always, one vCPU).
    bool (*irq_needs_big_lock)(uint64_t vector);
    void (*console_write)(platform::ConsoleStream stream, const char* bytes, size_t count);
    // Console input and what the host's stdio are (xos/platform.h, console_read and friends).
    platform::StdioKinds (*console_stdio)();
    platform::ConsoleSize (*console_size)();
    platform::ConsoleInput (*console_read)(char* buffer, size_t count);
    bool (*console_set_input_handler)(void (*handler)());
    uint64_t (*monotonic_ns)();
    int64_t (*realtime_ns)();
    int64_t (*realtime_coarse_ns)();
    void (*timer_start)(uint32_t hz);
    // Tickless machines (docs/locking.md "Timer"): the timer is re-armed by timer_rearm after
    // each pass through the scheduler, for what that CPU needs next. kvm: each CPU's own timer
    // (the boot CPU's is set up by timer_start, an application processor's by timer_start_cpu).
    // timer_start_cpu null (xen, one vCPU): the boot CPU's timer would pace the others with
    // Tick IPIs.
    void (*timer_start_cpu)();
    void (*timer_rearm)();
    // Leaves the machine; machine.cpp halts the CPU if this returns.
    void (*shutdown)(platform::ExitKind kind, int status, const char* reason);
    // The machine's own disks and NIC (xos/block.h, xos/nic.h): kvm has none (its devices are
    // virtio, which libos drives), xen has blkfront and netfront.
    std::span<platform::BlockDevice* const> (*host_block_devices)();
    platform::HostNic* (*host_nic)();
};
extern const Machine kvm_machine;  // platform/kvm/machine.cpp
extern const Machine xen_machine;  // platform/xen/machine.cpp

// Picks the machine (Xen's CPUID signature: xen, otherwise kvm). First thing at boot.
void select();
const Machine& current();

inline void init_console() { current().init_console(); }
inline void init() { current().init(); }
inline IrqResult handle_irq(uint64_t vector) { return current().handle_irq(vector); }
inline bool irq_needs_big_lock(uint64_t vector) { return current().irq_needs_big_lock(vector); }

}  // namespace xos::machine
