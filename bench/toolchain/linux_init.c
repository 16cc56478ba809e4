// bench/toolchain/linux_init.c: /init of the Linux microVM for bench/toolchain/run.py and
// servers.py. Runs the command in /argv (one argument a line, an empty line an empty argument)
// with /tmp on the initramfs (RAM), times it with CLOCK_MONOTONIC from fork to wait, prints that
// as one JSON line and the exit status, and powers the machine off (PID 1 must not exit).
// servers.py links bench/programs/linux_vm_init.c in too: its constructor configures the network
// (xos_bench_net= on the kernel command line) before main runs the server.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(void) {
    static char text[4096];
    char* argv[64];
    int argc = 0;
    int fd = open("/argv", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (n <= 0) {
        puts("linux_init: no /argv");
        reboot(RB_POWER_OFF);
    }
    text[n] = 0;
    for (char* line = text; *line && argc < 63;) {  // every line ends with '\n'
        char* end = strchr(line, '\n');
        if (!end) break;
        *end = 0;
        argv[argc++] = line;
        line = end + 1;
    }
    argv[argc] = NULL;
    mkdir("/tmp", 01777);
    mkdir("/dev", 0755);
    mknod("/dev/null", S_IFCHR | 0666, makedev(1, 3));
    setenv("HOME", "/", 1);
    double start = now_ms();
    pid_t child = fork();
    if (child == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
    double elapsed = now_ms() - start;
    printf("{\"figure\": \"run\", \"unit\": \"ms\", \"value\": %.3f, \"status\": %d}\n", elapsed,
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
