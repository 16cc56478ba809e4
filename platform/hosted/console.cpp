// Console input on the hosted platform: the app's standard input is the host's fd 0 behind
// libos. At start (before the sandbox) the platform looks at what fds 0-2 are and reopens fd 0
// through /proc/self/fd/0 at FD_CONSOLE_IN, a description of its own that it can make
// nonblocking and O_ASYNC (SIGIO: an input interrupt) without touching the one the shell that
// started us shares. A regular file is read through fd 0's own description (reads do not
// block; the offset is shared, as a Linux process's would be). The seccomp filter allows read
// on FD_CONSOLE_IN and its TIOCGWINSZ ioctl only (seccomp.cpp).
//
// With a terminal on fd 0, xos-run has put it in raw mode: libos's line discipline sees every
// byte (^C included). Run directly (`./app` from a shell: no XOS_STATUS_FD), the image does the
// same itself when it is in the terminal's foreground and stdout or stderr is the terminal too
// (xos-run's rule), and puts the terminal back as it was when it ends (shutdown; a host SIGTERM or
// SIGHUP: signals.cpp's on_terminate), with TCSETSW on FD_CONSOLE_IN, which the seccomp filter
// then allows. Without it the host's line discipline would echo and edit lines before libos's
// (every key echoed twice, "\r\r\n" line ends) and turn ^C into a host SIGINT that kills the image
// instead of the app's handler running. Ctrl-] followed by '.' ends the run (status 130), as
// xos-run does for the VM; Ctrl-] twice gives one Ctrl-].
#include <cstring>

#include "hosted/host.h"
#include "xos/console_signal.h"
#include "xos/platform.h"

