// Syscall-site rewriting (rewrite.h). Called on the trap path of every `syscall` instruction by
// xos_syscall_trap_entry (platform/x86_64/syscall_trap.S), before the syscall runs.
//
// Patching: the 5 bytes of `mov $N,%eax` become `jmp rel32`; the `syscall` after them stays, so a
// thread that was stopped between the two instructions still runs a valid `syscall` (it traps as
// before). The bytes are written through libos's alias of the frame (RAM is in the direct map for
// libos on the VM; on hosted it is the RAM memfd's mapping), never by making the app's mapping
// writable, and with interrupts off on the one CPU. With several CPUs this must become Linux's
// text_poke_bp sequence (int3 on the first byte, sync every CPU, the other bytes, sync, the
// first byte), since another CPU may be fetching the instruction being changed.
//
// Only private memory is patched: anonymous memory (VmaKind Anonymous/Heap/Stack), and private
// file mappings (MAP_PRIVATE: the code of ld.so's libraries and of loaded programs), whose pages
// are first made the mapping's own copy (VirtualMemory::make_private_copy, the copy a write fault
// would make). A shared file mapping is left trapped, so patching never writes into a file's
// page cache or another mapping's view.
#include "rewrite/rewrite.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>

#include "base/klog.h"
#include "mm/memory.h"
#include "sched/thread.h"
#include "xos/platform.h"

extern "C" void xos_syscall_entry();  // platform/x86_64/entry64.S

