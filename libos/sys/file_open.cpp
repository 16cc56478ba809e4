// Descriptors: open/openat/creat/close, dup/dup2/dup3, fcntl, ioctl, flock, pipe/pipe2,
// eventfd2, memfd_create.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>

#include "base/no_destroy.h"
#include "fs/ramfs/ramfs.h"
#include "mm/heap.h"
#include "mm/vm.h"
#include "sys/file_helpers.h"
#include "sys/handlers.h"
#include "vfs/eventfd.h"
#include "vfs/mount.h"
#include "vfs/operations.h"
#include "vfs/pipe.h"

namespace xos::sys {

namespace {

constexpr int OPEN_FLAGS = O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |
    O_ASYNC | O_DIRECT | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH | O_TMPFILE;

ErrorOr<long> install(RefPtr<vfs::File> file, bool cloexec) {
    return long(TRY(vfs::process().fds.allocate(static_cast<RefPtr<vfs::File>&&>(file), cloexec)));
}

ErrorOr<long> do_open(int dirfd, UserPtr<const char> path, int flags, mode_t mode) {
    PathBuffer buffer;
    std::string_view text = TRY(copy_path(path, buffer));
    if (flags & ~OPEN_FLAGS) flags &= OPEN_FLAGS;  // Linux ignores unknown flags for open(2)
    // Dispatched without the big lock: opening or creating (O_CREAT) a file takes it only where
    // the walk, the directory or the file needs it (vfs/operations.cpp); O_TMPFILE (EOPNOTSUPP)
    // takes it. O_TMPFILE includes O_DIRECTORY's bit: compared whole (opendir's O_DIRECTORY is no
    // O_TMPFILE: every opendir took the big lock before).
    vfs::BigLockUnlessSafe big_lock((flags & O_TMPFILE) != O_TMPFILE && vfs::path_walks_without_big_lock());
    StartDir start = TRY(start_at(dirfd, text));
    RefPtr<vfs::File> file = TRY(vfs::open(start.context, text, flags, mode));
    return install(file, flags & O_CLOEXEC);
}

class MemfdFile final : public vfs::File {
public:
    MemfdFile(RefPtr<vfs::Vnode> vnode, int flags, KString name)
        : File(static_cast<RefPtr<vfs::Vnode>&&>(vnode), flags), m_name(static_cast<KString&&>(name)) {}
    ErrorOr<KString> anonymous_name() override { return KString::from(m_name.view()); }

private:
    KString m_name;
};

constinit NoDestroy<fs::RamFs> g_memfd_fs;
bool g_memfd_fs_ready;

constexpr uint32_t SEAL_EXEC = 0x20;  // F_SEAL_EXEC (Linux 6.3)
constexpr uint32_t ALL_SEALS =
    F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | SEAL_EXEC;

// The memfd file behind `vnode`, or null when it is not a memfd's.
fs::RamFile* memfd_of(vfs::Vnode& vnode) {
    if (!g_memfd_fs_ready || &vnode.fs() != &g_memfd_fs.get("tmpfs", 0x01021994)) return nullptr;
    return static_cast<fs::RamFile*>(&vnode);
}

// True if some address space maps `vnode` shared with write access possible (Linux 6.x:
// VM_SHARED|VM_MAYWRITE, so a read-only mapping of a descriptor opened read-write counts).
bool mapped_writable(const vfs::Vnode& vnode) {
    bool found = false;
    mm::VirtualMemory::for_each_memory([&](mm::VirtualMemory& memory) {
        memory.for_each([&](const mm::Vma& vma) {
            if (vma.file == &vnode && vma.shared && !vma.no_write) found = true;
        });
    });
    return found;
}

// fcntl(F_ADD_SEALS), in memfd_add_seals's order.
ErrorOr<long> add_seals(vfs::File& file, unsigned long seals) {
    fs::RamFile* memfd = memfd_of(*file.vnode());
    if (!memfd) return error(EINVAL);
    if (!file.writable()) return error(EPERM);
    if (seals & ~ALL_SEALS) return error(EINVAL);
    if (memfd->seals() & F_SEAL_SEAL) return error(EPERM);
    if ((seals & F_SEAL_WRITE) && !(memfd->seals() & F_SEAL_WRITE) && mapped_writable(*memfd)) return error(EBUSY);
    memfd->set_seals(memfd->seals() | uint32_t(seals));
    return 0;
}

}  // namespace

// Implements open(2).
ErrorOr<long> sys_open(UserPtr<const char> path, int flags, mode_t mode) {
    return do_open(AT_FDCWD, path, flags, mode);
}

// Implements openat(2).
ErrorOr<long> sys_openat(int dirfd, UserPtr<const char> path, int flags, mode_t mode) {
    return do_open(dirfd, path, flags, mode);
}

// Implements creat(2).
ErrorOr<long> sys_creat(UserPtr<const char> path, mode_t mode) {
    return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode);
}

