// The kvm machine: QEMU/KVM-style VMs (and Firecracker, Cloud Hypervisor), chosen at boot when
// the CPU does not say Xen (x86_64/machine.cpp).
#include "x86_64/machine.h"

namespace xos::kvm {
void init_uarts();
void init_clock();
void console_write(platform::ConsoleStream stream, const char* bytes, size_t count);
platform::StdioKinds console_stdio();
platform::ConsoleSize console_size();
platform::ConsoleInput console_read(char* buffer, size_t count);
bool console_set_input_handler(void (*handler)());
uint64_t monotonic_ns();
int64_t realtime_ns();
int64_t realtime_coarse_ns();
void timer_start(uint32_t hz);
void timer_start_cpu();
void timer_rearm();
machine::IrqResult handle_irq(uint64_t vector);
bool device_irq_needs_big_lock(uint64_t vector);
void shutdown(platform::ExitKind kind, int status, const char* reason);
std::span<platform::BlockDevice* const> no_block_devices();
platform::HostNic* no_nic();
}  // namespace xos::kvm

namespace xos::machine {

const Machine kvm_machine = {
    .name = "kvm",
    .init_console = kvm::init_uarts,
    .init = kvm::init_clock,
    .handle_irq = kvm::handle_irq,
    .irq_needs_big_lock = kvm::device_irq_needs_big_lock,
    .console_write = kvm::console_write,
    .console_stdio = kvm::console_stdio,
    .console_size = kvm::console_size,
    .console_read = kvm::console_read,
    .console_set_input_handler = kvm::console_set_input_handler,
    .monotonic_ns = kvm::monotonic_ns,
    .realtime_ns = kvm::realtime_ns,
    .realtime_coarse_ns = kvm::realtime_coarse_ns,
    .timer_start = kvm::timer_start,
    .timer_start_cpu = kvm::timer_start_cpu,
    .timer_rearm = kvm::timer_rearm,
    .shutdown = kvm::shutdown,
    .host_block_devices = kvm::no_block_devices,
    .host_nic = kvm::no_nic,
};

}  // namespace xos::machine
