// Application processors on the VM (docs/locking.md, "CPUs"): which exist (ACPI's MADT), how
// they start (INIT-SIPI-SIPI into ap_trampoline.S), what each sets up for itself (descriptor
// tables, CPU features, syscall MSRs, its local APIC, TSC_AUX = its index for RDPID), and the
// inter-processor interrupts the scheduler and the TLB shootdown send.
#include "smp.h"

#include <cstring>

#include "boot_info.h"
#include "cpu.h"
#include "trap.h"
#include "xos/libos.h"
#include "xos/log.h"
#include "xos/platform.h"

extern "C" {
extern char xos_ap_trampoline[], xos_ap_trampoline_end[];
extern char xos_ap_param_stack[], xos_ap_param_entry[], xos_ap_param_cr3[], xos_ap_param_efer[], xos_ap_param_index[];
// entry64.S's CPU lookup (big_lock.h): RDPID when the CPU has it, else the local APIC ID through this table.
extern uint8_t xos_cpu_index_rdpid;
extern uint8_t xos_apic_to_cpu[256];
// big_lock.S: the slow paths of the big lock.
void xos_big_lock_wait_c(uint32_t ticket, XosCpu* cpu);
void xos_big_lock_kick();
extern uint32_t xos_big_lock_sleepers;
// big_lock.S: the halting part of a spin wait and its kick.
void xos_spin_wait(const uint32_t* word, uint32_t value, XosCpu* cpu);
void xos_spin_kick(const uint32_t* word, uint32_t value);
extern uint32_t xos_spin_sleepers;
[[noreturn]] void xos_ap_main(unsigned index);
}

