#include "qemu_process.h"

#include "spawn.h"
#include "terminal.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <system_error>

namespace {

// How long QEMU gets to exit after SIGTERM before it gets SIGKILL.
constexpr double kKillGraceSeconds = 1.0;

// QEMU writes the serial console to its stdout one byte per write(2). Waking up for every
// byte cost more CPU than the guest itself in a 4 MiB console test (4.8 s -> 3.7 s wall with
// this pause): after a short read, let the pipe fill a little before reading again.
constexpr long kShortReadPauseNs = 200'000;
constexpr ssize_t kShortRead = 4096;

// Input read from our stdin but not yet taken by QEMU: stdin is not read beyond this.
constexpr std::size_t kInputBacklog = 64 * 1024;

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

void arm_timer(int timer_fd, double seconds) {
    itimerspec spec{};
    double whole = std::floor(seconds);
    spec.it_value.tv_sec = static_cast<time_t>(whole);
    spec.it_value.tv_nsec = static_cast<long>((seconds - whole) * 1e9);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;  // all zero would disarm it
    if (::timerfd_settime(timer_fd, 0, &spec, nullptr) != 0) throw_errno("timerfd_settime");
}

// Copies to our stdout. Once stdout is gone (EPIPE, e.g. `xos-run img | head`), the console is
// discarded but still drained, so the guest runs to its end and its status still counts.
class ConsoleRelay {
public:
    explicit ConsoleRelay(int out_fd) : m_out_fd(out_fd) {}

    void write(const char* data, std::size_t size) {
        while (size > 0 && !m_broken) {
            ssize_t n = ::write(m_out_fd, data, size);
            if (n > 0) {
                data += n;
                size -= static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EAGAIN) {
                pollfd out{m_out_fd, POLLOUT, 0};  // the descriptor was left non-blocking
                ::poll(&out, 1, -1);
            } else if (!(n < 0 && errno == EINTR)) {
                m_broken = true;
            }
        }
    }

private:
    int m_out_fd;
    bool m_broken = false;
};

class QemuRun {
public:
    QemuRun(pid_t pid, int console_fd, int error_console_fd, int signal_fd, double timeout_seconds, int to_guest_fd,
            bool terminal_input, bool forward_signals, int sigterm_becomes)
        : m_pid(pid), m_console_fd(console_fd), m_error_console_fd(error_console_fd), m_signal_fd(signal_fd),
          m_timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)), m_to_guest_fd(to_guest_fd),
          m_terminal_input(terminal_input), m_forward_signals(forward_signals), m_sigterm_becomes(sigterm_becomes) {
        if (m_timer.get() < 0) throw_errno("timerfd_create");
        // A terminal we do not take (a background run, nobody watching): never read, or we
        // would steal the shell's input (or be stopped by SIGTTIN). The guest sees end of file.
        if (::isatty(STDIN_FILENO) && !terminal_input) {
            m_input_open = false;
            m_to_guest += frame_end_of_input();
        }
        if (timeout_seconds > 0) arm_timer(m_timer.get(), timeout_seconds);
    }

    QemuRun(const QemuRun&) = delete;
    QemuRun& operator=(const QemuRun&) = delete;

    // Only reached without reaping if wait() threw.
    ~QemuRun() {
        if (!m_reaped) {
            ::kill(m_pid, SIGKILL);
            ::waitpid(m_pid, nullptr, 0);
        }
    }

    RunResult wait() {
        while (!m_reaped || m_console_fd >= 0 || m_error_console_fd >= 0) {
            // A negative fd is ignored by poll(2). Stdin is read while little is waiting for
            // QEMU to take it (the guest reads at its own pace: backpressure).
            bool take_input = m_input_open && !m_terminating && m_to_guest.size() < kInputBacklog;
            pollfd fds[6] = {{m_signal_fd, POLLIN, 0},
                             {m_timer.get(), POLLIN, 0},
                             {m_console_fd, POLLIN, 0},
                             {m_error_console_fd, POLLIN, 0},
                             {take_input ? STDIN_FILENO : -1, POLLIN, 0},
                             {m_to_guest.empty() ? -1 : m_to_guest_fd, POLLOUT, 0}};
            // Once QEMU is reaped, only the consoles' last bytes are awaited, and not forever:
            // a process QEMU forked could hold the pipes open.
            int n = m_reaped ? ::poll(&fds[2], 2, 1000) : ::poll(fds, 6, -1);
            if (n < 0 && errno != EINTR) throw_errno("poll");
            if (n == 0) break;
            if (!m_reaped && (fds[0].revents & POLLIN)) on_signal();
            if (!m_reaped && (fds[1].revents & POLLIN)) on_timer();
            if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) relay(m_error_console_fd, m_error_console);
            if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) relay(m_console_fd, m_console);
            if (!m_reaped && (fds[4].revents & (POLLIN | POLLHUP | POLLERR))) read_input();
            if (!m_reaped && (fds[5].revents & (POLLOUT | POLLERR | POLLHUP))) write_input();
        }
        return m_result;
    }

