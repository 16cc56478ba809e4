// The big-lock counters (/proc/xos/big_lock, docs/locking.md) around the hot paths issue 17
// wants off the big lock: two threads ping-pong through a futex, malloc/free, and touch fresh
// pages (page faults), ROUNDS times each; the program prints how many times each path took the
// big lock meanwhile. With several CPUs the futex calls, mmap/munmap and the page faults must not
// take it at all (all dispatched lock-free: sys/lock_free_syscalls.h; anonymous faults take the
// address-space lock only); on a build where they still take it, the counts are not 0 and the
// checks fail. With one CPU, where there is no big lock, everything stays at zero.
// `big_lock nic HOSTPORT` runs only the network RX/TX case (nic_case, at the end: a TCP transfer
// through the virtio NIC; xos-run -p tcp:HOSTPORT:7000).
// Exit status 0 = those checks passed.
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include "../image/check.h"
#include "big_lock_counts.h"

#define ROUNDS 500

static void io_cases(void);  // at the end (branch smp-io2)
static void net_cases(void);  // at the end (branch smp-net)
static void mm_cases(void);  // at the end (branch smp-mm)
static void fmap_cases(void);  // at the end (branch smp-fmap)
static void nic_case(int host_port);  // at the end (branch smp-rx)
static void poll_cases(void);  // at the end (branch smp-poll)

struct Counts {
    long cpus, page_faults, futex, mmap, munmap, brk;
};

static struct Counts read_counts(void) {
    struct Counts c = {0};
    FILE* f = fopen("/proc/xos/big_lock", "r");
    CHECK(f != NULL);
    if (!f) return c;
    char name[64];
    long value;
    char line[128];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "cpus %ld", &value) == 1) c.cpus = value;
        if (sscanf(line, "page_faults %ld", &value) == 1) c.page_faults = value;
        if (sscanf(line, "syscall %63s %ld", name, &value) == 2) {
            if (!strcmp(name, "futex")) c.futex = value;
            if (!strcmp(name, "mmap")) c.mmap = value;
            if (!strcmp(name, "munmap")) c.munmap = value;
            if (!strcmp(name, "brk")) c.brk = value;
        }
    }
    fclose(f);
    return c;
}

static atomic_int g_word;

static void* partner(void* unused) {
    (void)unused;
    for (int i = 1; i <= ROUNDS; ++i) {
        while (atomic_load(&g_word) != 2 * i - 1)
            syscall(SYS_futex, &g_word, FUTEX_WAIT_PRIVATE, 2 * i - 2, NULL, NULL, 0);
        atomic_store(&g_word, 2 * i);
        syscall(SYS_futex, &g_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    return NULL;
}

int main(int argc, char** argv) {
    if (argc == 3 && !strcmp(argv[1], "nic")) {
        nic_case(atoi(argv[2]));
        printf("big_lock: %d failure(s)\n", check_failures);
        return check_failures;
    }
    struct Counts before = read_counts();
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, partner, NULL) == 0);
    long wakes = 0;
    for (int i = 1; i <= ROUNDS; ++i) {
        atomic_store(&g_word, 2 * i - 1);
        syscall(SYS_futex, &g_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        ++wakes;
        while (atomic_load(&g_word) != 2 * i) syscall(SYS_futex, &g_word, FUTEX_WAIT_PRIVATE, 2 * i - 1, NULL, NULL, 0);
        void* block = malloc(64 + i % 4096);  // malloc/free
        CHECK(block != NULL);
        memset(block, i, 64);
        free(block);
        char* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);  // a page fault
        CHECK(page != MAP_FAILED);
        page[0] = 1;
        munmap(page, 4096);
    }
    pthread_join(thread, NULL);
    struct Counts after = read_counts();
    printf("big lock taken: cpus %ld futex %ld page_faults %ld mmap %ld munmap %ld brk %ld\n", after.cpus,
           after.futex - before.futex, after.page_faults - before.page_faults, after.mmap - before.mmap,
           after.munmap - before.munmap, after.brk - before.brk);
    if (after.cpus > 1) {
        CHECK(wakes == ROUNDS);
        CHECK(after.futex - before.futex == 0);  // lock-free: not one futex call took it
        CHECK(after.mmap - before.mmap == 0 && after.munmap - before.munmap == 0);  // the address-space lock
        CHECK(after.page_faults - before.page_faults == 0);
    } else {
        CHECK(after.futex == 0 && after.page_faults == 0);  // one CPU: no big lock
    }
    io_cases();
    mm_cases();
    fmap_cases();
    net_cases();
    poll_cases();
    printf("big_lock: %d failure(s)\n", check_failures);
    return check_failures;
}

// --- I/O (branch smp-io2) ---------------------------------------------------------------------

static int g_ping[2], g_pong[2];

static void* pipe_partner(void* unused) {
    (void)unused;
    char byte;
    for (int i = 0; i < ROUNDS; ++i) {
        if (read(g_ping[0], &byte, 1) != 1) break;
        if (write(g_pong[1], &byte, 1) != 1) break;
    }
    return NULL;
}

// A pipe ping-pong between two threads: read and write are dispatched without the big lock
// (sys/lock_free_syscalls.h), so with several CPUs neither syscall takes it at entry. The
// range check of the buffer still takes it inside (function_entries: the address space's
// mappings are the big lock's), which is printed, not checked.
static void pipe_ping_pong_counts(void) {
    CHECK(pipe(g_ping) == 0 && pipe(g_pong) == 0);
    long cpus = big_lock_count("cpus", 0);
    long reads = big_lock_count("read", 1), writes = big_lock_count("write", 1);
    long functions = big_lock_count("function_entries", 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, pipe_partner, NULL) == 0);
    int rounds = 0;
    for (int i = 0; i < ROUNDS; ++i) {
        char byte = (char)i, back = 0;
        if (write(g_ping[1], &byte, 1) != 1 || read(g_pong[0], &back, 1) != 1 || back != byte) break;
        ++rounds;
    }
    pthread_join(thread, NULL);
    reads = big_lock_count("read", 1) - reads;
    writes = big_lock_count("write", 1) - writes;
    functions = big_lock_count("function_entries", 0) - functions;
    printf("big lock taken by a pipe ping-pong of %d rounds: read %ld write %ld (inside: %ld)\n", rounds, reads, writes,
           functions);
    CHECK(rounds == ROUNDS);
    if (cpus > 1) CHECK(reads == 0 && writes == 0);
    // Inside: the buffer checks read the mappings under the address-space lock (branch smp-mm),
    // not the big lock: a few for the thread's start and end, not 4 a round.
    if (cpus > 1) CHECK(functions < ROUNDS);
    for (int i = 0; i < 2; ++i) close(g_ping[i]), close(g_pong[i]);
}

