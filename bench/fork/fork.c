// Process creation costs, timed inside the program (run natively and on xos by run.py):
//   fork N     fork + child _exit + waitpid, N times
//   vfork N    vfork + execve of this static binary ("exit") + waitpid, N times
//   dash N     dash running a loop of N iterations, each running this binary ("exit")
// Prints one JSON line: {"figure":..., "unit":"us/iteration", "value":...}.
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char** argv) {
    if (argc < 2 || strcmp(argv[1], "exit") == 0) return 0;
    long n = argc > 2 ? atol(argv[2]) : 100;
    const char* self = "/bin/fork";
    double start = now_us();
    if (strcmp(argv[1], "fork") == 0) {
        for (long i = 0; i < n; ++i) {
            pid_t pid = fork();
            if (pid == 0) _exit(0);
            if (pid < 0 || waitpid(pid, NULL, 0) != pid) return 1;
        }
    } else if (strcmp(argv[1], "vfork") == 0) {
        for (long i = 0; i < n; ++i) {
            pid_t pid = vfork();
            if (pid == 0) {
                char* args[] = {"fork", "exit", NULL};
                execve(self, args, environ);
                _exit(127);
            }
            int status;
            if (pid < 0 || waitpid(pid, &status, 0) != pid || status != 0) return 1;
        }
    } else if (strcmp(argv[1], "dash") == 0) {
        char script[256];
        snprintf(script, sizeof script, "i=0; while [ $i -lt %ld ]; do /bin/fork exit; i=$((i+1)); done", n);
        char* args[] = {"dash", "-c", script, NULL};
        pid_t pid;
        int status;
        if (posix_spawn(&pid, "/usr/bin/dash", NULL, NULL, args, environ) != 0) return 1;
        if (waitpid(pid, &status, 0) != pid || status != 0) return 1;
    } else {
        return 2;
    }
    double elapsed = now_us() - start;
    printf("{\"figure\":\"%s\",\"unit\":\"us/iteration\",\"value\":%.1f}\n", argv[1], elapsed / n);
    return 0;
}
