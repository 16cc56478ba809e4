// xos-run's standard input and terminal (docs in README.md, "Input and the terminal"):
//  - what fds 0-2 are, for the image (xos.stdio= on the VM; a hosted image looks itself);
//  - the host terminal in raw mode while an image runs with it as stdin, restored on every
//    exit path xos-run has (return, exception, SIGINT/SIGTERM/SIGHUP, a crash of xos-run);
//  - the escape that ends a run from the terminal: Ctrl-] then '.' (^C goes to the app);
//  - the framing of input for the VM's COM1 (platform/kvm/console.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

// "tpf": for each of fds 0, 1, 2 a letter: t terminal, p pipe (or socket), f regular file,
// o anything else. Stdin counts as a terminal only if xos-run may take it (below); otherwise
// the image sees end of file there.
std::string stdio_kinds();
// True if fd 0 is a terminal that xos-run may read and make raw: xos-run is in the terminal's
// foreground group (not a background job) and stdout or stderr is a terminal too (someone
// watches: not a test runner started from a shell, whose tests would fight over it).
bool stdin_is_foreground_terminal();

// The size of the terminal on fd 0 (else 1, 2): false if none.
bool terminal_size(uint16_t& rows, uint16_t& cols);

// Raw mode on fd 0 for the object's life (nothing if fd 0 is not a foreground terminal).
class RawTerminal {
public:
    RawTerminal();
    ~RawTerminal();
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;
    bool active() const { return m_active; }

private:
    bool m_active = false;
};

// Watches terminal input for the escape, Ctrl-] '.', and takes it out: Ctrl-] Ctrl-] gives one
// Ctrl-]; Ctrl-] and any other byte pass both.
class EscapeDetector {
public:
    static constexpr char kEscape = 0x1d;
    // Appends to `out` what passes; true once the escape was typed (the rest is dropped).
    bool feed(const char* data, std::size_t size, std::string& out);

private:
    bool m_pending = false;
};

// The VM's input framing (platform/kvm/console.cpp): 0xff 0xff a data byte 0xff, 0xff 'E' the
// end of input, 0xff 'W' and rows, columns as big-endian 16-bit numbers: the terminal's new
// size, 0xff 'S' synchronisation.
// The input starts with two 0xff 'S' (synchronisation: the guest may lose the first byte).
std::string frame_start();
void frame_input(const char* data, std::size_t size, std::string& out);
std::string frame_end_of_input();
// 0xff 'K' and the signal's number: deliver it to the first process (--forward-signals).
std::string frame_signal(int signo);
std::string frame_window_size(uint16_t rows, uint16_t cols);
