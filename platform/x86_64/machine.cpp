// The machine an image runs on, chosen at boot (machine.h), and the platform calls that go to it.
#include "machine.h"

#include "cpu.h"

namespace xos::machine {

namespace {
const Machine* g_machine = &kvm_machine;
}  // namespace

void select() { g_machine = x86::hypervisor_leaf_base("XenVMMXenVMM") ? &xen_machine : &kvm_machine; }

const Machine& current() { return *g_machine; }

}  // namespace xos::machine

namespace xos::platform {

void console_write(ConsoleStream stream, const char* bytes, size_t count) {
    machine::current().console_write(stream, bytes, count);
}
StdioKinds console_stdio() { return machine::current().console_stdio(); }
ConsoleSize console_size() { return machine::current().console_size(); }
ConsoleInput console_read(char* buffer, size_t count) { return machine::current().console_read(buffer, count); }
bool console_set_input_handler(void (*handler)()) { return machine::current().console_set_input_handler(handler); }
uint64_t monotonic_ns() { return machine::current().monotonic_ns(); }
int64_t realtime_ns() { return machine::current().realtime_ns(); }
int64_t realtime_coarse_ns() { return machine::current().realtime_coarse_ns(); }
void timer_start(uint32_t hz) { machine::current().timer_start(hz); }
std::span<BlockDevice* const> host_block_devices() { return machine::current().host_block_devices(); }
HostNic* host_nic() { return machine::current().host_nic(); }

void shutdown(ExitKind kind, int status, const char* reason) {
    machine::current().shutdown(kind, status, reason);
    x86::halt_forever();
}

}  // namespace xos::platform
