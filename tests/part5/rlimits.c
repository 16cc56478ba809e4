// Resource limits (issue 16 part 5; what libc-test's rlimit-open-files and malloc-oom check):
// lowering and raising up to the hard limit, RLIMIT_NOFILE enforced by every call that makes a
// descriptor, RLIMIT_AS and RLIMIT_DATA making mmap/brk/malloc fail with ENOMEM, RLIMIT_NPROC
// for a non-root user (root is exempt, as on Linux), the others reported. Run natively (Debian's
// musl, as root) and on xos: the same output.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../conformance/show.h"

// Through a volatile pointer: clang may otherwise fold a malloc whose memory is never used
// into a non-null constant (it knows malloc), and the test would not test anything.
static void* (*volatile allocate)(size_t) = malloc;

static void reported(void) {
    static const struct {
        int resource;
        const char* name;
    } all[] = {{RLIMIT_CPU, "CPU"},           {RLIMIT_FSIZE, "FSIZE"},
               {RLIMIT_DATA, "DATA"},         {RLIMIT_STACK, "STACK"},
               {RLIMIT_CORE, "CORE"},         {RLIMIT_RSS, "RSS"},
               {RLIMIT_NPROC, "NPROC"},       {RLIMIT_NOFILE, "NOFILE"},
               {RLIMIT_MEMLOCK, "MEMLOCK"},   {RLIMIT_AS, "AS"},
               {RLIMIT_LOCKS, "LOCKS"},       {RLIMIT_SIGPENDING, "SIGPENDING"},
               {RLIMIT_MSGQUEUE, "MSGQUEUE"}, {RLIMIT_NICE, "NICE"},
               {RLIMIT_RTPRIO, "RTPRIO"},     {RLIMIT_RTTIME, "RTTIME"}};
    for (unsigned i = 0; i < sizeof all / sizeof *all; ++i) {
        struct rlimit l;
        char label[64];
        snprintf(label, sizeof label, "getrlimit(%s)", all[i].name);
        SHOW(label, getrlimit(all[i].resource, &l));
        printf("  %s cur <= max: %d\n", all[i].name, l.rlim_cur <= l.rlim_max);
    }
    struct rlimit l;
    SHOW("getrlimit(RLIM_NLIMITS)", getrlimit(RLIM_NLIMITS, &l));
    SHOW("getrlimit(bad pointer)", syscall(SYS_getrlimit, RLIMIT_CORE, (void*)8));
    getrlimit(RLIMIT_STACK, &l);
    printf("stack limit is set: %d\n", l.rlim_cur > 0);
    // Round trips of the limits a shell's ulimit sets.
    struct rlimit core = {0, RLIM_INFINITY};
    getrlimit(RLIMIT_CORE, &l);
    core.rlim_max = l.rlim_max;
    SHOW("setrlimit(CORE, 0)", setrlimit(RLIMIT_CORE, &core));
    getrlimit(RLIMIT_CORE, &l);
    printf("core now %lu\n", (unsigned long)l.rlim_cur);
    struct rlimit stack = {4 << 20, RLIM_INFINITY};
    getrlimit(RLIMIT_STACK, &l);
    stack.rlim_max = l.rlim_max;
    SHOW("setrlimit(STACK, 4 MiB)", setrlimit(RLIMIT_STACK, &stack));
    getrlimit(RLIMIT_STACK, &l);
    printf("stack now %lu\n", (unsigned long)l.rlim_cur);
    struct rlimit bad = {10, 5};
    SHOW("setrlimit(cur > max)", setrlimit(RLIMIT_CORE, &bad));
}

