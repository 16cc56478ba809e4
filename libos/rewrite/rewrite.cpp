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
#include "xos/platform.h"

extern "C" void xos_syscall_entry();  // platform/x86_64/entry64.S

namespace xos::rewrite {

namespace {

constexpr size_t SITE_SIZE = 7;  // b8 imm32 0f 05
constexpr size_t SLOT_SIZE = 64;
constexpr size_t SLOTS_PER_PAGE = mm::PAGE_SIZE / SLOT_SIZE;
constexpr size_t MAX_TRAMPOLINE_PAGES = 64;
constexpr size_t MAX_REMEMBERED = 512;  // sites left trapped, counted once each

struct TrampolinePage {
    uintptr_t base;
    uintptr_t frame;  // the frame behind it when it was made, to notice an app's munmap
    size_t used;
};

bool g_enabled = true;
Stats g_stats;
TrampolinePage g_pages[MAX_TRAMPOLINE_PAGES];
size_t g_page_count;
uintptr_t g_remembered[MAX_REMEMBERED];  // open addressing, 0 = empty
size_t g_remembered_count;

// libos's view of the byte at app address `at`, or nullptr if its page is not present.
uint8_t* alias(uintptr_t at) {
    uintptr_t page = at & ~uintptr_t(mm::PAGE_SIZE - 1);
    uintptr_t frame = platform::mapped_page(page);
    return frame ? static_cast<uint8_t*>(platform::phys_to_virt(frame)) + (at - page) : nullptr;
}

bool private_code(const mm::Vma* vma) {
    return vma && (vma->prot & PROT_EXEC) &&
        (vma->kind == mm::VmaKind::Anonymous || vma->kind == mm::VmaKind::Heap || vma->kind == mm::VmaKind::Stack ||
         (vma->kind == mm::VmaKind::File && !vma->shared));
}

// The site's pages made private where they are file pages (copy on write before patching).
bool privatize(mm::VirtualMemory& vm, uintptr_t site, uintptr_t after) {
    for (uintptr_t at : {site, after - 1}) {
        const mm::Vma* vma = vm.find(at);
        if (vma->kind != mm::VmaKind::File) continue;
        if (!vm.make_private_copy(at & ~uintptr_t(mm::PAGE_SIZE - 1))) return false;
    }
    return true;
}

bool reachable(uintptr_t from_end, uintptr_t to) {
    auto distance = static_cast<int64_t>(to - from_end);
    return distance >= INT32_MIN && distance <= INT32_MAX;
}

// Remembers a site left trapped; true the first time.
bool remember(uintptr_t site) {
    size_t i = (site * 0x9e3779b97f4a7c15ull) >> 55;  // 9 bits: MAX_REMEMBERED slots
    for (size_t probe = 0; probe < MAX_REMEMBERED; ++probe, i = (i + 1) % MAX_REMEMBERED) {
        if (g_remembered[i] == site) return false;
        if (g_remembered[i] == 0) {
            if (g_remembered_count + 1 >= MAX_REMEMBERED) return true;  // full: counted again, not stored
            g_remembered[i] = site;
            ++g_remembered_count;
            return true;
        }
    }
    return true;
}

void forget(uintptr_t site) {
    size_t i = (site * 0x9e3779b97f4a7c15ull) >> 55;
    for (size_t probe = 0; probe < MAX_REMEMBERED && g_remembered[i]; ++probe, i = (i + 1) % MAX_REMEMBERED) {
        if (g_remembered[i] == site) {
            // Not erased (that would break probing for the entries after it): marked never to match.
            g_remembered[i] = 1;
            return;
        }
    }
}

void leave(uintptr_t site, Reason reason) {
    ++g_stats.left_traps[size_t(reason)];
    if (remember(site)) ++g_stats.left[size_t(reason)];
}

// A trampoline page still as we made it (the app may have unmapped or changed it since).
bool intact(const TrampolinePage& page) {
    const mm::Vma* vma = mm::app_memory().find(page.base);
    return vma && vma->prot == (PROT_READ | PROT_EXEC) && platform::mapped_page(page.base) == page.frame;
}

ErrorOr<void> add_trampoline_page(const mm::Vma& near, uintptr_t site) {
    if (g_page_count == MAX_TRAMPOLINE_PAGES) return error(ENOMEM);
    mm::VirtualMemory& vm = mm::app_memory();
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
        if (reachable(site + 5, mapped) && reachable(site + 5, mapped + mm::PAGE_SIZE))
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
    memset(platform::phys_to_virt(frame), 0xcc, mm::PAGE_SIZE);  // int3 between slots
    g_pages[g_page_count++] = {base, frame, 0};
    ++g_stats.trampoline_pages;
    return {};
}

// A free trampoline slot within rel32 reach of the jump at `site`, or 0.
uintptr_t take_slot(const mm::Vma& near, uintptr_t site) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        for (size_t i = 0; i < g_page_count; ++i) {
            TrampolinePage& page = g_pages[i];
            if (page.used == SLOTS_PER_PAGE || !reachable(site + 5, page.base) ||
                !reachable(site + 5, page.base + mm::PAGE_SIZE))
                continue;
            if (!intact(page)) {
                page.used = SLOTS_PER_PAGE;  // never written again
                continue;
            }
            return page.base + SLOT_SIZE * page.used++;
        }
        if (attempt == 0 && !add_trampoline_page(near, site)) return 0;
    }
    return 0;
}

