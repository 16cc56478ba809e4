// fork in a program linked into an xos image (docs/processes.md, "Linked images"), and the same
// program natively (a static Linux binary): both must print the same lines and exit 0.
//
//   linkfork HELPER          the checks below; HELPER is this program as a static Linux binary
//                            (on xos: in the image's rootfs), exec'd by one of them
//   linkfork helper N ARG    (exec'd) prints ARG and exits with N
//   linkfork leak N          on xos: N forks leave MemFree where it was (exit status)
//   linkfork bench N         N times fork + _exit + wait; prints the mean time per round
//
// Covered: copy on write of the program's data, bss, heap, stack and thread-local variables (the
// parts of a linked image that used to be shared by every process), wait statuses (exit, exit
// from a signal), pipes, signals both ways, atexit handlers and stdio buffers in the child,
// fork from a child (grandchildren) and from a second thread, execve of a program in the root.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int g_failures;
static int g_data = 1234;  // .data
static char g_bss[3 * 4096 + 17];  // .bss, several pages
static __thread int g_tls = 77;  // the main thread's TLS
static volatile sig_atomic_t g_signalled;

#define CHECK(condition, ...)                                                                                          \
    do {                                                                                                               \
        if (!(condition)) {                                                                                            \
            ++g_failures;                                                                                              \
            printf("FAIL line %d: %s: ", __LINE__, #condition);                                                        \
            printf(__VA_ARGS__);                                                                                       \
            printf("\n");                                                                                              \
        }                                                                                                              \
    } while (0)

// Forks; the child runs `body` and exits with its result. Returns the wait status.
static int run_child(int (*body)(void*), void* argument) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("FAIL fork: %s\n", strerror(errno));
        exit(2);
    }
    if (pid == 0) _exit(body(argument));
    int status = -1;
    pid_t waited = waitpid(pid, &status, 0);
    CHECK(waited == pid, "waitpid returned %d (%s)", (int)waited, strerror(errno));
    return status;
}

static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + status; }

// --- copy on write -------------------------------------------------------------------------------

struct Memory {
    char* heap;
    char* stack;
};

static int child_writes(void* raw) {
    struct Memory* m = raw;
    int wrong = 0;
    // What the parent had at the fork...
    wrong |= g_data != 1234;
    wrong |= g_bss[0] != 'p' || g_bss[sizeof g_bss - 1] != 'q';
    wrong |= strcmp(m->heap, "parent heap") != 0;
    wrong |= strcmp(m->stack, "parent stack") != 0;
    wrong |= g_tls != 77;
    // ...then changed here only.
    g_data = 1;
    memset(g_bss, 'c', sizeof g_bss);
    strcpy(m->heap, "child heap");
    strcpy(m->stack, "child stack");
    g_tls = 5;
    wrong |= g_data != 1 || g_bss[4096] != 'c' || g_tls != 5;
    return wrong ? 3 : 0;
}

static void check_copy_on_write(void) {
    char stack[64];
    struct Memory m = {malloc(64), stack};
    strcpy(m.heap, "parent heap");
    strcpy(m.stack, "parent stack");
    g_bss[0] = 'p';
    g_bss[sizeof g_bss - 1] = 'q';
    int status = run_child(child_writes, &m);
    CHECK(exit_code(status) == 0, "the child saw or wrote the wrong memory (status %#x)", status);
    CHECK(g_data == 1234, "data: %d", g_data);
    CHECK(g_bss[0] == 'p' && g_bss[4096] == 0 && g_bss[sizeof g_bss - 1] == 'q', "bss: %c", g_bss[0]);
    CHECK(strcmp(m.heap, "parent heap") == 0, "heap: %s", m.heap);
    CHECK(strcmp(m.stack, "parent stack") == 0, "stack: %s", m.stack);
    CHECK(g_tls == 77, "tls: %d", g_tls);
    // And the parent's own writes after the fork stay its own (its pages were shared too).
    g_data = 99;
    CHECK(g_data == 99, "data after the fork: %d", g_data);
    free(m.heap);
    printf("copy on write: data, bss, heap, stack, TLS\n");
}

// --- exit statuses ---------------------------------------------------------------------------------

static int exits_with(void* code) { return (int)(long)code; }

static int killed_by(void* signal) {
    raise((int)(long)signal);
    return 0;
}

static int aborts(void* unused) {
    (void)unused;
    abort();
}