// --- The address space (branch smp-mm) --------------------------------------------------------

#define MM_ROUNDS 100
#define FAULT_PAGES 16

// Both threads at once: malloc/free of blocks large enough for musl to mmap and munmap them
// (touched at both ends: page faults), a page-fault loop over fresh anonymous pages, and
// mprotect back and forth on a mapping of their own.
static void* mm_worker(void* arg) {
    long id = (long)arg;
    long failures = 0;
    char* own = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (own == MAP_FAILED) return (void*)1;
    for (int i = 0; i < MM_ROUNDS; ++i) {
        size_t size = (size_t)(256 << 10) + (size_t)((i * 7 + id) % 16) * 4096;
        char* block = malloc(size);  // mallocng: mmap for blocks this large, munmap at free
        if (!block) return (void*)1;
        __asm__ volatile("" : : "r"(block) : "memory");  // escapes: the compiler keeps malloc/free
        block[0] = (char)i;
        block[size - 1] = (char)i;
        if (block[0] != (char)i || block[size - 1] != (char)i) ++failures;
        free(block);
        char* pages = mmap(NULL, FAULT_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pages == MAP_FAILED) return (void*)1;
        for (int p = 0; p < FAULT_PAGES; ++p) {
            if (pages[p * 4096] != 0) ++failures;  // fresh: zero
            pages[p * 4096] = (char)(p + 1);  // a page fault each
        }
        for (int p = 0; p < FAULT_PAGES; ++p)
            if (pages[p * 4096] != (char)(p + 1)) ++failures;
        munmap(pages, FAULT_PAGES * 4096);
        if (mprotect(own, 4 * 4096, PROT_READ) != 0) ++failures;
        if (own[0] != (char)(i ? i - 1 : 0)) ++failures;
        if (mprotect(own, 4 * 4096, PROT_READ | PROT_WRITE) != 0) ++failures;
        own[0] = (char)i;
    }
    munmap(own, 4 * 4096);
    return (void*)failures;
}

static void mm_cases(void) {
    long cpus = big_lock_count("cpus", 0);
    long faults = big_lock_count("page_faults", 0), functions = big_lock_count("function_entries", 0);
    long mmaps = big_lock_count("mmap", 1), munmaps = big_lock_count("munmap", 1);
    long mprotects = big_lock_count("mprotect", 1), brks = big_lock_count("brk", 1);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, mm_worker, (void*)1) == 0);
    void* mine = mm_worker((void*)0);
    void* theirs = NULL;
    pthread_join(thread, &theirs);
    CHECK(mine == NULL && theirs == NULL);
    // brk up and down (after the threads: musl's malloc moves the break too).
    uintptr_t base = (uintptr_t)syscall(SYS_brk, 0);
    int brk_ok = 1;
    for (int i = 0; i < MM_ROUNDS; ++i) {
        uintptr_t up = (uintptr_t)syscall(SYS_brk, base + 3 * 4096);
        if (up != base + 3 * 4096) {
            brk_ok = 0;
            break;
        }
        ((volatile char*)base)[2 * 4096] = 1;  // a page fault in the heap
        if ((uintptr_t)syscall(SYS_brk, base) != base) brk_ok = 0;
    }
    CHECK(brk_ok);
    faults = big_lock_count("page_faults", 0) - faults;
    functions = big_lock_count("function_entries", 0) - functions;
    mmaps = big_lock_count("mmap", 1) - mmaps;
    munmaps = big_lock_count("munmap", 1) - munmaps;
    mprotects = big_lock_count("mprotect", 1) - mprotects;
    brks = big_lock_count("brk", 1) - brks;
    printf("big lock taken by the address-space loops (%d rounds x 2 threads): page_faults %ld mmap %ld munmap %ld "
           "mprotect %ld brk %ld (inside: %ld)\n",
           MM_ROUNDS, faults, mmaps, munmaps, mprotects, brks, functions);
    if (cpus > 1) {
        CHECK(faults == 0);  // anonymous faults: the address-space lock only
        CHECK(mmaps == 0 && munmaps == 0);  // malloc/free of large blocks, and the fault loop's
        CHECK(mprotects == 0);
        CHECK(brks == 0);
        // BigLockScope: a few for the thread's start and end (musl's __clone...), not one per
        // call (each round makes 6 mm calls in each thread).
        CHECK(functions < MM_ROUNDS);
    }
}

// --- Files and directories (branch smp-files) -------------------------------------------------

// Runs `loop` ROUNDS times and requires, with several CPUs, that the syscalls it names took the
// big lock 0 times at entry (they are in sys/lock_free_syscalls.h) and that nothing inside took
// it either (function_entries: on main a ramfs read took it for the transfer, a close for the
// description's end), beyond what reading /proc/xos/big_lock around the loop costs (procfs
// still takes it: measured with an empty loop first).
static void file_case(const char* what, const char* const* syscalls, void (*loop)(int round)) {
    counted_case(what, syscalls, loop, ROUNDS, 0);
}

static void empty_round(int round) { (void)round; }

static int g_file_fd;
static char g_file_buffer[4096];

static void pread_round(int round) {
    CHECK(pread(g_file_fd, g_file_buffer, sizeof g_file_buffer, (round % 4) * 4096) == sizeof g_file_buffer);
    CHECK(g_file_buffer[100] == (char)('a' + round % 4));
}

static void write_round(int round) {
    memset(g_file_buffer, 'A' + round % 26, 64);
    CHECK(write(g_file_fd, g_file_buffer, 64) == 64);
}

