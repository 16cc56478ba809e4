// The terminal probe of tests/tty (run_tty_test.py), run natively and on xos:
//   ttyprobe stdio       what fds 0-2 are (isatty, fstat type), poll on fd 0, then stdin read
//                        to end of file: byte count, a checksum, the line count, and the
//                        poll bits at end of file; exits 0
//   ttyprobe winsize     TIOCGWINSZ of fd 0
//   ttyprobe raw         raw mode on fd 0 (VMIN 1, VTIME 0): reads single bytes and prints each
//                        in hex until 'q', then restores the mode
//   ttyprobe job         job-control facts: tcgetpgrp(0) == getpgrp(), getsid(0) == getpid() for PID 1
//   ttyprobe tostop      job control on output (the session leader, on its terminal): with TOSTOP
//                        a background child's write stops it (SIGTTOU) and goes through once it
//                        is continued in the foreground; ignored or blocked SIGTTOU lets it
//                        through; without TOSTOP it goes through; tcsetattr from the background
//                        stops; the leader's own (orphaned) group in the background gets EIO for
//                        write, tcsetattr and read. Results are printed in the foreground, at the end.
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static const char* type_of(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return "closed";
    if (S_ISFIFO(st.st_mode)) return "fifo";
    if (S_ISREG(st.st_mode)) return "file";
    if (S_ISCHR(st.st_mode)) return "chr";
    if (S_ISSOCK(st.st_mode)) return "socket";
    return "other";
}

static int stdio(void) {
    for (int fd = 0; fd < 3; ++fd) {
        struct termios t;
        int tty = tcgetattr(fd, &t) == 0;
        int err = tty ? 0 : errno;
        // errno as a number: glibc's and musl's strerror texts differ.
        char result[32] = "ok";
        if (!tty) snprintf(result, sizeof result, "errno %d", err);
        printf("fd %d: isatty %d tcgetattr %s type %s\n", fd, isatty(fd), result, isatty(fd) ? "tty" : type_of(fd));
    }
    struct pollfd p = {0, POLLIN, 0};
    int ready = poll(&p, 1, 30000);
    printf("poll before reading: %d%s\n", ready, ready == 1 && (p.revents & POLLIN) ? " POLLIN" : "");
    uint64_t bytes = 0, lines = 0;
    uint32_t sum = 0;
    char buf[3000];  // odd size: reads that do not line up with the writer's
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            printf("read: %s\n", strerror(errno));
            return 1;
        }
        if (n == 0) break;
        for (ssize_t i = 0; i < n; ++i) {
            sum = sum * 31 + (unsigned char)buf[i];
            lines += buf[i] == '\n';
        }
        bytes += (uint64_t)n;
    }
    printf("read %llu bytes, %llu lines, checksum %08x\n", (unsigned long long)bytes, (unsigned long long)lines, sum);
    ssize_t again = read(0, buf, sizeof buf);
    printf("read after end of file: %zd\n", again);
    p.revents = 0;
    ready = poll(&p, 1, 0);
    // A pipe at its end is POLLHUP (Linux: not POLLIN); a file is always readable.
    printf("poll at end of file: %d%s%s\n", ready, p.revents & POLLIN ? " POLLIN" : "",
           p.revents & POLLHUP ? " POLLHUP" : "");
    return 0;
}

static int winsize_probe(void) {
    struct winsize w;
    if (ioctl(0, TIOCGWINSZ, &w) != 0) {
        printf("TIOCGWINSZ: %s\n", strerror(errno));
        return 1;
    }
    printf("winsize %d rows %d cols\n", w.ws_row, w.ws_col);
    return 0;
}

static int raw(void) {
    struct termios saved, t;
    if (tcgetattr(0, &saved) != 0) {
        perror("tcgetattr");
        return 1;
    }
    t = saved;
    cfmakeraw(&t);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSANOW, &t) != 0) {
        perror("tcsetattr");
        return 1;
    }
    printf("raw mode: type\r\n");
    fflush(stdout);
    for (;;) {
        unsigned char c;
        ssize_t n = read(0, &c, 1);
        if (n != 1) {
            printf("read returned %zd\r\n", n);
            break;
        }
        printf("byte %02x\r\n", c);
        fflush(stdout);
        if (c == 'q') break;
    }
    tcsetattr(0, TCSANOW, &saved);
    printf("raw mode done\n");
    return 0;
}

static int job(void) {
    printf("foreground %s, session leader %s\n", tcgetpgrp(0) == getpgrp() ? "yes" : "no",
           getsid(0) == getpid() ? "yes" : "no");
    return 0;
}

static char g_log[4096];
static size_t g_used;
#define NOTE(...) (g_used += snprintf(g_log + g_used, sizeof g_log - g_used, __VA_ARGS__))

