#include "terminal.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

namespace {

// The terminal's settings before raw mode, for the restorers (also a signal handler's).
struct termios g_saved;
volatile sig_atomic_t g_saved_valid = 0;

void restore_terminal() {
    if (g_saved_valid) ::tcsetattr(STDIN_FILENO, TCSADRAIN, &g_saved);
}

// A crash of xos-run itself: the terminal first, then the default action.
void on_fatal_signal(int signo) {
    restore_terminal();
    ::signal(signo, SIG_DFL);
    ::raise(signo);
}

char kind_letter(int fd) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return 'o';
    if (::isatty(fd)) return fd == STDIN_FILENO && !stdin_is_foreground_terminal() ? 'o' : 't';
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) return 'p';
    if (S_ISREG(st.st_mode)) return 'f';
    return 'o';
}

}  // namespace

bool stdin_is_foreground_terminal() {
    // With neither stdout nor stderr on a terminal nobody watches (a test runner started from a
    // shell): the terminal is left alone, or parallel runs would fight over it.
    if (!::isatty(STDIN_FILENO) || !(::isatty(STDOUT_FILENO) || ::isatty(STDERR_FILENO))) return false;
    pid_t foreground = ::tcgetpgrp(STDIN_FILENO);
    return foreground >= 0 && foreground == ::getpgrp();
}

std::string stdio_kinds() { return {kind_letter(0), kind_letter(1), kind_letter(2)}; }

bool terminal_size(uint16_t& rows, uint16_t& cols) {
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
        struct winsize size{};
        if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_row && size.ws_col) {
            rows = size.ws_row;
            cols = size.ws_col;
            return true;
        }
    }
    return false;
}

RawTerminal::RawTerminal() {
    if (!stdin_is_foreground_terminal()) return;
    struct termios saved;
    if (::tcgetattr(STDIN_FILENO, &saved) != 0) return;
    g_saved = saved;
    g_saved_valid = 1;
    for (int signo : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(signo, on_fatal_signal);
    std::atexit(restore_terminal);
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    if (::tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) != 0) return;
    m_active = true;
}

RawTerminal::~RawTerminal() {
    if (!m_active) return;
    restore_terminal();
    g_saved_valid = 0;
}

bool EscapeDetector::feed(const char* data, std::size_t size, std::string& out) {
    for (std::size_t i = 0; i < size; ++i) {
        char c = data[i];
        if (m_pending) {
            m_pending = false;
            if (c == '.') return true;
            if (c != kEscape) out += kEscape;
            out += c;
        } else if (c == kEscape) {
            m_pending = true;
        } else {
            out += c;
        }
    }
    return false;
}

void frame_input(const char* data, std::size_t size, std::string& out) {
    for (std::size_t i = 0; i < size; ++i) {
        out += data[i];
        if (static_cast<unsigned char>(data[i]) == 0xff) out += '\xff';
    }
}

std::string frame_start() { return std::string("\xff") + 'S' + '\xff' + 'S'; }

std::string frame_end_of_input() { return std::string("\xff") + 'E'; }

std::string frame_signal(int signo) { return std::string("\xff") + 'K' + char(signo); }

std::string frame_window_size(uint16_t rows, uint16_t cols) {
    std::string frame("\xff");
    frame += 'W';
    for (uint16_t v : {rows, cols}) {
        frame += static_cast<char>(v >> 8);
        frame += static_cast<char>(v & 0xff);
    }
    return frame;
}