private:
    // Our stdin to the guest's COM1, framed (terminal.h); its end as an end-of-input frame.
    void read_input() {
        char buf[4096];
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
        if (n <= 0) {  // end of file, or an error (a hung-up terminal: EIO)
            m_input_open = false;
            m_to_guest += frame_end_of_input();
            return;
        }
        if (!m_terminal_input) {
            frame_input(buf, static_cast<std::size_t>(n), m_to_guest);
            return;
        }
        std::string passed;
        if (m_escape.feed(buf, static_cast<std::size_t>(n), passed)) {
            static constexpr char kNote[] = "\r\nxos-run: Ctrl-] . typed: stopping the VM\r\n";
            ssize_t ignored = ::write(STDERR_FILENO, kNote, sizeof kNote - 1);
            (void)ignored;
            m_input_open = false;
            on_termination_request(SIGINT);
            return;
        }
        frame_input(passed.data(), passed.size(), m_to_guest);
    }

    void write_input() {
        ssize_t n = ::write(m_to_guest_fd, m_to_guest.data(), m_to_guest.size());
        if (n > 0)
            m_to_guest.erase(0, static_cast<std::size_t>(n));
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            m_to_guest.clear();  // QEMU has gone (EPIPE): its end is near
    }

    void on_window_change() {
        uint16_t rows, cols;
        if (m_terminal_input && terminal_size(rows, cols)) m_to_guest += frame_window_size(rows, cols);
    }

    void relay(int& fd, ConsoleRelay& to) {
        char buf[65536];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            to.write(buf, static_cast<std::size_t>(n));
            if (n < kShortRead) {
                timespec pause{0, kShortReadPauseNs};
                ::nanosleep(&pause, nullptr);
            }
        } else if (n == 0 || errno != EINTR)
            fd = -1;  // the caller owns and closes it
    }

    void on_signal() {
        signalfd_siginfo info;
        while (::read(m_signal_fd, &info, sizeof info) == sizeof info) {
            if (info.ssi_signo == SIGCHLD)
                try_reap();
            else if (info.ssi_signo == SIGWINCH)
                on_window_change();
            else if (m_forward_signals)
                m_to_guest +=
                    frame_signal(info.ssi_signo == SIGTERM ? m_sigterm_becomes : static_cast<int>(info.ssi_signo));
            else
                on_termination_request(static_cast<int>(info.ssi_signo));
        }
    }

    void on_termination_request(int signo) {
        if (m_terminating) {
            // A second Ctrl-C means "now".
            ::kill(m_pid, SIGKILL);
            return;
        }
        m_result.cause = StopCause::Signal;
        m_result.stop_signal = signo;
        terminate();
    }

    void on_timer() {
        std::uint64_t expirations;
        if (::read(m_timer.get(), &expirations, sizeof expirations) != sizeof expirations) return;
        if (m_terminating) {
            ::kill(m_pid, SIGKILL);
            return;
        }
        m_result.cause = StopCause::Timeout;
        terminate();
    }

    void terminate() {
        m_terminating = true;
        ::kill(m_pid, SIGTERM);
        arm_timer(m_timer.get(), kKillGraceSeconds);
    }

    void try_reap() {
        int status;
        pid_t r = ::waitpid(m_pid, &status, WNOHANG);
        if (r != m_pid) return;
        m_reaped = true;
        if (WIFEXITED(status))
            m_result.qemu = {true, WEXITSTATUS(status)};
        else
            m_result.qemu = {false, WTERMSIG(status)};
    }

    pid_t m_pid;
    int m_console_fd;
    int m_error_console_fd;
    int m_signal_fd;
    UniqueFd m_timer;
    ConsoleRelay m_console{STDOUT_FILENO};
    ConsoleRelay m_error_console{STDERR_FILENO};
    RunResult m_result;
    bool m_reaped = false;
    bool m_terminating = false;
    int m_to_guest_fd;  // the pipe that is QEMU's stdin (nonblocking)
    bool m_terminal_input;
    bool m_forward_signals;
    int m_sigterm_becomes;
    bool m_input_open = true;
    std::string m_to_guest = frame_start();  // framed input QEMU has not taken yet
    EscapeDetector m_escape;
};

