// The timer: each CPU's local APIC timer, one-shot (tickless, docs/locking.md "Timer"): after
// every pass through the scheduler (x86_64/traps.cpp) it is armed for what that CPU needs next
// (sched::timer_need: a tick while it runs a thread, the nearest sleeper's deadline when it
// idles, nothing when no thread sleeps), so an idle VM halts with no periodic interrupt. In
// TSC-deadline mode where the CPU has it (CPUID.1:ECX bit 24), else in one-shot count mode
// calibrated against monotonic_ns(). The i8254 PIT only serves the TSC's calibration (clock.cpp)
// and is stopped after it. The 8259 PIC stays, for COM1's input (IRQ 4; IRQ 0 masked): IRQs
// 0-15 are remapped to vectors 32-47 and reach the CPU through the local APIC in virtual-wire
// mode (LINT0 = ExtINT), which the firmware may not have set up (microvm's qboot does not).
#include "kvm/irq.h"
#include "xos/libos.h"
#include "xos/log.h"
#include "x86_64/cpu.h"
#include "x86_64/machine.h"
#include "x86_64/smp.h"
#include "xos/platform.h"

namespace xos::kvm {

uint64_t tsc_at(uint64_t monotonic_ns);  // clock.cpp

namespace {

constexpr uint16_t PIC1_CMD = 0x20, PIC1_DATA = 0x21, PIC2_CMD = 0xa0, PIC2_DATA = 0xa1;
constexpr uint8_t PIC_EOI = 0x20;
constexpr uint64_t IRQ_BASE = 32;
constexpr uint16_t PIT_CH0 = 0x40, PIT_CMD = 0x43;

uint16_t g_pit_reload;  // always 0: the PIT does not tick (clock.cpp starts it for its calibration)

constexpr uintptr_t LAPIC_BASE = 0xfee00000;
constexpr uint32_t LAPIC_TPR = 0x80, LAPIC_EOI = 0xb0, LAPIC_SVR = 0xf0, LAPIC_LVT_TIMER = 0x320, LAPIC_LINT0 = 0x350,
                   LAPIC_LINT1 = 0x360, LAPIC_TIMER_INITIAL = 0x380, LAPIC_TIMER_CURRENT = 0x390,
                   LAPIC_TIMER_DIVIDE = 0x3e0;
constexpr uint32_t LVT_MASKED = 1u << 16, LVT_TSC_DEADLINE = 2u << 17;
constexpr uint32_t DIVIDE_BY_16 = 0x3;
constexpr uint32_t MSR_TSC_DEADLINE = 0x6e0;
constexpr uint64_t TIMER_VECTOR = 0xef;  // below the IPIs (x86_64/smp.h)
constexpr uint64_t NEVER = ~0ull;

bool g_tsc_deadline;  // TSC-deadline mode, else one-shot counts of g_lapic_hz
uint64_t g_lapic_hz;
uint64_t g_tick_ns;
uint64_t g_armed[XOS_MAX_CPUS];  // per CPU: the deadline its timer is armed for (NEVER: none)

uint32_t lapic_read(uint32_t reg) { return *static_cast<volatile uint32_t*>(platform::phys_to_virt(LAPIC_BASE + reg)); }

void lapic_write(uint32_t reg, uint32_t value) {
    *static_cast<volatile uint32_t*>(platform::phys_to_virt(LAPIC_BASE + reg)) = value;
}

void init_lapic_virtual_wire() {
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, 0x100 | 0xff);  // APIC enabled, spurious vector 0xff
    lapic_write(LAPIC_LINT0, 0x700);  // ExtINT: the 8259's output
    lapic_write(LAPIC_LINT1, 0x400);  // NMI
}

uint8_t g_pic1_mask = 0xff;  // IRQ 0 (the PIT) stays masked

void init_pic() {
    x86::outb(PIC1_CMD, 0x11);  // ICW1: edge, cascade, ICW4
    x86::outb(PIC2_CMD, 0x11);
    x86::outb(PIC1_DATA, IRQ_BASE);  // ICW2: vector base
    x86::outb(PIC2_DATA, IRQ_BASE + 8);
    x86::outb(PIC1_DATA, 0x04);  // ICW3: slave on IRQ2
    x86::outb(PIC2_DATA, 0x02);
    x86::outb(PIC1_DATA, 0x01);  // ICW4: 8086 mode
    x86::outb(PIC2_DATA, 0x01);
    x86::outb(PIC1_DATA, g_pic1_mask);  // only those unmasked since (COM1)
    x86::outb(PIC2_DATA, 0xff);
}

}  // namespace

uint16_t pit_reload() { return g_pit_reload; }

void unmask_isa_irq(unsigned irq) {
    platform::InterruptGuard guard;
    g_pic1_mask = uint8_t(g_pic1_mask & ~(1u << irq));
    x86::outb(PIC1_DATA, g_pic1_mask);
}

