// 16550 UART on COM1 (QEMU: isa-serial; Firecracker and Cloud Hypervisor: the same port).
#include "x86_64/cpu.h"
#include "x86_64/machine.h"
#include "xos/platform.h"

namespace xos::kvm {

namespace {
constexpr uint16_t COM1 = 0x3f8;
constexpr uint16_t REG_DATA = 0, REG_IER = 1, REG_FCR = 2, REG_LCR = 3, REG_LSR = 5;
constexpr uint8_t LSR_THR_EMPTY = 0x20;
bool g_uart_present;
}  // namespace

void init_uart() {
    x86::outb(COM1 + REG_IER, 0x00);  // no interrupts
    x86::outb(COM1 + REG_LCR, 0x03);  // 8N1
    x86::outb(COM1 + REG_FCR, 0x07);  // FIFO on, cleared
    // An absent UART reads as 0xff: don't wait for it to drain.
    g_uart_present = x86::inb(COM1 + REG_LSR) != 0xff;
}

void uart_write(const char* bytes, size_t count) {
    if (!g_uart_present) return;
    for (size_t i = 0; i < count; ++i) {
        for (int spins = 0; spins < 100000 && !(x86::inb(COM1 + REG_LSR) & LSR_THR_EMPTY); ++spins) {
        }
        x86::outb(COM1 + REG_DATA, uint8_t(bytes[i]));
    }
}

}  // namespace xos::kvm

namespace xos::machine {
void init_console() { kvm::init_uart(); }
}  // namespace xos::machine

namespace xos::platform {
void console_write(const char* bytes, size_t count) { kvm::uart_write(bytes, count); }
}  // namespace xos::platform
