// File syscalls. Until the VFS lands, the only descriptors are 0, 1 and 2, all the console:
// reads see end of file (xos-run gives the guest no input); fd 1 writes to the console's
// output stream and fd 2 to its error stream (xos-run's stdout and stderr).
#include <fcntl.h>
#include <climits>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <termios.h>

#include "sys/handlers.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

bool g_console_open[3] = {true, true, true};

ErrorOr<void> check_console_fd(int fd) {
    if (fd < 0 || fd > 2 || !g_console_open[fd]) return error(EBADF);
    return {};
}

ErrorOr<long> console_write(int fd, UserPtr<const void> buffer, size_t count) {
    if (!user_range_ok(buffer.address(), count)) return error(EFAULT);
    auto stream = fd == 2 ? platform::ConsoleStream::Err : platform::ConsoleStream::Out;
    platform::console_write(stream, static_cast<const char*>(buffer.unchecked()), count);
    return long(count);
}

constexpr int IOV_MAX_LINUX = 1024;

// Validates the iovec array and returns the total length (EINVAL on overflow, like Linux).
ErrorOr<size_t> total_length(UserPtr<const iovec> iov, int iovcnt) {
    if (iovcnt < 0 || iovcnt > IOV_MAX_LINUX) return error(EINVAL);
    if (!user_range_ok(iov.address(), size_t(iovcnt) * sizeof(iovec))) return error(EFAULT);
    size_t total = 0;
    for (int i = 0; i < iovcnt; ++i) {
        size_t len = iov.unchecked()[i].iov_len;
        if (len > size_t(SSIZE_MAX) - total) return error(EINVAL);
        total += len;
    }
    return total;
}

}  // namespace

// Implements read(2).
ErrorOr<long> sys_read(int fd, UserPtr<void> buffer, size_t count) {
    TRY(check_console_fd(fd));
    if (count && !user_range_ok(buffer.address(), count)) return error(EFAULT);
    return 0;  // end of file
}

// Implements write(2).
ErrorOr<long> sys_write(int fd, UserPtr<const void> buffer, size_t count) {
    TRY(check_console_fd(fd));
    if (fd == 0) return error(EBADF);  // stdin is open read-only
    return console_write(fd, buffer, count);
}

// Implements readv(2).
ErrorOr<long> sys_readv(int fd, UserPtr<const iovec> iov, int iovcnt) {
    TRY(check_console_fd(fd));
    TRY(total_length(iov, iovcnt));
    return 0;
}

// Implements writev(2).
ErrorOr<long> sys_writev(int fd, UserPtr<const iovec> iov, int iovcnt) {
    TRY(check_console_fd(fd));
    if (fd == 0) return error(EBADF);
    TRY(total_length(iov, iovcnt));
    long written = 0;
    for (int i = 0; i < iovcnt; ++i) {
        const iovec& v = iov.unchecked()[i];
        written += TRY(console_write(fd, UserPtr<const void>(uintptr_t(v.iov_base)), v.iov_len));
    }
    return written;
}

// Implements close(2).
ErrorOr<long> sys_close(int fd) {
    TRY(check_console_fd(fd));
    g_console_open[fd] = false;
    return 0;
}

// Implements fstat(2).
ErrorOr<long> sys_fstat(int fd, UserPtr<struct stat> out) {
    TRY(check_console_fd(fd));
    struct stat st {};
    st.st_mode = S_IFCHR | 0620;
    st.st_rdev = (136 << 8);  // like a pseudo-terminal (major 136)
    st.st_blksize = 1024;
    st.st_nlink = 1;
    st.st_dev = 22;
    st.st_ino = 3 + fd;
    TRY(write_user(out, st));
    return 0;
}

// Implements lseek(2).
ErrorOr<long> sys_lseek(int fd, off_t, int whence) {
    TRY(check_console_fd(fd));
    if (whence < SEEK_SET || whence > SEEK_END) return error(EINVAL);
    return error(ESPIPE);
}

// Implements ioctl(2): the console is a terminal (musl line-buffers stdout when TIOCGWINSZ works).
ErrorOr<long> sys_ioctl(int fd, unsigned long request, uintptr_t argument) {
    TRY(check_console_fd(fd));
    switch (request) {
    case TIOCGWINSZ: {
        winsize size{.ws_row = 24, .ws_col = 80, .ws_xpixel = 0, .ws_ypixel = 0};
        TRY(write_user(UserPtr<winsize>(argument), size));
        return 0;
    }
    case TCGETS: {
        termios t{};
        t.c_iflag = ICRNL | IXON;
        t.c_oflag = OPOST | ONLCR;
        t.c_cflag = B38400 | CS8 | CREAD | CLOCAL;
        t.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | IEXTEN;
        TRY(write_user(UserPtr<termios>(argument), t));
        return 0;
    }
    case TCSETS:
    case TCSETSW:
    case TCSETSF:
        TRY(read_user(UserPtr<const termios>(argument)));
        return 0;
    case FIONBIO:
        TRY(read_user(UserPtr<const int>(argument)));
        return 0;
    default:
        return error(ENOTTY);
    }
}

}  // namespace xos::sys