namespace xos::rewrite {

namespace {

constexpr size_t SLOT_SIZE = 80;  // the largest trampoline (a `moved` one) is 67 bytes
constexpr size_t SLOTS_PER_PAGE = mm::PAGE_SIZE / SLOT_SIZE;
constexpr size_t MAX_TRAMPOLINE_PAGES = 64;
constexpr size_t MAX_SITES = 512;  // sites remembered (patched or left trapped)
constexpr size_t MAX_MOVED = 8;  // bytes of instructions after a `syscall` moved into a trampoline
constexpr size_t MAX_BEFORE = 7;  // bytes of the instruction before it, the same

// The trampoline pages of an address space are found in it rather than in a table of libos's:
// one-page private anonymous PROT_READ|PROT_EXEC mappings whose last TRAILER bytes hold
// TRAMPOLINE_MAGIC and the page's own address. So they belong to the address space: a fork's
// child inherits them (copy on write: a slot is written into this memory's own copy of the page,
// VirtualMemory::make_private_copy), an exec or an exit drops them with the rest of the memory,
// and a munmap or mprotect by the app makes the page no trampoline page any more. A slot is free
// while its first byte is still int3 (no trampoline starts with 0xcc).
constexpr size_t TRAILER = 16;
static_assert(SLOTS_PER_PAGE * SLOT_SIZE + TRAILER <= mm::PAGE_SIZE);
constexpr uint64_t TRAMPOLINE_MAGIC = 0x706d617274736f78ull;  // "xostramp"

bool g_enabled = true;
Stats g_stats;
Site g_sites[MAX_SITES];  // open addressing by Site::at, 0 = empty; never erased
size_t g_site_count;

// libos's view of the byte at app address `at`, or nullptr if its page is not present.
uint8_t* alias(uintptr_t at) {
    uintptr_t page = at & ~uintptr_t(mm::PAGE_SIZE - 1);
    uintptr_t frame = platform::mapped_page(page);
    return frame ? static_cast<uint8_t*>(platform::phys_to_virt(frame)) + (at - page) : nullptr;
}

// The WINDOW bytes around the `syscall` at `at` (Site::bytes), one page lookup per page; bit i
// of the result is set when byte i's page is present (else the byte reads as 0).
uint32_t read_window(uintptr_t at, uint8_t* out) {
    uintptr_t from = at - WINDOW_BEFORE;
    uint32_t present = 0;
    for (size_t i = 0; i < WINDOW;) {
        uintptr_t address = from + i;
        uintptr_t page = address & ~uintptr_t(mm::PAGE_SIZE - 1);
        size_t run = page + mm::PAGE_SIZE - address;
        if (run > WINDOW - i) run = WINDOW - i;
        uintptr_t frame = platform::mapped_page(page);
        if (frame) {
            memcpy(out + i, static_cast<const uint8_t*>(platform::phys_to_virt(frame)) + (address - page), run);
            present |= ((1u << run) - 1) << i;
        } else {
            memset(out + i, 0, run);
        }
        i += run;
    }
    return present;
}

bool private_code(const mm::Vma* vma) {
    return vma && (vma->prot & PROT_EXEC) &&
        (vma->kind == mm::VmaKind::Anonymous || vma->kind == mm::VmaKind::Heap || vma->kind == mm::VmaKind::Stack ||
         (vma->kind == mm::VmaKind::File && !vma->shared));
}

// The site's pages made this process's own: file pages and pages a fork shares (copy on write
// before patching).
bool privatize(mm::VirtualMemory& vm, uintptr_t site, uintptr_t after) {
    for (uintptr_t at : {site, after - 1})
        if (!vm.make_private_copy(at & ~uintptr_t(mm::PAGE_SIZE - 1))) return false;
    return true;
}

bool reachable(uintptr_t from_end, uintptr_t to) {
    auto distance = static_cast<int64_t>(to - from_end);
    return distance >= INT32_MIN && distance <= INT32_MAX;
}

// The site's record, made if there is none (nullptr when the table is full).
Site* record(uintptr_t at) {
    size_t i = (at * 0x9e3779b97f4a7c15ull) >> 55;  // 9 bits: MAX_SITES slots
    for (size_t probe = 0; probe < MAX_SITES; ++probe, i = (i + 1) % MAX_SITES) {
        if (g_sites[i].at == at) return &g_sites[i];
        if (g_sites[i].at == 0) {
            if (g_site_count + 1 >= MAX_SITES) return nullptr;  // full: counted again, not stored
            g_sites[i] = Site{};
            g_sites[i].at = at;
            ++g_site_count;
            return &g_sites[i];
        }
    }
    return nullptr;
}

// libos's view of the trampoline page at `base` of the current memory (see TRAMPOLINE_MAGIC), or
// nullptr if it is none.
uint8_t* trampoline_page(const mm::Vma& vma) {
    if (vma.end - vma.start != mm::PAGE_SIZE || vma.kind != mm::VmaKind::Anonymous ||
        vma.prot != (PROT_READ | PROT_EXEC))
        return nullptr;
    uintptr_t frame = platform::mapped_page(vma.start);
    if (!frame) return nullptr;
    auto* page = static_cast<uint8_t*>(platform::phys_to_virt(frame));
    uint64_t trailer[2];
    memcpy(trailer, page + mm::PAGE_SIZE - TRAILER, TRAILER);
    return trailer[0] == TRAMPOLINE_MAGIC && trailer[1] == vma.start ? page : nullptr;
}

bool is_trampoline(uintptr_t address) {
    const mm::Vma* vma = mm::app_memory().find(address);
    return vma && trampoline_page(*vma);
}

ErrorOr<void> add_trampoline_page(const mm::Vma& near, uintptr_t jump_end) {
    mm::VirtualMemory& vm = mm::app_memory();
    size_t pages = 0;
    vm.for_each([&](const mm::Vma& vma) { pages += trampoline_page(vma) ? 1 : 0; });
    if (pages >= MAX_TRAMPOLINE_PAGES) return error(ENOMEM);
    // Right after or before the site's mapping, else a little further away, else anywhere
    // (then only if it happens to be in reach).
    uintptr_t hints[2 + 2 * 8];
    size_t count = 0;
    hints[count++] = near.end;
    hints[count++] = near.start - mm::PAGE_SIZE;
    for (uintptr_t step = 1; step <= 8; ++step) {
        hints[count++] = near.end + (step << 24);
        hints[count++] = near.start - (step << 24);
    }
    uintptr_t base = 0;
    for (size_t i = 0; i <= count && !base; ++i) {
        auto placement = i < count ? mm::Placement::Hint : mm::Placement::Anywhere;
        uintptr_t mapped = TRY(vm.map(i < count ? hints[i] : 0, mm::PAGE_SIZE, PROT_READ | PROT_EXEC, placement));
        if (reachable(jump_end, mapped) && reachable(jump_end, mapped + mm::PAGE_SIZE))
            base = mapped;
        else
            (void)vm.unmap(mapped, mm::PAGE_SIZE);
    }
    if (!base) return error(ENOMEM);
    vm.handle_fault(base, PROT_READ);  // a frame behind it now, written through its alias
    uintptr_t frame = platform::mapped_page(base);
    if (!frame) {
        (void)vm.unmap(base, mm::PAGE_SIZE);
        return error(ENOMEM);
    }
    auto* page = static_cast<uint8_t*>(platform::phys_to_virt(frame));
    memset(page, 0xcc, mm::PAGE_SIZE);  // int3 between slots
    const uint64_t trailer[2] = {TRAMPOLINE_MAGIC, base};
    memcpy(page + mm::PAGE_SIZE - TRAILER, trailer, TRAILER);
    ++g_stats.trampoline_pages;
    return {};
}

// A free trampoline slot of the current memory within rel32 reach of the jump that ends at
// `jump_end`, or 0. Its page is this memory's own (a copy if a fork shares it).
uintptr_t take_slot(const mm::Vma& near, uintptr_t jump_end) {
    mm::VirtualMemory& vm = mm::app_memory();
    for (int attempt = 0; attempt < 2; ++attempt) {
        uintptr_t found = 0, found_page = 0;
        vm.for_each([&](const mm::Vma& vma) {
            if (found || !reachable(jump_end, vma.start) || !reachable(jump_end, vma.start + mm::PAGE_SIZE)) return;
            const uint8_t* page = trampoline_page(vma);
            if (!page) return;
            for (size_t slot = 0; slot < SLOTS_PER_PAGE && !found; ++slot)
                if (page[slot * SLOT_SIZE] == 0xcc) found = vma.start + slot * SLOT_SIZE, found_page = vma.start;
        });
        if (found) return vm.make_private_copy(found_page) ? found : 0;
        if (attempt == 0 && !add_trampoline_page(near, jump_end)) return 0;
    }
    return 0;
}

//   lea -128(%rsp),%rsp; pushfq; pop %r11; lea 128(%rsp),%rsp   %r11 = RFLAGS, red zone kept
constexpr uint8_t FLAGS_TO_R11[] = {0x48, 0x8d, 0x64, 0x24, 0x80,  // lea -0x80(%rsp),%rsp
                                    0x9c,  // pushfq
                                    0x41, 0x5b,  // pop %r11
                                    0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00};  // lea 0x80(%rsp),%rsp

uint8_t* put(uint8_t* at, const void* bytes, size_t size) {
    memcpy(at, bytes, size);
    return at + size;
}

// jmp *0(%rip) followed by the target: into xos_syscall_entry. No `call`: it would write the
// caller's red zone.
uint8_t* put_jump_to_entry(uint8_t* at) {
    static constexpr uint8_t jump[] = {0xff, 0x25, 0x00, 0x00, 0x00, 0x00};
    at = put(at, jump, sizeof jump);
    auto target = reinterpret_cast<uint64_t>(&xos_syscall_entry);
    return put(at, &target, 8);
}

// movabs $value,%rcx (no flags changed)
uint8_t* put_rcx(uint8_t* at, uintptr_t value) {
    *at++ = 0x48;
    *at++ = 0xb9;
    return put(at, &value, 8);
}

// The trampoline of a `mov $N,%eax; syscall` site: what the `syscall` instruction does (%r11 =
// RFLAGS, %rcx = the address after it), with %eax = N, then xos_syscall_entry.
void write_number_trampoline(uint8_t* out, uint32_t number, uintptr_t after) {
    uint8_t* at = put(out, FLAGS_TO_R11, sizeof FLAGS_TO_R11);
    *at++ = 0xb8;  // mov $N,%eax
    at = put(at, &number, 4);
    at = put_rcx(at, after);
    put_jump_to_entry(at);
}

// The trampoline of a site whose `syscall` and the instructions around it (`before`, `moved`)
// were replaced by the jump: the head runs `before` and does what `syscall` does with the
// caller's %eax but returns to the tail, which sets %rcx as the syscall left it, runs the moved
// instructions and jumps back after them. Returns the tail's address.
uintptr_t write_moved_trampoline(uint8_t* out, uintptr_t slot, uintptr_t after, const uint8_t* before,
                                 size_t before_length, const uint8_t* moved, size_t length) {
    uint8_t* at = put(out, before, before_length);
    at = put(at, FLAGS_TO_R11, sizeof FLAGS_TO_R11);
    static constexpr uint8_t lea_rcx[] = {0x48, 0x8d, 0x0d};  // lea rel32(%rip),%rcx
    at = put(at, lea_rcx, sizeof lea_rcx);
    int32_t to_tail = 14;  // past the jump below
    at = put(at, &to_tail, 4);
    at = put_jump_to_entry(at);
    uintptr_t tail = slot + uintptr_t(at - out);
    at = put_rcx(at, after);  // first: a moved instruction may write %rcx, or return
    at = put(at, moved, length);
    *at++ = 0xe9;  // jmp rel32 back
    uintptr_t jump_end = slot + uintptr_t(at - out) + 4;
    auto back = static_cast<int32_t>(static_cast<int64_t>(after + length - jump_end));
    put(at, &back, 4);
    return tail;
}

// The registers at the trap (xos_rewrite_trap's `saved`), those the trap entry saved.
struct Registers {
    const uint64_t* saved;
    // Register `number` (x86 encoding: 0 rax, 1 rcx, 2 rdx, ...) if saved, else false.
    bool get(unsigned number, uint64_t& value) const {
        static constexpr int8_t index[16] = {14, -1, 12, 4, -1, 5, 11, 10, 9, 8, 7, -1, 3, 2, 1, 0};
        if (number >= 16 || index[number] < 0) return false;
        value = saved[index[number]];
        return true;
    }
    uintptr_t caller_rsp() const { return reinterpret_cast<uintptr_t>(saved + 16) + 128; }
};

// The length of the instruction right before a `syscall` that a trampoline can run in its place
// (a mov or xor between registers, a mov of an immediate into a register, a store of a register
// to disp8(%rsp)), decoded backwards from the `syscall` at end[0] with `available` bytes before
// it, or 0. Decoding backwards is ambiguous (the bytes could be the end of a longer
// instruction), so the instruction's effect is checked against the registers at the trap: the
// destination must hold what the instruction put there (a register the trap entry saved).
size_t movable_before(const uint8_t* end, size_t available, const Registers& registers) {
    auto rex = [](uint8_t b) { return (b & 0xf0) == 0x40; };
    const uint8_t* c = end;
    uint64_t value, source;
    // mov $imm32,%r64 (sign-extended)
    if (available >= 7 && (c[-7] == 0x48 || c[-7] == 0x49) && c[-6] == 0xc7 && (c[-5] & 0xf8) == 0xc0) {
        int32_t imm;
        memcpy(&imm, c - 4, 4);
        unsigned dst = (c[-5] & 7) + (c[-7] & 1) * 8;
        return registers.get(dst, value) && value == uint64_t(int64_t(imm)) ? 7 : 0;
    }
    // mov $imm32,%r32 (%r8d-%r15d with 41)
    bool long_form = available >= 6 && c[-6] == 0x41 && (c[-5] & 0xf8) == 0xb8;
    if (long_form || (available >= 5 && (c[-5] & 0xf8) == 0xb8 && !(available >= 6 && rex(c[-6])))) {
        uint32_t imm;
        memcpy(&imm, c - 4, 4);
        unsigned dst = (c[-5] & 7) + (long_form ? 8 : 0);
        if (!registers.get(dst, value) || value != imm) return 0;
        return long_form ? 6 : 5;
    }
    // mov %reg,disp8(%rsp): 89, modrm mod=01 rm=100, SIB 0x24 (base %rsp, no index), disp8
    bool rex_store = available >= 5 && rex(c[-5]) && !(c[-5] & 3) && c[-4] == 0x89;
    if ((rex_store || (available >= 4 && c[-4] == 0x89 && !(available >= 5 && rex(c[-5])))) && (c[-3] & 0xc7) == 0x44 &&
        c[-2] == 0x24) {
        unsigned reg = ((c[-3] >> 3) & 7) + (rex_store && (c[-5] & 4) ? 8 : 0);
        bool wide = rex_store && (c[-5] & 8);
        auto slot = reinterpret_cast<const uint64_t*>(registers.caller_rsp() + int8_t(c[-1]));
        // Checked where the register is known (%r11, musl's, is not: the syscall replaced it).
        if (registers.get(reg, source) && (wide ? *slot != source : uint32_t(*slot) != uint32_t(source))) return 0;
        return rex_store ? 5 : 4;
    }
    // mov (89: r/m <- reg; 8b: reg <- r/m) or xor (31) between registers, with or without REX
    bool has_rex = available >= 3 && rex(c[-3]);
    if (available >= 2 && (c[-2] == 0x89 || c[-2] == 0x8b || c[-2] == 0x31) && (c[-1] & 0xc0) == 0xc0) {
        uint8_t prefix = has_rex ? c[-3] : 0;
        unsigned reg = ((c[-1] >> 3) & 7) + ((prefix & 4) ? 8 : 0);
        unsigned rm = (c[-1] & 7) + ((prefix & 1) ? 8 : 0);
        bool wide = prefix & 8;
        unsigned dst = c[-2] == 0x8b ? reg : rm, src = c[-2] == 0x8b ? rm : reg;
        if (!registers.get(dst, value)) return 0;
        if (c[-2] == 0x31) {
            if (src != dst || value != 0) return 0;
        } else {
            if (!registers.get(src, source)) return 0;
            if (value != (wide ? source : uint64_t(uint32_t(source)))) return 0;
        }
        return has_rex ? 3 : 2;
    }
    return 0;
}

// The length of an instruction after a `syscall` that a trampoline can run in its place
// (register-only, no branch, no %rip-relative operand), or 0. The forms glibc's sites have
// (bench/rewrite/survey.py counts them).
size_t movable(const uint8_t* code, size_t available) {
    auto fits = [&](size_t length) { return length <= available ? length : 0; };
    if (available >= 1 && code[0] == 0xc3) return 1;  // ret (the last one moved)
    if (available < 2) return 0;
    uint8_t b0 = code[0], b1 = code[1];
    uint8_t b2 = available > 2 ? code[2] : 0;
    if (b0 == 0x48 && b1 == 0x3d) return fits(6);  // cmp $imm32,%rax
    if (b0 == 0x3d) return fits(5);  // cmp $imm32,%eax
    if (b0 == 0x48 && b1 == 0x83 && b2 == 0xf8) return fits(4);  // cmp $imm8,%rax
    if (b0 == 0x83 && b1 == 0xf8) return fits(3);  // cmp $imm8,%eax
    if ((b0 == 0x48 || b0 == 0x49) && b1 == 0x89 && (b2 & 0xf8) == 0xc0) return fits(3);  // mov %rax,%reg
    if (b0 == 0x41 && b1 == 0x89 && (b2 & 0xf8) == 0xc0) return fits(3);  // mov %eax,%r8d-%r15d
    if (b0 == 0x89 && (b1 & 0xf8) == 0xc0) return 2;  // mov %eax,%reg32
    if (b0 == 0x48 && b1 == 0x85 && b2 == 0xc0) return fits(3);  // test %rax,%rax
    if (b0 == 0x85 && b1 == 0xc0) return 2;  // test %eax,%eax
    return 0;
}

void leave(Site* site, Reason reason) {
    ++g_stats.left_traps[size_t(reason)];
    if (!site) {
        ++g_stats.left[size_t(reason)];  // not remembered: counted at every trap
        return;
    }
    if (site->state != reason || !site->decided) ++g_stats.left[size_t(reason)];
    site->state = reason;
    site->decided = true;
}

// True if the bytes at w[offset] are a `jmp rel32` into one of the trampoline pages.
bool jumps_to_trampoline(const uint8_t* w, uintptr_t at, int offset) {
    if (w[offset] != 0xe9) return false;
    int32_t rel;
    memcpy(&rel, w + offset + 1, 4);
    return is_trampoline(at + offset + 5 + intptr_t(rel));
}

// Patches the site or says why not. `window` holds the bytes around the `syscall` at `at`.
// Returns where the trapped syscall returns to.
uintptr_t examine(Site* site, uintptr_t at, long number, const Registers& registers, const uint8_t* window,
                  uint32_t present) {
    uintptr_t after = at + 2;
    const uint8_t* w = window + WINDOW_BEFORE;  // w[0], w[1]: the syscall
    auto have = [&](int from, int to) {  // bytes w[from, to) present
        for (int i = from; i < to; ++i)
            if (!(present & (1u << (WINDOW_BEFORE + i)))) return false;
        return true;
    };
    auto number_is = [&](int imm_at) {
        uint32_t imm;
        memcpy(&imm, w + imm_at, 4);
        return imm < 0x80000000u && uint64_t(number) == imm;
    };
    // Which pattern, and the bytes [from, to) it replaces.
    Pattern pattern = Pattern::None;
    intptr_t from = 0, to = 0;
    size_t moved = 0, before = 0;
    if (have(-5, 2) && w[-5] == 0xb8 && number_is(-4)) {
        pattern = Pattern::MovEax, from = -5, to = 0;  // mov $N,%eax; syscall
    } else if (have(-7, 2) && w[-7] == 0x48 && w[-6] == 0xc7 && w[-5] == 0xc0 && number_is(-4)) {
        pattern = Pattern::MovRax, from = -7, to = -2;  // mov $N,%rax; syscall (the jump takes 5 of 7)
    } else if (jumps_to_trampoline(w, at, -5) || jumps_to_trampoline(w, at, -7)) {
        // A patched `mov` site's `syscall` entered directly (a thread that was stopped between the
        // two instructions when the site was patched): that site's trampoline returns right after
        // this `syscall`, so what follows must stay.
    } else {
        // syscall; then instructions the trampoline can run instead, 5 bytes or more in all;
        // else with the instruction before the syscall too.
        size_t available = 0;
        while (available < WINDOW - WINDOW_BEFORE - 2 && (present & (1u << (WINDOW_BEFORE + 2 + available))))
            ++available;
        auto take_after = [&](size_t wanted) {
            moved = 0;
            while (moved < wanted && (moved == 0 || w[2 + moved - 1] != 0xc3)) {
                size_t length = movable(w + 2 + moved, available - moved);
                if (!length) break;
                moved += length;
            }
            return moved >= wanted && moved <= MAX_MOVED;
        };
        size_t before_available = 0;
        while (before_available < WINDOW_BEFORE && (present & (1u << (WINDOW_BEFORE - 1 - before_available))))
            ++before_available;
        if (take_after(3)) {
            pattern = Pattern::Moved, from = 0, to = intptr_t(2 + moved);
        } else if ((before = movable_before(w, before_available, registers)) &&
                   take_after(before >= 3 ? 0 : 3 - before)) {
            pattern = Pattern::Moved, from = -intptr_t(before), to = intptr_t(2 + moved);
        }
    }
    if (pattern == Pattern::None) {
        leave(site, Reason::Pattern);
        return after;
    }
    if (site) site->pattern = pattern;
    mm::VirtualMemory& vm = mm::app_memory();
    uintptr_t start = at + from, end = at + to;
    if (end < start + 5) end = start + 5;
    if (!vm.in_region(start) || !vm.in_region(end - 1)) {
        leave(site, Reason::NotApp);
        return after;
    }
    const mm::Vma* vma = vm.find(start);
    if (!private_code(vma) || !private_code(vm.find(end - 1))) {
        leave(site, Reason::NotPrivate);
        return after;
    }
    // Moving the instructions after the `syscall` changes where a syscall from this site returns
    // to: only while no other thread can be inside one (blocked, or preempted after it).
    if (pattern == Pattern::Moved && sched::thread_count() > 1) {
        leave(site, Reason::Threads);
        return after;
    }
    // Private copies of file pages first; the aliases then point at the copies.
    if (!privatize(vm, start, end)) {
        leave(site, Reason::NotPrivate);
        return after;
    }
    uintptr_t slot = take_slot(*vma, start + 5);
    if (!slot) {
        static bool said;
        if (!said) {
            said = true;
            klog("xos: note: syscall site at %#lx left on the trap path: no trampoline within +-2 GiB (or no memory)",
                 at);
        }
        leave(site, Reason::NoTrampoline);
        return after;
    }
    uint8_t* bytes[MAX_BEFORE + 2 + MAX_MOVED];
    for (uintptr_t i = 0; i < end - start; ++i) bytes[i] = alias(start + i);
    uintptr_t resume = after;
    if (pattern == Pattern::Moved) {
        uint8_t copy[MAX_MOVED], copy_before[MAX_BEFORE];
        memcpy(copy, w + 2, moved);
        memcpy(copy_before, w - before, before);
        resume = write_moved_trampoline(alias(slot), slot, after, copy_before, before, copy, moved);
        // int3 over the rest of what moved (nothing runs there: the only thread is here).
        for (uintptr_t i = 5; i < end - start; ++i) *bytes[i] = 0xcc;
    } else {
        uint32_t imm;
        memcpy(&imm, w - 4, 4);
        write_number_trampoline(alias(slot), imm, after);
    }
    auto rel = static_cast<int32_t>(static_cast<int64_t>(slot - (start + 5)));
    // The displacement first, the opcode last: until then the first bytes still decode as before.
    for (size_t i = 0; i < 4; ++i) *bytes[1 + i] = uint8_t(uint32_t(rel) >> (8 * i));
    asm volatile("" ::: "memory");
    *bytes[0] = 0xe9;  // jmp rel32
    if (site) {
        site->state = Reason::Count;
        site->decided = true;
    }
    ++g_stats.patched;
    ++g_stats.patched_by[size_t(pattern)];
    return resume;
}

// A site left trapped whose verdict still holds while its bytes are the same: not one that
// depends on the process (`Threads`: until it is down to one thread; `NoTrampoline`: another
// process, or this one after an munmap, may have room for a trampoline page).
bool still_left(const Site& site) {
    if (site.state == Reason::Count || site.state == Reason::NoTrampoline) return false;
    return site.state != Reason::Threads || sched::thread_count() > 1;
}

uintptr_t on_trap(uintptr_t after, long number, const uint64_t* saved) {
    ++g_stats.traps;
    uintptr_t at = after - 2;  // the `syscall` instruction
    Site* site = record(at);
    if (site) ++site->traps;
    if (!g_enabled) {
        leave(site, Reason::Disabled);
        return after;
    }
    // A site left trapped before, with the same bytes around it (not another program's code
    // mapped at the same address since): left again without a second look, so a trap from it
    // costs about what it costs with rewriting off (one page lookup, three 8-byte compares). A
    // `Threads` site is looked at again once the process is down to one thread, a
    // `NoTrampoline` one always (still_left).
    if (site && site->decided && still_left(*site)) {
        uintptr_t from = at - WINDOW_BEFORE;
        uintptr_t page = from & ~uintptr_t(mm::PAGE_SIZE - 1);
        if (site->present == (1u << WINDOW) - 1 && ((from + WINDOW - 1) & ~uintptr_t(mm::PAGE_SIZE - 1)) == page) {
            uintptr_t frame = platform::mapped_page(page);
            static_assert(WINDOW == 24);
            if (frame) {
                auto now = reinterpret_cast<const uint64_t*>(
                    static_cast<const uint8_t*>(platform::phys_to_virt(frame)) + (from - page));
                uint64_t then[3];
                memcpy(then, site->bytes, WINDOW);
                if (((now[0] ^ then[0]) | (now[1] ^ then[1]) | (now[2] ^ then[2])) == 0) {
                    ++g_stats.left_traps[size_t(site->state)];
                    return after;
                }
            }
        }
    }
    uint8_t window[WINDOW];
    uint32_t present = read_window(at, window);
    if (site && site->decided && still_left(*site) && site->present == present &&
        memcmp(site->bytes, window, WINDOW) == 0) {
        ++g_stats.left_traps[size_t(site->state)];
        return after;
    }
    if (site) {
        memcpy(site->bytes, window, WINDOW);
        site->present = present;
        const mm::Vma* vma = mm::app_memory().find(at);
        site->file_offset = vma && vma->kind == mm::VmaKind::File ? int64_t(vma->offset + (at - vma->start)) : -1;
    }
    return examine(site, at, number, Registers{saved}, window, present);
}

}  // namespace

const char* reason_name(Reason reason) {
    switch (reason) {
    case Reason::Disabled: return "disabled";
    case Reason::Pattern: return "pattern";
    case Reason::NotApp: return "not_app";
    case Reason::NotPrivate: return "not_private";
    case Reason::NoTrampoline: return "no_trampoline";
    case Reason::Threads: return "threads";
    case Reason::Count: break;
    }
    return "?";
}

const char* pattern_name(Pattern pattern) {
    switch (pattern) {
    case Pattern::None: return "none";
    case Pattern::MovEax: return "mov_eax";
    case Pattern::MovRax: return "mov_rax";
    case Pattern::Moved: return "moved";
    case Pattern::Count: break;
    }
    return "?";
}

void configure(std::span<const char* const> environment) {
    for (const char* variable : environment) {
        if (strcmp(variable, "XOS_REWRITE=0") == 0)
            g_enabled = false;
        else if (strcmp(variable, "XOS_REWRITE=1") == 0)
            g_enabled = true;
    }
}

bool enabled() { return g_enabled; }

const Stats& stats() { return g_stats; }

void for_each_site(void (*visit)(const Site& site, void* context), void* context) {
    for (const Site& site : g_sites)
        if (site.at) visit(site, context);
}

}  // namespace xos::rewrite

extern "C" uintptr_t xos_rewrite_trap(uintptr_t after, long number, const uint64_t* saved) {
    xos::platform::InterruptGuard guard;  // one CPU: nothing else runs while the site changes
    return xos::rewrite::on_trap(after, number, saved);
}
