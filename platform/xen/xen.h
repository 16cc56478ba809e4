// platform/xen internals shared between its files: shared_info, event channels, the pvclock,
// the console ring and xenstore. A Xen PVH guest is chosen at boot from CPUID
// (x86_64/machine.cpp); docs/xen.md describes the whole platform.
#pragma once

#include <cstddef>
#include <cstdint>

#include "x86_64/machine.h"
#include "xen/xen_abi.h"

namespace xos::xen {

// The vector Xen injects when an event channel becomes pending (HVM_PARAM_CALLBACK_IRQ, vector
// type: no local APIC, no EOI). Linux uses the same one.
constexpr uint64_t UPCALL_VECTOR = 0xf3;

// shared_info, mapped by init_shared_info (before paging: it lives in the image's bss).
shared_info* shared();
void init_shared_info();

// Event channels. handler(port, context) runs in the interrupt path with interrupts off and
// returns true if it may have made a thread runnable. False if the port is out of range.
using EventHandler = bool (*)(evtchn_port_t port, void* context);
bool bind_port(evtchn_port_t port, EventHandler handler, void* context);
// Binds VIRQ `virq` of vCPU 0 to a new port with `handler`; the port, or -errno.
long bind_virq(uint32_t virq, EventHandler handler, void* context);
void init_events();  // after paging: the upcall vector
machine::IrqResult handle_upcall();
// The port the scheduler's timer ticks on (0 before timer_start).
evtchn_port_t timer_port();

// Time: nanoseconds since Xen's boot (pvclock of vCPU 0) and the wall clock.
uint64_t system_time_ns();
uint64_t monotonic_ns();
int64_t realtime_ns();
void timer_start(uint32_t hz);
void timer_rearm();  // after each pass through the scheduler: tickless (events.cpp)

// Console: port 0xE9 (Xen's debug port; lands in `xl dmesg` with guest_loglvl=all) until the
// PV console ring is up, then the ring (xenconsoled: `xl console`, its log files).
void init_console_ring();
void console_write(platform::ConsoleStream stream, const char* bytes, size_t count);
// Writes to port 0xE9 only.
void debug_port_write(const char* bytes, size_t count);
// Waits (up to `timeout_ns`) until xenconsoled has taken everything from the ring.
void console_flush(uint64_t timeout_ns);
// Console input from the ring (the Machine table's console_*; console.cpp describes them).
platform::StdioKinds console_stdio();
platform::ConsoleSize console_size();
platform::ConsoleInput console_read(char* buffer, size_t count);
bool console_set_input_handler(void (*handler)());

// Waits for something to happen while polling a ring: a scheduler yield to Xen.
void relax();
// Waits (interrupts on or off) until `port` is signalled or 10 ms have passed, then clears the
// port's pending bit; the caller re-checks what it waits for. Unlike relax(), the vCPU really
// blocks, so dom0's daemons (xenconsoled, xenstored) get the CPU they need to answer.
void wait_on_port(evtchn_port_t port);

}  // namespace xos::xen