static void fstat_round(int round) {
    struct stat st;
    CHECK(fstat(g_file_fd, &st) == 0 && st.st_size == 64L * ROUNDS);
    (void)round;
}

// ftruncate down and up, fallocate beyond the end (branch smp-vfs2: RamFile's locks).
static void ftruncate_round(int round) {
    struct stat st;
    CHECK(ftruncate(g_file_fd, (round % 3) * 1000) == 0);
    CHECK(fstat(g_file_fd, &st) == 0 && st.st_size == (round % 3) * 1000);
    CHECK(fallocate(g_file_fd, 0, 0, 5000) == 0);
    CHECK(fstat(g_file_fd, &st) == 0 && st.st_size == 5000);
}

static void fchmod_round(int round) {
    struct stat st;
    mode_t mode = round % 2 ? 0600 : 0644;
    CHECK(fchmod(g_file_fd, mode) == 0);
    CHECK(fchown(g_file_fd, 0, 0) == 0);
    CHECK(fstat(g_file_fd, &st) == 0 && (st.st_mode & 07777) == mode && S_ISREG(st.st_mode));
}

// Directory changes on tmpfs (branch smp-vfs2): mkdir/rmdir, O_CREAT/unlink, rename.
static void mkdir_round(int round) {
    char path[64];
    sprintf(path, "/tmp/big_lock_dir%d", round % 4);
    CHECK(mkdir(path, 0755) == 0);
    CHECK(rmdir(path) == 0);
}

static void create_unlink_round(int round) {
    char path[64];
    sprintf(path, "/tmp/big_lock_new%d", round % 4);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(fd >= 0);
    CHECK(close(fd) == 0);
    CHECK(unlink(path) == 0);
}

static void rename_round(int round) {
    CHECK(rename(round % 2 ? "/tmp/big_lock_b" : "/tmp/big_lock_a",
                 round % 2 ? "/tmp/big_lock_d/a" : "/tmp/big_lock_b") == 0);
    if (round % 2) CHECK(rename("/tmp/big_lock_d/a", "/tmp/big_lock_a") == 0);
}

static void getdents_round(int round) {
    CHECK(lseek(g_file_fd, 0, SEEK_SET) == 0);
    long n = syscall(SYS_getdents64, g_file_fd, g_file_buffer, sizeof g_file_buffer);
    CHECK(n > 0);
    (void)round;
}

static void open_close_round(int round) {
    int fd = open("/tmp/big_lock_write", O_RDONLY);
    CHECK(fd >= 0);
    CHECK(close(fd) == 0);
    (void)round;
}

static void file_cases(void) {
    file_case("nothing (what reading the counters costs)", (const char* const[]){"read", NULL}, empty_round);
    // A ramfs file on the root: 4 pages, page i filled with 'a' + i.
    int fd = open("/big_lock_ramfs", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    for (int i = 0; i < 4; ++i) {
        memset(g_file_buffer, 'a' + i, sizeof g_file_buffer);
        CHECK(write(fd, g_file_buffer, sizeof g_file_buffer) == sizeof g_file_buffer);
    }
    g_file_fd = fd;
    file_case("pread64 on a ramfs file", (const char* const[]){"pread64", NULL}, pread_round);
    close(fd);
    unlink("/big_lock_ramfs");

    mkdir("/tmp", 01777);
    fd = open("/tmp/big_lock_write", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    g_file_fd = fd;
    file_case("write to a tmpfs file", (const char* const[]){"write", NULL}, write_round);
    file_case("fstat", (const char* const[]){"fstat", NULL}, fstat_round);
    file_case("ftruncate/fallocate on a tmpfs file", (const char* const[]){"ftruncate", "fallocate", NULL},
              ftruncate_round);
    file_case("fchmod/fchown on a tmpfs file", (const char* const[]){"fchmod", "fchown", NULL}, fchmod_round);
    close(fd);
    file_case("open/close of an existing file", (const char* const[]){"open", "openat", "close", NULL},
              open_close_round);

    file_case("mkdir/rmdir on tmpfs", (const char* const[]){"mkdir", "rmdir", NULL}, mkdir_round);
    file_case("O_CREAT/unlink on tmpfs", (const char* const[]){"open", "close", "unlink", NULL}, create_unlink_round);
    CHECK(mkdir("/tmp/big_lock_d", 0755) == 0);
    fd = open("/tmp/big_lock_a", O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0);
    close(fd);
    file_case("rename on tmpfs (one directory, two)", (const char* const[]){"rename", NULL}, rename_round);
    CHECK(unlink("/tmp/big_lock_a") == 0 && rmdir("/tmp/big_lock_d") == 0);

    fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0);
    g_file_fd = fd;
    file_case("getdents64", (const char* const[]){"getdents64", "lseek", NULL}, getdents_round);
    close(fd);
    unlink("/tmp/big_lock_write");
}

// --- The console (branch smp-vfs2) ------------------------------------------------------------

#define CONSOLE_LINES 100

// Two threads write whole lines to standard output at once, one with write(), one with writev()
// (musl's stdio: buffered part and new data in two vectors), and ask isatty() (TCGETS) each
// line: none of it takes the big lock (console writes under the console's own lock,
// fs/devfs/terminal.cpp). Each write is whole on the console (Linux's tty does the same: one
// write at a time under its atomic_write_lock); tests/smp/console_lines.py checks the lines.
static void* console_writer(void* arg) {
    long id = (long)arg;
    long failures = 0;
    for (int i = 0; i < CONSOLE_LINES; ++i) {
        char line[96];
        int n = snprintf(line, sizeof line, "console-line %ld %03d abcdefghijklmnopqrstuvwxyz0123456789 end\n", id, i);
        if (id == 0) {
            if (write(1, line, (size_t)n) != n) ++failures;
        } else {
            struct iovec parts[2] = {{line, 20}, {line + 20, (size_t)n - 20}};
            if (writev(1, parts, 2) != n) ++failures;
        }
        (void)isatty(1);
    }
    return (void*)failures;
}

static void console_case(void) {
    fflush(stdout);
    long cpus = big_lock_count("cpus", 0);
    long writes = big_lock_count("write", 1), writevs = big_lock_count("writev", 1);
    long ioctls = big_lock_count("ioctl", 1), functions = big_lock_count("function_entries", 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, console_writer, (void*)1) == 0);
    void* mine = console_writer((void*)0);
    void* theirs = NULL;
    pthread_join(thread, &theirs);
    CHECK(mine == NULL && theirs == NULL);
    writes = big_lock_count("write", 1) - writes;
    writevs = big_lock_count("writev", 1) - writevs;
    ioctls = big_lock_count("ioctl", 1) - ioctls;
    functions = big_lock_count("function_entries", 0) - functions;
    printf("big lock taken by %d console lines x 2 threads: write %ld writev %ld ioctl %ld (inside: %ld)\n",
           CONSOLE_LINES, writes, writevs, ioctls, functions);
    if (cpus > 1) {
        CHECK(writes == 0 && writevs == 0 && ioctls == 0);
        // Inside: the thread's start and end and reading the counters (procfs), not one per line.
        CHECK(functions < CONSOLE_LINES);
    }
}

