// bench/smp: what several vCPUs give (issue 17). Prints one JSON line per figure:
//   parallel_ns  THREADS threads each doing the same fixed CPU-bound work (no syscalls, no
//                shared writes); wall time of the whole
//   futex_pingpong_ns  a round trip between two threads through two futexes (a wake, a wait)
//   pipe_pingpong_ns  a round trip between two threads through two pipes, one byte each way
//                (lmbench's lat_ctx: a context switch each way; with 2 vCPUs, across CPUs)
//   unix_pingpong_ns  the same through one AF_UNIX stream socketpair, 1 byte each way (part
//                "unix", not in the default list)
//   yield_ns     sched_yield() with two threads yielding to each other (a context switch)
//   memory_ns    two threads each doing MEMORY_ROUNDS rounds of malloc/free and of a fresh page
//                (mmap, a write: a page fault, munmap); wall time of the whole
//   filemap_ns   two processes (a fork) each doing FILEMAP_ROUNDS rounds of mmap of a 32-page
//                tmpfs file (private), a read of every page (a fault in a file mapping each, as
//                a dynamically linked program's start-up takes in its libraries), a write (copy
//                on write of a file page) and munmap; wall time of the whole (FILEMAP_OWN=1 in
//                the environment: the child maps a file of its own, nothing shared but the
//                kernel's allocators)
//   console_ns   two threads each writing CONSOLE_LINES lines of 64 bytes to standard error (the
//                console: one write() each); wall time of the whole over all lines (per line)
//   sigmask_ns   two threads each doing SIGMASK_ROUNDS pairs of sigprocmask block/unblock; wall
//                time of the whole over all pairs (per pair)
// Around the parallel work, the futex and pipe ping-pongs and the yields it also prints what
// /proc/xos/cpus counted meanwhile
// (a line "counters FIGURE: cpu N name delta ..."; nothing where the file does not exist: Linux).
// usage: smp [THREADS] [WORK] [PARTS]  (PARTS: a comma list of parallel, futex, pipe, yield,
// memory, filemap, console, sigmask, unix; the first six by default)
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpu_counters.h"

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static long g_work;
static volatile uint64_t g_sink[64 * 8];

static void* compute(void* arg) {
    uint64_t x = (uint64_t)(uintptr_t)arg + 1, acc = 0;
    for (long i = 0; i < g_work; ++i) {  // xorshift: pure integer work in registers
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc += x;
    }
    g_sink[(uintptr_t)arg * 8] = acc;
    return NULL;
}

static struct counters g_before;

#define PINGS 2000
static atomic_int g_ping, g_pong;

