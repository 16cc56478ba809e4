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

namespace xos::rewrite {

// Why a site stays on the trap path.
enum class Reason : uint8_t {
    Disabled,  // XOS_REWRITE=0
    Pattern,  // none of the patterns (or a patched `mov` site's `syscall` entered directly: a
    // thread stopped between the two instructions when the site was patched)
    NotApp,  // outside the app's region (the image's own text)
    NotPrivate,  // not private memory (a shared file mapping)
    NoTrampoline,  // no trampoline page within +-2 GiB (or out of memory, or too many sites)
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
    uint64_t trampoline_pages = 0;
    uint64_t left[size_t(Reason::Count)] = {};  // distinct sites left trapped, by reason
    uint64_t left_traps[size_t(Reason::Count)] = {};  // traps from such sites, by reason
};

// The bytes a site record keeps: WINDOW_BEFORE before the `syscall` and the rest from it on.
constexpr size_t WINDOW_BEFORE = 12;
constexpr size_t WINDOW = 24;

// One syscall site seen on the trap path (at most 512 are remembered).
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
void for_each_site(void (*visit)(const Site& site, void* context), void* context);

}  // namespace xos::rewrite
