#include "vfs/pipe.h"

#include <cstdio>
#include <cstring>

#include "base/user_ptr.h"
#include "mm/heap.h"
#include "vfs/anon_fs.h"

namespace xos::vfs {

ErrorOr<RefPtr<Pipe>> Pipe::create() {
    auto* buffer = static_cast<std::byte*>(mm::alloc_pages(DEFAULT_CAPACITY / 4096));
    if (!buffer) return error(ENOMEM);
    Pipe* pipe = mm::kcreate<Pipe>(buffer);
    if (!pipe) {
        mm::free_pages(buffer, DEFAULT_CAPACITY / 4096);
        return error(ENOMEM);
    }
    return RefPtr<Pipe>(pipe);
}

Pipe::~Pipe() { mm::free_pages(m_buffer, m_capacity / 4096); }

ErrorOr<size_t> Pipe::resize(uint64_t size) {
    constexpr uint64_t PAGE = 4096;
    if (size > (uint64_t(1) << 31)) return error(EINVAL);  // Linux: 0 after rounding an unsigned int
    uint64_t capacity = PAGE;
    while (capacity < size) capacity <<= 1;
    if (capacity > MAX_CAPACITY) return error(EPERM);
    sched::MutexLocker guard(m_mutex);
    if (capacity == m_capacity) return size_t(capacity);
    if (m_used > capacity) return error(EBUSY);
    auto* buffer = static_cast<std::byte*>(mm::alloc_pages(capacity / PAGE));
    if (!buffer) return error(ENOMEM);
    size_t first = m_capacity - m_head < m_used ? m_capacity - m_head : m_used;
    memcpy(buffer, m_buffer + m_head, first);
    memcpy(buffer + first, m_buffer, m_used - first);
    mm::free_pages(m_buffer, m_capacity / PAGE);
    m_buffer = buffer;
    __atomic_store_n(&m_capacity, size_t(capacity), __ATOMIC_RELAXED);
    m_head = 0;
    changed(poll_bits::WRITABLE);
    return size_t(capacity);
}

void Pipe::changed(PollMask key) {
    VERIFY_HELD(m_mutex);
    sched::wake_all(m_wait);
    // Pollers are told with the mutex held (a writer must tell an epoll waiter before it sleeps
    // for room); the waiter list's spinlock sits inside the mutex (docs/locking.md).
    m_poll.notify(key);
}

void Pipe::add_reader() {
    sched::MutexLocker guard(m_mutex);
    __atomic_store_n(&m_readers, m_readers + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&m_reader_opens, m_reader_opens + 1, __ATOMIC_RELAXED);
}

void Pipe::add_writer() {
    sched::MutexLocker guard(m_mutex);
    __atomic_store_n(&m_writers, m_writers + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&m_writer_opens, m_writer_opens + 1, __ATOMIC_RELAXED);
}

void Pipe::remove_reader() {
    sched::MutexLocker guard(m_mutex);
    __atomic_store_n(&m_readers, m_readers - 1, __ATOMIC_RELAXED);
    changed(poll_bits::ERR | poll_bits::OUT);
}

void Pipe::remove_writer() {
    sched::MutexLocker guard(m_mutex);
    __atomic_store_n(&m_writers, m_writers - 1, __ATOMIC_RELAXED);
    changed(poll_bits::HUP | poll_bits::IN);
}

ErrorOr<size_t> Pipe::read(std::span<std::byte> buffer, bool nonblocking) {
    if (buffer.empty()) return 0;
    sched::MutexLocker guard(m_mutex);
    if (m_used == 0) {
        if (m_writers == 0) return 0;
        if (nonblocking) return error(EAGAIN);
        TRY(m_mutex.wait(m_wait, [&] {
            VERIFY_HELD(m_mutex);  // Mutex::wait calls it with the mutex held
            return m_used > 0 || m_writers == 0;
        }));
        if (m_used == 0) return 0;
    }
    size_t count = buffer.size() < m_used ? buffer.size() : m_used;
    size_t first = m_capacity - m_head < count ? m_capacity - m_head : count;
    // The buffer may be the app's, unmapped by another thread while this one waited: copy
    // fault-safely, and leave what could not be copied in the pipe.
    size_t copied = first - user_copy(buffer.data(), m_buffer + m_head, first);
    if (copied == first && count > first)
        copied += (count - first) - user_copy(buffer.data() + first, m_buffer, count - first);
    if (copied == 0) return error(EFAULT);
    count = copied;
    m_head = (m_head + count) % m_capacity;
    __atomic_store_n(&m_used, m_used - count, __ATOMIC_RELAXED);
    changed(poll_bits::WRITABLE);
    return count;
}

ErrorOr<size_t> Pipe::write(std::span<const std::byte> data, bool nonblocking) {
    sched::MutexLocker guard(m_mutex);
    size_t done = 0;
    while (done < data.size()) {
        if (m_readers == 0) {
            if (done) return done;
            return error(EPIPE);
        }
        size_t remaining = data.size() - done;
        size_t room = m_capacity - m_used;
        // Writes of at most PIPE_BUF bytes are atomic: wait until all of it fits.
        size_t needed = remaining <= ATOMIC_WRITE ? remaining : 1;
        if (room < needed) {
            if (nonblocking) {
                if (done) return done;
                return error(EAGAIN);
            }
            auto waited = m_mutex.wait(m_wait, [&] {
                VERIFY_HELD(m_mutex);
                return m_capacity - m_used >= needed || m_readers == 0;
            });
            if (!waited) {
                if (done) return done;
                return std::unexpected(waited.error());
            }
            continue;
        }
        size_t count = remaining < room ? remaining : room;
        size_t tail = (m_head + m_used) % m_capacity;
        size_t first = m_capacity - tail < count ? m_capacity - tail : count;
        size_t copied = first - user_copy(m_buffer + tail, data.data() + done, first);
        if (copied == first && count > first)
            copied += (count - first) - user_copy(m_buffer, data.data() + done + first, count - first);
        if (copied < count) {  // the app's buffer went away while this thread waited
            __atomic_store_n(&m_used, m_used + copied, __ATOMIC_RELAXED);
            done += copied;
            if (copied) changed(poll_bits::READABLE);
            if (done) return done;
            return error(EFAULT);
        }
        __atomic_store_n(&m_used, m_used + count, __ATOMIC_RELAXED);
        done += count;
        changed(poll_bits::READABLE);
    }
    return done;
}

PipeFile::PipeFile(RefPtr<Vnode> vnode, int flags, RefPtr<Pipe> pipe)
    : File(static_cast<RefPtr<Vnode>&&>(vnode), flags), m_pipe(static_cast<RefPtr<Pipe>&&>(pipe)) {
    if (readable()) m_pipe->add_reader();
    if (writable()) m_pipe->add_writer();
}

PipeFile::~PipeFile() {
    if (readable()) m_pipe->remove_reader();
    if (writable()) m_pipe->remove_writer();
    if (vnode()->fifo() == m_pipe.get() && m_pipe->readers() == 0 && m_pipe->writers() == 0) {
        vnode()->set_fifo(nullptr);
        m_pipe->unref();  // the FIFO vnode's reference
    }
}

ErrorOr<size_t> PipeFile::read(std::span<std::byte> buffer, std::optional<uint64_t> offset) {
    if (offset) return error(ESPIPE);
    size_t n = TRY(m_pipe->read(buffer, nonblocking()));
    return n;
}

ErrorOr<size_t> PipeFile::write(std::span<const std::byte> data, std::optional<uint64_t> offset) {
    if (offset) return error(ESPIPE);
    return m_pipe->write(data, nonblocking());
}

// As Linux's pipe_poll: readable with data, hung up once the writers have gone (after one
// existed); writable with PIPE_BUF bytes of room, an error once the readers have gone.
PollMask PipeFile::poll_mask() {
    PollMask mask = 0;
    if (readable()) {
        if (m_pipe->available() > 0) mask |= poll_bits::READABLE;
        if (m_pipe->writers() == 0 && m_pipe->writer_opens() > 0) mask |= poll_bits::HUP;
    }
    if (writable()) {
        if (m_pipe->capacity() - m_pipe->available() >= Pipe::ATOMIC_WRITE) mask |= poll_bits::WRITABLE;
        if (m_pipe->readers() == 0) mask |= poll_bits::ERR;
    }
    return mask;
}

ErrorOr<KString> PipeFile::anonymous_name() {
    char text[40];
    snprintf(text, sizeof text, "pipe:[%llu]", static_cast<unsigned long long>(vnode()->ino()));
    return KString::from(text);
}

ErrorOr<PipeEnds> create_pipe(int flags) {
    RefPtr<Pipe> pipe = TRY(Pipe::create());
    RefPtr<Vnode> vnode = TRY(anon_fs().create_node(S_IFIFO | 0600));
    int status = flags & O_NONBLOCK;
    RefPtr<File> read_end = mm::kcreate<PipeFile>(vnode, O_RDONLY | status, pipe);
    RefPtr<File> write_end = mm::kcreate<PipeFile>(vnode, O_WRONLY | status, pipe);
    if (!read_end || !write_end) return error(ENOMEM);
    return PipeEnds{static_cast<RefPtr<File>&&>(read_end), static_cast<RefPtr<File>&&>(write_end)};
}

// FIFOs: opening for reading waits for a writer and vice versa (O_NONBLOCK: a reader opens at
// once, a writer without readers gets ENXIO); O_RDWR never waits.
ErrorOr<RefPtr<File>> open_fifo(RefPtr<Vnode> vnode, int flags) {
    if (!vnode->fifo()) {
        RefPtr<Pipe> pipe = TRY(Pipe::create());
        vnode->set_fifo(pipe.leak());  // the vnode holds this reference while any end is open
    }
    RefPtr<Pipe> pipe(vnode->fifo());
    int mode = flags & O_ACCMODE;
    if (mode == O_WRONLY && (flags & O_NONBLOCK) && pipe->readers() == 0) {
        if (pipe->writers() == 0) {
            vnode->set_fifo(nullptr);
            pipe->unref();
        }
        return error(ENXIO);
    }
    int kept = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
    RefPtr<File> file = mm::kcreate<PipeFile>(vnode, kept, pipe);
    if (!file) return error(ENOMEM);
    if (!(flags & O_NONBLOCK) && mode != O_RDWR) {
        size_t opens = mode == O_RDONLY ? pipe->writer_opens() : pipe->reader_opens();
        TRY(pipe->wait_for_peer([&] {
            return mode == O_RDONLY ? pipe->writer_opens() != opens || pipe->writers() > 0
                                    : pipe->reader_opens() != opens || pipe->readers() > 0;
        }));
    }
    return file;
}

}  // namespace xos::vfs
