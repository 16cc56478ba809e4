// The terminal probe of tests/tty (run_tty_test.py), run natively and on xos:
//   ttyprobe stdio       what fds 0-2 are (isatty, fstat type), poll on fd 0, then stdin read
//                        to end of file: byte count, a checksum, the line count, and the
//                        poll bits at end of file; exits 0
//   ttyprobe winsize     TIOCGWINSZ of fd 0
//   ttyprobe raw         raw mode on fd 0 (VMIN 1, VTIME 0): reads single bytes and prints each
//                        in hex until 'q', then restores the mode
//   ttyprobe job         job-control facts: tcgetpgrp(0) == getpgrp(), getsid(0) == getpid() for PID 1
#include <errno.h>
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

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "stdio";
    if (!strcmp(mode, "stdio")) return stdio();
    if (!strcmp(mode, "winsize")) return winsize_probe();
    if (!strcmp(mode, "raw")) return raw();
    if (!strcmp(mode, "job")) return job();
    fprintf(stderr, "usage: ttyprobe stdio|winsize|raw|job\n");
    return 2;
}