namespace xos::hosted {

namespace {

constexpr long AT_EMPTY_PATH = 0x1000, TCGETS = 0x5401, TCSETSW = 0x5403, TIOCGPGRP = 0x540f, TIOCGWINSZ = 0x5413;
constexpr long GETPGRP = 111;
constexpr long O_RDONLY = 0, O_NOCTTY = 0400, O_NONBLOCK = 04000, O_ASYNC = 020000, O_CLOEXEC = 02000000;
constexpr long F_DUPFD_CLOEXEC = 1030, F_GETFL = 3, F_SETFL = 4, F_SETOWN = 8;
constexpr unsigned S_IFMT = 0170000, S_IFIFO = 0010000, S_IFREG = 0100000, S_IFSOCK = 0140000;
constexpr char ESCAPE = 0x1d;  // Ctrl-]

struct Winsize {
    uint16_t rows, cols, xpixel, ypixel;
};

// The kernel's struct termios (TCGETS/TCSETSW), and cfmakeraw's flags.
struct KernelTermios {
    uint32_t iflag, oflag, cflag, lflag;
    uint8_t line, cc[19];
};
constexpr uint32_t IGNBRK = 01, BRKINT = 02, PARMRK = 010, ISTRIP = 040, INLCR = 0100, IGNCR = 0200, ICRNL = 0400,
                   IXON = 02000, OPOST = 01, ISIG = 01, ICANON = 02, ECHO = 010, ECHONL = 0100, IEXTEN = 0100000,
                   CSIZE = 060, CS8 = 060, PARENB = 0400;
constexpr int VTIME = 5, VMIN = 6;

platform::StdioKinds g_kinds;
KernelTermios g_saved_termios;
bool g_terminal_raw;  // set to raw by make_terminal_raw: restore_terminal puts g_saved_termios back
platform::ConsoleSize g_size;
int g_input_fd = -1;  // FD_CONSOLE_IN, or -1 (no stdin)
bool g_ended;
bool g_escape_seen;  // the last byte was Ctrl-] (terminal input only)
void (*g_input_handler)();

platform::StdioKind kind_of(int fd) {
    struct {
        uint64_t dev, ino, nlink;
        uint32_t mode;
        uint8_t rest[116];
    } st{};
    if (host::call(host::NEWFSTATAT, fd, long(""), long(&st), AT_EMPTY_PATH) < 0) return platform::StdioKind::Other;
    uint8_t termios[64];
    if (host::call(host::IOCTL, fd, TCGETS, long(termios)) == 0) return platform::StdioKind::Terminal;
    switch (st.mode & S_IFMT) {
    case S_IFIFO:
    case S_IFSOCK: return platform::StdioKind::Pipe;
    case S_IFREG: return platform::StdioKind::File;
    default: return platform::StdioKind::Other;
    }
}

void read_size(int fd) {
    Winsize size{};
    if (host::call(host::IOCTL, fd, TIOCGWINSZ, long(&size)) == 0) g_size = {size.rows, size.cols};
}

void on_io(void*) {
    if (g_input_handler) g_input_handler();
}

// Run directly in the foreground of a terminal: raw mode, as xos-run sets it (cfmakeraw).
void make_terminal_raw() {
    if (g_status_fd >= 0 || g_kinds.in != platform::StdioKind::Terminal) return;  // xos-run's, or no terminal
    if (g_kinds.out != platform::StdioKind::Terminal && g_kinds.err != platform::StdioKind::Terminal) return;
    int foreground = -1;
    if (host::call(host::IOCTL, 0, TIOCGPGRP, long(&foreground)) != 0 || foreground != host::call(GETPGRP)) return;
    KernelTermios raw{};
    if (host::call(host::IOCTL, 0, TCGETS, long(&raw)) != 0) return;
    g_saved_termios = raw;
    raw.iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.oflag &= ~OPOST;
    raw.lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    raw.cflag = (raw.cflag & ~(CSIZE | PARENB)) | CS8;
    raw.cc[VMIN] = 1;
    raw.cc[VTIME] = 0;
    g_terminal_raw = host::call(host::IOCTL, 0, TCSETSW, long(&raw)) == 0;
}

}  // namespace

bool terminal_restore_needed() { return g_terminal_raw; }

void restore_terminal() {
    if (!g_terminal_raw) return;
    g_terminal_raw = false;
    host::call(host::IOCTL, g_input_fd, TCSETSW, long(&g_saved_termios));
}

void init_console_input() {
    g_kinds = {kind_of(0), kind_of(1), kind_of(2)};
    if (g_kinds.in == platform::StdioKind::Terminal)
        read_size(0);
    else if (g_kinds.out == platform::StdioKind::Terminal)
        read_size(1);
    long fd;
    if (g_kinds.in == platform::StdioKind::File) {
        fd = host::call(host::FCNTL, 0, F_DUPFD_CLOEXEC, host::FD_FIRST_FREE);
    } else {
        fd = host::call(host::OPENAT, host::AT_FDCWD_VALUE, long("/proc/self/fd/0"),
                        O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        // Not reopenable (a socket): fd 0's own description, made nonblocking (the shell's too).
        if (fd < 0) fd = host::call(host::FCNTL, 0, F_DUPFD_CLOEXEC, host::FD_FIRST_FREE);
        if (fd >= 0) {
            long flags = host::call(host::FCNTL, fd, F_GETFL);
            host::call(host::FCNTL, fd, F_SETOWN, host::call(host::GETPID));
            if (flags >= 0) host::call(host::FCNTL, fd, F_SETFL, flags | O_NONBLOCK | O_ASYNC);
        }
    }
    if (fd < 0) {  // no stdin at all (closed): end of file at once
        g_ended = true;
        return;
    }
    g_input_fd = place_fd(fd, host::FD_CONSOLE_IN, "the console input descriptor");
    make_terminal_raw();
    if (g_terminal_raw) restore_terminal_on_termination();
}

}  // namespace xos::hosted

namespace xos::platform {

StdioKinds console_stdio() { return hosted::g_kinds; }

ConsoleSize console_size() { return hosted::g_size; }

ConsoleInput console_read(char* buffer, size_t count) {
    using namespace hosted;
    ConsoleInput result;
    if (take_resize() && g_kinds.in == StdioKind::Terminal) {
        read_size(g_input_fd);
        result.resized = true;
    }
    if (g_ended || g_input_fd < 0 || count == 0) {
        result.ended = g_ended;
        return result;
    }
    if (g_kinds.in != StdioKind::Terminal) {
        long n = host::call(host::READ, g_input_fd, long(buffer), long(count));
        if (n == -host::EAGAIN || n == -host::EINTR) return result;
        if (n <= 0) {  // end of file, an error: the end
            g_ended = result.ended = true;
            return result;
        }
        result.bytes = size_t(n);
        return result;
    }
    // A terminal: the escape (Ctrl-] .) is taken out. A Ctrl-] held from the previous read may
    // add one byte, so one less is read.
    char chunk[512];
    size_t room = count - (g_escape_seen ? 1 : 0);
    if (room == 0) return result;
    long n = host::call(host::READ, g_input_fd, long(chunk), long(room < sizeof chunk ? room : sizeof chunk));
    if (n == -host::EAGAIN || n == -host::EINTR) return result;
    if (n <= 0) {  // a hung-up terminal (EIO), an error: the end
        g_ended = result.ended = true;
        return result;
    }
    size_t length = 0;
    for (long i = 0; i < n; ++i) {
        char c = chunk[i];
        if (g_escape_seen) {
            g_escape_seen = false;
            if (c == '.') {
                const char note[] = "\r\nxos: Ctrl-] . typed: the run ends\r\n";
                host::write_all(2, note, sizeof note - 1);
                shutdown(ExitKind::Exit, 130, "console escape");
            }
            if (c != ESCAPE) buffer[length++] = ESCAPE;
            buffer[length++] = c;
        } else if (c == ESCAPE) {
            g_escape_seen = true;
        } else {
            buffer[length++] = c;
        }
    }
    result.bytes = length;
    return result;
}

bool console_set_input_handler(void (*handler)()) {
    hosted::g_input_handler = handler;
    // A file's reads never wait, nor does a closed stdin's end: nothing to interrupt for, but the
    // handler is still right for SIGWINCH.
    hosted::set_io_interrupt_handler(&hosted::on_io, nullptr);
    return true;
}

// A signal xos-run --forward-signals queued (SIGNAL_FORWARD, signals.cpp), or 0.
int console_take_signal() { return hosted::take_forwarded_signal(); }

}  // namespace xos::platform
