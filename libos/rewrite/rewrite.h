// Syscall-site rewriting: a raw `syscall` instruction in the app's memory (code an unmodified
// binary or a JIT put there; libos's own image has none) traps into libos (the VM's MSR_LSTAR,
// the hosted platform's SIGSYS), a detour that is slow on hosted (a host signal: microseconds)
// and costs the trap entry's extra work on the VM. On the first trap from a site in private app
// memory, the rewriter replaces 5 bytes of it with `jmp rel32` to a per-site trampoline that does
// what the `syscall` instruction does (%r11 = RFLAGS, %rcx = the address after it) and jumps into
// xos_syscall_entry, so every later call from that site is a plain jump and return. Patterns:
//     b8 NN NN NN NN        mov $N,%eax; syscall          the mov becomes the jump
//     48 c7 c0 NN NN NN NN  mov $N,%rax; syscall          the same
//     0f 05 + 3..8 bytes    syscall; cmp $-4095,%rax ...  the syscall and the register-only
//                                                         instructions after it (and, if those
//                                                         are too few, the one before it) move
//                                                         into the trampoline (one thread only)
// docs/syscall-rewriting.md has the design, the survey of glibc's sites and the limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace xos::mm {
class VirtualMemory;
}  // namespace xos::mm
namespace xos::vfs {
class Vnode;
}  // namespace xos::vfs

namespace xos::rewrite {

// Why a site stays on the trap path.
enum class Reason : uint8_t {
    Disabled,  // XOS_REWRITE=0
    Pattern,  // none of the patterns (or a patched `mov` site's `syscall` entered directly: a
    // thread stopped between the two instructions when the site was patched)
    NotApp,  // outside the app's region (the image's own text)
    NotPrivate,  // not private memory (a shared file mapping)
    NoTrampoline,  // no trampoline page within +-2 GiB (or out of memory)
    Threads,  // the `moved` pattern while the process has other threads (looked at again later)
    Count,  // (as a Site's state: patched)
};
const char* reason_name(Reason reason);

enum class Pattern : uint8_t { None, MovEax, MovRax, Moved, Count };
const char* pattern_name(Pattern pattern);

struct Stats {
    uint64_t traps = 0;  // trap-path syscalls from app or image code
    uint64_t patched = 0;  // sites rewritten into jumps
    uint64_t patched_by[size_t(Pattern::Count)] = {};  // by pattern
    uint64_t trampoline_pages = 0;  // made since boot, both kinds (near and paired)
    uint64_t sites = 0;  // site records now (in every address space)
    uint64_t sites_freed = 0;  // records dropped with their mapping (munmap, exec, exit)
    // The cache of rewritten pages (docs/syscall-rewriting.md, "The page cache"):
    uint64_t cache_pages = 0;  // pages cached now
    uint64_t cache_stored = 0;  // pages stored (a page patched again replaces its entry)
    uint64_t cache_hits = 0;  // cached pages mapped into an address space instead of the file's
    uint64_t cache_evicted = 0;  // entries dropped for room
    uint64_t cache_invalidated = 0;  // entries dropped because their file changed or went
    uint64_t left[size_t(Reason::Count)] = {};  // distinct sites left trapped, by reason
    uint64_t left_traps[size_t(Reason::Count)] = {};  // traps from such sites, by reason
};

// The bytes a site record keeps: WINDOW_BEFORE before the `syscall` and the rest from it on.
constexpr size_t WINDOW_BEFORE = 12;
constexpr size_t WINDOW = 24;

// One syscall site seen on the trap path, remembered per address space until its mapping goes.
struct Site {
    uintptr_t at = 0;  // the `syscall` instruction
    uint64_t traps = 0;  // trap-path syscalls from it (a patched site's first one, and any later)
    int64_t file_offset = -1;  // its offset in the mapped file (a library, a program), or -1
    Reason state = Reason::Count;  // why it is left trapped, or Count: patched
    Pattern pattern = Pattern::None;  // the pattern it matched
    bool decided = false;
    uint32_t present = 0;  // bit i: bytes[i]'s page was present
    uint8_t bytes[WINDOW] = {};  // as they were when the site was last examined
};

// Reads XOS_REWRITE from the image's environment: "0" turns patching off (sites keep trapping).
void configure(std::span<const char* const> environment);
bool enabled();
const Stats& stats();
// Threads that met a site's int3 while it was patched (platform::sync_cores' window) and went on
// in its trampoline, or found the int3 gone and ran the jump.
uint64_t poke_traps();
void for_each_site(void (*visit)(const Site& site, void* context), void* context);

// Hooks of the memory manager (mm/vm.cpp) and the file cache (mm/file_cache.cpp):
// - a private executable file mapping [start, end) of `memory` was made: the cached rewritten
//   pages of that range of the file are mapped in (with their trampoline pages);
void file_mapped(mm::VirtualMemory& memory, uintptr_t start, uintptr_t end);
//   file_mapped takes the big lock's tables; mm calls it (under the big lock) only when this says
//   there is work (a patched page cached, or vnode references to drop), read without the lock:
//   a page cached meanwhile is only an optimisation missed (the mapping's sites trap and are
//   patched again).
bool file_mapped_has_work();
// - [start, end) of `memory` is being unmapped: its site records go;
void unmapped(const mm::VirtualMemory& memory, uintptr_t start, uintptr_t end);
// - `memory` is being destroyed (exec, exit): all its site records go;
void memory_gone(const mm::VirtualMemory& memory);
// - bytes [from, to) of the file were written or truncated away (everything: it was replaced on
//   the host, seen by exec): its cached pages there are dropped (the
//   processes that map them keep their copies).
void file_changed(const vfs::Vnode& vnode, uint64_t from = 0, uint64_t to = UINT64_MAX);
// - the vnode is being destroyed (its entries, if any, go without dropping a reference).
void file_destroyed(const vfs::Vnode& vnode);

}  // namespace xos::rewrite
