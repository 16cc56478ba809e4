#include "fs/devfs/terminal.h"

#include <sys/ioctl.h>
#include <termios.h>

#include <csignal>
#include <cstring>

#include "base/klog.h"
#include "base/no_destroy.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "base/user_ptr.h"
#include "mm/heap.h"
#include "sched/mutex.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "sys/signal.h"
#include "xos/console_signal.h"

namespace xos::fs::terminal {

namespace {

// The kernel's struct termios (TCGETS/TCSETS): c_cc[19], 36 bytes. musl's struct begins the
// same way (c_cc[32] and two speeds follow); the flag and c_cc index values are Linux's.
struct KernelTermios {
    uint32_t iflag, oflag, cflag, lflag;
    uint8_t line;
    uint8_t cc[19];
};
static_assert(sizeof(KernelTermios) == 36);

constexpr size_t RING_CAPACITY = 8192;
constexpr size_t MAX_LINES = 256;
constexpr size_t EDIT_CAPACITY = 4095;  // N_TTY_BUF_SIZE - 1: room for the newline
constexpr char CONTROL_MASK = 0x1f;
// Linux's values of the flags musl declares only for _GNU_SOURCE/_BSD_SOURCE.
constexpr uint32_t LFLAG_ECHOCTL = 0001000, LFLAG_ECHOKE = 0004000, IFLAG_IUTF8 = 0040000;

// What the paths without the big lock (console writes, TCGETS, TIOCGWINSZ) read of the terminal's
// settings: a copy of `termios` and `size`, published under `settings_lock` by every change of
// them (which also holds the big lock, under which the line discipline reads the originals).
struct Settings {
    KernelTermios termios;
    winsize size;
};

struct State {
    platform::StdioKinds kinds;  // constant after init()
    KernelTermios termios;
    winsize size{};
    SpinLock settings_lock;
    Settings published GUARDED_BY(settings_lock){};
    // Linux's atomic_write_lock: one write (or writev) to the console at a time, so that one
    // write's bytes are not interleaved with another's; the input thread's echo takes it too.
    // Held across the copies from the app (a Mutex: they may fault).
    sched::Mutex output_lock;
    int session = 0;  // the session it controls (0: none)
    int foreground = 0;  // the foreground process group

    // Input ready to be read: bytes in a ring; in canonical mode split into committed lines
    // (their lengths, oldest first; a line ended by ^D may be empty: end of file for its read).
    std::byte ring[RING_CAPACITY];
    size_t head = 0, used = 0;
    uint16_t lines[MAX_LINES];
    size_t line_head = 0, line_count = 0;
    // The line being edited (canonical mode).
    char edit[EDIT_CAPACITY];
    size_t edit_length = 0;

    bool ended = false;  // the platform's input has ended
    bool input_signalled = false;  // the platform's interrupt came since the thread last looked

