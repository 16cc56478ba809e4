// Reading and writing: read/write, pread64/pwrite64, readv/writev, preadv/pwritev, lseek,
// sendfile, copy_file_range.
#include <fcntl.h>
#include <sys/uio.h>

#include <climits>

#include "mm/heap.h"
#include "sched/thread.h"
#include "sys/file_helpers.h"
#include "sys/handlers.h"

namespace xos::sys {

namespace {

constexpr size_t MAX_RW_COUNT = INT_MAX & ~size_t(4095);  // Linux clamps transfers to this

enum class Direction { Read, Write };

ErrorOr<RefPtr<vfs::File>> file_for_io(int fd, Direction direction) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    if (direction == Direction::Read ? !file->readable() : !file->writable()) return error(EBADF);
    return file;
}

// The big lock for the length of a transfer on a file whose read/write relies on it
// (vfs::File::io_without_big_lock(); docs/locking.md "I/O objects"): these handlers may be
// dispatched without it. One level deeper when the CPU holds it already.
class BigLockUnlessSafe {
public:
    explicit BigLockUnlessSafe(const vfs::File& file) {
        if (!file.io_without_big_lock()) m_scope.emplace();
    }
    // A write needs it only where the file's write side relies on it (the console's does not).
    BigLockUnlessSafe(const vfs::File& file, Direction direction) {
        if (direction == Direction::Read ? !file.io_without_big_lock() : !file.write_without_big_lock())
            m_scope.emplace();
    }

private:
    std::optional<sched::BigLockScope> m_scope;
};

// Holds a file's write_lock() (Linux's atomic_write_lock of a tty) across a writev's vectors.
class WholeWrite {
public:
    WholeWrite(vfs::File& file, Direction direction) NO_THREAD_SAFETY_ANALYSIS {
        if (direction == Direction::Write) m_lock = file.write_lock();
        if (m_lock) m_lock->lock();
    }
    ~WholeWrite() NO_THREAD_SAFETY_ANALYSIS {
        if (m_lock) m_lock->unlock();
    }
    WholeWrite(const WholeWrite&) = delete;
    WholeWrite& operator=(const WholeWrite&) = delete;

private:
    sched::Mutex* m_lock = nullptr;
};

ErrorOr<long> transfer(vfs::File& file, Direction direction, uintptr_t buffer, size_t count,
                       std::optional<uint64_t> offset) {
    BigLockUnlessSafe big_lock(file, direction);
    if (count > MAX_RW_COUNT) count = MAX_RW_COUNT;
    if (direction == Direction::Read && file.vnode()->is_directory()) return error(EISDIR);
    if (count == 0) return 0;
    // Files move the data themselves, straight between the app's buffer and their own storage
    // (no bounce buffer). That is safe after this check as long as nothing can unmap the
    // buffer before the copy, i.e. until the file blocks: the files that block (pipes,
    // sockets, eventfds) copy with the fault-safe user copy and fail with EFAULT themselves.
    // The check reads the address space's mappings under its own lock (mm/vm.h).
    bool range_ok = direction == Direction::Read ? user_range_writable(buffer, count) : user_range_ok(buffer, count);
    if (!range_ok) return error(EFAULT);
    auto* bytes = reinterpret_cast<std::byte*>(buffer);
    if (direction == Direction::Read) return long(TRY(file.read({bytes, count}, offset)));
    return long(TRY(file.write({bytes, count}, offset)));
}

ErrorOr<long> transfer_vector(vfs::File& file, Direction direction, UserPtr<const iovec> iov, int count,
                              std::optional<uint64_t> offset) {
    BigLockUnlessSafe big_lock(file, direction);
    WholeWrite whole(file, direction);
    IovecArray vectors;
    TRY(vectors.copy_in(iov, count));
    if (direction == Direction::Read && file.vnode()->is_directory()) return error(EISDIR);
    long done = 0;
    for (size_t i = 0; i < vectors.size(); ++i) {
        const iovec& v = vectors[i];
        if (v.iov_len == 0) continue;
        std::optional<uint64_t> at = offset ? std::optional<uint64_t>(*offset + uint64_t(done)) : std::nullopt;
        auto n = transfer(file, direction, uintptr_t(v.iov_base), v.iov_len, at);
        if (!n) {
            if (done) return done;  // a partial transfer reports what was done
            return n;
        }
        done += *n;
        if (size_t(*n) < v.iov_len) break;
    }
    return done;
}

ErrorOr<std::optional<uint64_t>> positional(vfs::File& file, off_t offset) {
    if (file.is_stream()) return error(ESPIPE);
    if (offset < 0) return error(EINVAL);
    return std::optional<uint64_t>(uint64_t(offset));
}

// Copies up to `count` bytes from `in` to `out` through a bounce buffer (sendfile, copy_file_range).
ErrorOr<long> copy_between(vfs::File& in, std::optional<uint64_t> in_offset, vfs::File& out,
                           std::optional<uint64_t> out_offset, size_t count) {
    constexpr size_t CHUNK = 64 * 1024;
    if (count > MAX_RW_COUNT) count = MAX_RW_COUNT;
    auto* buffer = static_cast<std::byte*>(mm::alloc_pages(CHUNK / 4096));
    if (!buffer) return error(ENOMEM);
    size_t done = 0;
    ErrorOr<void> failure;
    while (done < count) {
        size_t want = count - done < CHUNK ? count - done : CHUNK;
        auto got = in.read({buffer, want}, in_offset ? std::optional<uint64_t>(*in_offset + done) : std::nullopt);
        if (!got) {
            failure = std::unexpected(got.error());
            break;
        }
        if (*got == 0) break;
        auto put = out.write({buffer, *got}, out_offset ? std::optional<uint64_t>(*out_offset + done) : std::nullopt);
        if (!put) {
            failure = std::unexpected(put.error());
            break;
        }
        done += *put;
        if (*put < *got || *got < want) break;
    }
    mm::free_pages(buffer, CHUNK / 4096);
    if (!failure && done == 0) return std::unexpected(failure.error());
    return long(done);
}

}  // namespace

