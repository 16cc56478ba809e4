// The console's input side and, when xos-run's stdin is a terminal, the terminal itself: a line
// discipline over the platform's console input (platform::console_read), like Linux's n_tty.
//
// What the standard streams are comes from the platform (platform::console_stdio): a stream is a
// terminal in the app only if it is one on the host. Input from a pipe or a file reaches the app
// as it is, with end of file where the host's ends. Input from a terminal (which xos-run put in
// raw mode) goes through the line discipline: canonical mode with erase, kill, word erase and
// EOF (^D), echo, ICRNL and friends, ONLCR on output, non-canonical reads with VMIN/VTIME, and
// the signals: ^C SIGINT, ^\ SIGQUIT, ^Z SIGTSTP to the foreground process group.
//
// Job control: the terminal is the controlling terminal of PID 1's session from boot (as a
// container's console is), TIOCSCTTY gives it to another session leader once TIOCNOTTY (or the
// session's end) released it. TIOCGPGRP/TIOCSPGRP get and set the foreground group; a read by a
// background process of the session sends SIGTTIN to its group (EIO if it ignores it).
//
// A libos thread moves the input from the platform into the line discipline (signals and echo
// happen even when nobody reads; for a pipe or a file it starts with the first read or poll);
// readers and poll/epoll wait on it. Backpressure: when the
// input buffer is full the thread stops taking input, and the platform holds the rest back
// (on the VM, QEMU stops reading xos-run's pipe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/error.h"
#include "sched/mutex.h"
#include "vfs/poll.h"
#include "xos/platform.h"

namespace xos::fs::terminal {

// Reads what the platform says the standard streams are and sets up the terminal, if any. At
// boot, before the console files are opened.
void init();
// Connects the platform's input interrupt and, for a terminal, starts the input thread (for
// other input it starts with the first read or poll). After the scheduler is up.
void start_input();

// What standard stream `fd` (0, 1, 2) is on the host.
platform::StdioKind stdio_kind(int fd);
// True if the console is a terminal at all (one of the streams is one).
bool exists();
// True if `sid` is the session the terminal controls.
bool controls_session(int sid);

// Reads console input: through the line discipline on a terminal, as it came otherwise.
ErrorOr<size_t> read(std::span<std::byte> buffer, bool nonblocking, bool as_terminal);
// Writes to the console's `stream` (out or err), with the terminal's output processing
// (ONLCR) when `as_terminal`; to "out" when both are the same terminal, so that output and
// error messages (a shell's prompt) stay in order. Needs no big lock (docs/locking.md "The
// console"): one write at a time under write_lock(), which it takes unless the caller holds it.
ErrorOr<size_t> write(platform::ConsoleStream stream, std::span<const std::byte> data, bool as_terminal);
// Linux's atomic_write_lock: writev holds it across its vectors (vfs::File::write_lock()).
sched::Mutex& write_lock();
// TOSTOP is on: a write checks the caller's process group (process tables: the big lock's).
bool stops_background_writes();
// The requests ioctl() answers without the big lock (TCGETS, TIOCGWINSZ).
bool ioctl_without_big_lock(unsigned long request);
size_t bytes_readable();
// POLLIN when a read would not wait (data, a complete line in canonical mode, end of input),
// POLLHUP once a pipe's input has ended; always writable.
vfs::PollMask poll_mask(bool as_terminal);
vfs::PollWaiters& poll_waiters();
// The terminal ioctls (TCGETS, TIOCGWINSZ, TIOCSPGRP...). ENOTTY unless `as_terminal`.
ErrorOr<long> ioctl(unsigned long request, uintptr_t argument, bool as_terminal);

}  // namespace xos::fs::terminal
