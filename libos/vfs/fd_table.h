// The image's file descriptor table: small integers naming open file descriptions, each with
// its close-on-exec flag. New descriptors take the lowest free number, as POSIX requires.
// Locking (docs/locking.md "I/O objects"): the table's SpinLock guards the entries and the
// counts. get() hands out a reference to the open file description, so a read in progress on
// one CPU keeps it alive while close() on another removes the descriptor (Linux's semantics:
// the read goes on). A description's last reference is never dropped with the lock held: its
// destruction (File::destroy) may take other locks and sleep.
#pragma once

#include "base/error.h"
#include "base/ref_ptr.h"
#include "vfs/file.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"

namespace xos::vfs {

class FdTable {
public:
    static constexpr int MAX_FDS = 1024;  // RLIMIT_NOFILE as getrlimit reports it

    FdTable() = default;
    FdTable(const FdTable&) = delete;
    FdTable& operator=(const FdTable&) = delete;
    ~FdTable() { close_all(); }

    // The file behind `fd` (a new reference, held for the length of a syscall), or EBADF.
    ErrorOr<RefPtr<File>> get(int fd) const;
    // Installs `file` at the lowest free descriptor >= `minimum` below the limit (EMFILE when
    // none; EINVAL when `minimum` is at or past the limit, as fcntl(F_DUPFD) reports).
    ErrorOr<int> allocate(RefPtr<File> file, bool cloexec, int minimum = 0);
    // Installs `file` at exactly `fd`, closing what was there (dup2/dup3). EBADF at or past the limit.
    ErrorOr<void> install(int fd, RefPtr<File> file, bool cloexec);
    ErrorOr<void> close(int fd);
    void close_all();

    ErrorOr<bool> cloexec(int fd) const;
    ErrorOr<void> set_cloexec(int fd, bool cloexec);

    // RLIMIT_NOFILE's soft value (at most MAX_FDS): new descriptors stay below it; open ones
    // above it stay open (Linux).
    int limit() const { return __atomic_load_n(&m_limit, __ATOMIC_RELAXED); }  // atomic: no lock
    void set_limit(int limit) { __atomic_store_n(&m_limit, limit < MAX_FDS ? limit : MAX_FDS, __ATOMIC_RELAXED); }

    bool is_open(int fd) const;
    int open_count() const { return __atomic_load_n(&m_open, __ATOMIC_RELAXED); }

    // Calls fn(fd, file) for each open descriptor in increasing order, without the lock (the
    // file is held for the call; descriptors opened or closed meanwhile may be seen or not).
    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (int fd = 0; fd < MAX_FDS; ++fd) {
            RefPtr<File> file = lookup(fd);
            if (file) fn(fd, *file);
        }
    }

private:
    RefPtr<File> lookup(int fd) const;

    mutable SpinLock m_lock;
    struct Entry {
        RefPtr<File> file;
        bool cloexec = false;
    };
    Entry m_entries[MAX_FDS] GUARDED_BY(m_lock);
    int m_lowest_free_hint GUARDED_BY(m_lock) = 0;  // no free descriptor below this
    // Changed under m_lock, read without it (atomic accesses): open_count(), limit().
    int m_open = 0;
    int m_limit = MAX_FDS;
};

}  // namespace xos::vfs