// Implements read(2).
ErrorOr<long> sys_read(int fd, UserPtr<void> buffer, size_t count) {
    RefPtr<vfs::File> file = TRY(file_for_io(fd, Direction::Read));
    return transfer(*file, Direction::Read, buffer.address(), count, std::nullopt);
}

// Implements write(2).
ErrorOr<long> sys_write(int fd, UserPtr<const void> buffer, size_t count) {
    RefPtr<vfs::File> file = TRY(file_for_io(fd, Direction::Write));
    return transfer(*file, Direction::Write, buffer.address(), count, std::nullopt);
}

// Implements pread64(2).
ErrorOr<long> sys_pread64(int fd, UserPtr<void> buffer, size_t count, off_t offset) {
    RefPtr<vfs::File> file = TRY(file_for_io(fd, Direction::Read));
    auto at = TRY(positional(*file, offset));
    return transfer(*file, Direction::Read, buffer.address(), count, at);
}

// Implements pwrite64(2).
ErrorOr<long> sys_pwrite64(int fd, UserPtr<const void> buffer, size_t count, off_t offset) {
    RefPtr<vfs::File> file = TRY(file_for_io(fd, Direction::Write));
    auto at = TRY(positional(*file, offset));
    return transfer(*file, Direction::Write, buffer.address(), count, at);
}

// Implements readv(2).
ErrorOr<long> sys_readv(int fd, UserPtr<const iovec> iov, int iovcnt) {
    RefPtr<vfs::File> file = TRY(file_for_io(fd, Direction::Read));
    return transfer_vector(*file, Direction::Read, iov, iovcnt, std::nullopt);
}

// Implements writev(2).
ErrorOr<long> sys_writev(int fd, UserPtr<const iovec> iov, int iovcnt) {
    RefPtr<vfs::File> file = TRY(file_for_io(fd, Direction::Write));
    return transfer_vector(*file, Direction::Write, iov, iovcnt, std::nullopt);
}