// The trampoline: what the `syscall` instruction does, then the trap entry's second half.
//   lea -128(%rsp),%rsp; pushfq; pop %r11; lea 128(%rsp),%rsp   %r11 = RFLAGS, red zone kept
//   mov $N,%eax; movabs $site+7,%rcx; jmp *target(%rip)         no `call`: it would write the red zone
void write_trampoline(uint8_t* out, uint32_t number, uintptr_t return_address) {
    static constexpr uint8_t head[] = {0x48, 0x8d, 0x64, 0x24, 0x80,  // lea -0x80(%rsp),%rsp
                                       0x9c,  // pushfq
                                       0x41, 0x5b,  // pop %r11
                                       0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00};  // lea 0x80(%rsp),%rsp
    uint8_t* at = out;
    memcpy(at, head, sizeof head);
    at += sizeof head;
    *at++ = 0xb8;  // mov $N,%eax
    memcpy(at, &number, 4);
    at += 4;
    *at++ = 0x48;  // movabs $imm64,%rcx
    *at++ = 0xb9;
    memcpy(at, &return_address, 8);
    at += 8;
    static constexpr uint8_t jump[] = {0xff, 0x25, 0x00, 0x00, 0x00, 0x00};  // jmp *0(%rip)
    memcpy(at, jump, sizeof jump);
    at += sizeof jump;
    auto target = reinterpret_cast<uint64_t>(&xos_syscall_entry);
    memcpy(at, &target, 8);
}

void on_trap(uintptr_t after, long number) {
    ++g_stats.traps;
    uintptr_t site = after - SITE_SIZE;
    if (!g_enabled) return leave(site, Reason::Disabled);
    mm::VirtualMemory& vm = mm::app_memory();
    if (after < SITE_SIZE || !vm.in_region(site) || !vm.in_region(after - 1)) return leave(site, Reason::NotApp);
    uint8_t* bytes[SITE_SIZE];
    for (size_t i = 0; i < SITE_SIZE; ++i) {
        bytes[i] = alias(site + i);
        if (!bytes[i]) return leave(site, Reason::Pattern);  // the mov's page is not even present
    }
    uint32_t imm = 0;
    for (size_t i = 0; i < 4; ++i) imm |= uint32_t(*bytes[1 + i]) << (8 * i);
    if (*bytes[0] != 0xb8 || *bytes[5] != 0x0f || *bytes[6] != 0x05 || uint64_t(number) != imm)
        return leave(site, Reason::Pattern);
    const mm::Vma* vma = vm.find(site);
    if (!private_code(vma) || !private_code(vm.find(after - 1))) return leave(site, Reason::NotPrivate);
    // Private copies of file pages first; the aliases then point at the copies.
    if (!privatize(vm, site, after)) return leave(site, Reason::NotPrivate);
    for (size_t i = 0; i < SITE_SIZE; ++i) bytes[i] = alias(site + i);
    uintptr_t slot = take_slot(*vma, site);
    if (!slot) {
        static bool said;
        if (!said) {
            said = true;
            klog("xos: note: syscall site at %#lx left on the trap path: no trampoline within +-2 GiB (or no memory)",
                 site);
        }
        return leave(site, Reason::NoTrampoline);
    }
    write_trampoline(alias(slot), imm, after);
    auto rel = static_cast<int32_t>(static_cast<int64_t>(slot - (site + 5)));
    // The displacement first, the opcode last: until then the bytes still decode as the mov.
    for (size_t i = 0; i < 4; ++i) *bytes[1 + i] = uint8_t(uint32_t(rel) >> (8 * i));
    asm volatile("" ::: "memory");
    *bytes[0] = 0xe9;  // jmp rel32
    forget(site);
    ++g_stats.patched;
}

}  // namespace

const char* reason_name(Reason reason) {
    switch (reason) {
    case Reason::Disabled: return "disabled";
    case Reason::Pattern: return "pattern";
    case Reason::NotApp: return "not_app";
    case Reason::NotPrivate: return "not_private";
    case Reason::NoTrampoline: return "no_trampoline";
    case Reason::Count: break;
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

}  // namespace xos::rewrite

extern "C" void xos_rewrite_trap(uintptr_t after, long number) {
    xos::platform::InterruptGuard guard;  // one CPU: nothing else runs while the site changes
    xos::rewrite::on_trap(after, number);
}