namespace xos::x86 {

namespace {

constexpr uintptr_t TRAMPOLINE = 0x70000;  // ap_trampoline.S's XOS_AP_TRAMPOLINE
constexpr uintptr_t LAPIC = 0xfee00000;
constexpr uint32_t LAPIC_ID = 0x20, LAPIC_TPR = 0x80, LAPIC_EOI = 0xb0, LAPIC_SVR = 0xf0, LAPIC_ICR_LOW = 0x300,
                   LAPIC_ICR_HIGH = 0x310;
constexpr uint32_t ICR_PENDING = 1u << 12, ICR_ASSERT = 1u << 14, ICR_INIT = 0x500, ICR_STARTUP = 0x600,
                   ICR_NMI = 0x400 | ICR_ASSERT;
constexpr uint32_t MSR_TSC_AUX = 0xc0000103;

uint8_t g_apic_ids[XOS_MAX_CPUS];
unsigned g_cpu_count;  // 0 until discover() ran
volatile uint32_t g_started;  // the AP being started writes its index + 1 here
void (*g_entry)(unsigned);
uint64_t* g_kernel_root;  // page tables with no app space in them: an AP's first
alignas(4096) uint64_t g_trampoline_pml4[512], g_trampoline_pdpt[512], g_trampoline_pd[512];

volatile uint32_t& lapic(uint32_t reg) { return *static_cast<volatile uint32_t*>(platform::phys_to_virt(LAPIC + reg)); }

struct [[gnu::packed]] Rsdp {
    char signature[8];
    uint8_t checksum;
    char oem[6];
    uint8_t revision;
    uint32_t rsdt;
    uint32_t length;
    uint64_t xsdt;
};
struct [[gnu::packed]] SdtHeader {
    char signature[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem[6], oem_table[8];
    uint32_t oem_revision, creator, creator_revision;
};

bool sums_to_zero(const void* data, size_t size) {
    uint8_t sum = 0;
    for (size_t i = 0; i < size; ++i) sum = uint8_t(sum + static_cast<const uint8_t*>(data)[i]);
    return sum == 0;
}

template <typename T>
const T* at(uintptr_t phys) {
    return static_cast<const T*>(platform::phys_to_virt(phys));
}

// start_info's RSDP, else the BIOS area's (qboot and SeaBIOS put it in the E and F segments).
uintptr_t find_rsdp() {
    if (uintptr_t rsdp = rsdp_address()) return rsdp;
    for (uintptr_t address = 0xe0000; address < 0x100000; address += 16)
        if (memcmp(at<char>(address), "RSD PTR ", 8) == 0 && sums_to_zero(at<char>(address), 20)) return address;
    return 0;
}

const SdtHeader* find_table(const char* signature) {
    uintptr_t rsdp_address = find_rsdp();
    if (!rsdp_address) return nullptr;
    const Rsdp* rsdp = at<Rsdp>(rsdp_address);
    bool extended = rsdp->revision >= 2 && rsdp->xsdt;
    const SdtHeader* root = at<SdtHeader>(extended ? rsdp->xsdt : rsdp->rsdt);
    if (root->length < sizeof(SdtHeader)) return nullptr;
    size_t entry_size = extended ? 8 : 4;
    size_t entries = (root->length - sizeof(SdtHeader)) / entry_size;
    auto* bytes = reinterpret_cast<const uint8_t*>(root + 1);
    for (size_t i = 0; i < entries; ++i) {
        uint64_t address = 0;
        memcpy(&address, bytes + i * entry_size, entry_size);
        const SdtHeader* table = at<SdtHeader>(address);
        if (memcmp(table->signature, signature, 4) == 0 && sums_to_zero(table, table->length)) return table;
    }
    return nullptr;
}

void add_cpu(uint8_t apic_id) {
    if (apic_id != g_apic_ids[0] && g_cpu_count < XOS_MAX_CPUS) g_apic_ids[g_cpu_count++] = apic_id;
}

// The Intel MultiProcessor table, which firmware without ACPI gives (qboot on microvm with
// acpi=off, in the EBDA): its floating pointer below 1 MiB, then its processor entries.
bool discover_from_mp_table() {
    for (uintptr_t address = 0x80000; address < 0x100000; address += 16) {  // EBDA (qboot's) and BIOS area
        const auto* pointer = at<uint8_t>(address);
        if (memcmp(pointer, "_MP_", 4) != 0 || !sums_to_zero(pointer, 16)) continue;
        uint32_t table_address;
        memcpy(&table_address, pointer + 4, 4);
        if (!table_address) return false;  // a default configuration: not used by QEMU
        const auto* table = at<uint8_t>(table_address);
        uint16_t length;
        memcpy(&length, table + 4, 2);
        if (memcmp(table, "PCMP", 4) != 0 || !sums_to_zero(table, length)) return false;
        // By length, not by the entry count: qboot leaves the count 0.
        for (size_t offset = 44; offset + 8 <= length;) {
            uint8_t type = table[offset];
            if (type == 0) {  // processor: local APIC ID, flags (bit 0: usable)
                if (table[offset + 3] & 1) add_cpu(table[offset + 1]);
                offset += 20;
            } else {
                offset += 8;
            }
        }
        return true;
    }
    return false;
}

// The CPUs: the boot CPU first, then the MADT's other enabled (or online-capable) local APICs in
// its order; without a MADT, the MP table's processors. Neither (or Xen, whose guests stay on
// one vCPU for now): the boot CPU only.
void discover() {
    if (g_cpu_count) return;
    g_cpu_count = 1;
    g_apic_ids[0] = uint8_t(lapic(LAPIC_ID) >> 24);
    if (&machine::current() != &machine::kvm_machine) return;
    const SdtHeader* madt = find_table("APIC");
    if (!madt) {
        if (!discover_from_mp_table()) klog("xos: neither an ACPI MADT nor an MP table: one CPU");
        return;
    }
    auto* entries = reinterpret_cast<const uint8_t*>(madt);
    for (size_t offset = sizeof(SdtHeader) + 8; offset + 2 <= madt->length;) {
        uint8_t type = entries[offset], length = entries[offset + 1];
        if (length < 2) break;
        if (type == 0 && length >= 8) {  // processor local APIC
            uint8_t apic_id = entries[offset + 3];
            uint32_t flags;
            memcpy(&flags, entries + offset + 4, 4);
            if (flags & 3) add_cpu(apic_id);
        }
        offset += length;
    }
}

void wait_ns(uint64_t ns) {
    uint64_t end = platform::monotonic_ns() + ns;
    while (platform::monotonic_ns() < end) asm volatile("pause");
}

void send_icr(uint8_t apic_id, uint32_t low) {
    while (lapic(LAPIC_ICR_LOW) & ICR_PENDING) asm volatile("pause");
    lapic(LAPIC_ICR_HIGH) = uint32_t(apic_id) << 24;
    lapic(LAPIC_ICR_LOW) = low;
}

// Copies the trampoline below 1 MiB and builds its page tables: the kernel's upper half and
// the first 2 MiB at their physical address (the trampoline turns paging on there).
void prepare_trampoline() {
    if (g_kernel_root) return;
    g_kernel_root = reinterpret_cast<uint64_t*>(platform::create_app_space());
    if (!g_kernel_root) panic("no memory for the application processors' page tables");
    size_t size = size_t(xos_ap_trampoline_end - xos_ap_trampoline);
    if (size > 4096) panic("the AP trampoline is larger than a page");
    memcpy(platform::phys_to_virt(TRAMPOLINE), xos_ap_trampoline, size);
    for (size_t i = 256; i < 512; ++i) g_trampoline_pml4[i] = g_kernel_root[i];
    g_trampoline_pml4[0] = platform::virt_to_phys(g_trampoline_pdpt) | 3;
    g_trampoline_pdpt[0] = platform::virt_to_phys(g_trampoline_pd) | 3;
    g_trampoline_pd[0] = 0x83;  // 0..2 MiB: present, writable, 2 MiB page
    if (platform::virt_to_phys(g_trampoline_pml4) >= (1ull << 32))  // CR3 is loaded in 32-bit mode
        panic("the AP trampoline's page tables are above 4 GiB");
}

template <typename T>
void set_parameter(const char* label, T value) {
    auto* copy = static_cast<char*>(platform::phys_to_virt(TRAMPOLINE)) + (label - xos_ap_trampoline);
    memcpy(copy, &value, sizeof value);
}

}  // namespace

bool handle_ipi(uint64_t vector, machine::IrqResult& result) {
    if (vector < IPI_RESCHEDULE_VECTOR || vector > IPI_TLB_VECTOR) return false;
    lapic(LAPIC_EOI) = 0;
    XosCpuEvents& events = xos_cpu_events[platform::cpu_index_unlocked()];
    xos_count_event(vector == IPI_TLB_VECTOR        ? events.tlb_ipis
                        : vector == IPI_TICK_VECTOR ? events.tick_ipis
                                                    : events.reschedule_ipis);
    if (vector == IPI_TLB_VECTOR) {
        platform::cpu_relax(platform::cpu_index_unlocked());  // a request not yet answered while spinning
        result = machine::IrqResult::Handled;
    } else {
        result = vector == IPI_TICK_VECTOR ? machine::IrqResult::TimerTick : machine::IrqResult::DeviceWakeup;
    }
    return true;
}

}  // namespace xos::x86

// An application processor in long mode, on its idle thread's stack, interrupts off, holding
// nothing: its own tables and registers, then the scheduler's entry (its idle thread).
extern "C" [[noreturn]] void xos_ap_main(unsigned index) {
    using namespace xos::x86;
    init_descriptor_tables_ap(index);
    load_cpu_root(index, g_kernel_root);
    init_cpu_features();
    init_syscall_instruction();
    if (xos_cpu_index_rdpid) wrmsr(MSR_TSC_AUX, index);
    wrmsr(MSR_FS_BASE, 0);
    lapic(LAPIC_TPR) = 0;
    lapic(LAPIC_SVR) = 0x100 | 0xff;  // enabled, spurious vector 0xff
    if (auto start_timer = xos::machine::current().timer_start_cpu) start_timer();  // its own (tickless) timer
    __atomic_store_n(&g_started, index + 1, __ATOMIC_RELEASE);
    g_entry(index);
    halt_forever();
}

namespace xos::platform {

unsigned cpu_count() {
    x86::discover();
    return x86::g_cpu_count;
}

bool start_cpu(unsigned index, uintptr_t stack_top, void (*entry)(unsigned)) {
    using namespace x86;
    discover();
    if (index == 0 || index >= g_cpu_count) return false;
    prepare_trampoline();
    if (index == 1) {  // the lookup the entry code uses from now on (big_lock.h)
        xos_cpu_index_rdpid = (cpuid(0).eax >= 7 && (cpuid(7, 0).ecx & (1u << 22))) ? 1 : 0;
        if (xos_cpu_index_rdpid) wrmsr(MSR_TSC_AUX, 0);
        for (unsigned i = 0; i < g_cpu_count; ++i) {
            xos_apic_to_cpu[g_apic_ids[i]] = uint8_t(i);
            xos_cpus[i].apic_id = g_apic_ids[i];  // for big_lock.S's kick
        }
    }
    g_entry = entry;
    g_started = 0;
    set_parameter(xos_ap_param_stack, uint64_t(stack_top - 8));  // as after a call
    set_parameter(xos_ap_param_entry, uint64_t(reinterpret_cast<uintptr_t>(&xos_ap_main)));
    set_parameter(xos_ap_param_cr3, uint32_t(virt_to_phys(g_trampoline_pml4)));
    set_parameter(xos_ap_param_efer, uint32_t((1u << 8) | (features().nx ? (1u << 11) : 0)));  // LME, NXE
    set_parameter(xos_ap_param_index, uint32_t(index));
    uint8_t apic_id = g_apic_ids[index];
    send_icr(apic_id, ICR_INIT | ICR_ASSERT);
    wait_ns(10'000'000);
    for (int attempt = 0; attempt < 2 && !__atomic_load_n(&g_started, __ATOMIC_ACQUIRE); ++attempt) {
        send_icr(apic_id, ICR_STARTUP | uint32_t(TRAMPOLINE >> 12));
        uint64_t deadline = monotonic_ns() + (attempt == 0 ? 200'000'000ull : 2'000'000'000ull);
        while (!__atomic_load_n(&g_started, __ATOMIC_ACQUIRE) && monotonic_ns() < deadline) asm volatile("pause");
    }
    return __atomic_load_n(&g_started, __ATOMIC_ACQUIRE) == index + 1;
}

void send_ipi(unsigned cpu, Ipi kind) {
    using namespace x86;
    uint32_t vector = kind == Ipi::Reschedule ? IPI_RESCHEDULE_VECTOR
        : kind == Ipi::Tick                   ? IPI_TICK_VECTOR
                                              : IPI_TLB_VECTOR;
    // A machine whose CPUs have timers of their own (kvm) needs no ticks from the boot CPU.
    if (kind == Ipi::Tick && machine::current().timer_start_cpu) return;
    InterruptGuard guard;
    XosCpuEvents& events = xos_cpu_events[platform::cpu_index_unlocked()];
    xos_count_event(kind == Ipi::TlbFlush ? events.tlb_ipis_sent : events.reschedule_ipis_sent);
    send_icr(g_apic_ids[cpu], vector | ICR_ASSERT);
    if (kind == Ipi::TlbFlush) {
        // A CPU halted waiting for the big lock (big_lock.S) has interrupts off: an NMI wakes it
        // to answer. Its flag is set before it checks its flush request (the request is stored
        // before this load: the fence).
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&xos_cpus[cpu].lock_halted, __ATOMIC_RELAXED)) {
            xos_count_event(events.tlb_nmis_sent);
            send_icr(g_apic_ids[cpu], ICR_NMI);
        }
    }
}

void big_lock_wait(unsigned index, uint32_t ticket) {
    if (__atomic_load_n(&xos_big_lock_serving, __ATOMIC_ACQUIRE) != ticket)
        xos_big_lock_wait_c(ticket, &xos_cpus[index]);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

void big_lock_passed() {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);  // the serving store before the sleepers load
    if (__atomic_load_n(&xos_big_lock_sleepers, __ATOMIC_RELAXED)) xos_big_lock_kick();
}

// One round of a spin wait (spinlocks, the scheduler's on_cpu wait). No `pause`: under QEMU's
// multi-threaded TCG each one ends the vCPU's translated block and takes QEMU's global lock,
// which the CPU being waited for needs for its local APIC accesses (EOI, ICR, timer), so a
// spinning vCPU slowed the CPU it waited for (as the big lock's spin did: docs/locking.md).
void cpu_relax(unsigned index) {
    xos_count_event(xos_cpu_events[index].spin_rounds);
    if (__atomic_load_n(&xos_cpus[index].flush_request, __ATOMIC_ACQUIRE)) {
        x86::write_cr3(x86::read_cr3());
        __atomic_store_n(&xos_cpus[index].flush_request, 0, __ATOMIC_RELEASE);
    }
}

// A spin wait's bound before it halts (docs/locking.md, "Lock primitives"): a lock held by a
// running vCPU is handed over sooner; a longer wait means the holder's vCPU thread is not
// running on the host (preempted), and spinning on would only take host time from it.
constexpr unsigned SPIN_ROUNDS = 256;

void spin_wait(unsigned index, const uint32_t* word, uint32_t value) {
    for (unsigned round = 0; round < SPIN_ROUNDS; ++round) {
        if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) return;
        cpu_relax(index);
    }
    if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) return;
    xos_count_event(xos_cpu_events[index].spin_halts);
    xos_spin_wait(word, value, &xos_cpus[index]);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

void spin_wake(const uint32_t* word, uint32_t value) {
    // The caller's store to *word was sequentially consistent (a full barrier: xchg), so either
    // this load sees a waiter's count or that waiter's check after it sees the store.
    if (__atomic_load_n(&xos_spin_sleepers, __ATOMIC_SEQ_CST)) xos_spin_kick(word, value);
}

unsigned cpu_index_unlocked() {
    if (!xos_smp_active) return 0;
    if (xos_cpu_index_rdpid) {
        uint64_t index;
        asm volatile("rdpid %0" : "=r"(index));
        return unsigned(index);
    }
    return xos_apic_to_cpu[x86::lapic(x86::LAPIC_ID) >> 24];
}

void activate_kernel_space() {
    if (x86::g_kernel_root) activate_app_space(reinterpret_cast<AppSpace*>(x86::g_kernel_root));
}

}  // namespace xos::platform
