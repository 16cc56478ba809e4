// Open file descriptions (what open(2) creates and dup(2) shares): a vnode, the access mode and
// status flags, and the file position. Regular files and directories use File itself; pipes,
// devices, eventfds and procfs snapshots subclass it.
#pragma once

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/error.h"
#include "base/kstring.h"
#include "base/ref_ptr.h"
#include "base/thread_safety.h"
#include "sched/mutex.h"
#include "vfs/poll.h"
#include "vfs/vnode.h"

namespace xos::vfs {

// Flags kept by the file description (F_GETFL); the ones F_SETFL may change.
constexpr int FILE_STATUS_FLAGS = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;

class File : public RefCounted {
public:
    File(RefPtr<Vnode> vnode, int flags);
    ~File() override;

    Vnode* vnode() const { return m_vnode.get(); }
    int flags() const { return __atomic_load_n(&m_flags, __ATOMIC_RELAXED); }
    // F_SETFL, FIONBIO, FIOASYNC (without the big lock: the flags are one word, changed atomically).
    void set_status_flags(int flags) {
        int old = __atomic_load_n(&m_flags, __ATOMIC_RELAXED);
        while (!__atomic_compare_exchange_n(&m_flags, &old, (old & ~FILE_STATUS_FLAGS) | (flags & FILE_STATUS_FLAGS),
                                            true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    }
    bool is_path_only() const { return flags() & O_PATH; }
    bool readable() const { return !is_path_only() && (flags() & O_ACCMODE) != O_WRONLY; }
    bool writable() const { return !is_path_only() && (flags() & O_ACCMODE) != O_RDONLY; }
    bool nonblocking() const { return flags() & O_NONBLOCK; }

    // I/O. With `offset`, at that position (pread/pwrite; ESPIPE for streams); without, at the
    // file position, which advances. The buffers are already validated libos-side memory.
    virtual ErrorOr<size_t> read(std::span<std::byte> buffer, std::optional<uint64_t> offset);
    virtual ErrorOr<size_t> write(std::span<const std::byte> data, std::optional<uint64_t> offset);
    virtual ErrorOr<uint64_t> seek(int64_t offset, int whence);
    virtual ErrorOr<long> ioctl(unsigned long request, uintptr_t argument);
    virtual bool is_stream() const { return false; }  // pipes, FIFOs, character devices
    // Whether read/write/seek/readdir of this file are safe without the big lock: its state is
    // under locks of its own (docs/locking.md "I/O objects": pipes, eventfds; regular files and
    // directories of thread_safe() vnodes: ramfs/tmpfs; the stateless devices). The I/O
    // syscalls take the big lock around the others (sys/fs.cpp). Such files copy to and from
    // the app with the fault-safe user copy and fail with EFAULT themselves.
    virtual bool io_without_big_lock() const {
        return m_vnode->thread_safe() && (m_vnode->is_regular() || m_vnode->is_directory());
    }
    // Whether write (only) is safe without the big lock: io_without_big_lock() or a file whose
    // write side has its own locks (the console: docs/locking.md "The console").
    virtual bool write_without_big_lock() const { return io_without_big_lock(); }
    // A lock that makes each write whole against other writes (Linux's atomic_write_lock of a
    // tty): writev holds it across its vectors, so that a write() or writev() of one thread is
    // not interleaved with another's. nullptr: none.
    virtual sched::Mutex* write_lock() { return nullptr; }
    // Whether ioctl(request) is safe without the big lock (sys_ioctl asks before the generic
    // requests' own check).
    virtual bool ioctl_without_big_lock(unsigned long) const { return false; }
    // getdents64: emits entries from the position on and advances it past them unless
    // `faulted` is set once the sink is done (the copy to the app failed), under the position's
    // mutex. The caller holds the big lock unless io_without_big_lock().
    ErrorOr<void> read_entries(DirSink& sink, const bool& faulted);
    // Bytes a read would return now (FIONREAD).
    virtual ErrorOr<size_t> bytes_readable();
    // fsync(2)/fdatasync(2): the vnode's by default; a device flushes its own cache (block devices).
    // Pages dirtied through MAP_SHARED mappings are written back first.
    virtual ErrorOr<void> sync();
    // mmap: whether this file can be mapped (else ENODEV); the vnode says for regular files. A
    // device mapped through the page cache by its own read/write (block devices) says yes and
    // gives its size (nullopt: the vnode's size).
    virtual bool mappable() const { return m_vnode->mappable(); }
    virtual std::optional<uint64_t> device_size() const { return std::nullopt; }
    // What /proc/self/fd/N shows for a file that has no path ("pipe:[7]").
    virtual ErrorOr<KString> anonymous_name() { return error(ENOENT); }

    // Readiness (vfs/poll.h): the POLL* bits that hold now, and the waiters to notify when they
    // may change. Files whose readiness never changes (regular files, directories, /dev/null,
    // the console) keep the defaults: always readable and writable, nobody to notify.
    virtual PollMask poll_mask() { return poll_bits::ALWAYS; }
    virtual PollWaiters* poll_waiters() { return nullptr; }
    // Whether poll_mask() is safe without the big lock (its state has locks of its own or is
    // read as an atomic snapshot): by default the same as io_without_big_lock() (pipes,
    // eventfds, inet sockets, ramfs files); epoll instances too.
    virtual bool poll_without_big_lock() const { return io_without_big_lock(); }
    // poll_mask() for poll/select/epoll, which run without the big lock: taken around it for a
    // file that needs it (the console, AF_UNIX sockets, pidfds...). Never with a spinlock held.
    PollMask readiness() {
        BigLockUnlessSafe big_lock(poll_without_big_lock());
        return poll_mask();
    }

    // flock(2) held through this description: 0, LOCK_SH or LOCK_EX. Released on the last close.
    int m_flock = 0;
    void release_flock();

    // For copy_file_range and block devices, which still run under the big lock
    // (docs/locking.md): reads and sets the position without its mutex.
    uint64_t position() const NO_THREAD_SAFETY_ANALYSIS { return m_position; }
    void set_position(uint64_t position) NO_THREAD_SAFETY_ANALYSIS { m_position = position; }

    // Where the file was opened, for /proc/self/fd and getcwd of fchdir'd directories.
    void set_origin(RefPtr<Vnode> parent, KString name) {
        m_origin_parent = static_cast<RefPtr<Vnode>&&>(parent);
        m_origin_name = static_cast<KString&&>(name);
    }
    Vnode* origin_parent() const { return m_origin_parent.get(); }
    std::string_view origin_name() const { return m_origin_name.view(); }

protected:
    // Ends epoll registrations while the subclass (which owns the waiter list) is still whole;
    // under the big lock (file.cpp).
    void destroy() override;

private:
    // The vnode's read/write at `at` under its m_io_lock; write() sets `at` to where it wrote
    // (the end of file for O_APPEND).
    ErrorOr<size_t> read_at(uint64_t at, std::span<std::byte> buffer);
    ErrorOr<size_t> write_at(uint64_t& at, std::span<const std::byte> data);

    RefPtr<Vnode> m_vnode;
    int m_flags;  // atomic accesses: flags(), set_status_flags()
    sched::Mutex m_position_lock;  // Linux's f_pos_lock: held across read/write/lseek through the position
    uint64_t m_position GUARDED_BY(m_position_lock) = 0;
    RefPtr<RefCounted> m_listing GUARDED_BY(m_position_lock);  // a directory's snapshot (Vnode::readdir_open)
    RefPtr<Vnode> m_origin_parent;
    KString m_origin_name;
};

}  // namespace xos::vfs
