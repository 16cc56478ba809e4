// Syscall-site rewriting: a raw `syscall` instruction in the app's memory (code an unmodified
// binary or a JIT put there; libos's own image has none) traps into libos (the VM's MSR_LSTAR,
// the hosted platform's SIGSYS), a detour that is slow on hosted (a host signal: microseconds)
// and costs the trap entry's extra work on the VM. On the first trap from a site of the form
//     b8 NN NN NN NN    mov $N,%eax
//     0f 05             syscall
// in private app memory, the rewriter replaces the `mov` with `jmp rel32` to a per-site
// trampoline that does what the `syscall` instruction does (%r11 = RFLAGS, %rcx = the address
// after it, %eax = N) and jumps into xos_syscall_entry, so every later call from that site is a
// plain jump and return. docs/syscall-rewriting.md has the design and its limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace xos::rewrite {

// Why a site stays on the trap path.
enum class Reason : uint8_t {
    Disabled,  // XOS_REWRITE=0
    Pattern,  // not `mov $N,%eax; syscall` with %eax == N (or already patched: a thread
    // stopped between the two instructions when the site was patched)
    NotApp,  // outside the app's region (the image's own text)
    NotPrivate,  // not private anonymous memory (a shared or file-backed mapping)
    NoTrampoline,  // no trampoline page within +-2 GiB (or out of memory, or too many sites)
    Count,
};
const char* reason_name(Reason reason);

struct Stats {
    uint64_t traps = 0;  // trap-path syscalls from app or image code
    uint64_t patched = 0;  // sites rewritten into jumps
    uint64_t trampoline_pages = 0;
    uint64_t left[size_t(Reason::Count)] = {};  // distinct sites left trapped, by reason
    uint64_t left_traps[size_t(Reason::Count)] = {};  // traps from such sites, by reason
};

// Reads XOS_REWRITE from the image's environment: "0" turns patching off (sites keep trapping).
void configure(std::span<const char* const> environment);
bool enabled();
const Stats& stats();

}  // namespace xos::rewrite