static const char* error_name(long r) {
    if (r >= 0) return "ok";
    switch (errno) {
    case EIO: return "EIO";
    case EINTR: return "EINTR";
    case ENOTTY: return "ENOTTY";
    case EPERM: return "EPERM";
    default: return "another error";
    }
}

static void note_status(const char* what, int status) {
    if (WIFEXITED(status))
        NOTE("%s: exited %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        NOTE("%s: killed by signal %d\n", what, WTERMSIG(status));
    else if (WIFSTOPPED(status))
        NOTE("%s: stopped by signal %d%s\n", what, WSTOPSIG(status), WSTOPSIG(status) == SIGTTOU ? " (SIGTTOU)" : "");
    else
        NOTE("%s: status %#x\n", what, status);
}

// A child in a background group of its own that runs `body`; returns its pid.
static pid_t background_child(void (*body)(void)) {
    pid_t child = fork();
    if (child == 0) {
        setpgid(0, 0);
        body();
        _exit(0);
    }
    setpgid(child, child);
    return child;
}

static void write_line(const char* text) {
    ssize_t n = write(1, text, strlen(text));
    if (n < 0) _exit(10 + errno);
}
static void plain_write(void) { write_line("tostop: the background child's write\n"); }
static void ignoring_write(void) {
    signal(SIGTTOU, SIG_IGN);
    write_line("tostop: the write with SIGTTOU ignored\n");
}
static void blocking_write(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTTOU);
    sigprocmask(SIG_BLOCK, &set, NULL);
    write_line("tostop: the write with SIGTTOU blocked\n");
}
static void untostopped_write(void) { write_line("tostop: the write without TOSTOP\n"); }
static void background_tcsetattr(void) {
    struct termios t;
    tcgetattr(0, &t);
    if (tcsetattr(0, TCSANOW, &t) != 0) _exit(10 + errno);
}

// The terminal to `group` (SIGTTOU ignored meanwhile, as shells do).
static void give_terminal(pid_t group) {
    void (*old)(int) = signal(SIGTTOU, SIG_IGN);
    tcsetpgrp(0, group);
    signal(SIGTTOU, old);
}

static int tostop(void) {
    struct termios saved, t;
    if (tcgetattr(0, &saved) != 0) {
        perror("tcgetattr");
        return 1;
    }
    t = saved;
    t.c_lflag |= TOSTOP;
    tcsetattr(0, TCSANOW, &t);
    int status;

    pid_t child = background_child(plain_write);
    waitpid(child, &status, WUNTRACED);
    note_status("a background write with TOSTOP", status);
    give_terminal(child);
    kill(child, SIGCONT);
    waitpid(child, &status, 0);
    note_status("continued in the foreground", status);
    give_terminal(getpgrp());

    child = background_child(ignoring_write);
    waitpid(child, &status, WUNTRACED);
    note_status("SIGTTOU ignored", status);
    child = background_child(blocking_write);
    waitpid(child, &status, WUNTRACED);
    note_status("SIGTTOU blocked", status);

    child = background_child(background_tcsetattr);
    waitpid(child, &status, WUNTRACED);
    note_status("tcsetattr from the background", status);
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    note_status("then killed", status);

    tcsetattr(0, TCSANOW, &saved);  // TOSTOP off
    child = background_child(untostopped_write);
    waitpid(child, &status, WUNTRACED);
    note_status("a background write without TOSTOP", status);
    tcsetattr(0, TCSANOW, &t);

    // Our own group in the background: it is orphaned (our parent is in another session).
    pid_t holder = fork();
    if (holder == 0) {
        setpgid(0, 0);
        pause();
        _exit(0);
    }
    setpgid(holder, holder);
    give_terminal(holder);
    NOTE("orphaned background write: %s\n", error_name(write(1, "x\n", 2)));
    NOTE("orphaned background tcsetattr: %s\n", error_name(tcsetattr(0, TCSANOW, &t)));
    char c;
    NOTE("orphaned background read: %s\n", error_name(read(0, &c, 1)));
    pid_t group = holder;
    NOTE("orphaned background tcsetpgrp: %s\n", error_name(ioctl(0, TIOCSPGRP, &group)));
    give_terminal(getpgrp());
    kill(holder, SIGKILL);
    waitpid(holder, &status, 0);

    tcsetattr(0, TCSANOW, &saved);
    printf("%s", g_log);
    printf("tostop done\n");
    return 0;
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "stdio";
    if (!strcmp(mode, "stdio")) return stdio();
    if (!strcmp(mode, "winsize")) return winsize_probe();
    if (!strcmp(mode, "raw")) return raw();
    if (!strcmp(mode, "job")) return job();
    if (!strcmp(mode, "tostop")) return tostop();
    fprintf(stderr, "usage: ttyprobe stdio|winsize|raw|job|tostop\n");
    return 2;
}
