// Runs QEMU as a child process: relays its console, enforces the timeout, forwards
// termination signals, and always reaps it.
#pragma once

#include "verdict.h"

#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

// Blocks SIGINT, SIGTERM, SIGHUP, SIGCHLD and SIGWINCH for the process's lifetime and delivers them
// through a signalfd, so the relay loop sees them as ordinary events. From its creation on,
// Ctrl-C can no longer kill xos-run between starting QEMU and reaping it.
class TerminationSignals {
public:
    // With `forwarded`, also SIGQUIT, SIGUSR1 and SIGUSR2 (--forward-signals).
    explicit TerminationSignals(bool forwarded = false);
    ~TerminationSignals();
    TerminationSignals(const TerminationSignals&) = delete;
    TerminationSignals& operator=(const TerminationSignals&) = delete;

    int fd() const { return m_fd; }
    const sigset_t& original_mask() const { return m_original_mask; }

private:
    int m_fd = -1;
    sigset_t m_original_mask;
};

// A pipe for the guest's second serial port: QEMU writes it through /proc/self/fd/N (the write
// end is inherited), xos-run copies what arrives to its own stderr.
class GuestStderrPipe {
public:
    GuestStderrPipe();  // throws std::system_error
    ~GuestStderrPipe();
    GuestStderrPipe(const GuestStderrPipe&) = delete;
    GuestStderrPipe& operator=(const GuestStderrPipe&) = delete;

    std::string path_for_child() const;
    int read_fd() const { return m_read; }
    void close_write_end();  // after QEMU started, so that its exit gives end of file

private:
    int m_read = -1;
    int m_write = -1;
};

struct RunResult {
    QemuEnd qemu;
    StopCause cause = StopCause::GuestDone;
    int stop_signal = 0;  // for StopCause::Signal
};

// Runs argv (argv[0] looked up in PATH) with stdin from a pipe that carries our stdin to the
// guest's COM1 (framed: terminal.h) and stdout into a pipe whose data is copied to our stdout as
// it arrives; stderr is shared. With `terminal_input` (our stdin is a terminal in raw mode)
// Ctrl-] . stops the run as SIGINT would. timeout_seconds 0 means none. Throws
// std::runtime_error if QEMU cannot be started.
RunResult run_qemu(const std::vector<std::string>& argv, double timeout_seconds, const TerminationSignals& signals,
                   GuestStderrPipe& guest_stderr, bool terminal_input, bool forward_signals = false,
                   int sigterm_becomes = 15);