    sched::WaitQueue readers;  // input arrived (or the input ended)
    sched::WaitQueue room;  // a reader freed room in the ring
    sched::WaitQueue device{sched::WakeSource::Device};  // the platform's input interrupt
    vfs::PollWaiters poll;
};

// Built on first use: libos runs before global constructors do (the app's start-up runs them),
// and libos globals must not have destructors.
constinit NoDestroy<State> g_state;
State& state() { return g_state.get(); }

bool input_is_terminal() { return state().kinds.in == platform::StdioKind::Terminal; }

// After each change of termios or size (under the big lock).
void publish_settings() {
    State& s = state();
    SpinLockGuard guard(s.settings_lock);
    s.published = {.termios = s.termios, .size = s.size};
}

Settings settings() {
    State& s = state();
    SpinLockGuard guard(s.settings_lock);
    return s.published;
}
bool canonical() { return state().termios.lflag & ICANON; }
size_t ring_free() { return RING_CAPACITY - state().used; }

void ring_push(char c) {
    State& s = state();
    s.ring[(s.head + s.used) % RING_CAPACITY] = std::byte(c);
    ++s.used;
}

void commit_line(size_t length) {
    State& s = state();
    s.lines[(s.line_head + s.line_count) % MAX_LINES] = uint16_t(length);
    ++s.line_count;
}

void notify_readers() {
    sched::wake_all(state().readers);
    state().poll.notify(vfs::poll_bits::READABLE);
}

// --- Output -----------------------------------------------------------------------------------

// Whether output through the terminal gets ONLCR (\n as \r\n): OPOST and ONLCR on and the host
// terminal raw (xos-run made it so: stdin is the terminal). Else the host terminal does it.
bool maps_newlines(const KernelTermios& t, bool as_terminal) {
    return as_terminal && input_is_terminal() && (t.oflag & OPOST) && (t.oflag & ONLCR);
}

// Writes libos-side bytes to the platform's console, with ONLCR if `onlcr`. The platform's
// console_write is safe on several CPUs at once (a UART's registers, a host write); the caller
// holds output_lock so that writes are whole.
void output(platform::ConsoleStream stream, const char* bytes, size_t count, bool onlcr) {
    if (!onlcr) {
        platform::console_write(stream, bytes, count);
        return;
    }
    size_t start = 0;
    for (size_t i = 0; i < count; ++i) {
        if (bytes[i] != '\n') continue;
        if (i > start) platform::console_write(stream, bytes + start, i - start);
        platform::console_write(stream, "\r\n", 2);
        start = i + 1;
    }
    if (start < count) platform::console_write(stream, bytes + start, count - start);
}

// The input thread's echo (under the big lock, which is taken before output_lock).
void echo_bytes(const char* bytes, size_t count) {
    sched::MutexLocker locked(state().output_lock);
    output(platform::ConsoleStream::Out, bytes, count, maps_newlines(state().termios, true));
}

// Echoes one input character: control characters as ^X with LFLAG_ECHOCTL (but tab and newline).
void echo_char(char c) {
    const KernelTermios& t = state().termios;
    if (!(t.lflag & ECHO)) {
        if (c == '\n' && (t.lflag & ECHONL) && canonical()) echo_bytes("\n", 1);
        return;
    }
    auto u = static_cast<unsigned char>(c);
    if ((t.lflag & LFLAG_ECHOCTL) && (u < 0x20 || u == 0x7f) && c != '\t' && c != '\n') {
        char shown[2] = {'^', u == 0x7f ? '?' : char(u + 0x40)};
        echo_bytes(shown, 2);
        return;
    }
    echo_bytes(&c, 1);
}

// Erases the last character of the line being edited (and, with ECHOE, on the screen).
bool erase_one() {
    State& s = state();
    if (s.edit_length == 0) return false;
    auto u = static_cast<unsigned char>(s.edit[--s.edit_length]);
    if ((s.termios.lflag & ECHO) && (s.termios.lflag & ECHOE)) {
        bool shown_as_control = (s.termios.lflag & LFLAG_ECHOCTL) && (u < 0x20 || u == 0x7f) && u != '\t';
        echo_bytes(shown_as_control ? "\b\b  \b\b" : "\b \b", shown_as_control ? 6 : 3);
    }
    return true;
}

// --- Signals and job control ------------------------------------------------------------------

void signal_group(int pgid, int signal) {
    if (pgid <= 0) return;
    sched::for_each_process([&](sched::Process& p) {
        if (p.pgid == pgid && p.state == sched::ProcessState::Alive) sys::send_signal_to_process(p, signal);
    });
}

bool group_exists_in_session(int pgid, int sid) {
    bool found = false;
    sched::for_each_process([&](sched::Process& p) {
        if (p.pgid == pgid && p.sid == sid && p.state == sched::ProcessState::Alive) found = true;
    });
    return found;
}

void flush_input() {
    State& s = state();
    s.head = s.used = 0;
    s.line_head = s.line_count = 0;
    s.edit_length = 0;
    sched::wake_all(s.room);
}

// --- The line discipline (input thread) -------------------------------------------------------

// True if `c` is the character c_cc[index] names (0 disables it, _POSIX_VDISABLE).
bool is(char c, int index) { return state().termios.cc[index] && c == char(state().termios.cc[index]); }

void receive(char c) {
    State& s = state();
    const KernelTermios& t = s.termios;
    if (t.iflag & ISTRIP) c = char(c & 0x7f);
    if (c == '\r') {
        if (t.iflag & IGNCR) return;
        if (t.iflag & ICRNL) c = '\n';
    } else if (c == '\n' && (t.iflag & INLCR)) {
        c = '\r';
    }
    if (t.lflag & ISIG) {
        int signal = 0;
        if (is(c, VINTR))
            signal = SIGINT;
        else if (is(c, VQUIT))
            signal = SIGQUIT;
        else if (is(c, VSUSP))
            signal = SIGTSTP;
        if (signal) {
            if (!(t.lflag & NOFLSH)) flush_input();
            echo_char(c);
            signal_group(s.foreground, signal);
            return;
        }
    }
    if ((t.iflag & IXON) && (is(c, VSTOP) || is(c, VSTART))) return;  // no flow control
    if (canonical()) {
        if (is(c, VERASE) || (c == '\b' && t.cc[VERASE] == 0x7f)) {
            erase_one();
            return;
        }
        if (is(c, VKILL)) {
            while (erase_one()) {}
            return;
        }
        if ((t.lflag & IEXTEN) && is(c, VWERASE)) {
            while (s.edit_length && s.edit[s.edit_length - 1] == ' ') erase_one();
            while (s.edit_length && s.edit[s.edit_length - 1] != ' ') erase_one();
            return;
        }
        bool eof = is(c, VEOF);
        bool end_of_line = c == '\n' || is(c, VEOL) || is(c, VEOL2);
        if (!eof) {
            if (s.edit_length == EDIT_CAPACITY && !end_of_line) return;  // full: dropped, as Linux does
            s.edit[s.edit_length++] = c;
            echo_char(c);
        }
        if (eof || end_of_line) {
            for (size_t i = 0; i < s.edit_length; ++i) ring_push(s.edit[i]);
            commit_line(s.edit_length);
            s.edit_length = 0;
            notify_readers();
        }
        return;
    }
    ring_push(c);
    echo_char(c);
    notify_readers();
}

// Room for one more input character whatever it turns out to be: a whole line being edited
// plus its newline, a line slot.
bool has_room() {
    State& s = state();
    if (!input_is_terminal()) return ring_free() > 0;
    return ring_free() > s.edit_length + 1 && s.line_count < MAX_LINES;
}

void take_resize() {
    State& s = state();
    platform::ConsoleSize size = platform::console_size();
    if (size.rows == s.size.ws_row && size.cols == s.size.ws_col) return;
    s.size.ws_row = size.rows;
    s.size.ws_col = size.cols;
    publish_settings();
    signal_group(s.foreground, SIGWINCH);
}

bool g_signals;  // signals_on_console()

// xos-run --forward-signals: its signals arrive framed on the console (platform/kvm/console.cpp)
// for the first process, so the input thread runs from the start and after the end of input.
bool signals_on_console() {
    const char* line = platform::command_line();
    if (!line) return false;
    for (const char* at = std::strstr(line, "xos.signals"); at; at = std::strstr(at + 1, "xos.signals"))
        if ((at == line || at[-1] == ' ') && (at[11] == '\0' || at[11] == ' ')) return true;
    return false;
}

void deliver_console_signal(int signal) {
    sched::Process* first = sched::first_process();
    if (signal < 1 || signal > 64 || !first || first->state != sched::ProcessState::Alive) return;
    sys::send_signal_to_process(*first, signal);
}

void on_input_interrupt() {
    state().input_signalled = true;
    sched::wake_all(state().device);
}

[[noreturn]] void input_thread(uintptr_t polled, uintptr_t) {
    State& s = state();
    for (;;) {
        if (!s.ended)
            (void)sched::wait_event(
                s.room, [] { return has_room(); }, sched::Deadline::never(), sched::Interruptible::No);
        char chunk[256];
        // Each character adds at most one byte to the ring or the line being edited, and commits
        // at most one line.
        size_t want = input_is_terminal() ? ring_free() - s.edit_length - 1 : ring_free();
        if (input_is_terminal() && want > MAX_LINES - s.line_count) want = MAX_LINES - s.line_count;
        if (want > sizeof chunk || s.ended) want = sizeof chunk;
        platform::ConsoleInput in;
        {
            platform::InterruptGuard guard;
            s.input_signalled = false;
            in = platform::console_read(chunk, want);
        }
        if (in.resized) take_resize();
        int signal = platform::console_take_signal();
        if (signal) deliver_console_signal(signal);
        if (s.ended) {  // only signals come after the end
            if (signal) continue;
        } else if (input_is_terminal()) {
            for (size_t i = 0; i < in.bytes; ++i) receive(chunk[i]);
        } else if (in.bytes) {
            for (size_t i = 0; i < in.bytes; ++i) ring_push(chunk[i]);
            notify_readers();
        }
        if (in.ended && !s.ended) {
            s.ended = true;
            sched::wake_all(s.readers);
            s.poll.notify(vfs::poll_bits::READABLE | vfs::poll_bits::HUP);
            if (!g_signals) sched::exit_current();
        }
        if (in.bytes || in.resized || signal) continue;
        auto deadline = polled ? sched::Deadline::after_ns(10'000'000) : sched::Deadline::never();
        (void)sched::wait_event(s.device, [] { return state().input_signalled; }, deadline, sched::Interruptible::No);
    }
}

// --- Reading ----------------------------------------------------------------------------------

// Copies up to `count` bytes from the front of the ring into the app's buffer (fault-safe).
ErrorOr<size_t> take(std::byte* to, size_t count) {
    State& s = state();
    if (count > s.used) count = s.used;
    size_t first = RING_CAPACITY - s.head < count ? RING_CAPACITY - s.head : count;
    size_t copied = first - user_copy(to, s.ring + s.head, first);
    if (copied == first && count > first) copied += (count - first) - user_copy(to + first, s.ring, count - first);
    if (copied == 0 && count) return error(EFAULT);
    s.head = (s.head + copied) % RING_CAPACITY;
    s.used -= copied;
    if (copied) sched::wake_all(s.room);
    return copied;
}

// An orphaned process group (POSIX): no member has a parent in another group of the same
// session, so nobody would continue it after a stop (Linux's will_become_orphaned_pgrp; Linux
// also skips a parent that is the global init, which xos's PID 1, a container's first program,
// is not).
bool group_orphaned(int pgid) {
    bool orphaned = true;
    sched::for_each_process([&](sched::Process& p) {
        if (p.pgid != pgid || p.state != sched::ProcessState::Alive) return;
        sched::Process* parent = p.parent;
        if (parent && parent->state == sched::ProcessState::Alive && parent->pgid != pgid && parent->sid == p.sid)
            orphaned = false;
    });
    return orphaned;
}

// Linux's __tty_check_change for a process of the terminal's session outside its foreground
// group: `signal` (SIGTTIN for reads; SIGTTOU for writes with TOSTOP, termios changes, ...) to
// its group, after which the call restarts (EINTR here, restarted when no handler ran); EIO
// for an orphaned group; when the caller ignores or blocks the signal, EIO for SIGTTIN and
// nothing for SIGTTOU (the write goes through).
ErrorOr<void> check_foreground(int signal) {
    State& s = state();
    sched::Process& self = sched::current_process();
    if (!s.session || self.sid != s.session || !s.foreground || self.pgid == s.foreground) return {};
    if (self.actions[signal].handler == uintptr_t(SIG_IGN) || (sched::current().signal_mask & (1ull << (signal - 1)))) {
        if (signal == SIGTTIN) return error(EIO);
        return {};
    }
    if (group_orphaned(self.pgid)) return error(EIO);
    signal_group(self.pgid, signal);
    return error(EINTR);
}

ErrorOr<void> check_foreground_read() { return check_foreground(SIGTTIN); }

ErrorOr<size_t> read_canonical(std::span<std::byte> buffer, bool nonblocking) {
    State& s = state();
    if (s.line_count == 0) {
        if (s.ended) return 0;
        if (nonblocking) return error(EAGAIN);
        TRY(sched::wait_event(s.readers, [&] { return s.line_count > 0 || s.ended || !canonical(); }));
        if (!canonical()) return error(EINTR);  // the mode changed meanwhile: the caller retries
        if (s.line_count == 0) return 0;
    }
    uint16_t& line = s.lines[s.line_head];
    if (line == 0) {  // ^D at the start of a line: end of file for this read
        s.line_head = (s.line_head + 1) % MAX_LINES;
        --s.line_count;
        sched::wake_all(s.room);
        return 0;
    }
    size_t count = TRY(take(buffer.data(), buffer.size() < line ? buffer.size() : line));
    line = uint16_t(line - count);
    if (line == 0) {
        s.line_head = (s.line_head + 1) % MAX_LINES;
        --s.line_count;
    }
    return count;
}

// Non-canonical: VMIN bytes (at most the buffer), VTIME tenths of a second (Linux's rules:
// VMIN 0 and VTIME 0 return at once; VTIME alone is a timeout for the first byte; with both,
// an inter-byte timer after the first byte).
ErrorOr<size_t> read_raw(std::span<std::byte> buffer, bool nonblocking, bool as_terminal) {
    State& s = state();
    size_t minimum = 1;
    uint64_t interval_ns = 0;
    if (as_terminal && input_is_terminal()) {
        minimum = s.termios.cc[VMIN];
        interval_ns = uint64_t(s.termios.cc[VTIME]) * 100'000'000;
        if (minimum > buffer.size()) minimum = buffer.size();
    }
    if (s.used == 0) {
        if (s.ended) return 0;
        if (nonblocking) return error(EAGAIN);
        if (minimum == 0 && interval_ns == 0) return 0;
        auto deadline = minimum == 0 ? sched::Deadline::after_ns(interval_ns) : sched::Deadline::never();
        auto waited = sched::wait_event(s.readers, [&] { return s.used > 0 || s.ended; }, deadline);
        if (!waited && waited.error().code != ETIMEDOUT) return std::unexpected(waited.error());
    }
    while (s.used < minimum && !s.ended && !nonblocking) {
        size_t before = s.used;
        auto deadline = interval_ns ? sched::Deadline::after_ns(interval_ns) : sched::Deadline::never();
        auto waited = sched::wait_event(s.readers, [&] { return s.used > before || s.ended; }, deadline);
        if (!waited) {
            if (waited.error().code == ETIMEDOUT) break;
            if (s.used) break;  // a signal: what arrived so far
            return std::unexpected(waited.error());
        }
    }
    return take(buffer.data(), buffer.size());
}

// The default termios of a Linux console (stty sane).
KernelTermios default_termios() {
    KernelTermios t{};
    t.iflag = ICRNL | IXON | IFLAG_IUTF8;
    t.oflag = OPOST | ONLCR;
    t.cflag = B38400 | CS8 | CREAD | HUPCL;
    t.lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | LFLAG_ECHOCTL | LFLAG_ECHOKE | IEXTEN;
    t.cc[VINTR] = 'C' & CONTROL_MASK;
    t.cc[VQUIT] = 0x1c;
    t.cc[VERASE] = 0x7f;
    t.cc[VKILL] = 'U' & CONTROL_MASK;
    t.cc[VEOF] = 'D' & CONTROL_MASK;
    t.cc[VTIME] = 0;
    t.cc[VMIN] = 1;
    t.cc[VSTART] = 'Q' & CONTROL_MASK;
    t.cc[VSTOP] = 'S' & CONTROL_MASK;
    t.cc[VSUSP] = 'Z' & CONTROL_MASK;
    t.cc[VREPRINT] = 'R' & CONTROL_MASK;
    t.cc[VDISCARD] = 'O' & CONTROL_MASK;
    t.cc[VWERASE] = 'W' & CONTROL_MASK;
    t.cc[VLNEXT] = 'V' & CONTROL_MASK;
    return t;
}

// A new termios from TCSETS*. Leaving canonical mode makes the line being edited readable;
// entering it makes what is readable one line.
void set_termios(const KernelTermios& next) {
    State& s = state();
    bool was_canonical = canonical();
    s.termios = next;
    publish_settings();
    if (was_canonical && !canonical()) {
        for (size_t i = 0; i < s.edit_length; ++i) ring_push(s.edit[i]);
        s.edit_length = 0;
        s.line_head = s.line_count = 0;
    } else if (!was_canonical && canonical() && s.used) {
        s.line_head = s.line_count = 0;
        commit_line(s.used);
    }
    notify_readers();
    sched::wake_all(s.room);
}

bool g_thread_started;
bool g_polled;  // the platform cannot interrupt: the thread polls

// Starts the input thread, once (thread context).
void ensure_input_thread() {
    if (g_thread_started) return;
    g_thread_started = true;
    constexpr size_t STACK_PAGES = 4;
    void* stack = mm::alloc_pages(STACK_PAGES);
    if (!stack ||
        !sched::create_kernel_thread(&input_thread, g_polled ? 1 : 0, 0,
                                     reinterpret_cast<uintptr_t>(stack) + STACK_PAGES * 4096))
        panic("no memory for the console input thread");
}

}  // namespace

void init() {
    State& s = state();
    s.kinds = platform::console_stdio();
    s.termios = default_termios();
    platform::ConsoleSize size = platform::console_size();
    s.size = {.ws_row = size.rows, .ws_col = size.cols, .ws_xpixel = 0, .ws_ypixel = 0};
    if (exists()) s.session = s.foreground = 1;  // PID 1's session and group
    publish_settings();
}

void start_input() {
    bool interrupts = platform::console_set_input_handler(&on_input_interrupt);
    if (!interrupts) {
        platform::InterruptGuard guard;
        state().device.set_wake_source(sched::WakeSource::Thread);
        g_polled = true;
    }
    // A terminal's keys (^C) count even when nobody reads; other input waits for its reader, so
    // that a program that never reads stdin has no thread more (thread ids stay Linux's).
    g_signals = signals_on_console();
    if (input_is_terminal() || g_signals) ensure_input_thread();
}

platform::StdioKind stdio_kind(int fd) {
    const platform::StdioKinds& k = state().kinds;
    return fd == 0 ? k.in : fd == 1 ? k.out : k.err;
}

bool exists() {
    const platform::StdioKinds& k = state().kinds;
    return k.in == platform::StdioKind::Terminal || k.out == platform::StdioKind::Terminal ||
        k.err == platform::StdioKind::Terminal;
}

bool controls_session(int sid) { return state().session && state().session == sid; }

ErrorOr<size_t> read(std::span<std::byte> buffer, bool nonblocking, bool as_terminal) {
    ensure_input_thread();
    if (buffer.empty()) return 0;
    if (!as_terminal || !input_is_terminal()) return read_raw(buffer, nonblocking, false);
    TRY(check_foreground_read());
    for (;;) {
        if (!canonical()) return read_raw(buffer, nonblocking, true);
        auto result = read_canonical(buffer, nonblocking);
        if (result || result.error().code != EINTR || canonical() || sched::signal_interrupts_current()) return result;
    }
}

// Without the big lock (console files' write_without_big_lock()): the settings from their
// published copy, the job-control check under the big lock (process tables), then the bytes
// through a libos-side buffer (the fault-safe copy: EFAULT, or what was written before the
// fault) under output_lock, unless the caller holds it already (writev: write_lock()).
ErrorOr<size_t> write(platform::ConsoleStream stream, std::span<const std::byte> data,
                      bool as_terminal) NO_THREAD_SAFETY_ANALYSIS /* output_lock taken unless held */ {
    State& s = state();
    // Standard output and error on one terminal: one stream, so that they stay in order (a VM's
    // two UARTs reach xos-run through two pipes, which would not keep it).
    const platform::StdioKinds& k = s.kinds;
    bool onlcr = false;
    if (as_terminal) {
        Settings now = settings();
        if (now.termios.lflag & TOSTOP) {
            // Held already unless TOSTOP was set after the syscall looked (write_without_big_lock);
            // then taken with output_lock held in a writev, as a fault in a copy would.
            sched::BigLockScope big_lock;
            TRY(check_foreground(SIGTTOU));
        }
        onlcr = maps_newlines(now.termios, true);
    }
    if (as_terminal && k.out == platform::StdioKind::Terminal && k.err == platform::StdioKind::Terminal)
        stream = platform::ConsoleStream::Out;
    bool take = !s.output_lock.is_held();
    if (take) s.output_lock.lock();
    size_t done = 0;
    while (done < data.size()) {
        char chunk[512];
        size_t want = data.size() - done < sizeof chunk ? data.size() - done : sizeof chunk;
        size_t copied = want - user_copy(chunk, data.data() + done, want);
        if (copied) output(stream, chunk, copied, onlcr);
        done += copied;
        if (copied < want) break;  // a fault
    }
    if (take) s.output_lock.unlock();
    if (done == 0 && !data.empty()) return error(EFAULT);
    return done;
}

sched::Mutex& write_lock() { return state().output_lock; }

bool stops_background_writes() { return settings().termios.lflag & TOSTOP; }

bool ioctl_without_big_lock(unsigned long request) { return request == TCGETS || request == TIOCGWINSZ; }

size_t bytes_readable() {
    ensure_input_thread();
    State& s = state();
    if (input_is_terminal() && canonical()) return s.line_count ? s.lines[s.line_head] : 0;
    return s.used;
}

vfs::PollMask poll_mask(bool as_terminal) {
    ensure_input_thread();
    State& s = state();
    vfs::PollMask mask = vfs::poll_bits::WRITABLE;
    bool readable = as_terminal && input_is_terminal() && canonical() ? s.line_count > 0 : s.used > 0;
    if (readable) mask |= vfs::poll_bits::READABLE;
    if (s.kinds.in == platform::StdioKind::File) mask |= vfs::poll_bits::READABLE;  // as a regular file
    if (s.ended) {
        if (s.kinds.in == platform::StdioKind::Pipe)
            mask |= vfs::poll_bits::HUP;  // as a pipe whose writers have gone
        else
            mask |= vfs::poll_bits::READABLE;  // a read returns end of file at once
    }
    return mask;
}

vfs::PollWaiters& poll_waiters() {
    ensure_input_thread();
    return state().poll;
}

ErrorOr<long> ioctl(unsigned long request, uintptr_t argument, bool as_terminal) {
    State& s = state();
    if (!as_terminal) return error(ENOTTY);
    sched::Process& self = sched::current_process();
    switch (request) {
    // TCGETS and TIOCGWINSZ without the big lock (isatty, musl's stdio): the published settings.
    case TCGETS: TRY(write_user(UserPtr<KernelTermios>(argument), settings().termios)); return 0;
    case TCSETSF:
    case TCSETS:
    case TCSETSW: {
        KernelTermios next = TRY(read_user(UserPtr<const KernelTermios>(argument)));
        TRY(check_foreground(SIGTTOU));  // tcsetattr from the background (Linux: always, not only with TOSTOP)
        if (request == TCSETSF) flush_input();
        set_termios(next);
        return 0;
    }
    case TIOCGWINSZ: TRY(write_user(UserPtr<winsize>(argument), settings().size)); return 0;
    case TIOCSWINSZ: {
        winsize size = TRY(read_user(UserPtr<const winsize>(argument)));
        bool changed = size.ws_row != s.size.ws_row || size.ws_col != s.size.ws_col;
        s.size = size;
        publish_settings();
        if (changed) signal_group(s.foreground, SIGWINCH);
        return 0;
    }
    case TIOCGPGRP:
        if (!controls_session(self.sid)) return error(ENOTTY);
        TRY(write_user(UserPtr<pid_t>(argument), pid_t(s.foreground)));
        return 0;
    case TIOCSPGRP: {
        if (!controls_session(self.sid)) return error(ENOTTY);
        // tcsetpgrp from the background: SIGTTOU first (an orphaned group's EIO is ENOTTY here).
        if (auto checked = check_foreground(SIGTTOU); !checked)
            return error(checked.error().code == EIO ? ENOTTY : checked.error().code);
        pid_t group = TRY(read_user(UserPtr<const pid_t>(argument)));
        if (group < 0) return error(EINVAL);
        if (!group_exists_in_session(group, self.sid)) return error(EPERM);
        s.foreground = group;
        return 0;
    }
    case TIOCGSID:
        if (!s.session) return error(ENOTTY);
        TRY(write_user(UserPtr<pid_t>(argument), pid_t(s.session)));
        return 0;
    case TIOCSCTTY:
        if (self.sid != self.pid) return error(EPERM);  // only a session leader
        if (s.session == self.sid) return 0;
        if (s.session && argument != 1) return error(EPERM);  // another session's (root may steal it: arg 1)
        s.session = self.sid;
        s.foreground = self.pgid;
        return 0;
    case TIOCNOTTY:
        if (!controls_session(self.sid)) return error(ENOTTY);
        if (self.sid == self.pid) {  // the session leader gives it up: the foreground gets SIGHUP
            signal_group(s.foreground, SIGHUP);
            signal_group(s.foreground, SIGCONT);
            s.session = s.foreground = 0;
        }
        return 0;
    case TCFLSH:
        TRY(check_foreground(SIGTTOU));
        if (argument == TCIFLUSH || argument == TCIOFLUSH) flush_input();
        return 0;
    case TCXONC:
    case TCSBRK:
    case TCSBRKP:
    case TIOCEXCL:
    case TIOCNXCL: return 0;
    case TIOCOUTQ: TRY(write_user(UserPtr<int>(argument), 0)); return 0;
    case TIOCGETD: TRY(write_user(UserPtr<int>(argument), 0)); return 0;  // N_TTY
    default: return error(ENOTTY);
    }
}

}  // namespace xos::fs::terminal
