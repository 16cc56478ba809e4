// Memory syscalls: thin decoding over mm::VirtualMemory. All run without the big lock
// (sys/lock_free_syscalls.h): the address space has a lock of its own, and so has the file
// cache, which takes the big lock itself around the reads and write-backs of file systems that
// need it (mm/file_cache.h); mmap of shared anonymous memory (a new tmpfs file) takes it here.
#include <sys/mman.h>

#include <optional>

#include "mm/memory.h"
#include "sys/file_helpers.h"
#include "sys/handlers.h"
#include "sys/rlimit.h"
#include "sched/thread.h"

namespace xos::sys {

namespace {

constexpr int SUPPORTED_PROT = PROT_READ | PROT_WRITE | PROT_EXEC | PROT_NONE;

}  // namespace

// Implements mmap(2).
ErrorOr<long> sys_mmap(uintptr_t address, size_t length, int prot, int flags, int fd, off_t offset) {
    if (prot & ~(SUPPORTED_PROT | PROT_GROWSDOWN | PROT_GROWSUP)) return error(EINVAL);
    int type = flags & MAP_TYPE;
    if (type != MAP_PRIVATE && type != MAP_SHARED && type != MAP_SHARED_VALIDATE) return error(EINVAL);
    if (offset & (mm::PAGE_SIZE - 1)) return error(EINVAL);
    mm::Placement placement = (flags & MAP_FIXED_NOREPLACE) ? mm::Placement::FixedNoReplace
        : (flags & MAP_FIXED)                               ? mm::Placement::Fixed
        : address                                           ? mm::Placement::Hint
                                                            : mm::Placement::Anywhere;
    mm::MapLimits limits = map_limits();  // RLIMIT_AS, RLIMIT_DATA: checked with the mapping
    if ((flags & MAP_ANONYMOUS) && type != MAP_PRIVATE) {  // shared with forked children
        sched::BigLockScope big_lock;  // a new unlinked tmpfs file (its creation is the big lock's)
        return long(
            TRY(mm::app_memory().map_shared_anonymous(address, length, prot & SUPPORTED_PROT, placement, &limits)));
    }
    if (flags & MAP_ANONYMOUS)
        return long(TRY(
            mm::app_memory().map(address, length, prot & SUPPORTED_PROT, placement, mm::VmaKind::Anonymous, &limits)));
    // A file: the checks in Linux's order (do_mmap).
    RefPtr<vfs::File> file = TRY(file_for(fd));
    if (length == 0) return error(EINVAL);
    if (offset < 0) return error(EOVERFLOW);
    bool shared = type != MAP_PRIVATE;
    if (shared && (prot & PROT_WRITE) && !file->writable()) return error(EACCES);
    if (!file->readable()) return error(EACCES);
    if (!file->mappable()) return error(ENODEV);
    if ((prot & PROT_EXEC) && (file->vnode()->fs().mount_flags() & vfs::MOUNT_NO_EXEC)) return error(EPERM);
    // A memfd's seals and its shared mappings change together under the big lock (F_ADD_SEALS
    // refuses F_SEAL_WRITE while a writable shared mapping exists).
    std::optional<sched::BigLockScope> big_lock;
    if (shared && is_memfd(*file->vnode())) big_lock.emplace();
    if (shared) file = TRY(file_for_shared_mapping(file, prot));
    return long(TRY(mm::app_memory().map_file(address, length, prot & SUPPORTED_PROT, placement, *file,
                                              uint64_t(offset), shared, &limits)));
}

// Implements munmap(2).
ErrorOr<long> sys_munmap(uintptr_t address, size_t length) {
    TRY(mm::app_memory().unmap(address, length));
    return 0;
}

// Implements msync(2). MS_ASYNC writes back now too; MS_INVALIDATE has nothing to invalidate
// (mappings share the cached pages).
ErrorOr<long> sys_msync(uintptr_t address, size_t length, int flags) {
    if (flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) return error(EINVAL);
    if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return error(EINVAL);
    TRY(mm::app_memory().sync(address, length));  // the write-back takes the big lock where needed
    return 0;
}

// Implements mprotect(2). The page tables enforce it.
ErrorOr<long> sys_mprotect(uintptr_t address, size_t length, int prot) {
    if (!mm::page_aligned(address)) return error(EINVAL);
    if (prot & ~(SUPPORTED_PROT | PROT_GROWSDOWN | PROT_GROWSUP)) return error(EINVAL);
    TRY(mm::app_memory().protect(address, length, prot & SUPPORTED_PROT));
    return 0;
}

// Implements mremap(2) (MREMAP_MAYMOVE; not MREMAP_FIXED or MREMAP_DONTUNMAP).
ErrorOr<long> sys_mremap(uintptr_t old_address, size_t old_size, size_t new_size, int flags, uintptr_t) {
    if (flags & ~MREMAP_MAYMOVE) return error(EINVAL);
    return long(TRY(mm::app_memory().remap(old_address, old_size, new_size, flags & MREMAP_MAYMOVE)));
}

// Implements madvise(2).
ErrorOr<long> sys_madvise(uintptr_t address, size_t length, int advice) {
    if (!mm::page_aligned(address)) return error(EINVAL);
    if (advice == MADV_DONTNEED) TRY(mm::app_memory().discard(address, length));
    if (advice == MADV_DONTFORK || advice == MADV_DOFORK || advice == MADV_WIPEONFORK || advice == MADV_KEEPONFORK) {
        auto on_fork = advice == MADV_DONTFORK ? mm::ForkAdvice::DontFork
            : advice == MADV_WIPEONFORK        ? mm::ForkAdvice::Wipe
                                               : mm::ForkAdvice::Copy;
        TRY(mm::app_memory().set_fork_advice(address, length, on_fork));
    }
    return 0;
}

// Implements brk(2). RLIMIT_AS/RLIMIT_DATA: the break stays where it is, as on Linux.
ErrorOr<long> sys_brk(uintptr_t address) {
    mm::MapLimits limits = map_limits();
    return long(mm::app_memory().set_break(address, &limits));  // the limits checked with the move
}

}  // namespace xos::sys
