// Builds the initial stack a Linux kernel gives a new static ELF process: argc, argv, envp,
// the auxiliary vector, and above them the strings, the AT_RANDOM bytes and the platform name.
// musl's startup (static TLS via AT_PHDR, the stack protector via AT_RANDOM) and libunwind's
// dl_iterate_phdr depend on it. Portable; unit-tested on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/error.h"

namespace xos::boot {

// Linux auxiliary vector tags (include/uapi/linux/auxvec.h).
enum AuxTag : uint64_t {
    AT_NULL = 0,
    AT_PHDR = 3,
    AT_PHENT = 4,
    AT_PHNUM = 5,
    AT_PAGESZ = 6,
    AT_BASE = 7,
    AT_FLAGS = 8,
    AT_ENTRY = 9,
    AT_UID = 11,
    AT_EUID = 12,
    AT_GID = 13,
    AT_EGID = 14,
    AT_PLATFORM = 15,
    AT_HWCAP = 16,
    AT_CLKTCK = 17,
    AT_SECURE = 23,
    AT_RANDOM = 25,
    AT_HWCAP2 = 26,
    AT_EXECFN = 31,
    AT_SYSINFO_EHDR = 33,  // the vDSO's ELF header (libos/vdso)
    AT_MINSIGSTKSZ = 51,
};

struct AuxEntry {
    uint64_t tag;
    uint64_t value;
};

struct InitialStackSpec {
    std::span<const char* const> argv;
    std::span<const char* const> envp;
    std::span<const AuxEntry> auxv;  // without AT_RANDOM, AT_PLATFORM, AT_EXECFN, AT_NULL
    const uint8_t (*random)[16];  // copied onto the stack; AT_RANDOM points at the copy
    const char* platform;  // AT_PLATFORM string ("x86_64")
    const char* execfn = nullptr;  // AT_EXECFN string (the path given to execve); argv[0] if null
};

// Lays the stack out in [low, high) (addresses of real memory) and returns the initial stack
// pointer, 16-byte aligned and pointing at argc. E2BIG if it does not fit.
ErrorOr<uintptr_t> build_initial_stack(uintptr_t low, uintptr_t high, const InitialStackSpec& spec);

}  // namespace xos::boot