// --- Cheap per-process syscalls (branch smp-vfs2) ------------------------------------------

static void getppid_round(int round) {
    CHECK(getppid() == 0);  // PID 1: nobody started it from inside the VM
    (void)round;
}

static void ids_round(int round) {
    CHECK(getuid() == 0 && geteuid() == 0 && getgid() == 0 && getegid() == 0);
    (void)round;
}

static void umask_round(int round) {
    mode_t old = umask((mode_t)(round % 2 ? 027 : 022));
    CHECK(old == (mode_t)(round == 0 ? 022 : round % 2 ? 022 : 027));
}

static void uname_round(int round) {
    struct utsname u;
    CHECK(uname(&u) == 0 && !strcmp(u.sysname, "Linux"));
    (void)round;
}

static void sigprocmask_round(int round) {
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    CHECK(sigprocmask(SIG_BLOCK, &set, &old) == 0 && !sigismember(&old, SIGUSR2));
    CHECK(sigprocmask(SIG_UNBLOCK, &set, &old) == 0 && sigismember(&old, SIGUSR2));
    (void)round;
}

static void affinity_round(int round) {
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1);
    (void)round;
}

// Signals posted from another CPU while the mask changes without the big lock: the receiver
// blocks SIGUSR1, the partner sends it one (pthread_kill, under the big lock), the receiver
// sees it pending and unblocks it, and the handler must have run before sigprocmask returns
// (POSIX: at least one unblocked pending signal is delivered before it returns).
#define SIGNAL_ROUNDS 200
static atomic_int g_handled, g_sent, g_want;
static pthread_t g_receiver;

static void on_usr1(int signal) {
    (void)signal;
    atomic_fetch_add(&g_handled, 1);
}

static void* signal_partner(void* unused) {
    (void)unused;
    for (int i = 1; i <= SIGNAL_ROUNDS; ++i) {
        while (atomic_load(&g_want) != i) sched_yield();
        pthread_kill(g_receiver, SIGUSR1);
        atomic_store(&g_sent, i);
    }
    return NULL;
}

static void signal_mask_race(void) {
    struct sigaction action = {0};
    action.sa_handler = on_usr1;
    CHECK(sigaction(SIGUSR1, &action, NULL) == 0);
    g_receiver = pthread_self();
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, signal_partner, NULL) == 0);
    int late = 0;
    for (int i = 1; i <= SIGNAL_ROUNDS; ++i) {
        CHECK(sigprocmask(SIG_BLOCK, &usr1, NULL) == 0);
        atomic_store(&g_want, i);
        while (atomic_load(&g_sent) != i) sched_yield();
        sigset_t pending;
        CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1));
        CHECK(atomic_load(&g_handled) == i - 1);  // blocked: not run yet
        CHECK(sigprocmask(SIG_UNBLOCK, &usr1, NULL) == 0);
        if (atomic_load(&g_handled) != i) ++late;
    }
    pthread_join(thread, NULL);
    printf("signals sent while blocked from another thread: %d, handled %d, after their unblock returned %d\n",
           SIGNAL_ROUNDS, atomic_load(&g_handled), late);
    CHECK(atomic_load(&g_handled) == SIGNAL_ROUNDS && late == 0);
    signal(SIGUSR1, SIG_DFL);
}

static void process_cases(void) {
    file_case("getppid", (const char* const[]){"getppid", NULL}, getppid_round);
    file_case("getuid/geteuid/getgid/getegid", (const char* const[]){"getuid", "geteuid", "getgid", "getegid", NULL},
              ids_round);
    file_case("umask", (const char* const[]){"umask", NULL}, umask_round);
    umask(022);
    file_case("uname", (const char* const[]){"uname", NULL}, uname_round);
    file_case("rt_sigprocmask (own mask)", (const char* const[]){"rt_sigprocmask", NULL}, sigprocmask_round);
    file_case("sched_getaffinity (own)", (const char* const[]){"sched_getaffinity", NULL}, affinity_round);
    signal_mask_race();
}

static void io_cases(void) {
    pipe_ping_pong_counts();
    file_cases();
    console_case();
    process_cases();
}

// --- File mappings (branch smp-fmap) ----------------------------------------------------------

#define FMAP_PAGES 4
static int g_fmap_fd;