// Implements close(2).
ErrorOr<long> sys_close(int fd) {
    TRY(vfs::process().fds.close(fd));
    return 0;
}

// Implements dup(2).
ErrorOr<long> sys_dup(int fd) {
    RefPtr<vfs::File> file = TRY(vfs::process().fds.get(fd));
    return install(file, false);
}

// Implements dup3(2).
ErrorOr<long> sys_dup3(int fd, int new_fd, int flags) {
    if (flags & ~O_CLOEXEC) return error(EINVAL);
    if (fd == new_fd) return error(EINVAL);
    RefPtr<vfs::File> file = TRY(vfs::process().fds.get(fd));
    TRY(vfs::process().fds.install(new_fd, file, flags & O_CLOEXEC));
    return new_fd;
}

// Implements dup2(2).
ErrorOr<long> sys_dup2(int fd, int new_fd) {
    RefPtr<vfs::File> file = TRY(vfs::process().fds.get(fd));
    if (fd == new_fd) return new_fd;
    TRY(vfs::process().fds.install(new_fd, file, false));
    return new_fd;
}

// Implements fcntl(2).
ErrorOr<long> sys_fcntl(int fd, int command, unsigned long argument) {
    vfs::FdTable& fds = vfs::process().fds;
    RefPtr<vfs::File> file = TRY(fds.get(fd));
    // Dispatched without the big lock: the descriptor commands and the status flags are the fd
    // table's and the description's (a SpinLock, an atomic word); the others take it.
    bool own_locks = command == F_DUPFD || command == F_DUPFD_CLOEXEC || command == F_GETFD || command == F_SETFD ||
        command == F_GETFL || command == F_SETFL;
    vfs::BigLockUnlessSafe big_lock(own_locks);
    switch (command) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        if (argument >= unsigned(vfs::FdTable::MAX_FDS)) return error(EINVAL);
        return long(TRY(fds.allocate(file, command == F_DUPFD_CLOEXEC, int(argument))));
    case F_GETFD: return TRY(fds.cloexec(fd)) ? FD_CLOEXEC : 0;
    case F_SETFD: TRY(fds.set_cloexec(fd, argument & FD_CLOEXEC)); return 0;
    case F_GETFL: return file->flags() & ~O_CLOEXEC;
    case F_SETFL:
        if (file->is_path_only()) return error(EBADF);
        file->set_status_flags(int(argument));
        return 0;
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW: {
        // One process: its own record locks never conflict, so setting always succeeds and
        // F_GETLK always reports F_UNLCK. The arguments are checked as Linux checks them.
        if (file->is_path_only()) return error(EBADF);
        struct flock lock = TRY(read_user(UserPtr<const struct flock>(argument)));
        if (lock.l_whence != SEEK_SET && lock.l_whence != SEEK_CUR && lock.l_whence != SEEK_END) return error(EINVAL);
        if (lock.l_type != F_RDLCK && lock.l_type != F_WRLCK && lock.l_type != F_UNLCK) return error(EINVAL);
        bool is_ofd = command == F_OFD_GETLK || command == F_OFD_SETLK || command == F_OFD_SETLKW;
        if (is_ofd && lock.l_pid != 0) return error(EINVAL);
        if (command == F_GETLK || command == F_OFD_GETLK) {
            if (lock.l_type == F_UNLCK) return error(EINVAL);
            lock.l_type = F_UNLCK;
            TRY(write_user(UserPtr<struct flock>(argument), lock));
            return 0;
        }
        if (lock.l_type == F_RDLCK && !file->readable()) return error(EBADF);
        if (lock.l_type == F_WRLCK && !file->writable()) return error(EBADF);
        return 0;
    }
    case F_GETPIPE_SZ:
        if (!S_ISFIFO(file->vnode()->mode()) || file->is_path_only()) return error(EBADF);
        return long(static_cast<vfs::PipeFile&>(*file).pipe().capacity());
    case F_SETPIPE_SZ:
        if (!S_ISFIFO(file->vnode()->mode()) || file->is_path_only()) return error(EBADF);
        return long(TRY(static_cast<vfs::PipeFile&>(*file).pipe().resize(argument)));
    case F_SETOWN:
    case F_SETSIG: return 0;
    case F_GETOWN:
    case F_GETSIG: return 0;
    case F_ADD_SEALS: return add_seals(*file, argument);
    case F_GET_SEALS: {
        fs::RamFile* memfd = memfd_of(*file->vnode());
        if (!memfd) return error(EINVAL);
        return long(memfd->seals());
    }
    default: return error(EINVAL);
    }
}