namespace {

// Stops the PIT: one count in mode 0 (interrupt on terminal count), after which it raises no
// more interrupts and QEMU keeps no timer running for it.
void stop_pit() {
    x86::outb(PIT_CMD, 0x30);  // channel 0, lo/hi byte, mode 0
    x86::outb(PIT_CH0, 1);
    x86::outb(PIT_CH0, 0);
}

// The local APIC timer's rate in one-shot mode (divided by 16), against monotonic_ns() over 10 ms.
uint64_t measure_lapic_hz() {
    lapic_write(LAPIC_TIMER_DIVIDE, DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | TIMER_VECTOR);
    uint64_t start = platform::monotonic_ns();
    lapic_write(LAPIC_TIMER_INITIAL, 0xffffffff);
    uint64_t end = start;
    while (end - start < 10'000'000) end = platform::monotonic_ns();
    uint32_t counted = 0xffffffff - lapic_read(LAPIC_TIMER_CURRENT);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    return counted ? uint64_t(counted) * 1'000'000'000ull / (end - start) : 0;
}

// This CPU's timer: the vector and mode, not armed.
void init_cpu_timer() {
    if (g_tsc_deadline) {
        lapic_write(LAPIC_LVT_TIMER, LVT_TSC_DEADLINE | TIMER_VECTOR);
        asm volatile("mfence" ::: "memory");  // the mode before any IA32_TSC_DEADLINE write (SDM 10.5.4.1)
    } else {
        lapic_write(LAPIC_TIMER_DIVIDE, DIVIDE_BY_16);
        lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR);  // one-shot
    }
}

void arm(unsigned cpu, uint64_t deadline) {
    g_armed[cpu] = deadline;
    if (g_tsc_deadline) {
        // A deadline already past fires at once; 0 disarms.
        x86::wrmsr(MSR_TSC_DEADLINE, deadline == NEVER ? 0 : tsc_at(deadline));
        return;
    }
    if (deadline == NEVER) {
        lapic_write(LAPIC_TIMER_INITIAL, 0);
        return;
    }
    uint64_t now = platform::monotonic_ns();
    uint64_t delta = deadline > now ? deadline - now : 0;
    uint64_t count = uint64_t((unsigned __int128)delta * g_lapic_hz / 1'000'000'000u);
    if (count == 0) count = 1;
    if (count > 0xffffffff) count = 0xffffffff;  // fires early; the next pass re-arms
    lapic_write(LAPIC_TIMER_INITIAL, uint32_t(count));
}

}  // namespace

void timer_start(uint32_t hz) {
    init_lapic_virtual_wire();
    init_pic();
    g_tick_ns = 1'000'000'000ull / (hz ? hz : 250);
    (void)platform::monotonic_ns();  // calibrates the TSC against the PIT now (clock.cpp)
    stop_pit();
    g_tsc_deadline = x86::cpuid(1).ecx & (1u << 24);
    if (!g_tsc_deadline) {
        g_lapic_hz = measure_lapic_hz();
        if (!g_lapic_hz) {
            klog("xos: warning: the local APIC timer does not count; assuming 62.5 MHz");
            g_lapic_hz = 62'500'000;
        }
    }
    for (uint64_t& armed : g_armed) armed = NEVER;
    init_cpu_timer();
    arm(0, platform::monotonic_ns() + g_tick_ns);
}

void timer_start_cpu() { init_cpu_timer(); }

// After the scheduler ran on this CPU (interrupts off): armed for what it needs next, unless it is
// armed for something sooner already (that interrupt comes first and re-arms).
void timer_rearm() {
    sched::TimerNeed need = sched::timer_need();
    uint64_t now = platform::monotonic_ns();
    uint64_t wanted = need.deadline_ns;
    if (need.tick && now + g_tick_ns < wanted) wanted = now + g_tick_ns;
    unsigned cpu = platform::cpu_index_unlocked();
    if (wanted < g_armed[cpu]) arm(cpu, wanted);
}

machine::IrqResult handle_irq(uint64_t vector) {
    using machine::IrqResult;
    if (vector == 0xff) return IrqResult::Handled;  // LAPIC spurious interrupt: no EOI
    XosCpuEvents& events = xos_cpu_events[platform::cpu_index_unlocked()];
    if (vector == TIMER_VECTOR) {
        xos_count_event(events.timer_interrupts);
        lapic_write(LAPIC_EOI, 0);
        g_armed[platform::cpu_index_unlocked()] = NEVER;
        return IrqResult::TimerTick;
    }
    if (IrqResult ipi; x86::handle_ipi(vector, ipi)) return ipi;  // from another CPU (x86_64/smp.cpp)
    // A device interrupt (kvm/irq.cpp) may have woken a thread: an idle CPU switches to it now.
    if (dispatch_device_irq(vector)) {
        xos_count_event(events.device_interrupts);
        return IrqResult::DeviceWakeup;
    }
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
        xos_count_event(events.device_interrupts);
        on_com1_interrupt();
        return IrqResult::DeviceWakeup;
    }
    return irq == 0 ? IrqResult::TimerTick : IrqResult::Handled;
}

}  // namespace xos::kvm