static void* ponger(void* unused) {
    (void)unused;
    for (int i = 1; i <= PINGS; ++i) {
        while (atomic_load(&g_ping) != i) syscall(SYS_futex, &g_ping, FUTEX_WAIT_PRIVATE, i - 1, NULL, NULL, 0);
        atomic_store(&g_pong, i);
        syscall(SYS_futex, &g_pong, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    return NULL;
}

#define YIELDS 5000
static atomic_int g_yielders_ready;
static void* yielder(void* unused) {
    (void)unused;
    atomic_fetch_add(&g_yielders_ready, 1);
    while (atomic_load(&g_yielders_ready) < 2) {}
    for (int i = 0; i < YIELDS; ++i) sched_yield();
    return NULL;
}

#define MEMORY_ROUNDS 2000
static void* memory_worker(void* arg) {
    uintptr_t sum = 0;
    for (int i = 0; i < MEMORY_ROUNDS; ++i) {
        char* block = malloc(64 + (i * 97 + (int)(uintptr_t)arg) % 4096);
        if (!block) abort();
        block[0] = (char)i;
        sum += (uintptr_t)block[0];
        free(block);
        char* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) abort();
        page[0] = 1;  // a page fault
        munmap(page, 4096);
    }
    g_sink[(uintptr_t)arg * 8] = sum;
    return NULL;
}

#define FILEMAP_ROUNDS 150
#define FILEMAP_PAGES 32
static void filemap_work(int fd, int who) {
    uintptr_t sum = 0;
    for (int i = 0; i < FILEMAP_ROUNDS; ++i) {
        char* map = mmap(NULL, FILEMAP_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) abort();
        for (int p = 0; p < FILEMAP_PAGES; ++p) sum += (unsigned char)map[p * 4096];  // a fault each
        map[0] = (char)i;  // copy on write of a file page
        munmap(map, FILEMAP_PAGES * 4096);
    }
    g_sink[who * 8] = sum;
}

#define CONSOLE_LINES 1000
static void* console_writer(void* arg) {
    char line[64];
    memset(line, 'a' + (int)(uintptr_t)arg, sizeof line);
    line[sizeof line - 1] = '\n';
    for (int i = 0; i < CONSOLE_LINES; ++i)
        if (write(2, line, sizeof line) != sizeof line) abort();
    return NULL;
}

#define SIGMASK_ROUNDS 20000
static void* sigmask_worker(void* unused) {
    (void)unused;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    for (int i = 0; i < SIGMASK_ROUNDS; ++i) {
        sigprocmask(SIG_BLOCK, &set, NULL);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
    }
    return NULL;
}

static void* pipe_ponger(void* arg) {
    int* fds = arg;  // read from fds[0], answer on fds[3]
    char byte;
    for (int i = 0; i < PINGS; ++i) {
        if (read(fds[0], &byte, 1) != 1 || write(fds[3], &byte, 1) != 1) abort();
    }
    return NULL;
}

static void* unix_ponger(void* arg) {
    int fd = *(int*)arg;  // the socketpair's second end: read a byte, answer it
    char byte;
    for (int i = 0; i < PINGS; ++i) {
        if (read(fd, &byte, 1) != 1 || write(fd, &byte, 1) != 1) abort();
    }
    return NULL;
}

static int wanted(const char* parts, const char* part) {
    size_t n = strlen(part);
    for (const char* p = parts; (p = strstr(p, part)); p += n)
        if ((p == parts || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

int main(int argc, char** argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    g_work = argc > 2 ? atol(argv[2]) : 200000000;
    const char* parts = argc > 3 ? argv[3] : "parallel,futex,pipe,yield,memory,filemap";
    if (threads < 1 || threads > 64) return 2;
    uint64_t start;
    int have_counters;
    if (wanted(parts, "parallel")) {
        pthread_t ids[64];
        have_counters = read_counters(&g_before);
        start = now_ns();
        for (int i = 0; i < threads; ++i) pthread_create(&ids[i], NULL, compute, (void*)(uintptr_t)i);
        for (int i = 0; i < threads; ++i) pthread_join(ids[i], NULL);
        printf("{\"figure\": \"parallel_ns\", \"value\": %llu, \"threads\": %d, \"cpus\": %ld}\n",
               (unsigned long long)(now_ns() - start), threads, sysconf(_SC_NPROCESSORS_ONLN));
        if (have_counters) print_counter_deltas("parallel", &g_before);
    }

    if (wanted(parts, "futex")) {
        pthread_t pong;
        pthread_create(&pong, NULL, ponger, NULL);
        have_counters = read_counters(&g_before);
        start = now_ns();
        for (int i = 1; i <= PINGS; ++i) {
            atomic_store(&g_ping, i);
            syscall(SYS_futex, &g_ping, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
            while (atomic_load(&g_pong) != i) syscall(SYS_futex, &g_pong, FUTEX_WAIT_PRIVATE, i - 1, NULL, NULL, 0);
        }
        printf("{\"figure\": \"futex_pingpong_ns\", \"value\": %llu}\n",
               (unsigned long long)((now_ns() - start) / PINGS));
        if (have_counters) print_counter_deltas("futex_pingpong", &g_before);
        pthread_join(pong, NULL);
    }

    if (wanted(parts, "pipe")) {  // a context switch through a pipe each way (lmbench's lat_ctx)
        int fds[4];
        if (pipe(fds) != 0 || pipe(fds + 2) != 0) return 1;
        pthread_t pong;
        pthread_create(&pong, NULL, pipe_ponger, fds);
        have_counters = read_counters(&g_before);
        start = now_ns();
        char byte = 'x';
        for (int i = 0; i < PINGS; ++i)
            if (write(fds[1], &byte, 1) != 1 || read(fds[2], &byte, 1) != 1) return 1;
        printf("{\"figure\": \"pipe_pingpong_ns\", \"value\": %llu}\n",
               (unsigned long long)((now_ns() - start) / PINGS));
        if (have_counters) print_counter_deltas("pipe_pingpong", &g_before);
        pthread_join(pong, NULL);
        for (int i = 0; i < 4; ++i) close(fds[i]);
    }

    if (wanted(parts, "unix")) {  // the pipe ping-pong through an AF_UNIX socketpair
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 1;
        pthread_t pong;
        pthread_create(&pong, NULL, unix_ponger, &fds[1]);
        have_counters = read_counters(&g_before);
        start = now_ns();
        char byte = 'x';
        for (int i = 0; i < PINGS; ++i)
            if (write(fds[0], &byte, 1) != 1 || read(fds[0], &byte, 1) != 1) return 1;
        printf("{\"figure\": \"unix_pingpong_ns\", \"value\": %llu}\n",
               (unsigned long long)((now_ns() - start) / PINGS));
        if (have_counters) print_counter_deltas("unix_pingpong", &g_before);
        pthread_join(pong, NULL);
        close(fds[0]);
        close(fds[1]);
    }

    pthread_t a, b;
    if (wanted(parts, "yield")) {
        have_counters = read_counters(&g_before);
        start = now_ns();
        pthread_create(&a, NULL, yielder, NULL);
        pthread_create(&b, NULL, yielder, NULL);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        printf("{\"figure\": \"yield_ns\", \"value\": %llu}\n",
               (unsigned long long)((now_ns() - start) / (2 * YIELDS)));
        if (have_counters) print_counter_deltas("yield", &g_before);
    }

    if (wanted(parts, "memory")) {
        start = now_ns();
        pthread_create(&a, NULL, memory_worker, (void*)(uintptr_t)0);
        pthread_create(&b, NULL, memory_worker, (void*)(uintptr_t)1);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        printf("{\"figure\": \"memory_ns\", \"value\": %llu}\n", (unsigned long long)(now_ns() - start));
    }

    if (wanted(parts, "filemap")) {
        mkdir("/tmp", 01777);
        int fd = open("/tmp/smp_filemap", O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) abort();
        static char page[4096];
        for (int p = 0; p < FILEMAP_PAGES; ++p) {
            memset(page, 'a' + p % 26, sizeof page);
            if (write(fd, page, sizeof page) != sizeof page) abort();
        }
        fflush(stdout);
        have_counters = read_counters(&g_before);
        start = now_ns();
        pid_t child = fork();
        if (child < 0) abort();
        if (child == 0 && getenv("FILEMAP_OWN")) {  // diagnosis: the child maps a file of its own
            int own = open("/tmp/smp_filemap_child", O_RDWR | O_CREAT | O_TRUNC, 0644);
            for (int p = 0; p < FILEMAP_PAGES; ++p)
                if (own < 0 || write(own, page, sizeof page) != sizeof page) abort();
            fd = own;
        }
        filemap_work(fd, child == 0);
        if (child == 0) _exit(0);
        int status = 0;
        if (waitpid(child, &status, 0) != child || status != 0) abort();
        printf("{\"figure\": \"filemap_ns\", \"value\": %llu}\n", (unsigned long long)(now_ns() - start));
        if (have_counters) print_counter_deltas("filemap", &g_before);
        close(fd);
        unlink("/tmp/smp_filemap");
    }

    if (wanted(parts, "console")) {
        start = now_ns();
        pthread_create(&a, NULL, console_writer, (void*)(uintptr_t)0);
        pthread_create(&b, NULL, console_writer, (void*)(uintptr_t)1);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        printf("{\"figure\": \"console_ns\", \"value\": %llu}\n",
               (unsigned long long)((now_ns() - start) / (2 * CONSOLE_LINES)));
    }

    if (wanted(parts, "sigmask")) {
        start = now_ns();
        pthread_create(&a, NULL, sigmask_worker, NULL);
        pthread_create(&b, NULL, sigmask_worker, NULL);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        printf("{\"figure\": \"sigmask_ns\", \"value\": %llu}\n",
               (unsigned long long)((now_ns() - start) / (2 * SIGMASK_ROUNDS)));
    }
    return 0;
}
