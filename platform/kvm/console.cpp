// The console: 16550 UARTs. COM1 carries the app's standard output; COM2, when the VMM provides
// it (xos-run does), carries standard error and libos's messages, so that xos-run can give
// them back as its own stdout and stderr. Without COM2 (Firecracker, Cloud Hypervisor) both
// streams share COM1.
//
// Input arrives on COM1's receiver (an interrupt on IRQ 4) in xos-run's framing, so that the
// end of the input and the terminal's size can follow the bytes (docs/host-guest-interface.md):
//   0xff 0xff           a data byte 0xff
//   0xff 'E'            end of input (xos-run's stdin reached end of file)
//   0xff 'W' r r c c    the terminal's size changed: rows and columns, big-endian 16 bits
//   0xff 'K' n          deliver signal n to the first process (xos-run --forward-signals, which
//                       also puts xos.signals on the command line); read after the end of input too
//   0xff 'S'            synchronisation: xos-run starts with two. QEMU may hand the UART one
//                       byte before the guest enables its FIFO, which then drops it; so the
//                       decoder ignores everything up to the first 0xff 'S'.
// Any other byte is data. The kernel command line says what xos-run's stdio are
// (xos.stdio=<in><out><err>, each t terminal, p pipe, f file, o other) and the terminal's
// size at boot (xos.winsize=<rows>x<cols>); without them (another VMM) nothing is a terminal.
#include <cstring>

#include "kvm/irq.h"
#include "xos/console_signal.h"
#include "x86_64/console_tokens.h"
#include "x86_64/cpu.h"
#include "x86_64/machine.h"
#include "xos/platform.h"

namespace xos::kvm {

namespace {

constexpr uint16_t COM1 = 0x3f8, COM2 = 0x2f8;
constexpr uint16_t REG_DATA = 0, REG_IER = 1, REG_FCR = 2, REG_LCR = 3, REG_MCR = 4, REG_LSR = 5, REG_SCRATCH = 7;
constexpr uint8_t LSR_DATA_READY = 0x01, LSR_THR_EMPTY = 0x20;
constexpr uint8_t IER_RX_DATA = 0x01;
constexpr uint8_t MCR_DTR_RTS_OUT2 = 0x0b;  // OUT2 gates the IRQ line on PC hardware

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
    x86::outb(base + REG_FCR, 0x07);  // FIFO on, cleared, receive interrupt at 1 byte
    return true;
}

void uart_write(const Uart& uart, const char* bytes, size_t count) {
    if (!uart.base) return;
    for (size_t i = 0; i < count; ++i) {
        for (int spins = 0; spins < 100000 && !(x86::inb(uart.base + REG_LSR) & LSR_THR_EMPTY); ++spins) {}
        x86::outb(uart.base + REG_DATA, uint8_t(bytes[i]));
    }
}

// --- Input ----------------------------------------------------------------------------------

// The framing decoder's state (see the top of the file).
struct Decoder {
    enum class State { Unsynced, UnsyncedEscape, Data, Escape, Size, Signal } state = State::Data;
    uint8_t size_bytes[4];
    int size_count = 0;
    bool ended = false;
    bool resized = false;
    int signal = 0;  // 0xff 'K' n: n until console_take_signal()
};
Decoder g_decoder;
// The command line exists only after boot_info is parsed (the console starts before).
x86::ConsoleTokens& stdio() {
    static bool synced = false;
    x86::ConsoleTokens& tokens = x86::console_state();
    if (!synced) {
        synced = true;
        if (tokens.framed) g_decoder.state = Decoder::State::Unsynced;  // xos-run's framing
    }
    return tokens;
}

void (*g_input_handler)();

}  // namespace

void init_uarts() {
    if (probe(COM1)) g_out.base = COM1;
    g_err = probe(COM2) ? Uart{COM2} : g_out;
}

// IRQ 4 (timer.cpp's handle_irq): COM1 received something. The bytes stay in the UART (and
// behind it in QEMU's chardev, which is how xos-run's writes are held back) until libos calls
// console_read.
void on_com1_interrupt() {
    if (g_input_handler) g_input_handler();
}

