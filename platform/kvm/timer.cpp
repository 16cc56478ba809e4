// The periodic timer: the i8254 PIT's channel 0 on IRQ 0 through the 8259 PIC (QEMU microvm
// with pit=on,pic=on; also present on q35/pc). IRQs 0-15 are remapped to vectors 32-47 and all
// but the timer stay masked. The PIC reaches the CPU through the local APIC in virtual-wire
// mode (LINT0 = ExtINT), which the firmware may not have set up (microvm's qboot does not).
// TODO(kvm): LAPIC timer in TSC-deadline mode for tickless sleeps on hosts that have it.
#include "kvm/irq.h"
#include "x86_64/cpu.h"
#include "x86_64/machine.h"
#include "x86_64/smp.h"
#include "xos/platform.h"

namespace xos::kvm {

namespace {

constexpr uint16_t PIC1_CMD = 0x20, PIC1_DATA = 0x21, PIC2_CMD = 0xa0, PIC2_DATA = 0xa1;
constexpr uint8_t PIC_EOI = 0x20;
constexpr uint64_t IRQ_BASE = 32;
constexpr uint16_t PIT_CH0 = 0x40, PIT_CMD = 0x43;
constexpr uint64_t PIT_HZ = 1193182;

uint16_t g_pit_reload;  // 0 while the timer is not running

constexpr uintptr_t LAPIC_BASE = 0xfee00000;
constexpr uint32_t LAPIC_TPR = 0x80, LAPIC_SVR = 0xf0, LAPIC_LINT0 = 0x350, LAPIC_LINT1 = 0x360;

void lapic_write(uint32_t reg, uint32_t value) {
    *static_cast<volatile uint32_t*>(platform::phys_to_virt(LAPIC_BASE + reg)) = value;
}

void init_lapic_virtual_wire() {
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, 0x100 | 0xff);  // APIC enabled, spurious vector 0xff
    lapic_write(LAPIC_LINT0, 0x700);  // ExtINT: the 8259's output
    lapic_write(LAPIC_LINT1, 0x400);  // NMI
}

uint8_t g_pic1_mask = 0xfe;

void init_pic() {
    x86::outb(PIC1_CMD, 0x11);  // ICW1: edge, cascade, ICW4
    x86::outb(PIC2_CMD, 0x11);
    x86::outb(PIC1_DATA, IRQ_BASE);  // ICW2: vector base
    x86::outb(PIC2_DATA, IRQ_BASE + 8);
    x86::outb(PIC1_DATA, 0x04);  // ICW3: slave on IRQ2
    x86::outb(PIC2_DATA, 0x02);
    x86::outb(PIC1_DATA, 0x01);  // ICW4: 8086 mode
    x86::outb(PIC2_DATA, 0x01);
    x86::outb(PIC1_DATA, g_pic1_mask);  // only IRQ0 (the timer), and those unmasked since
    x86::outb(PIC2_DATA, 0xff);
}

}  // namespace

uint16_t pit_reload() { return g_pit_reload; }

void unmask_isa_irq(unsigned irq) {
    platform::InterruptGuard guard;
    g_pic1_mask = uint8_t(g_pic1_mask & ~(1u << irq));
    x86::outb(PIC1_DATA, g_pic1_mask);
}

void timer_start(uint32_t hz) {
    init_lapic_virtual_wire();
    init_pic();
    uint32_t reload = uint32_t(PIT_HZ / hz);
    if (reload > 0xffff) reload = 0xffff;
    g_pit_reload = uint16_t(reload);
    x86::outb(PIT_CMD, 0x34);  // channel 0, lo/hi byte, mode 2 (rate generator)
    x86::outb(PIT_CH0, reload & 0xff);
    x86::outb(PIT_CH0, reload >> 8);
}

machine::IrqResult handle_irq(uint64_t vector) {
    using machine::IrqResult;
    if (vector == 0xff) return IrqResult::Handled;  // LAPIC spurious interrupt: no EOI
    if (IrqResult ipi; x86::handle_ipi(vector, ipi)) return ipi;  // from another CPU (x86_64/smp.cpp)
    // A device interrupt (kvm/irq.cpp) may have woken a thread: an idle CPU switches to it now.
    if (dispatch_device_irq(vector)) return IrqResult::DeviceWakeup;
    if (vector < IRQ_BASE || vector >= IRQ_BASE + 16) return IrqResult::Unknown;
    uint64_t irq = vector - IRQ_BASE;
    // IRQ 7 and 15 can be spurious: no EOI unless the PIC says it is in service.
    if (irq == 7 || irq == 15) {
        uint16_t cmd = irq == 7 ? PIC1_CMD : PIC2_CMD;
        x86::outb(cmd, 0x0b);  // read ISR
        if (!(x86::inb(cmd) & 0x80)) return IrqResult::Handled;
    }
    if (irq >= 8) x86::outb(PIC2_CMD, PIC_EOI);
    x86::outb(PIC1_CMD, PIC_EOI);
    if (irq == 4) {  // COM1 received input (console.cpp): its reader may wake
        on_com1_interrupt();
        return IrqResult::DeviceWakeup;
    }
    return irq == 0 ? IrqResult::TimerTick : IrqResult::Handled;
}

}  // namespace xos::kvm