// Both threads at once, on one ramfs file (page i holds 'a' + i): a private mapping read
// (faults map the file's pages) and written (copy on write of a file page: the file keeps its
// data), a shared mapping read and written (the file's own pages: the file sees the write),
// mmap and munmap of both each round.
static void* fmap_worker(void* arg) {
    long id = (long)arg;
    long failures = 0;
    for (int i = 0; i < MM_ROUNDS; ++i) {
        char* private_map = mmap(NULL, FMAP_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, g_fmap_fd, 0);
        if (private_map == MAP_FAILED) return (void*)1;
        for (int p = 0; p < FMAP_PAGES; ++p)
            if (private_map[p * 4096 + 100] != 'a' + p) ++failures;  // a read fault each
        private_map[4096 + 200 + id] = 'X';  // copy on write of page 1
        if (private_map[4096 + 200 + id] != 'X' || private_map[4096 + 100] != 'b') ++failures;
        munmap(private_map, FMAP_PAGES * 4096);
        char byte = 0;
        if (pread(g_fmap_fd, &byte, 1, 4096 + 200 + id) != 1 || byte != 'b') ++failures;  // the file's page stays
        char* shared_map = mmap(NULL, FMAP_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, g_fmap_fd, 0);
        if (shared_map == MAP_FAILED) return (void*)1;
        for (int p = 0; p < FMAP_PAGES; ++p)
            if (shared_map[p * 4096 + 100] != 'a' + p) ++failures;
        shared_map[3 * 4096 + 300 + id] = (char)('A' + i % 26);  // the file's own page
        munmap(shared_map, FMAP_PAGES * 4096);
        if (pread(g_fmap_fd, &byte, 1, 3 * 4096 + 300 + id) != 1 || byte != (char)('A' + i % 26)) ++failures;
    }
    return (void*)failures;
}

static void fmap_cases(void) {
    char buffer[4096];
    int fd = open("/big_lock_fmap", O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    for (int i = 0; i < FMAP_PAGES; ++i) {
        memset(buffer, 'a' + i, sizeof buffer);
        CHECK(write(fd, buffer, sizeof buffer) == sizeof buffer);
    }
    g_fmap_fd = fd;
    long cpus = big_lock_count("cpus", 0);
    long faults = big_lock_count("page_faults", 0), functions = big_lock_count("function_entries", 0);
    long mmaps = big_lock_count("mmap", 1), munmaps = big_lock_count("munmap", 1);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, fmap_worker, (void*)1) == 0);
    void* mine = fmap_worker((void*)0);
    void* theirs = NULL;
    pthread_join(thread, &theirs);
    CHECK(mine == NULL && theirs == NULL);
    faults = big_lock_count("page_faults", 0) - faults;
    functions = big_lock_count("function_entries", 0) - functions;
    mmaps = big_lock_count("mmap", 1) - mmaps;
    munmaps = big_lock_count("munmap", 1) - munmaps;
    printf("big lock taken by file mappings of a ramfs file (%d rounds x 2 threads): page_faults %ld mmap %ld "
           "munmap %ld (inside: %ld)\n",
           MM_ROUNDS, faults, mmaps, munmaps, functions);
    if (cpus > 1) {
        CHECK(faults == 0);  // file faults, private and shared: the address-space and file-cache locks
        CHECK(mmaps == 0 && munmaps == 0);
        // Inside: a few for the thread's start and end (musl's __clone...), not one per mmap,
        // munmap or fault (each round makes 4 mm calls and 9 faults in each thread).
        CHECK(functions < MM_ROUNDS);
    }
    close(fd);
    unlink("/big_lock_fmap");
}

// --- Sockets (branch smp-net) -----------------------------------------------------------------

static int g_tcp_partner_fd;

static void* tcp_partner(void* unused) {
    (void)unused;
    char byte;
    for (int i = 0; i < ROUNDS; ++i) {
        ssize_t got = (i & 1) ? recv(g_tcp_partner_fd, &byte, 1, 0) : read(g_tcp_partner_fd, &byte, 1);
        if (got != 1) break;
        ssize_t sent = (i & 1) ? send(g_tcp_partner_fd, &byte, 1, 0) : write(g_tcp_partner_fd, &byte, 1);
        if (sent != 1) break;
    }
    return NULL;
}

// A TCP ping-pong over loopback between two threads, with the connection set up by
// socket/bind/listen/connect/accept4 and TCP_NODELAY: with several CPUs the socket syscalls of
// an inet socket (sys/lock_free_syscalls.h: the socket's state is lwIP's core lock's) and
// read/write on it take the big lock 0 times at entry. socket() itself still takes it.
static void tcp_ping_pong_counts(void) {
    static const char* const names[] = {"bind",   "listen",   "accept4", "connect", "setsockopt", "getsockname",
                                        "sendto", "recvfrom", "read",    "write",   NULL};
    long cpus = big_lock_count("cpus", 0);
    long before[16] = {0};
    for (int i = 0; names[i]; ++i) before[i] = big_lock_count(names[i], 1);
    long functions = big_lock_count("function_entries", 0);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(listener, (struct sockaddr*)&address, sizeof address) == 0);
    CHECK(listen(listener, 4) == 0);
    socklen_t length = sizeof address;
    CHECK(getsockname(listener, (struct sockaddr*)&address, &length) == 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(client >= 0);
    CHECK(connect(client, (struct sockaddr*)&address, sizeof address) == 0);
    g_tcp_partner_fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    CHECK(g_tcp_partner_fd >= 0);
    int one = 1;
    CHECK(setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    CHECK(setsockopt(g_tcp_partner_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);

    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, tcp_partner, NULL) == 0);
    int rounds = 0;
    for (int i = 0; i < ROUNDS; ++i) {
        char byte = (char)i, back = 0;
        ssize_t sent = (i & 1) ? send(client, &byte, 1, 0) : write(client, &byte, 1);
        ssize_t got = (i & 1) ? recv(client, &back, 1, 0) : read(client, &back, 1);
        if (sent != 1 || got != 1 || back != byte) break;
        ++rounds;
    }
    pthread_join(thread, NULL);
    functions = big_lock_count("function_entries", 0) - functions;
    long total = 0;
    printf("big lock taken by a TCP loopback ping-pong of %d rounds:", rounds);
    for (int i = 0; names[i]; ++i) {
        long taken = big_lock_count(names[i], 1) - before[i];
        printf(" %s %ld", names[i], taken);
        total += taken;
    }
    printf(" (inside: %ld)\n", functions);
    CHECK(rounds == ROUNDS);
    if (cpus > 1) CHECK(total == 0);
    close(client);
    close(g_tcp_partner_fd);
    close(listener);
}

// --- AF_UNIX sockets (branch smp-unix) --------------------------------------------------------

#define UNIX_CONNECTIONS 8
#define UNIX_MESSAGES 40
static const char* const g_unix_names[] = {"socket", "socketpair", "bind",     "listen",  "accept4", "connect", "read",
                                           "write",  "sendto",     "recvfrom", "sendmsg", "recvmsg", NULL};