// Implements ioctl(2): the generic requests here, the rest by the file (terminals, block devices).
ErrorOr<long> sys_ioctl(int fd, unsigned long request, uintptr_t argument) {
    request = uint32_t(request);  // Linux's cmd is an unsigned int; musl passes an int, sign-extended
    vfs::FdTable& fds = vfs::process().fds;
    RefPtr<vfs::File> file = TRY(file_for(fd));
    // Dispatched without the big lock: the descriptor and status-flag requests and FIONREAD of
    // a file whose I/O has its own locks need none; the others (terminals, sockets, devices) take it.
    bool own_locks = request == FIOCLEX || request == FIONCLEX || request == FIONBIO || request == FIOASYNC ||
        (request == FIONREAD && file->io_without_big_lock()) ||
        (request != FIONREAD && file->ioctl_without_big_lock(request));  // File::ioctl's own (isatty)
    vfs::BigLockUnlessSafe big_lock(own_locks);
    switch (request) {
    case FIOCLEX: TRY(fds.set_cloexec(fd, true)); return 0;
    case FIONCLEX: TRY(fds.set_cloexec(fd, false)); return 0;
    case FIONBIO: {
        int on = TRY(read_user(UserPtr<const int>(argument)));
        file->set_status_flags(on ? file->flags() | O_NONBLOCK : file->flags() & ~O_NONBLOCK);
        return 0;
    }
    case FIOASYNC: {
        int on = TRY(read_user(UserPtr<const int>(argument)));
        file->set_status_flags(on ? file->flags() | O_ASYNC : file->flags() & ~O_ASYNC);
        return 0;
    }
    case FIONREAD: {
        if (file->vnode()->is_directory()) return error(EINVAL);
        size_t available = TRY(file->bytes_readable());
        TRY(write_user(UserPtr<int>(argument), int(available > INT32_MAX ? INT32_MAX : available)));
        return 0;
    }
    default: return file->ioctl(request, argument);
    }
}

// Implements flock(2). Locks belong to the open file description; two descriptions of one
// file conflict, as between processes on Linux.
ErrorOr<long> sys_flock(int fd, int operation) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    int kind = operation & ~LOCK_NB;
    if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN) return error(EINVAL);
    vfs::Vnode& vnode = *file->vnode();
    if (kind == LOCK_UN) {
        file->release_flock();
        return 0;
    }
    if (file->m_flock == kind) return 0;
    file->release_flock();
    auto available = [&] {
        return kind == LOCK_SH ? !vnode.m_flock_exclusive : !vnode.m_flock_exclusive && vnode.m_flock_shared == 0;
    };
    if (!available()) {
        if (operation & LOCK_NB) return error(EWOULDBLOCK);
        static sched::WaitQueue queue;  // not on the app's stack (see g_signal_waiters in signal.cpp)
        TRY(sched::wait_event(queue, available));
    }
    if (kind == LOCK_SH)
        ++vnode.m_flock_shared;
    else
        vnode.m_flock_exclusive = true;
    file->m_flock = kind;
    return 0;
}