// Fills the table to the limit and tries every call that makes a descriptor.
static void nofile(void) {
    struct rlimit l = {64, 512};
    SHOW("setrlimit(NOFILE, 64/512)", setrlimit(RLIMIT_NOFILE, &l));
    int last = -1, fd;
    while ((fd = open("/dev/null", O_RDONLY)) >= 0) last = fd;
    printf("open until it fails: last fd %d, %s\n", last, errname(errno));
    SHOW("dup", dup(0));
    SHOW("fcntl(F_DUPFD, 0)", fcntl(0, F_DUPFD, 0));
    SHOW("fcntl(F_DUPFD, 64)", fcntl(0, F_DUPFD, 64));
    SHOW("dup2(0, 64)", dup2(0, 64));
    SHOW("dup3(0, 100, O_CLOEXEC)", dup3(0, 100, O_CLOEXEC));
    int p[2];
    SHOW("pipe", pipe(p));
    SHOW("socket", socket(AF_UNIX, SOCK_STREAM, 0));
    SHOW("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, p));
    SHOW("eventfd", eventfd(0, 0));
    SHOW("epoll_create1", epoll_create1(0));
    SHOW("memfd_create", memfd_create("x", 0));
    SHOW("openat", openat(AT_FDCWD, "/dev/null", O_RDONLY));
    close(last);
    SHOW("pipe with one free", pipe(p));
    SHOW("open with one free", open("/dev/null", O_RDONLY));
    SHOW("dup2(0, 63) (in range)", dup2(0, 63));
    // Raising the soft limit up to the hard one, then past it.
    l.rlim_cur = 512;
    SHOW("setrlimit(NOFILE, 512/512)", setrlimit(RLIMIT_NOFILE, &l));
    SHOW("open after raising", open("/dev/null", O_RDONLY));
    l.rlim_cur = 513;
    SHOW("setrlimit(NOFILE, 513/512)", setrlimit(RLIMIT_NOFILE, &l));
    // Raising the hard limit needs CAP_SYS_RESOURCE, which a container's root may lack (this
    // machine's does): not compared. xos's root has it, up to its descriptor table's size.
    struct rlimit now;
    SHOW("prlimit(self, NOFILE)", prlimit(0, RLIMIT_NOFILE, NULL, &now));
    printf("nofile now %lu/%lu\n", (unsigned long)now.rlim_cur, (unsigned long)now.rlim_max);
    struct rlimit low = {32, 512};
    SHOW("prlimit(getpid(), NOFILE, 32) below open fds", prlimit(getpid(), RLIMIT_NOFILE, &low, &now));
    printf("old was %lu\n", (unsigned long)now.rlim_cur);
    SHOW("fcntl(F_GETFD) of fd 60 still open", fcntl(60, F_GETFD));
    SHOW("open with 64 open and limit 32", open("/dev/null", O_RDONLY));
    for (fd = 3; fd < 1024; ++fd) close(fd);
    low.rlim_cur = 512;
    setrlimit(RLIMIT_NOFILE, &low);
}

static void address_space(void) {
    struct rlimit l = {256 << 20, RLIM_INFINITY};
    getrlimit(RLIMIT_AS, &l);
    printf("AS starts unlimited: %d\n", l.rlim_cur == RLIM_INFINITY);
    l.rlim_cur = 256 << 20;
    SHOW("setrlimit(AS, 256 MiB)", setrlimit(RLIMIT_AS, &l));
    errno = 0;
    void* big = allocate(512 << 20);
    printf("malloc(512 MiB): %s %s\n", big ? "ok" : "NULL", big ? "" : errname(errno));
    void* m = mmap(0, 512 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap(512 MiB): %s\n", m == MAP_FAILED ? errname(errno) : "mapped");
    m = mmap(0, 512 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    printf("mmap(512 MiB, PROT_NONE) counts too: %s\n", m == MAP_FAILED ? errname(errno) : "mapped");
    // libc-test's malloc-oom: allocate until malloc fails, with ENOMEM.
    static void* chunks[1024];
    int n = 0;
    errno = 0;
    while (n < 1024 && (chunks[n] = allocate(1 << 20))) ++n;
    printf("malloc(1 MiB) until NULL: %s, between 128 and 256 chunks: %d\n", errname(errno), n >= 128 && n < 256);
    while (n > 0) free(chunks[--n]);
    void* again = allocate(64 << 20);
    printf("malloc(64 MiB) after freeing: %s\n", again ? "ok" : "NULL");
    free(again);
    void* brk_old = sbrk(0);
    errno = 0;
    void* grown = sbrk(300 << 20);
    printf("sbrk(300 MiB): %s, break unchanged %d\n", grown == (void*)-1 ? errname(errno) : "grown",
           sbrk(0) == brk_old);
    l.rlim_cur = RLIM_INFINITY;
    SHOW("setrlimit(AS, unlimited)", setrlimit(RLIMIT_AS, &l));
    m = mmap(0, 512 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    printf("mmap(512 MiB) unlimited: %s\n", m == MAP_FAILED ? errname(errno) : "mapped");
    munmap(m, 512 << 20);
}

static void data(void) {
    struct rlimit l = {64 << 20, RLIM_INFINITY};
    getrlimit(RLIMIT_DATA, &l);
    l.rlim_cur = 64 << 20;
    SHOW("setrlimit(DATA, 64 MiB)", setrlimit(RLIMIT_DATA, &l));
    errno = 0;
    void* big = allocate(128 << 20);
    printf("malloc(128 MiB): %s %s\n", big ? "ok" : "NULL", big ? "" : errname(errno));
    void* m = mmap(0, 128 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap(private writable 128 MiB): %s\n", m == MAP_FAILED ? errname(errno) : "mapped");
    m = mmap(0, 128 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap(read-only 128 MiB) does not count: %s\n", m == MAP_FAILED ? errname(errno) : "mapped");
    if (m != MAP_FAILED) munmap(m, 128 << 20);
    void* brk_old = sbrk(0);
    errno = 0;
    void* grown = sbrk(100 << 20);
    printf("sbrk(100 MiB): %s, break unchanged %d\n", grown == (void*)-1 ? errname(errno) : "grown",
           sbrk(0) == brk_old);
    grown = sbrk(1 << 20);
    printf("sbrk(1 MiB): %s\n", grown == (void*)-1 ? errname(errno) : "grown");
    sbrk(-(1 << 20));
    void* small = allocate(8 << 20);
    printf("malloc(8 MiB): %s\n", small ? "ok" : "NULL");
    free(small);
    l.rlim_cur = RLIM_INFINITY;
    SHOW("setrlimit(DATA, unlimited)", setrlimit(RLIMIT_DATA, &l));
}

// RLIMIT_NPROC: root is exempt (Linux checks it only for other users without
// CAP_SYS_RESOURCE/CAP_SYS_ADMIN); a process that became uid 1000 is held to it.
static void nproc(void) {
    struct rlimit l;
    getrlimit(RLIMIT_NPROC, &l);
    struct rlimit one = {1, l.rlim_max};
    SHOW("setrlimit(NPROC, 1)", setrlimit(RLIMIT_NPROC, &one));
    pid_t child = fork();
    if (child == 0) _exit(3);
    int status = 0;
    waitpid(child, &status, 0);
    printf("fork as root with NPROC 1: %s, status %d\n", child > 0 ? "ok" : errname(errno), WEXITSTATUS(status));
    child = fork();
    if (child == 0) {
        if (setuid(1000) != 0) _exit(20);
        errno = 0;
        pid_t grandchild = fork();
        if (grandchild == 0) _exit(0);
        if (grandchild > 0) {
            waitpid(grandchild, NULL, 0);
            _exit(21);
        }
        _exit(errno == EAGAIN ? 22 : 23);
    }
    waitpid(child, &status, 0);
    printf("fork as uid 1000 with NPROC 1: status %d (22: EAGAIN)\n", WEXITSTATUS(status));
    setrlimit(RLIMIT_NPROC, &l);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    reported();
    nofile();
    address_space();
    data();
    nproc();
    puts("done");
    return 0;
}