static int g_unix_pair[2];
static int g_unix_client_fds[UNIX_CONNECTIONS], g_unix_passed_pipes[UNIX_CONNECTIONS][2];
static const char g_unix_path[] = "/big_lock_unix.sock";

static void* unix_pair_partner(void* unused) {
    (void)unused;
    for (int i = 0; i < ROUNDS; ++i) {
        int value;
        ssize_t got =
            (i & 1) ? recv(g_unix_pair[1], &value, sizeof value, 0) : read(g_unix_pair[1], &value, sizeof value);
        if (got != sizeof value) break;
        ++value;
        ssize_t sent =
            (i & 1) ? send(g_unix_pair[1], &value, sizeof value, 0) : write(g_unix_pair[1], &value, sizeof value);
        if (sent != sizeof value) break;
    }
    return NULL;
}

// The client side of the bound server: connect, UNIX_MESSAGES round trips, then a pipe's read
// end passed with SCM_RIGHTS (its byte written first) and the server's answer.
static void* unix_client(void* unused) {
    (void)unused;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, g_unix_path);
    for (int c = 0; c < UNIX_CONNECTIONS; ++c) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        g_unix_client_fds[c] = fd;
        if (fd < 0 || connect(fd, (struct sockaddr*)&address, sizeof address) != 0) return (void*)1;
        for (int i = 0; i < UNIX_MESSAGES; ++i) {
            int value = c * 1000 + i, back = 0;
            if (write(fd, &value, sizeof value) != sizeof value) return (void*)2;
            if (read(fd, &back, sizeof back) != sizeof back || back != value + 1) return (void*)3;
        }
        if (pipe(g_unix_passed_pipes[c]) != 0) return (void*)4;
        char byte = (char)('a' + c);
        if (write(g_unix_passed_pipes[c][1], &byte, 1) != 1) return (void*)5;
        union {
            struct cmsghdr header;
            char space[CMSG_SPACE(sizeof(int))];
        } control;
        memset(&control, 0, sizeof control);
        struct iovec v = {.iov_base = &byte, .iov_len = 1};
        struct msghdr message = {
            .msg_iov = &v, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
        struct cmsghdr* header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &g_unix_passed_pipes[c][0], sizeof(int));
        if (sendmsg(fd, &message, 0) != 1) return (void*)6;
        char answer = 0;
        if (recv(fd, &answer, 1, 0) != 1 || answer != byte) return (void*)7;
    }
    return NULL;
}

// With several CPUs AF_UNIX sockets take the big lock 0 times at entry (socket and socketpair
// too: sys/lock_free_syscalls.h) and not inside either (their state is g_unix_lock's,
// net/unix.cpp): a socketpair ping-pong (read/write, send/recv) between two threads, then a
// server bound to a path accepting a client thread's connections, each with round trips and
// a descriptor passed with SCM_RIGHTS. The sockets are closed after the counts are read (a
// description's end takes the big lock). On main every one of these calls took it.
static void unix_counts(void) {
    long cpus = big_lock_count("cpus", 0);
    long before[16] = {0};
    for (int i = 0; g_unix_names[i]; ++i) before[i] = big_lock_count(g_unix_names[i], 1);
    long functions = big_lock_count("function_entries", 0);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_unix_pair) == 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, unix_pair_partner, NULL) == 0);
    int rounds = 0;
    for (int i = 0; i < ROUNDS; ++i) {
        int value = i * 3, back = 0;
        ssize_t sent =
            (i & 1) ? send(g_unix_pair[0], &value, sizeof value, 0) : write(g_unix_pair[0], &value, sizeof value);
        ssize_t got = (i & 1) ? recv(g_unix_pair[0], &back, sizeof back, 0) : read(g_unix_pair[0], &back, sizeof back);
        if (sent != sizeof value || got != sizeof back || back != value + 1) break;
        ++rounds;
    }
    pthread_join(thread, NULL);
    CHECK(rounds == ROUNDS);

    unlink(g_unix_path);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, g_unix_path);
    CHECK(bind(listener, (struct sockaddr*)&address, sizeof address) == 0);
    CHECK(listen(listener, 4) == 0);
    CHECK(pthread_create(&thread, NULL, unix_client, NULL) == 0);
    int accepted[UNIX_CONNECTIONS], received[UNIX_CONNECTIONS];
    int served = 0;
    for (int c = 0; c < UNIX_CONNECTIONS; ++c) {
        accepted[c] = received[c] = -1;
        int fd = accepted[c] = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) break;
        int i = 0;
        for (; i < UNIX_MESSAGES; ++i) {
            int value;
            if (read(fd, &value, sizeof value) != sizeof value || value != c * 1000 + i) break;
            ++value;
            if (write(fd, &value, sizeof value) != sizeof value) break;
        }
        if (i < UNIX_MESSAGES) break;
        char byte = 0;
        union {
            struct cmsghdr header;
            char space[CMSG_SPACE(sizeof(int))];
        } control;
        struct iovec v = {.iov_base = &byte, .iov_len = 1};
        struct msghdr message = {
            .msg_iov = &v, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
        if (recvmsg(fd, &message, MSG_CMSG_CLOEXEC) != 1) break;
        struct cmsghdr* header = CMSG_FIRSTHDR(&message);
        if (!header || header->cmsg_type != SCM_RIGHTS) break;
        memcpy(&received[c], CMSG_DATA(header), sizeof(int));
        char from_pipe = 0;
        if (read(received[c], &from_pipe, 1) != 1 || from_pipe != byte) break;
        if (send(fd, &byte, 1, 0) != 1) break;
        ++served;
    }
    void* result = NULL;
    pthread_join(thread, &result);
    CHECK(served == UNIX_CONNECTIONS);
    CHECK(result == NULL);

    functions = big_lock_count("function_entries", 0) - functions;
    long total = 0;
    printf("big lock taken by AF_UNIX sockets (a socketpair ping-pong of %d rounds, %d connections to a bound "
           "server):",
           rounds, served);
    for (int i = 0; g_unix_names[i]; ++i) {
        long taken = big_lock_count(g_unix_names[i], 1) - before[i];
        printf(" %s %ld", g_unix_names[i], taken);
        total += taken;
    }
    printf(" (inside: %ld)\n", functions);
    if (cpus > 1) {
        CHECK(total == 0);
        // Inside: the two threads' start and end (musl's __clone...), not one per call (there
        // were over 2,000 socket calls).
        CHECK(functions < 20);
    }
    close(g_unix_pair[0]);
    close(g_unix_pair[1]);
    for (int c = 0; c < UNIX_CONNECTIONS; ++c) {
        close(accepted[c]);
        close(received[c]);
        close(g_unix_client_fds[c]);
        close(g_unix_passed_pipes[c][0]);
        close(g_unix_passed_pipes[c][1]);
    }
    close(listener);
    unlink(g_unix_path);
}

