// Syscall-site rewriting (rewrite.h). Called on the trap path of every `syscall` instruction by
// xos_syscall_trap_entry (platform/x86_64/syscall_trap.S), before the syscall runs.
//
// Patching: the 5 bytes of `mov $N,%eax` become `jmp rel32`; the `syscall` after them stays, so a
// thread that was stopped between the two instructions still runs a valid `syscall` (it traps as
// before). The bytes are written through libos's alias of the frame (RAM is in the direct map for
// libos on the VM; on hosted it is the RAM memfd's mapping), never by making the app's mapping
// writable, with interrupts off. Another CPU may run the site meanwhile (another thread of the
// process), so the jump goes in as Linux's text_poke_bp puts in an instruction (poke below): an
// int3 on the first byte, every CPU serialized (platform::sync_cores), the other bytes, sync,
// the first byte, sync; a thread that meets the int3 meanwhile continues in the trampoline
// (on_breakpoint). Written in one go, the bytes could be fetched half old, half new: `mov
// $N,%eax` with the jump's displacement as N, a syscall with the wrong number.
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
#include "base/spinlock.h"
#include "base/verify.h"
#include "mm/file_cache.h"
#include "mm/frames.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "xos/platform.h"

extern "C" void xos_syscall_entry();  // platform/x86_64/entry64.S

