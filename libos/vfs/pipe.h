// Pipes and FIFOs: a ring buffer (64 KiB; fcntl(F_SETPIPE_SZ) changes it) with reader and writer counts. Reads block while the
// pipe is empty and has writers; writes block while it is full and has readers; writing with
// no reader is EPIPE (the SIGPIPE a Linux process would also get is not raised yet).
// Locking (docs/locking.md "I/O objects"): the pipe's sched::Mutex guards the buffer and the
// counts; readers and writers sleep on the wait queue with it let go (Mutex::wait). Readiness
// (poll_mask) reads a snapshot without it (atomic loads): every change is followed by a
// notification under it.
#pragma once

#include "base/ref_ptr.h"
#include "sched/wait_queue.h"
#include "vfs/file.h"
#include "base/thread_safety.h"
#include "sched/mutex.h"

namespace xos::vfs {

class Pipe : public RefCounted {
public:
    static constexpr size_t DEFAULT_CAPACITY = 65536;
    // F_SETPIPE_SZ's bound: Linux's /proc/sys/fs/pipe-max-size default (only CAP_SYS_RESOURCE
    // may pass it there; here nobody may: EPERM).
    static constexpr size_t MAX_CAPACITY = 1 << 20;
    static constexpr size_t ATOMIC_WRITE = 4096;  // PIPE_BUF

    explicit Pipe(std::byte* buffer) : m_buffer(buffer) {}  // DEFAULT_CAPACITY bytes from alloc_pages
    ~Pipe() override;
    static ErrorOr<RefPtr<Pipe>> create();

    ErrorOr<size_t> read(std::span<std::byte> buffer, bool nonblocking);
    ErrorOr<size_t> write(std::span<const std::byte> data, bool nonblocking);
    // Snapshots without the lock (atomic loads), for readiness and FIONREAD.
    size_t available() const NO_THREAD_SAFETY_ANALYSIS { return __atomic_load_n(&m_used, __ATOMIC_RELAXED); }
    size_t capacity() const NO_THREAD_SAFETY_ANALYSIS { return __atomic_load_n(&m_capacity, __ATOMIC_RELAXED); }
    // F_SETPIPE_SZ: `size` rounded up to a power-of-two number of pages (one page at least).
    // EBUSY if the content does not fit, EPERM past MAX_CAPACITY, EINVAL when it cannot be
    // rounded. Returns the new capacity.
    ErrorOr<size_t> resize(uint64_t size);

    void add_reader();
    void add_writer();
    void remove_reader();
    void remove_writer();
    size_t readers() const NO_THREAD_SAFETY_ANALYSIS { return __atomic_load_n(&m_readers, __ATOMIC_RELAXED); }
    size_t writers() const NO_THREAD_SAFETY_ANALYSIS { return __atomic_load_n(&m_writers, __ATOMIC_RELAXED); }
    size_t reader_opens() const NO_THREAD_SAFETY_ANALYSIS { return __atomic_load_n(&m_reader_opens, __ATOMIC_RELAXED); }
    size_t writer_opens() const NO_THREAD_SAFETY_ANALYSIS { return __atomic_load_n(&m_writer_opens, __ATOMIC_RELAXED); }

    vfs::PollWaiters& poll_waiters() { return m_poll; }
    // FIFO open rendezvous (open_fifo): waits, holding the lock around each check, until
    // `ready` holds; announces the new end first.
    template <typename Predicate>
    ErrorOr<void> wait_for_peer(Predicate&& ready) {
        sched::MutexLocker guard(m_mutex);
        changed();
        return m_mutex.wait(m_wait, ready);
    }

private:
    // Wakes blocked readers and writers and tells pollers that the `key` bits may have appeared.
    void changed(vfs::PollMask key = 0) REQUIRES(m_mutex);

    // m_mutex guards everything below but m_poll's own list (vfs/poll.h). The counts are also
    // read without it (the atomic snapshots above): they are stored with atomic stores.
    sched::Mutex m_mutex;
    std::byte* m_buffer GUARDED_BY(m_mutex) = nullptr;  // m_capacity bytes from alloc_pages
    size_t m_capacity GUARDED_BY(m_mutex) = DEFAULT_CAPACITY;
    size_t m_head GUARDED_BY(m_mutex) = 0;  // next byte to read
    size_t m_used GUARDED_BY(m_mutex) = 0;
    size_t m_readers GUARDED_BY(m_mutex) = 0, m_writers GUARDED_BY(m_mutex) = 0;
    // Ever, for FIFO open rendezvous.
    size_t m_reader_opens GUARDED_BY(m_mutex) = 0, m_writer_opens GUARDED_BY(m_mutex) = 0;
    sched::WaitQueue m_wait;  // woken with m_mutex held (Mutex::wait's rule)
    vfs::PollWaiters m_poll;
};

// One end of a pipe (or a FIFO opened for reading, writing or both).
class PipeFile final : public File {
public:
    PipeFile(RefPtr<Vnode> vnode, int flags, RefPtr<Pipe> pipe);
    ~PipeFile() override;

    ErrorOr<size_t> read(std::span<std::byte> buffer, std::optional<uint64_t> offset) override;
    ErrorOr<size_t> write(std::span<const std::byte> data, std::optional<uint64_t> offset) override;
    ErrorOr<uint64_t> seek(int64_t, int) override { return error(ESPIPE); }
    ErrorOr<size_t> bytes_readable() override { return m_pipe->available(); }
    bool is_stream() const override { return true; }
    bool io_without_big_lock() const override { return true; }
    ErrorOr<KString> anonymous_name() override;
    PollMask poll_mask() override;
    PollWaiters* poll_waiters() override { return &m_pipe->poll_waiters(); }
    Pipe& pipe() { return *m_pipe; }

private:
    RefPtr<Pipe> m_pipe;
};

// pipe2(2): a read end and a write end on a fresh anonymous pipe.
struct PipeEnds {
    RefPtr<File> read_end;
    RefPtr<File> write_end;
};
ErrorOr<PipeEnds> create_pipe(int flags);

}  // namespace xos::vfs