static void net_cases(void) {
    tcp_ping_pong_counts();
    unix_counts();
}

// --- Network RX and TX (branch smp-rx) --------------------------------------------------------

#define NIC_GUEST_PORT 7000
#define NIC_BYTES (256 * 1024)
#define NIC_CHUNK 4096

static int g_nic_server_fd;

static void* nic_echo(void* unused) {
    (void)unused;
    static char buffer[NIC_CHUNK];
    for (;;) {
        ssize_t got = read(g_nic_server_fd, buffer, sizeof buffer);
        if (got <= 0) break;
        for (ssize_t done = 0; done < got;) {
            ssize_t sent = write(g_nic_server_fd, buffer + done, (size_t)(got - done));
            if (sent <= 0) return NULL;
            done += sent;
        }
    }
    return NULL;
}

// A TCP transfer through the virtio NIC, not loopback: the image connects to the host
// (10.0.2.2:HOSTPORT under QEMU's user networking), whose port forwarding (xos-run -p
// tcp:HOSTPORT:7000) brings the connection back in to this image's listener on port 7000, so
// every byte crosses the NIC twice each way. NIC_BYTES are sent and echoed back, checked. With
// several CPUs the NIC's interrupts (virtio-net: its handler has its own lock), lwIP's tcpip thread
// and the RX thread (kernel threads without the big lock) take the big lock 0 times:
// `interrupts` in /proc/xos/big_lock stays put (on main every virtio-net interrupt took it).
static void nic_case(int host_port) {
    long cpus = big_lock_count("cpus", 0);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    int one = 1;
    CHECK(setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons(NIC_GUEST_PORT)};
    CHECK(bind(listener, (struct sockaddr*)&local, sizeof local) == 0);
    CHECK(listen(listener, 4) == 0);

    long interrupts = big_lock_count("interrupts", 0);
    long functions = big_lock_count("function_entries", 0);
    static const char* const names[] = {"connect", "accept4", "accept", "read", "write", NULL};
    long before[8] = {0};
    for (int i = 0; names[i]; ++i) before[i] = big_lock_count(names[i], 1);

    // The address comes from DHCP at boot (connect waits up to 2 s for it): try a few times.
    struct sockaddr_in host = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)host_port),
                               .sin_addr.s_addr = htonl(0x0a000202)};  // 10.0.2.2
    int client = -1;
    for (int attempt = 0; attempt < 10 && client < 0; ++attempt) {
        client = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(client >= 0);
        if (connect(client, (struct sockaddr*)&host, sizeof host) != 0) {
            printf("nic: connect to 10.0.2.2:%d: %s (attempt %d)\n", host_port, strerror(errno), attempt + 1);
            close(client);
            client = -1;
            sleep(1);
        }
    }
    CHECK(client >= 0);
    if (client < 0) return;
    g_nic_server_fd = accept(listener, NULL, NULL);
    CHECK(g_nic_server_fd >= 0);
    if (g_nic_server_fd < 0) return;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, nic_echo, NULL) == 0);

    static char out[NIC_CHUNK], in[NIC_CHUNK];
    long moved = 0, mismatches = 0;
    for (int chunk = 0; chunk < NIC_BYTES / NIC_CHUNK; ++chunk) {
        for (int i = 0; i < NIC_CHUNK; ++i) out[i] = (char)(chunk * 7 + i);
        ssize_t sent = 0;
        while (sent < NIC_CHUNK) {
            ssize_t n = write(client, out + sent, (size_t)(NIC_CHUNK - sent));
            if (n <= 0) break;
            sent += n;
        }
        ssize_t got = 0;
        while (got < sent) {
            ssize_t n = read(client, in + got, (size_t)(sent - got));
            if (n <= 0) break;
            got += n;
        }
        if (sent != NIC_CHUNK || got != NIC_CHUNK) break;
        if (memcmp(in, out, NIC_CHUNK)) ++mismatches;
        moved += got;
    }
    shutdown(client, SHUT_WR);
    pthread_join(thread, NULL);

    interrupts = big_lock_count("interrupts", 0) - interrupts;
    functions = big_lock_count("function_entries", 0) - functions;
    long total = 0;
    printf("big lock taken by a TCP transfer of %ld bytes each way through the NIC: interrupts %ld", moved, interrupts);
    for (int i = 0; names[i]; ++i) {
        long taken = big_lock_count(names[i], 1) - before[i];
        printf(" %s %ld", names[i], taken);
        total += taken;
    }
    printf(" (inside: %ld)\n", functions);
    CHECK(moved == NIC_BYTES && mismatches == 0);
    if (cpus > 1) {
        CHECK(interrupts == 0);  // the NIC's interrupts: no big lock
        CHECK(total == 0);  // the socket calls (lock-free since branch smp-net)
    }
    close(client);
    close(g_nic_server_fd);
    close(listener);
}

// --- poll, select and epoll (branch smp-poll) -------------------------------------------------

// Each side of a ping-pong waits for its turn with a different call each round: poll, ppoll,
// select, pselect6 (no signal mask) and epoll_wait (musl: epoll_pwait without a mask) on an
// epoll instance of its own, whose item it also changes with EPOLL_CTL_MOD every round.
enum { WAIT_POLL, WAIT_PPOLL, WAIT_SELECT, WAIT_PSELECT, WAIT_EPOLL, WAIT_KINDS };