namespace xos::rewrite {

namespace {

constexpr size_t SLOT_SIZE = 80;  // the largest trampoline (a `moved` one) is 64 bytes
constexpr size_t SLOTS_PER_PAGE = mm::PAGE_SIZE / SLOT_SIZE;
constexpr size_t MAX_NEAR_PAGES = 64;  // near trampoline pages per address space
constexpr size_t MAX_MOVED = 8;  // bytes of instructions after a `syscall` moved into a trampoline
constexpr size_t MAX_BEFORE = 7;  // bytes of the instruction before it, the same
constexpr size_t MAX_CACHED_PAGES = 256;  // rewritten pages kept (each with its trampoline page)

// The trampoline pages of an address space are found in it rather than in a table of libos's:
// one-page private anonymous PROT_READ|PROT_EXEC mappings whose last TRAILER bytes hold a magic
// number and a word. So they belong to the address space: a fork's child inherits them (copy on
// write: a slot is written into this memory's own copy of the page,
// VirtualMemory::make_private_copy), an exec or an exit drops them with the rest of the memory,
// and a munmap or mprotect by the app makes the page no trampoline page any more. A slot is free
// while its first byte is still int3 (no trampoline starts with 0xcc). Two kinds:
// - paired (PAIRED_MAGIC, then the page's distance from its code page, PAIRED_OFFSETS): the
//   trampolines of the sites of one page of a private file mapping, at a fixed distance from
//   it, so that the code page and its trampoline page are position-independent as a pair and
//   can be cached per file and mapped at any address (the page cache below);
// - near (NEAR_MAGIC, then the page's own address): anywhere within reach of the sites it
//   serves (anonymous memory, or a file page whose paired page cannot be placed).
constexpr size_t TRAILER = 16;
static_assert(SLOTS_PER_PAGE * SLOT_SIZE + TRAILER <= mm::PAGE_SIZE);
constexpr uint64_t NEAR_MAGIC = 0x706d617274736f78ull;  // "xostramp"
constexpr uint64_t PAIRED_MAGIC = 0x726961707274736full;  // "ostrpair"
// Where a code page's paired trampoline page goes: 1 GiB below it (free in the usual layout: mmap
// places top-down, the break grows up), else 1 GiB above (an ET_EXEC program near the bottom).
constexpr int64_t PAIRED_OFFSETS[] = {-(int64_t(1) << 30), int64_t(1) << 30};

bool g_enabled = true;
Stats g_stats;

// The jump being poked in (poke): its first byte is an int3 until the last step. Set and
// cleared by the patching CPU (the big lock's holder), read by on_breakpoint on any CPU.
struct Poke {
    const mm::VirtualMemory* memory;
    uintptr_t at;  // the first byte of the site's new jump
    uintptr_t to;  // where the jump goes (its trampoline)
};
SpinLock g_poke_lock;  // g_poke as a whole, for on_breakpoint's read of it
Poke g_poke GUARDED_BY(g_poke_lock);
uint64_t g_poke_traps;  // threads that met the int3 (atomic: on_breakpoint has no lock)

// The live threads that run in the current address space: the process's own, and a vfork
// parent blocked in clone while its posix_spawn child shares its memory. (Not the threads of
// other processes, as threads_here() counts: a vfork loop's child is not alone there.)
int threads_here() {
    struct Context {
        const mm::VirtualMemory* memory;
        int count;
    } context{&mm::app_memory(), 0};
    sched::for_each_live_thread(
        [](sched::Thread& thread, void* opaque) {
            auto& c = *static_cast<Context*>(opaque);
            if (thread.process && thread.process->memory == c.memory) ++c.count;
        },
        &context);
    return context.count;
}

// The site records of one address space, sorted by Site::at; they go with their mapping
// (unmapped) or the address space (memory_gone). No fixed limit: the array grows.
struct SiteTable {
    const mm::VirtualMemory* memory;
    Site* sites;
    size_t count, capacity;
    SiteTable* next;
};
SiteTable* g_tables;

SiteTable* table_of(const mm::VirtualMemory& memory, bool create) {
    for (SiteTable* table = g_tables; table; table = table->next)
        if (table->memory == &memory) return table;
    if (!create) return nullptr;
    memory.note_rewritten();  // its operations that drop sites take the big lock from now on
    auto* table = static_cast<SiteTable*>(mm::kmalloc(sizeof(SiteTable)));
    if (!table) return nullptr;
    *table = {&memory, nullptr, 0, 0, g_tables};
    g_tables = table;
    return table;
}

size_t lower_bound(const SiteTable& table, uintptr_t at) {
    size_t low = 0, high = table.count;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (table.sites[mid].at < at)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

// The site's record in the current address space, made if there is none (nullptr without
// memory: the site is then examined at every trap). Valid until the next record().
Site* record(uintptr_t at) {
    SiteTable* table = table_of(mm::app_memory(), true);
    if (!table) return nullptr;
    size_t i = lower_bound(*table, at);
    if (i < table->count && table->sites[i].at == at) return &table->sites[i];
    // A new record: an munmap without the big lock on another CPU (before table_of's
    // note_rewritten, which waits for it) may have taken the site's mapping away; no record for
    // a site that is gone. From note_rewritten on, the mm operations that drop sites wait for
    // the big lock, held here.
    if (!mm::app_memory().vma_at(at)) return nullptr;
    if (table->count == table->capacity) {
        size_t capacity = table->capacity ? table->capacity * 2 : 32;
        auto* sites = static_cast<Site*>(mm::kmalloc(capacity * sizeof(Site)));
        if (!sites) return nullptr;
        if (table->count) memcpy(sites, table->sites, table->count * sizeof(Site));
        mm::kfree(table->sites);
        table->sites = sites;
        table->capacity = capacity;
    }
    memmove(&table->sites[i + 1], &table->sites[i], (table->count - i) * sizeof(Site));
    table->sites[i] = Site{};
    table->sites[i].at = at;
    ++table->count;
    ++g_stats.sites;
    return &table->sites[i];
}

// One page of a private file mapping with syscall sites patched, and its paired trampoline page
// `offset` bytes away: both frames hold a reference of the cache's (mm/frames.h), so they stay
// while any address space maps them, copy on write. Sorted by (vnode, index). Each entry holds a
// reference on the vnode (a 9p or hostfs file that no process has open would otherwise go, and
// the next exec get a new vnode), dropped later (g_unheld) since dropping it may block (a 9p
// clunk) and entries go on the trap path.
struct CachedPage {
    const vfs::Vnode* vnode;
    uint64_t index;  // the page's index in the file
    int64_t offset;  // trampoline page minus code page
    uintptr_t code, trampoline;  // frames
    uint64_t used;  // for eviction: the least recently used goes first
};
CachedPage g_cache[MAX_CACHED_PAGES];
size_t g_cached;
uint64_t g_clock;
// Vnodes whose entries went, to unref where that may block (release_vnodes).
// At most MAX_CACHED_PAGES wait when an entry is made (store), and each entry adds one.
constexpr size_t MAX_UNHELD = 2 * MAX_CACHED_PAGES + 1;
const vfs::Vnode* g_unheld[MAX_UNHELD];
size_t g_unheld_count;

void release_vnodes() {
    while (g_unheld_count) {
        const vfs::Vnode* vnode = g_unheld[--g_unheld_count];
        vnode->unref();  // may destroy it, and call file_changed: it has no entries left
    }
}

bool cache_less(const CachedPage& entry, const vfs::Vnode* vnode, uint64_t index) {
    return entry.vnode != vnode ? uintptr_t(entry.vnode) < uintptr_t(vnode) : entry.index < index;
}

size_t cache_lower_bound(const vfs::Vnode* vnode, uint64_t index) {
    size_t low = 0, high = g_cached;
    while (low < high) {
        size_t mid = (low + high) / 2;
        if (cache_less(g_cache[mid], vnode, index))
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

CachedPage* find_cached(const vfs::Vnode* vnode, uint64_t index) {
    size_t i = cache_lower_bound(vnode, index);
    return i < g_cached && g_cache[i].vnode == vnode && g_cache[i].index == index ? &g_cache[i] : nullptr;
}

// `release`: its vnode reference is dropped later (false: the vnode is being destroyed).
void drop_cached(size_t i, bool release = true) {
    mm::unref_frame(g_cache[i].code);
    mm::unref_frame(g_cache[i].trampoline);
    if (release) {
        VERIFY(g_unheld_count < MAX_UNHELD);
        g_unheld[g_unheld_count++] = g_cache[i].vnode;
    }
    memmove(&g_cache[i], &g_cache[i + 1], (g_cached - i - 1) * sizeof(CachedPage));
    --g_cached;
    --g_stats.cache_pages;
}

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

bool private_code(const std::optional<mm::Vma>& vma) {
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

// libos's view of the trampoline page `vma` of the current memory, with its trailer, or nullptr
// if it is none.
uint8_t* trampoline_page(const mm::Vma& vma, uint64_t* trailer) {
    if (vma.end - vma.start != mm::PAGE_SIZE || vma.kind != mm::VmaKind::Anonymous ||
        vma.prot != (PROT_READ | PROT_EXEC))
        return nullptr;
    uintptr_t frame = platform::mapped_page(vma.start);
    if (!frame) return nullptr;
    auto* page = static_cast<uint8_t*>(platform::phys_to_virt(frame));
    memcpy(trailer, page + mm::PAGE_SIZE - TRAILER, TRAILER);
    return trailer[0] == NEAR_MAGIC || trailer[0] == PAIRED_MAGIC ? page : nullptr;
}

uint8_t* near_page(const mm::Vma& vma) {
    uint64_t trailer[2];
    uint8_t* page = trampoline_page(vma, trailer);
    return page && trailer[0] == NEAR_MAGIC && trailer[1] == vma.start ? page : nullptr;
}

bool is_trampoline(uintptr_t address) {
    std::optional<mm::Vma> vma = mm::app_memory().vma_at(address);
    uint64_t trailer[2];
    return vma && trampoline_page(*vma, trailer);
}

// The paired trampoline page of the code page `code` in the current memory if it has one, else 0.
uintptr_t paired_page(uintptr_t code, int64_t offset) {
    uintptr_t base = code + uintptr_t(offset);
    std::optional<mm::Vma> vma = mm::app_memory().vma_at(base);
    uint64_t trailer[2];
    return vma && vma->start == base && trampoline_page(*vma, trailer) && trailer[0] == PAIRED_MAGIC &&
            int64_t(trailer[1]) == offset
        ? base
        : 0;
}

// A new trampoline page at `base` of the current memory (int3 in every slot, the trailer), or
// an error if that range is taken.
ErrorOr<void> add_trampoline_page(uintptr_t base, mm::Placement placement, uint64_t magic, uint64_t word) {
    mm::VirtualMemory& vm = mm::app_memory();
    TRY(vm.map(base, mm::PAGE_SIZE, PROT_READ | PROT_EXEC, placement));
    vm.handle_fault(base, PROT_READ);  // a frame behind it now, written through its alias
    uintptr_t frame = platform::mapped_page(base);
    if (!frame) {
        (void)vm.unmap(base, mm::PAGE_SIZE);
        return error(ENOMEM);
    }
    auto* page = static_cast<uint8_t*>(platform::phys_to_virt(frame));
    memset(page, 0xcc, mm::PAGE_SIZE);  // int3 between slots
    const uint64_t trailer[2] = {magic, word};
    memcpy(page + mm::PAGE_SIZE - TRAILER, trailer, TRAILER);
    ++g_stats.trampoline_pages;
    return {};
}

// The paired trampoline page of code page `code`, made if there is none and one of
// PAIRED_OFFSETS is free; 0 if there is none.
uintptr_t take_paired_page(uintptr_t code) {
    mm::VirtualMemory& vm = mm::app_memory();
    for (int64_t offset : PAIRED_OFFSETS)
        if (uintptr_t page = paired_page(code, offset)) return page;
    for (int64_t offset : PAIRED_OFFSETS) {
        uintptr_t base = code + uintptr_t(offset);
        if (!vm.in_region(base) || !vm.in_region(base + mm::PAGE_SIZE - 1)) continue;
        if (add_trampoline_page(base, mm::Placement::FixedNoReplace, PAIRED_MAGIC, uint64_t(offset))) return base;
    }
    return 0;
}

// A new near trampoline page within reach of the jump that ends at `jump_end`.
ErrorOr<void> add_near_page(const mm::Vma& near, uintptr_t jump_end) {
    mm::VirtualMemory& vm = mm::app_memory();
    size_t pages = 0;
    vm.for_each([&](const mm::Vma& vma) { pages += near_page(vma) ? 1 : 0; });
    if (pages >= MAX_NEAR_PAGES) return error(ENOMEM);
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
    (void)vm.unmap(base, mm::PAGE_SIZE);  // then made a trampoline page at the same place
    return add_trampoline_page(base, mm::Placement::FixedNoReplace, NEAR_MAGIC, base);
}

// A free slot of the trampoline page at `page` (its first byte int3), made this memory's own (a
// copy if a fork or the cache shares it), or 0.
uintptr_t free_slot(uintptr_t page) {
    const uint8_t* bytes = alias(page);
    if (!bytes) return 0;
    for (size_t slot = 0; slot < SLOTS_PER_PAGE; ++slot)
        if (bytes[slot * SLOT_SIZE] == 0xcc)
            return mm::app_memory().make_private_copy(page) ? page + slot * SLOT_SIZE : 0;
    return 0;
}

// A free near trampoline slot of the current memory within rel32 reach of the jump that ends at
// `jump_end`, or 0. Its page is this memory's own (a copy if a fork shares it).
uintptr_t take_near_slot(uintptr_t site, uintptr_t jump_end) {
    mm::VirtualMemory& vm = mm::app_memory();
    for (int attempt = 0; attempt < 2; ++attempt) {
        uintptr_t found = 0;
        vm.for_each([&](const mm::Vma& vma) {
            if (found || !reachable(jump_end, vma.start) || !reachable(jump_end, vma.start + mm::PAGE_SIZE)) return;
            const uint8_t* page = near_page(vma);
            if (!page) return;
            for (size_t slot = 0; slot < SLOTS_PER_PAGE && !found; ++slot)
                if (page[slot * SLOT_SIZE] == 0xcc) found = vma.start;
        });
        if (found) return free_slot(found);
        std::optional<mm::Vma> near = vm.vma_at(site);
        if (attempt == 0 && (!near || !add_near_page(*near, jump_end))) return 0;
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

// lea value(%rip),%rcx (no flags changed), written at `out`, which the app sees at `address`:
// relative, so that a paired trampoline page works wherever its code page is mapped.
uint8_t* put_rcx(uint8_t* out, uintptr_t address, uintptr_t value) {
    static constexpr uint8_t lea_rcx[] = {0x48, 0x8d, 0x0d};
    out = put(out, lea_rcx, sizeof lea_rcx);
    auto rel = static_cast<int32_t>(static_cast<int64_t>(value - (address + 7)));
    return put(out, &rel, 4);
}

// The trampoline of a `mov $N,%eax; syscall` site: what the `syscall` instruction does (%r11 =
// RFLAGS, %rcx = the address after it), with %eax = N, then xos_syscall_entry.
void write_number_trampoline(uint8_t* out, uintptr_t slot, uint32_t number, uintptr_t after) {
    uint8_t* at = put(out, FLAGS_TO_R11, sizeof FLAGS_TO_R11);
    *at++ = 0xb8;  // mov $N,%eax
    at = put(at, &number, 4);
    at = put_rcx(at, slot + uintptr_t(at - out), after);
    put_jump_to_entry(at);
}

// Where the tail of a `moved` trampoline starts, from its slot: after the moved instruction
// before the syscall, FLAGS_TO_R11, the lea and the jump to the entry.
constexpr size_t MOVED_TAIL = sizeof FLAGS_TO_R11 + 7 + 14;

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
    VERIFY(tail == slot + before_length + MOVED_TAIL);
    at = put_rcx(at, tail, after);  // first: a moved instruction may write %rcx, or return
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

// Maps the cached page `entry` at code page `code` of `vm` (the current memory; the page not
// present, or the file's own page) with its paired trampoline page, both copy on write as after
// a fork. False: a miss (the trampoline page's place is taken, or no memory).
bool map_cached(mm::VirtualMemory& vm, uintptr_t code, CachedPage& entry) {
    uintptr_t base = code + uintptr_t(entry.offset);
    if (!vm.in_region(base) || !vm.in_region(base + mm::PAGE_SIZE - 1)) return false;
    if (vm.vma_at(base)) {
        // This code page's paired page from an earlier mapping of it: nothing jumps into it
        // (the code page is the file's again), so it is replaced. Anything else there: a miss.
        if (paired_page(code, entry.offset) != base || !vm.unmap(base, mm::PAGE_SIZE)) return false;
    }
    if (!vm.map(base, mm::PAGE_SIZE, PROT_READ | PROT_EXEC, mm::Placement::FixedNoReplace)) return false;
    if (!vm.adopt_frame(base, entry.trampoline) || !vm.adopt_frame(code, entry.code)) {
        (void)vm.unmap(base, mm::PAGE_SIZE);
        return false;
    }
    entry.used = ++g_clock;
    ++g_stats.cache_hits;
    return true;
}

// Stores the code page `code` of the current memory (page `index` of `vnode`, patched) and its
// paired trampoline page `trampoline` in the cache, replacing the entry the page had.
void store(const vfs::Vnode* vnode, uint64_t index, uintptr_t code, uintptr_t trampoline) {
    uintptr_t code_frame = platform::mapped_page(code), trampoline_frame = platform::mapped_page(trampoline);
    if (!code_frame || !trampoline_frame) return;
    if (!mm::ref_frame(code_frame)) return;
    if (!mm::ref_frame(trampoline_frame)) {
        mm::unref_frame(code_frame);
        return;
    }
    CachedPage fresh{vnode, index, int64_t(trampoline - code), code_frame, trampoline_frame, ++g_clock};
    if (CachedPage* entry = find_cached(vnode, index)) {
        // The same vnode: its reference carries over.
        mm::unref_frame(entry->code);
        mm::unref_frame(entry->trampoline);
        *entry = fresh;
    } else {
        if (g_unheld_count >= MAX_CACHED_PAGES) {
            // Too many vnodes waiting to be released (nothing mapped code since that many
            // entries went): not cached.
            mm::unref_frame(code_frame);
            mm::unref_frame(trampoline_frame);
            return;
        }
        if (g_cached == MAX_CACHED_PAGES) {
            size_t oldest = 0;
            for (size_t i = 1; i < g_cached; ++i)
                if (g_cache[i].used < g_cache[oldest].used) oldest = i;
            drop_cached(oldest);
            ++g_stats.cache_evicted;
        }
        vnode->ref();
        size_t i = cache_lower_bound(vnode, index);
        memmove(&g_cache[i + 1], &g_cache[i], (g_cached - i) * sizeof(CachedPage));
        g_cache[i] = fresh;
        ++g_cached;
        ++g_stats.cache_pages;
    }
    ++g_stats.cache_stored;
}

// Whether the cached page `entry` can replace the code page `code` of the current memory, whose
// frame `now` is neither the file's page `file` nor the cached one: a copy of an older version of
// the cached page (a fork's parent's, or a page this process patched before another process
// patched more in the cache). True when every byte of it is the file's or the cached page's,
// and every slot its paired trampoline page uses is the same in the cached one: then the cached
// pair does all the current pair does, and more.
bool covered_by(const CachedPage& entry, uintptr_t code, uintptr_t now, uintptr_t file) {
    if (!file) return false;
    auto* current = static_cast<const uint8_t*>(platform::phys_to_virt(now));
    auto* original = static_cast<const uint8_t*>(platform::phys_to_virt(file));
    auto* cached = static_cast<const uint8_t*>(platform::phys_to_virt(entry.code));
    for (size_t i = 0; i < mm::PAGE_SIZE; ++i)
        if (current[i] != original[i] && current[i] != cached[i]) return false;
    uintptr_t paired = paired_page(code, entry.offset);
    uintptr_t paired_frame = paired ? platform::mapped_page(paired) : 0;
    if (!paired_frame) return memcmp(current, original, mm::PAGE_SIZE) == 0;
    auto* slots = static_cast<const uint8_t*>(platform::phys_to_virt(paired_frame));
    auto* cached_slots = static_cast<const uint8_t*>(platform::phys_to_virt(entry.trampoline));
    for (size_t slot = 0; slot < SLOTS_PER_PAGE; ++slot)
        if (slots[slot * SLOT_SIZE] != 0xcc &&
            memcmp(slots + slot * SLOT_SIZE, cached_slots + slot * SLOT_SIZE, SLOT_SIZE) != 0)
            return false;
    return true;
}

// Whether the site whose `syscall` is at `at` is patched in the current memory (a cached page
// was just mapped over it), and if so where its trapped syscall must return: right after it for
// a `mov` site (whose `syscall` stays), the tail of its trampoline for a `moved` one (whose
// bytes after the `syscall` are gone).
bool patched_already(uintptr_t at, uintptr_t& resume) {
    auto byte = [](uintptr_t address, uint8_t& out) {
        const uint8_t* p = alias(address);
        if (p) out = *p;
        return p != nullptr;
    };
    auto jump_at = [&](uintptr_t from, uintptr_t& target) {
        uint8_t b[5];
        for (int i = 0; i < 5; ++i)
            if (!byte(from + i, b[i])) return false;
        if (b[0] != 0xe9) return false;
        int32_t rel;
        memcpy(&rel, b + 1, 4);
        target = from + 5 + intptr_t(rel);
        return is_trampoline(target);
    };
    uint8_t s0 = 0, s1 = 0;
    uintptr_t target;
    if (byte(at, s0) && byte(at + 1, s1) && s0 == 0x0f && s1 == 0x05) {
        if (jump_at(at - 5, target) || jump_at(at - 7, target)) {
            resume = at + 2;
            return true;
        }
        return false;
    }
    for (uintptr_t before = 0; before <= MAX_BEFORE; ++before) {
        if (jump_at(at - before, target)) {
            resume = target + before + MOVED_TAIL;
            return true;
        }
    }
    return false;
}

// Writes `jump` (jmp rel32, to `to`) over the 5 bytes at app address `at` (`bytes`: libos's
// aliases of them), safely for threads that run them on other CPUs meanwhile: they see the old
// instruction, the int3 (and continue at `to`: on_breakpoint), or the jump, never a mix.
void poke(uint8_t* const* bytes, uintptr_t at, const uint8_t (&jump)[5], uintptr_t to) {
    if (platform::cpu_count() == 1) {
        // The displacement first, the opcode last: until then the first bytes still decode as
        // before (an interrupt is all that can come between, and interrupts are off).
        for (size_t i = 1; i < 5; ++i) *bytes[i] = jump[i];
        asm volatile("" ::: "memory");
        *bytes[0] = jump[0];
        return;
    }
    {
        SpinLockGuard guard(g_poke_lock);
        g_poke = {&mm::app_memory(), at, to};
    }
    __atomic_store_n(bytes[0], uint8_t(0xcc), __ATOMIC_SEQ_CST);  // int3: from now on nobody runs the old bytes
    platform::sync_cores();
    for (size_t i = 1; i < 5; ++i) __atomic_store_n(bytes[i], jump[i], __ATOMIC_RELAXED);
    platform::sync_cores();
    __atomic_store_n(bytes[0], jump[0], __ATOMIC_SEQ_CST);
    platform::sync_cores();
    // The same bytes once more. For real CPUs a no-op; for QEMU's multi-threaded TCG, whose
    // check for written code races with another vCPU translating the page: a block translated
    // from the int3 step while the last store went past that check stays cached, and the threads
    // that run it meet an int3 that memory no longer has (seen: on_breakpoint's second case for
    // ever). Every vCPU has finished its translations since (sync_cores), so this store finds
    // the page's blocks and drops them.
    for (size_t i = 0; i < 5; ++i) __atomic_store_n(bytes[i], jump[i], __ATOMIC_SEQ_CST);
    SpinLockGuard guard(g_poke_lock);
    g_poke = {};
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
    std::optional<mm::Vma> vma = vm.vma_at(start);
    if (!private_code(vma) || !private_code(vm.vma_at(end - 1))) {
        leave(site, Reason::NotPrivate);
        return after;
    }
    // Moving the instructions after the `syscall` changes where a syscall from this site returns
    // to: only while no other thread can be inside one (blocked, or preempted after it).
    if (pattern == Pattern::Moved && threads_here() > 1) {
        leave(site, Reason::Threads);
        return after;
    }
    // A page of a private file mapping (not writable): its trampolines go into its paired page,
    // and once patched it is cached per file, if what it held was the file's page or the cached
    // one (not a copy the app or the loader changed, nor one with near trampolines). A site
    // across two pages gets a near trampoline (each page is cached alone).
    uintptr_t code_page = start & ~uintptr_t(mm::PAGE_SIZE - 1);
    const vfs::Vnode* vnode = nullptr;
    uint64_t index = 0;
    bool cacheable = false;
    if (vma->kind == mm::VmaKind::File && !(vma->prot & PROT_WRITE) &&
        ((end - 1) & ~uintptr_t(mm::PAGE_SIZE - 1)) == code_page) {
        vnode = vma->file;
        index = (vma->offset + (code_page - vma->start)) / mm::PAGE_SIZE;
        mm::FileCache* file = mm::FileCache::existing(*vma->file);
        uintptr_t now = platform::mapped_page(code_page);
        CachedPage* entry = find_cached(vnode, index);
        uintptr_t file_page = file ? file->page(index, false) : 0;
        bool pristine = now && now == file_page;
        // The file's page (or an older version of the cached one), and the cache has a patched
        // one: that one replaces it (a page mapped before the cache had it: a fork's or vfork's
        // copy, a program run while another one patched its pages). Only with one thread:
        // another one could be inside a `moved` site of the page, which the cached page changes
        // behind it.
        if (entry && now && now != entry->code && threads_here() == 1 &&
            (pristine || covered_by(*entry, code_page, now, file_page)) && map_cached(vm, code_page, *entry)) {
            uintptr_t resume = 0;
            if (patched_already(at, resume)) {
                if (site) {
                    site->state = Reason::Count;
                    site->decided = true;
                }
                return resume;
            }
            cacheable = true;  // the cached page, without this site: patched in a copy of it
        } else {
            cacheable = pristine || (entry && now == entry->code);
        }
    }
    // Private copies of file pages first; the aliases then point at the copies.
    if (!privatize(vm, start, end)) {
        leave(site, Reason::NotPrivate);
        return after;
    }
    uintptr_t paired = vnode ? take_paired_page(code_page) : 0;
    uintptr_t slot = paired ? free_slot(paired) : 0;
    if (!slot) {
        paired = 0;
        slot = take_near_slot(start, start + 5);
    }
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
        write_number_trampoline(alias(slot), slot, imm, after);
    }
    auto rel = static_cast<int32_t>(static_cast<int64_t>(slot - (start + 5)));
    uint8_t jump[5] = {0xe9};  // jmp rel32
    for (size_t i = 0; i < 4; ++i) jump[1 + i] = uint8_t(uint32_t(rel) >> (8 * i));
    poke(bytes, start, jump, slot);
    if (site) {
        site->state = Reason::Count;
        site->decided = true;
    }
    ++g_stats.patched;
    ++g_stats.patched_by[size_t(pattern)];
    if (paired && cacheable) store(vnode, index, code_page, paired);
    return resume;
}

// A site left trapped whose verdict still holds while its bytes are the same: not one that
// depends on the process (`Threads`: until it is down to one thread; `NoTrampoline`: another
// process, or this one after an munmap, may have room for a trampoline page).
bool still_left(const Site& site) {
    if (site.state == Reason::Count || site.state == Reason::NoTrampoline) return false;
    return site.state != Reason::Threads || threads_here() > 1;
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
        std::optional<mm::Vma> vma = mm::app_memory().vma_at(at);
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
    for (const SiteTable* table = g_tables; table; table = table->next)
        for (size_t i = 0; i < table->count; ++i) visit(table->sites[i], context);
}

bool file_mapped_has_work() {
    return __atomic_load_n(&g_unheld_count, __ATOMIC_RELAXED) ||
        (g_enabled && __atomic_load_n(&g_cached, __ATOMIC_RELAXED));
}

void file_mapped(mm::VirtualMemory& memory, uintptr_t start, uintptr_t end) {
    release_vnodes();  // a syscall (mmap, exec), where a 9p clunk may wait
    if (!g_enabled || !g_cached || &memory != &mm::app_memory()) return;
    std::optional<mm::Vma> vma = memory.vma_at(start);
    if (!vma || vma->kind != mm::VmaKind::File || vma->shared || !(vma->prot & PROT_EXEC) || (vma->prot & PROT_WRITE))
        return;
    const vfs::Vnode* vnode = vma->file;
    uintptr_t vma_start = vma->start;
    if (end > vma->end) end = vma->end;
    uint64_t first = vma->offset / mm::PAGE_SIZE, last = first + (end - vma_start) / mm::PAGE_SIZE;
    // map_cached changes the VMAs, not the cache's order.
    for (size_t i = cache_lower_bound(vnode, first);
         i < g_cached && g_cache[i].vnode == vnode && g_cache[i].index < last; ++i) {
        uintptr_t code = vma_start + (g_cache[i].index - first) * mm::PAGE_SIZE;
        if (!platform::mapped_page(code)) (void)map_cached(memory, code, g_cache[i]);
    }
}

void unmapped(const mm::VirtualMemory& memory, uintptr_t start, uintptr_t end) {
    SiteTable* table = table_of(memory, false);
    if (!table) return;
    size_t from = lower_bound(*table, start), to = lower_bound(*table, end);
    if (from == to) return;
    memmove(&table->sites[from], &table->sites[to], (table->count - to) * sizeof(Site));
    table->count -= to - from;
    g_stats.sites -= to - from;
    g_stats.sites_freed += to - from;
}

void memory_gone(const mm::VirtualMemory& memory) {
    for (SiteTable** link = &g_tables; *link; link = &(*link)->next) {
        SiteTable* table = *link;
        if (table->memory != &memory) continue;
        *link = table->next;
        g_stats.sites -= table->count;
        g_stats.sites_freed += table->count;
        mm::kfree(table->sites);
        mm::kfree(table);
        return;
    }
}

void file_destroyed(const vfs::Vnode& vnode) {
    // None: entries hold a reference. Were there any, the address could be reused by another vnode.
    for (size_t i = cache_lower_bound(&vnode, 0); i < g_cached && g_cache[i].vnode == &vnode;) {
        drop_cached(i, false);
        ++g_stats.cache_invalidated;
    }
}

void file_changed(const vfs::Vnode& vnode, uint64_t from, uint64_t to) {
    if (to <= from) return;
    uint64_t last = (to - 1) / mm::PAGE_SIZE;
    for (size_t i = cache_lower_bound(&vnode, from / mm::PAGE_SIZE);
         i < g_cached && g_cache[i].vnode == &vnode && g_cache[i].index <= last;) {
        drop_cached(i);
        ++g_stats.cache_invalidated;
    }
}

uintptr_t on_breakpoint(uintptr_t address) {
    {
        SpinLockGuard guard(g_poke_lock);
        if (g_poke.at == address && g_poke.memory == &mm::app_memory()) {
            __atomic_fetch_add(&g_poke_traps, 1, __ATOMIC_RELAXED);
            return g_poke.to;  // what the jump being put there does
        }
    }
    // Not (or no longer) being patched: if the int3 is gone since it trapped (its patch was over
    // before this CPU looked), what is there now runs, as Linux's uprobes do with a breakpoint
    // removed under them. An int3 still there is the app's own: SIGTRAP.
    uint8_t now[5] = {};
    if (platform::copy_user(now, reinterpret_cast<const void*>(address), 1) != 0 || now[0] == 0xcc) return 0;
    __atomic_fetch_add(&g_poke_traps, 1, __ATOMIC_RELAXED);
    // A jump (the rewriter's, if the patch was over): taken here rather than run again, in case
    // this CPU still fetches the int3 (poke: TCG).
    int32_t rel;
    if (now[0] == 0xe9 && platform::copy_user(now + 1, reinterpret_cast<const void*>(address + 1), 4) == 0) {
        memcpy(&rel, now + 1, 4);
        return address + 5 + uintptr_t(intptr_t(rel));
    }
    return address;
}

uint64_t poke_traps() { return __atomic_load_n(&g_poke_traps, __ATOMIC_RELAXED); }

}  // namespace xos::rewrite

extern "C" uintptr_t xos_rewrite_trap(uintptr_t after, long number, const uint64_t* saved) {
    xos::platform::InterruptGuard guard;  // no switch while the site changes (poke)
    return xos::rewrite::on_trap(after, number, saved);
}