static void check_statuses(void) {
    int status = run_child(exits_with, (void*)7L);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status %#x", status);
    status = run_child(exits_with, (void*)255L);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 255, "status %#x", status);
    status = run_child(killed_by, (void*)(long)SIGTERM);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %#x", status);
    status = run_child(aborts, NULL);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x", status);
    // Several children at once, reaped in any order.
    fflush(stdout);
    pid_t pids[4];
    for (int i = 0; i < 4; ++i) {
        pids[i] = fork();
        if (pids[i] == 0) _exit(10 + i);
    }
    int seen = 0;
    for (int i = 0; i < 4; ++i) {
        pid_t pid = wait(&status);
        for (int j = 0; j < 4; ++j)
            if (pid == pids[j] && WIFEXITED(status) && WEXITSTATUS(status) == 10 + j) seen |= 1 << j;
    }
    CHECK(seen == 15, "children seen: %#x", seen);
    CHECK(wait(&status) == -1 && errno == ECHILD, "a fifth wait: errno %d", errno);
    printf("statuses: exit 7 and 255, SIGTERM, SIGABRT, four children, ECHILD\n");
}

// --- pipes, atexit and stdio in the child ------------------------------------------------------------

static int g_pipe_for_atexit = -1;

static void at_exit_writes(void) {
    if (g_pipe_for_atexit >= 0) (void)!write(g_pipe_for_atexit, "atexit\n", 7);
}

static int child_talks(void* raw) {
    int* fds = raw;
    close(fds[0]);
    FILE* out = fdopen(fds[1], "w");
    if (!out) return 4;
    // Buffered by the child's stdio, flushed by its exit().
    fprintf(out, "hello from pid-independent child, data=%d\n", g_data);
    g_pipe_for_atexit = dup(fds[1]);
    exit(0);  // runs at_exit_writes (registered by the parent) and flushes `out`
}

static void check_pipes_and_atexit(void) {
    atexit(at_exit_writes);
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(child_talks(fds));
    close(fds[1]);
    char buffer[256];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fds[0], buffer + total, sizeof buffer - 1 - total);
        if (n <= 0) break;
        total += (size_t)n;
    }
    buffer[total] = 0;
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && exit_code(status) == 0, "status %#x", status);
    // exit() runs the atexit handlers before it flushes stdio.
    CHECK(strcmp(buffer, "atexit\nhello from pid-independent child, data=99\n") == 0, "read %zu bytes: [%s]", total,
          buffer);
    printf("pipes: the child's stdio buffer and atexit handler, flushed at its exit\n");
}

// --- signals both ways ---------------------------------------------------------------------------------

static void on_signal(int signal) { g_signalled = signal; }

static int child_signals(void* unused) {
    (void)unused;
    sigset_t none;
    sigemptyset(&none);
    kill(getppid(), SIGUSR1);  // to the parent
    while (g_signalled != SIGUSR2) sigsuspend(&none);  // from the parent
    return 21;
}

static void check_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGUSR1, &action, NULL);
    sigaction(SIGUSR2, &action, NULL);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, &old);  // no signal lost before sigsuspend
    g_signalled = 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(child_signals(NULL));
    while (g_signalled != SIGUSR1) sigsuspend(&old);
    CHECK(kill(pid, SIGUSR2) == 0, "kill: %s", strerror(errno));
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && exit_code(status) == 21, "status %#x", status);
    // SIGKILL to a child blocked in pause().
    pid = fork();
    if (pid == 0) {
        for (;;) pause();
    }
    CHECK(kill(pid, SIGKILL) == 0, "kill: %s", strerror(errno));
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %#x", status);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("signals: child to parent, parent to child, SIGKILL\n");
}

// --- grandchildren, exec -----------------------------------------------------------------------------------

static int forks_again(void* unused) {
    (void)unused;
    g_data = 500;
    pid_t pid = fork();
    if (pid == 0) _exit(g_data == 500 ? 30 : 31);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return 32;
    return WIFEXITED(status) ? WEXITSTATUS(status) + 1 : 33;
}

static void check_grandchild(void) {
    int status = run_child(forks_again, NULL);
    CHECK(exit_code(status) == 31, "status %#x", status);
    CHECK(g_data == 99, "data: %d", g_data);
    printf("fork in a child: grandchild exit 30\n");
}

// --- fork from a second thread ---------------------------------------------------------------------------
// The child has that thread only, with its thread-local variables (in memory musl mapped for the
// thread) as they were; the parent's main thread and the forking thread go on.

static void* forks_from_thread(void* unused) {
    (void)unused;
    g_tls = 300;  // this thread's own copy
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int* again = malloc(sizeof *again);  // musl's malloc in the child, lock state reset
        int ok = again && g_tls == 300 && g_data == 99;
        free(again);
        _exit(ok ? 60 : 61);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return (void*)1L;
    return (void*)(long)exit_code(status);
}