// Implements preadv(2) (the offset arrives split in two registers; on x86_64 the low one holds it all).
ErrorOr<long> sys_preadv(int fd, UserPtr<const iovec> iov, int iovcnt, unsigned long offset_low, unsigned long) {
    RefPtr<vfs::File> file = TRY(file_for_io(fd, Direction::Read));
    auto at = TRY(positional(*file, off_t(offset_low)));
    return transfer_vector(*file, Direction::Read, iov, iovcnt, at);
}

// Implements pwritev(2).
ErrorOr<long> sys_pwritev(int fd, UserPtr<const iovec> iov, int iovcnt, unsigned long offset_low, unsigned long) {
    RefPtr<vfs::File> file = TRY(file_for_io(fd, Direction::Write));
    auto at = TRY(positional(*file, off_t(offset_low)));
    return transfer_vector(*file, Direction::Write, iov, iovcnt, at);
}

// Implements lseek(2).
ErrorOr<long> sys_lseek(int fd, off_t offset, int whence) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    BigLockUnlessSafe big_lock(*file);
    return long(TRY(file->seek(offset, whence)));
}

// Implements fadvise64(2): the advice is checked and taken as a hint with nothing to do
// (no read-ahead to tune). coreutils' cat and sha256sum give POSIX_FADV_SEQUENTIAL.
ErrorOr<long> sys_fadvise64(int fd, off_t offset, off_t length, int advice) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    if (advice < POSIX_FADV_NORMAL || advice > POSIX_FADV_NOREUSE || offset < 0 || length < 0) return error(EINVAL);
    if (file->is_stream()) return error(ESPIPE);
    return 0;
}

// Implements sendfile(2).
ErrorOr<long> sys_sendfile(int out_fd, int in_fd, UserPtr<off_t> offset, size_t count) {
    RefPtr<vfs::File> in = TRY(file_for_io(in_fd, Direction::Read));
    RefPtr<vfs::File> out = TRY(file_for_io(out_fd, Direction::Write));
    if (out->flags() & O_APPEND) return error(EINVAL);
    if (in->is_stream() || in->vnode()->is_directory()) return error(EINVAL);
    if (offset.is_null()) return copy_between(*in, std::nullopt, *out, std::nullopt, count);
    off_t start = TRY(read_user(UserPtr<const off_t>(offset.address())));
    if (start < 0) return error(EINVAL);
    long done = TRY(copy_between(*in, uint64_t(start), *out, std::nullopt, count));
    TRY(write_user(offset, off_t(start + done)));
    return done;
}

// Implements copy_file_range(2).
ErrorOr<long> sys_copy_file_range(int in_fd, UserPtr<off_t> in_offset, int out_fd, UserPtr<off_t> out_offset,
                                  size_t count, unsigned flags) {
    if (flags) return error(EINVAL);
    RefPtr<vfs::File> in = TRY(file_for_io(in_fd, Direction::Read));
    RefPtr<vfs::File> out = TRY(file_for_io(out_fd, Direction::Write));
    if (in->vnode()->is_directory() || out->vnode()->is_directory()) return error(EISDIR);
    if (!in->vnode()->is_regular() || !out->vnode()->is_regular()) return error(EINVAL);
    if (out->flags() & O_APPEND) return error(EBADF);
    uint64_t from = in->position(), to = out->position();
    if (!in_offset.is_null()) {
        off_t value = TRY(read_user(UserPtr<const off_t>(in_offset.address())));
        if (value < 0) return error(EINVAL);
        from = uint64_t(value);
    }
    if (!out_offset.is_null()) {
        off_t value = TRY(read_user(UserPtr<const off_t>(out_offset.address())));
        if (value < 0) return error(EINVAL);
        to = uint64_t(value);
    }
    if (in->vnode() == out->vnode() && from < to + count && to < from + count) return error(EINVAL);
    long done = TRY(copy_between(*in, from, *out, to, count));
    if (in_offset.is_null())
        in->set_position(from + uint64_t(done));
    else
        TRY(write_user(in_offset, off_t(from + uint64_t(done))));
    if (out_offset.is_null())
        out->set_position(to + uint64_t(done));
    else
        TRY(write_user(out_offset, off_t(to + uint64_t(done))));
    return done;
}

}  // namespace xos::sys