void console_write(platform::ConsoleStream stream, const char* bytes, size_t count) {
    uart_write(stream == platform::ConsoleStream::Err ? g_err : g_out, bytes, count);
}

platform::StdioKinds console_stdio() { return stdio().kinds; }

platform::ConsoleSize console_size() { return stdio().size; }

platform::ConsoleInput console_read(char* buffer, size_t count) {
    using namespace platform;
    using kvm::Decoder;
    Decoder& d = kvm::g_decoder;
    ConsoleInput result;
    kvm::stdio();  // the framing's initial state
    uint16_t base = kvm::g_out.base;
    InterruptGuard guard;
    // After the end of input only control frames come (a signal): they are read, data is not.
    while (base && !d.signal && (d.ended || result.bytes < count) &&
           (x86::inb(base + kvm::REG_LSR) & kvm::LSR_DATA_READY)) {
        auto byte = x86::inb(base + kvm::REG_DATA);
        switch (d.state) {
        case Decoder::State::Unsynced:
            if (byte == 0xff) d.state = Decoder::State::UnsyncedEscape;
            break;
        case Decoder::State::UnsyncedEscape:
            d.state = byte == 'S' ? Decoder::State::Data
                : byte == 0xff    ? Decoder::State::UnsyncedEscape
                                  : Decoder::State::Unsynced;
            break;
        case Decoder::State::Data:
            if (byte == 0xff)
                d.state = Decoder::State::Escape;
            else if (!d.ended)
                buffer[result.bytes++] = char(byte);
            break;
        case Decoder::State::Escape:
            d.state = Decoder::State::Data;
            if (byte == 0xff) {
                if (!d.ended) buffer[result.bytes++] = char(byte);
            } else if (byte == 'K') {
                d.state = Decoder::State::Signal;
            } else if (byte == 'E') {
                d.ended = true;
            } else if (byte == 'W') {
                d.state = Decoder::State::Size;
                d.size_count = 0;
            }  // 'S' and anything else: ignored (a newer xos-run's message)
            break;
        case Decoder::State::Signal:
            d.signal = byte;
            d.state = Decoder::State::Data;
            break;
        case Decoder::State::Size:
            d.size_bytes[d.size_count++] = byte;
            if (d.size_count == 4) {
                x86::ConsoleTokens& stdio = kvm::stdio();
                stdio.size.rows = uint16_t(d.size_bytes[0] << 8 | d.size_bytes[1]);
                stdio.size.cols = uint16_t(d.size_bytes[2] << 8 | d.size_bytes[3]);
                d.resized = true;
                d.state = Decoder::State::Data;
            }
            break;
        }
    }
    result.ended = d.ended;
    result.resized = d.resized;
    d.resized = false;
    return result;
}

bool console_set_input_handler(void (*handler)()) {
    if (!kvm::g_out.base) return false;
    {
        platform::InterruptGuard guard;
        kvm::g_input_handler = handler;
    }
    // 115200 baud (divisor 1: QEMU's receive timeout is 4 character times, ~0.35 ms) and the
    // receive interrupt at 14 bytes or that timeout: QEMU then hands over up to 14 bytes at once.
    x86::outb(kvm::COM1 + kvm::REG_LCR, 0x83);  // DLAB
    x86::outb(kvm::COM1 + kvm::REG_DATA, 1);
    x86::outb(kvm::COM1 + kvm::REG_IER, 0);
    x86::outb(kvm::COM1 + kvm::REG_LCR, 0x03);  // 8N1
    x86::outb(kvm::COM1 + kvm::REG_FCR, 0xc1);  // FIFO on (kept: input may be there), trigger level 14
    x86::outb(kvm::COM1 + kvm::REG_MCR, kvm::MCR_DTR_RTS_OUT2);
    x86::outb(kvm::COM1 + kvm::REG_IER, kvm::IER_RX_DATA);
    kvm::unmask_isa_irq(4);
    return true;
}

}  // namespace xos::kvm

namespace xos::platform {

// The kvm and xen machines share this file's decoder; only xos-run's COM1 framing feeds it.
int console_take_signal() {
    InterruptGuard guard;
    int signal = kvm::g_decoder.signal;
    kvm::g_decoder.signal = 0;
    return signal;
}

}  // namespace xos::platform
