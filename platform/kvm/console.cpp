// The console: 16550 UARTs. COM1 carries the app's standard output; COM2, when the VMM provides
// it (xos-run does), carries standard error and libos's messages, so that xos-run can give
// them back as its own stdout and stderr. Without COM2 (Firecracker, Cloud Hypervisor) both
// streams share COM1.
#include "x86_64/cpu.h"
#include "x86_64/machine.h"
#include "xos/platform.h"

namespace xos::kvm {

namespace {

constexpr uint16_t COM1 = 0x3f8, COM2 = 0x2f8;
constexpr uint16_t REG_DATA = 0, REG_IER = 1, REG_FCR = 2, REG_LCR = 3, REG_LSR = 5, REG_SCRATCH = 7;
constexpr uint8_t LSR_THR_EMPTY = 0x20;

struct Uart {
    uint16_t base = 0;  // 0: absent
};
Uart g_out, g_err;

// A 16550 is there if its scratch register keeps what we write (absent ports read 0xff).
bool probe(uint16_t base) {
    x86::outb(base + REG_SCRATCH, 0x5a);
    if (x86::inb(base + REG_SCRATCH) != 0x5a) return false;
    x86::outb(base + REG_IER, 0x00);  // no interrupts
    x86::outb(base + REG_LCR, 0x03);  // 8N1
    x86::outb(base + REG_FCR, 0x07);  // FIFO on, cleared
    return true;
}

void uart_write(const Uart& uart, const char* bytes, size_t count) {
    if (!uart.base) return;
    for (size_t i = 0; i < count; ++i) {
        for (int spins = 0; spins < 100000 && !(x86::inb(uart.base + REG_LSR) & LSR_THR_EMPTY); ++spins) {}
        x86::outb(uart.base + REG_DATA, uint8_t(bytes[i]));
    }
}

}  // namespace

void init_uarts() {
    if (probe(COM1)) g_out.base = COM1;
    g_err = probe(COM2) ? Uart{COM2} : g_out;
}

void console_write(platform::ConsoleStream stream, const char* bytes, size_t count) {
    uart_write(stream == platform::ConsoleStream::Err ? g_err : g_out, bytes, count);
}

}  // namespace xos::kvm