Child start_qemu(const std::vector<std::string>& argv, int stdin_fd, const sigset_t& child_mask) {
    try {
        return spawn_with_stdout_pipe(argv, stdin_fd, child_mask);
    } catch (const SpawnError& e) {
        throw std::runtime_error("cannot run QEMU '" + argv[0] + "': " + std::strerror(e.error));
    }
}

}  // namespace

TerminationSignals::TerminationSignals(bool forwarded) {
    sigset_t set;
    sigemptyset(&set);
    for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGWINCH}) sigaddset(&set, signo);
    if (forwarded)
        for (int signo : {SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&set, signo);
    if (::sigprocmask(SIG_BLOCK, &set, &m_original_mask) != 0) throw_errno("sigprocmask");
    m_fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m_fd < 0) throw_errno("signalfd");
    // A console reader that goes away must not kill xos-run before it reaps QEMU.
    ::signal(SIGPIPE, SIG_IGN);
}

TerminationSignals::~TerminationSignals() { ::close(m_fd); }

GuestStderrPipe::GuestStderrPipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    m_read = fds[0];
    m_write = fds[1];
    // QEMU, the only child, inherits the write end.
    if (::fcntl(m_write, F_SETFD, 0) != 0) throw_errno("fcntl");
}

GuestStderrPipe::~GuestStderrPipe() {
    ::close(m_read);
    close_write_end();
}

std::string GuestStderrPipe::path_for_child() const { return "/proc/self/fd/" + std::to_string(m_write); }

void GuestStderrPipe::close_write_end() {
    if (m_write >= 0) ::close(m_write);
    m_write = -1;
}

RunResult run_qemu(const std::vector<std::string>& argv, double timeout_seconds, const TerminationSignals& signals,
                   GuestStderrPipe& guest_stderr, bool terminal_input, bool forward_signals, int sigterm_becomes) {
    int input[2];
    if (::pipe2(input, O_CLOEXEC) != 0) throw_errno("pipe2");
    UniqueFd input_read(input[0]), input_write(input[1]);
    if (::fcntl(input_write.get(), F_SETFL, O_NONBLOCK) != 0) throw_errno("fcntl");
    Child qemu = start_qemu(argv, input_read.get(), signals.original_mask());
    input_read.reset();
    guest_stderr.close_write_end();
    return QemuRun(qemu.pid, qemu.stdout_read.get(), guest_stderr.read_fd(), signals.fd(), timeout_seconds,
                   input_write.get(), terminal_input, forward_signals, sigterm_becomes)
        .wait();
}