static void check_thread_fork(void) {
    pthread_t thread;
    void* result = NULL;
    CHECK(pthread_create(&thread, NULL, forks_from_thread, NULL) == 0, "pthread_create");
    CHECK(pthread_join(thread, &result) == 0 && (long)result == 60, "the child's status: %ld", (long)result);
    CHECK(g_tls == 77, "the main thread's TLS: %d", g_tls);
    printf("fork from a second thread: its TLS in the child\n");
}

static const char* g_helper;

static int execs_helper(void* unused) {
    (void)unused;
    char* argv[] = {(char*)g_helper, "helper", "42", "exec'd from a forked child", NULL};
    execv(g_helper, argv);
    printf("execv %s: %s\n", g_helper, strerror(errno));
    return 99;
}

static void check_exec(void) {
    int status = run_child(execs_helper, NULL);
    CHECK(exit_code(status) == 42, "status %#x", status);
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {  // the helper's output through a pipe
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        _exit(execs_helper(NULL));
    }
    close(fds[1]);
    char buffer[128] = {0};
    ssize_t n = read(fds[0], buffer, sizeof buffer - 1);
    close(fds[0]);
    CHECK(waitpid(pid, &status, 0) == pid && exit_code(status) == 42, "status %#x", status);
    CHECK(n > 0 && strcmp(buffer, "helper: exec'd from a forked child\n") == 0, "read [%s]", buffer);
    // A failed exec returns to the (intact) child.
    char* argv[] = {"/no/such/program", NULL};
    pid = fork();
    if (pid == 0) _exit(execv(argv[0], argv) == -1 && errno == ENOENT && g_data == 99 ? 50 : 51);
    CHECK(waitpid(pid, &status, 0) == pid && exit_code(status) == 50, "status %#x", status);
    printf("exec: a static program, its output through a pipe, ENOENT\n");
}

// --- on xos only: memory, figures ------------------------------------------------------------------------

static long mem_free_kib(void) {
    // A sleep first: with several CPUs the last child's thread may still have been finishing its
    // exit on another CPU when waitpid returned, and libos frees a dead thread (and its process)
    // at the next block of another thread; this is that block, so its memory counts as free.
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, 0);
    FILE* f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[128];
    long value = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemFree: %ld kB", &value) == 1) break;
    fclose(f);
    return value;
}

static int fork_rounds(int n) {
    for (int i = 0; i < n; ++i) {
        pid_t pid = fork();
        if (pid < 0) return -1;
        if (pid == 0) {
            g_data = i;  // a write: the child copies a page
            g_bss[i % sizeof g_bss] = 1;
            _exit(0);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    }
    return 0;
}

static int leak(int n) {
    // Warm-up: the first read of /proc/meminfo is the program's first malloc (musl's malloc then
    // sets up its heap: about 90 KiB touched while the read is under way, seen by the next read
    // only), and the first forks touch pages of the parent's for the first time.
    (void)mem_free_kib();
    if (fork_rounds(4) != 0) return 2;
    long before = mem_free_kib();
    if (fork_rounds(n) != 0) return 3;
    long after = mem_free_kib();
    printf("leak: MemFree %ld kB before %d forks, %ld kB after\n", before, n, after);
    if (before < 0 || after < 0) return 4;
    // Tolerance: 64 KiB (a kernel-heap block may be split); a leak of a page per fork is 4 KiB x n.
    return after >= before - 64 ? 0 : 1;
}

static int bench(int n) {
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (fork_rounds(n) != 0) return 1;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double us = ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / 1e3 / n;
    printf("fork+exit+wait: %d rounds, %.1f us per round\n", n, us);
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 4 && strcmp(argv[1], "helper") == 0) {
        printf("helper: %s\n", argv[3]);
        return atoi(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "leak") == 0) return leak(atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "bench") == 0) return bench(atoi(argv[2]));
    if (argc != 2) {
        fprintf(stderr, "usage: linkfork HELPER | helper N ARG | leak N | bench N\n");
        return 2;
    }
    g_helper = argv[1];
    setvbuf(stdout, NULL, _IOFBF, 4096);  // the same buffering natively and on xos
    check_copy_on_write();
    check_statuses();
    check_pipes_and_atexit();
    check_signals();
    check_grandchild();
    check_thread_fork();
    check_exec();
    printf("linkfork: %d failure(s)\n", g_failures);
    return g_failures ? 1 : 0;
}