struct PollSide {
    int read_fd, write_fd, epoll;
    int eventfd;  // 8-byte values
};

static int poll_side_wait(const struct PollSide* side, int round) {
    int fd = side->read_fd;
    switch (round % WAIT_KINDS) {
    case WAIT_POLL: {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        return poll(&p, 1, -1) == 1 && (p.revents & POLLIN);
    }
    case WAIT_PPOLL: {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        return ppoll(&p, 1, NULL, NULL) == 1 && (p.revents & POLLIN);
    }
    case WAIT_SELECT:
    case WAIT_PSELECT: {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(fd, &set);
        int n = round % WAIT_KINDS == WAIT_SELECT ? select(fd + 1, &set, NULL, NULL, NULL)
                                                  : pselect(fd + 1, &set, NULL, NULL, NULL, NULL);
        return n == 1 && FD_ISSET(fd, &set);
    }
    default: {
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)round};
        if (epoll_ctl(side->epoll, EPOLL_CTL_MOD, fd, &event) != 0) return 0;
        struct epoll_event ready;
        return epoll_wait(side->epoll, &ready, 1, -1) == 1 && ready.data.u32 == (uint32_t)round;
    }
    }
}

static int poll_side_send(const struct PollSide* side, int round) {
    if (side->eventfd) return write(side->write_fd, &(uint64_t){(uint64_t)round + 1}, 8) == 8;
    char byte = (char)round;
    return write(side->write_fd, &byte, 1) == 1;
}

static int poll_side_receive(const struct PollSide* side, int round) {
    if (side->eventfd) {
        uint64_t value = 0;
        return read(side->read_fd, &value, 8) == 8 && value == (uint64_t)round + 1;
    }
    char byte = 0;
    return read(side->read_fd, &byte, 1) == 1 && byte == (char)round;
}

static struct PollSide g_poll_sides[2];

static void* poll_partner(void* unused) {
    (void)unused;
    const struct PollSide* side = &g_poll_sides[1];
    for (int i = 0; i < ROUNDS; ++i) {
        if (!poll_side_wait(side, i) || !poll_side_receive(side, i) || !poll_side_send(side, i)) return (void*)1;
    }
    return NULL;
}

static void poll_side_init(struct PollSide* side, int read_fd, int write_fd, int is_eventfd) {
    *side = (struct PollSide){read_fd, write_fd, epoll_create1(0), is_eventfd};
    CHECK(side->epoll >= 0);
    struct epoll_event event = {.events = EPOLLIN};
    CHECK(epoll_ctl(side->epoll, EPOLL_CTL_ADD, read_fd, &event) == 0);
}

// A ping-pong over `what` (the sides set up in g_poll_sides): with several CPUs the waits and
// epoll_ctl take the big lock 0 times at entry (sys/lock_free_syscalls.h), and nothing inside
// takes it either (File::readiness() of pipes, eventfds and inet sockets needs no big lock).
static void poll_ping_pong(const char* what) {
    static const char* const names[] = {"poll",        "ppoll",      "select",    "pselect6",
                                        "epoll_pwait", "epoll_wait", "epoll_ctl", NULL};
    long cpus = big_lock_count("cpus", 0);
    long before[8] = {0};
    for (int i = 0; names[i]; ++i) before[i] = big_lock_count(names[i], 1);
    long functions = big_lock_count("function_entries", 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, poll_partner, NULL) == 0);
    const struct PollSide* side = &g_poll_sides[0];
    int rounds = 0;
    for (int i = 0; i < ROUNDS; ++i) {
        if (!poll_side_send(side, i) || !poll_side_wait(side, i) || !poll_side_receive(side, i)) break;
        ++rounds;
    }
    void* failed = NULL;
    pthread_join(thread, &failed);
    functions = big_lock_count("function_entries", 0) - functions;
    long total = 0;
    printf("big lock taken by a ping-pong of %d rounds waiting with poll/ppoll/select/pselect6/epoll on %s:", rounds,
           what);
    for (int i = 0; names[i]; ++i) {
        long taken = big_lock_count(names[i], 1) - before[i];
        printf(" %s %ld", names[i], taken);
        total += taken;
    }
    printf(" (inside: %ld)\n", functions);
    CHECK(rounds == ROUNDS && failed == NULL);
    if (cpus > 1) {
        CHECK(total == 0);
        // Inside: the thread's start and end and reading the counters, not one per wait.
        CHECK(functions < ROUNDS);
    }
    for (int i = 0; i < 2; ++i) close(g_poll_sides[i].epoll);
}

static void poll_cases(void) {
    int to_partner[2], to_main[2];
    CHECK(pipe(to_partner) == 0 && pipe(to_main) == 0);
    poll_side_init(&g_poll_sides[0], to_main[0], to_partner[1], 0);
    poll_side_init(&g_poll_sides[1], to_partner[0], to_main[1], 0);
    poll_ping_pong("pipes");
    for (int i = 0; i < 2; ++i) close(to_partner[i]), close(to_main[i]);

    int events_partner = eventfd(0, 0), events_main = eventfd(0, 0);
    CHECK(events_partner >= 0 && events_main >= 0);
    poll_side_init(&g_poll_sides[0], events_main, events_partner, 1);
    poll_side_init(&g_poll_sides[1], events_partner, events_main, 1);
    poll_ping_pong("eventfds");
    close(events_partner);
    close(events_main);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(listener, (struct sockaddr*)&address, sizeof address) == 0);
    CHECK(listen(listener, 1) == 0);
    socklen_t length = sizeof address;
    CHECK(getsockname(listener, (struct sockaddr*)&address, &length) == 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(client >= 0);
    CHECK(connect(client, (struct sockaddr*)&address, sizeof address) == 0);
    int server = accept(listener, NULL, NULL);
    CHECK(server >= 0);
    int one = 1;
    CHECK(setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    CHECK(setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    poll_side_init(&g_poll_sides[0], client, client, 0);
    poll_side_init(&g_poll_sides[1], server, server, 0);
    poll_ping_pong("a TCP loopback connection");
    close(client);
    close(server);
    close(listener);
}