// Implements pipe2(2).
ErrorOr<long> sys_pipe2(UserPtr<int> fds_out, int flags) {
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT)) return error(EINVAL);
    if (!user_range_writable(fds_out.address(), 2 * sizeof(int))) return error(EFAULT);
    vfs::PipeEnds ends = TRY(vfs::create_pipe(flags));
    vfs::FdTable& fds = vfs::process().fds;
    int read_fd = TRY(fds.allocate(ends.read_end, flags & O_CLOEXEC));
    auto write_fd = fds.allocate(ends.write_end, flags & O_CLOEXEC);
    if (!write_fd) {
        (void)fds.close(read_fd);
        return std::unexpected(write_fd.error());
    }
    int pair[2] = {read_fd, *write_fd};
    TRY(copy_to_user(UserPtr<void>(fds_out.address()), pair, sizeof pair));
    return 0;
}

// Implements pipe(2).
ErrorOr<long> sys_pipe(UserPtr<int> fds_out) { return sys_pipe2(fds_out, 0); }

// Implements eventfd2(2).
ErrorOr<long> sys_eventfd2(unsigned initial, int flags) {
    RefPtr<vfs::File> file = TRY(vfs::create_eventfd(initial, flags));
    return install(file, flags & O_CLOEXEC);
}

// Implements memfd_create(2): an unlinked ramfs file.
ErrorOr<long> sys_memfd_create(UserPtr<const char> name, unsigned flags) {
    if (flags & ~unsigned(MFD_CLOEXEC | MFD_ALLOW_SEALING)) return error(EINVAL);
    PathBuffer buffer;
    std::string_view text = TRY(copy_path(name, buffer, true));
    if (text.size() > 249) return error(EINVAL);
    fs::RamFs& memfd_fs = g_memfd_fs.get("tmpfs", 0x01021994);
    if (!g_memfd_fs_ready) {
        TRY(memfd_fs.initialize(01777));
        g_memfd_fs_ready = true;
    }
    RefPtr<vfs::Vnode> vnode = TRY(memfd_fs.create_unlinked_file(0777));
    // Without MFD_ALLOW_SEALING the file is born sealed against sealing.
    if (!(flags & MFD_ALLOW_SEALING)) static_cast<fs::RamFile&>(*vnode).set_seals(F_SEAL_SEAL);
    char display[300];
    snprintf(display, sizeof display, "/memfd:%.*s (deleted)", int(text.size()), text.data());
    KString display_name = TRY(KString::from(display));
    vfs::File* file = mm::kcreate<MemfdFile>(vnode, O_RDWR | O_LARGEFILE, static_cast<KString&&>(display_name));
    if (!file) return error(ENOMEM);
    return install(RefPtr<vfs::File>(file), flags & MFD_CLOEXEC);
}

bool is_memfd(vfs::Vnode& vnode) { return memfd_of(vnode) != nullptr; }

ErrorOr<RefPtr<vfs::File>> file_for_shared_mapping(RefPtr<vfs::File> file, int prot) {
    fs::RamFile* memfd = memfd_of(*file->vnode());
    if (!memfd || !(memfd->seals() & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) return file;
    if (prot & PROT_WRITE) return error(EPERM);
    // A read-only view: the mapping can never be made writable (mprotect: EACCES), as Linux
    // clears VM_MAYWRITE.
    vfs::File* view = mm::kcreate<vfs::File>(RefPtr<vfs::Vnode>(file->vnode()), O_RDONLY);
    if (!view) return error(ENOMEM);
    return RefPtr<vfs::File>(view);
}

}  // namespace xos::sys
