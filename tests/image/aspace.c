// Per-process address spaces and fork's copy on write, through the test-only entry
// xos_test_fork_space (libos/mm/fork_test_hook.cpp) until fork(2) exists: the current memory is
// copied, then the body runs in the child's space (even steps) and the parent's (odd steps).
// Private memory diverges, MAP_SHARED memory stays shared (also pages first touched after the
// fork), private file pages nobody wrote keep following the file, munmap/mprotect in one space
// leave the other alone, a syscall site the rewriter patches in one space stays as it was in the
// other (libos/rewrite; hosted: XOS_EXEC=wx), and every frame of the child is freed again
// (MemFree as before).
// Exit status = number of failures.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

long xos_test_fork_space(long (*body)(int step, void* arg), void* arg, int steps);
long xos_test_fork_space_write(long (*body)(int step, void* arg), void* arg, int steps, unsigned long address,
                               const void* data, size_t size);
long xos_test_shared_frames(void);

enum { PAGE = 4096 };

struct Memory {
    char* priv;  // 4 pages, private anonymous, written before the fork
    char* untouched;  // 2 pages, private anonymous, no frame at the fork
    char* shared;  // 2 pages, MAP_SHARED | MAP_ANONYMOUS: page 0 written before, page 1 not
    char* file_private;  // 3 pages of the file, MAP_PRIVATE: page 0 written (a private copy), 1 read, 2 not
    char* file_shared;  // the same file, MAP_SHARED
    char* heap;  // 2 pages of brk memory
    char* stack;  // 2 pages of main's stack
    char* dont_fork;  // MADV_DONTFORK
    char* wipe;  // MADV_WIPEONFORK
    char* unmapped_in_child;  // 2 pages the child unmaps
    char* file_fresh;  // 1 page of the file, MAP_PRIVATE, read-only, never touched in the parent
    unsigned char* code;  // `mov $SYS_getpid,%eax; syscall; ret`, read-execute, never run before the fork
    long pid;
};

static long call_site(struct Memory* m) { return ((long (*)(void))m->code)(); }

static int all(const char* p, char c, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != c) return 0;
    return 1;
}

static long body(int step, void* arg) {
    struct Memory* m = arg;
    switch (step) {
    case 0:  // child: sees the parent's memory as it was at the fork, then writes its own
        for (int i = 0; i < 4; ++i) CHECK(all(m->priv + i * PAGE, 'A' + i, PAGE));
        CHECK(all(m->untouched, 0, 2 * PAGE));
        CHECK(all(m->shared, 's', PAGE) && all(m->shared + PAGE, 0, PAGE));
        CHECK(all(m->file_private, 'P', PAGE) && all(m->file_private + PAGE, 'f', 2 * PAGE));
        CHECK(all(m->heap, 'h', 2 * PAGE));
        CHECK(all(m->stack, 's', 2 * PAGE));
        CHECK(all(m->wipe, 0, PAGE));  // wiped in the child
        CHECK(mprotect(m->dont_fork, PAGE, PROT_READ) == -1 && errno == ENOMEM);  // not there
        CHECK(all(m->unmapped_in_child, 'm', 2 * PAGE));
        memset(m->priv, 'c', PAGE);
        memset(m->untouched, 'c', PAGE);
        memset(m->shared, 'C', PAGE);
        memset(m->shared + PAGE, 'D', PAGE);  // first touched after the fork: still shared
        memset(m->file_private, 'c', PAGE);  // a private copy shared by the fork
        memset(m->file_private + PAGE, 'c', PAGE);  // the file's page: copied
        memset(m->file_shared + 2 * PAGE, 'S', PAGE);  // into the file
        memset(m->heap, 'c', PAGE);
        memset(m->stack, 'c', PAGE);
        memset(m->wipe, 'c', PAGE);
        CHECK(munmap(m->unmapped_in_child, 2 * PAGE) == 0);
        CHECK(call_site(m) == m->pid && m->code[0] == 0xe9);  // patched: a jump to a trampoline
        return 0;
    case 1:  // parent: its private memory unchanged, the shared memory and the file as the child left them
        CHECK(all(m->priv, 'A', PAGE));
        CHECK(all(m->untouched, 0, 2 * PAGE));
        CHECK(all(m->shared, 'C', PAGE) && all(m->shared + PAGE, 'D', PAGE));
        CHECK(all(m->file_private, 'P', PAGE) && all(m->file_private + PAGE, 'f', PAGE));
        CHECK(all(m->file_private + 2 * PAGE, 'S', PAGE));  // never written here: the file's page
        CHECK(all(m->heap, 'h', 2 * PAGE));
        CHECK(all(m->stack, 's', 2 * PAGE));
        CHECK(all(m->wipe, 'w', PAGE));
        CHECK(all(m->dont_fork, 'd', PAGE));
        CHECK(all(m->unmapped_in_child, 'm', 2 * PAGE));  // munmap in the child left it here
        memset(m->priv + PAGE, 'p', PAGE);
        memset(m->shared, 'E', PAGE);
        memset(m->heap + PAGE, 'p', PAGE);
        CHECK(munmap(m->priv + 3 * PAGE, PAGE) == 0);
        CHECK(m->code[0] == 0xb8);  // the child's patch is the child's
        CHECK(call_site(m) == m->pid && m->code[0] == 0xe9);
        return 0;
    case 2:  // child: the parent's writes to private memory are not here, to shared memory they are
        CHECK(all(m->priv, 'c', PAGE) && all(m->priv + PAGE, 'B', PAGE) && all(m->priv + 3 * PAGE, 'D', PAGE));
        CHECK(all(m->shared, 'E', PAGE));
        CHECK(all(m->heap, 'c', PAGE) && all(m->heap + PAGE, 'h', PAGE));
        CHECK(all(m->file_private, 'c', 2 * PAGE) && all(m->file_private + 2 * PAGE, 'S', PAGE));
        // mprotect back to writable must not make a copy-on-write page writable in place.
        CHECK(mprotect(m->priv + 2 * PAGE, PAGE, PROT_READ) == 0);
        CHECK(mprotect(m->priv + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE) == 0);
        memset(m->priv + 2 * PAGE, 'x', PAGE);
        CHECK(call_site(m) == m->pid);  // its own trampoline, still there
        return 0;
    case 3:  // parent
        CHECK(all(m->priv + 2 * PAGE, 'C', PAGE));
        CHECK(all(m->priv + PAGE, 'p', PAGE));
        CHECK(all(m->untouched, 0, 2 * PAGE));
        return 0;
    }
    return 1;
}

// The second round: the child writes (so copies) and the parent only reads.
static long write_in_child(int step, void* arg) {
    struct Memory* m = arg;
    if (step == 0) {
        memset(m->priv, 'z', 3 * PAGE);
        memset(m->heap, 'z', 2 * PAGE);
        memset(m->stack, 'z', 2 * PAGE);
        memset(m->shared, 'z', 2 * PAGE);
    } else {
        CHECK(all(m->priv, 'c', PAGE) && all(m->heap, 'c', PAGE) && all(m->shared, 'z', 2 * PAGE));
    }
    return 0;
}

// The third rounds: libos writes into the child before it ever runs (VirtualMemory::write, what
// a loader does to a new image): across a copy-on-write page boundary, into a page with no frame
// yet, into a private file page that is still the file's (the file must not change). The body
// then checks the child and the parent.
static int g_written;  // which of the three

static long check_written(int step, void* arg) {
    struct Memory* m = arg;
    char* targets[3] = {m->priv + 2 * PAGE - 10, m->untouched + PAGE, m->file_fresh};
    size_t sizes[3] = {PAGE + 10, PAGE, PAGE};
    char* at = targets[g_written];
    if (step == 0) {
        CHECK(all(at, 'W', sizes[g_written]));
        CHECK(all(m->file_shared, 'f', PAGE));  // the file itself
    } else {
        CHECK(all(m->priv + PAGE, 'c', 2 * PAGE));
        CHECK(all(m->untouched + PAGE, 0, PAGE));
        CHECK(all(m->file_fresh, 'f', PAGE));
    }
    return 0;
}

static long mem_free_kib(void) {
    FILE* f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[128];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemFree: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static char* map(size_t size, int flags, int fd) {
    char* p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
    CHECK(p != MAP_FAILED);
    return p;
}

int main(void) {
    static struct Memory m;  // in the image: every space sees the same (they are not copied)
    char stack_pages[2 * PAGE];
    memset(stack_pages, 's', sizeof stack_pages);
    m.stack = stack_pages;

    m.priv = map(4 * PAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    for (int i = 0; i < 4; ++i) memset(m.priv + i * PAGE, 'A' + i, PAGE);
    m.untouched = map(2 * PAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    m.shared = map(2 * PAGE, MAP_SHARED | MAP_ANONYMOUS, -1);
    memset(m.shared, 's', PAGE);

    mkdir("/tmp", 01777);
    int fd = open("/tmp/aspace.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    char page[PAGE];
    memset(page, 'f', PAGE);
    for (int i = 0; i < 3; ++i) CHECK(write(fd, page, PAGE) == PAGE);
    m.file_private = map(3 * PAGE, MAP_PRIVATE, fd);
    m.file_shared = map(3 * PAGE, MAP_SHARED, fd);
    memset(m.file_private, 'P', PAGE);
    CHECK(all(m.file_private + PAGE, 'f', PAGE));

    char* brk0 = (char*)syscall(SYS_brk, 0);
    m.heap = (char*)(((unsigned long)brk0 + PAGE - 1) & ~(unsigned long)(PAGE - 1));
    CHECK((char*)syscall(SYS_brk, m.heap + 2 * PAGE) == m.heap + 2 * PAGE);
    memset(m.heap, 'h', 2 * PAGE);

    m.dont_fork = map(PAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    memset(m.dont_fork, 'd', PAGE);
    CHECK(madvise(m.dont_fork, PAGE, MADV_DONTFORK) == 0);
    m.wipe = map(PAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    memset(m.wipe, 'w', PAGE);
    CHECK(madvise(m.wipe, PAGE, MADV_WIPEONFORK) == 0);
    CHECK(madvise(m.file_private, PAGE, MADV_WIPEONFORK) == -1 && errno == EINVAL);
    m.unmapped_in_child = map(2 * PAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    memset(m.unmapped_in_child, 'm', 2 * PAGE);
    m.pid = getpid();
    m.code = (unsigned char*)map(PAGE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    static const unsigned char site[] = {0xb8, SYS_getpid, 0, 0, 0, 0x0f, 0x05, 0xc3};
    memcpy(m.code, site, sizeof site);
    CHECK(mprotect(m.code, PAGE, PROT_READ | PROT_EXEC) == 0);

    long r = xos_test_fork_space(body, &m, 4);
    CHECK(r == 0);
    CHECK(xos_test_shared_frames() == 0);
    // The parent's pages that were read-only for the copy are its own again: writable in place.
    memset(m.priv, 'c', 3 * PAGE);
    memset(m.heap, 'c', 2 * PAGE);
    memset(m.stack, 'c', 2 * PAGE);
    memset(m.file_private, 'c', 3 * PAGE);
    CHECK(all(m.file_shared + 2 * PAGE, 'S', PAGE));  // the private mapping's write stayed private

    (void)mem_free_kib();  // the first read allocates stdio's buffers (for good)
    long before = mem_free_kib();
    CHECK(before > 0);
    r = xos_test_fork_space(write_in_child, &m, 2);
    CHECK(r == 0);
    long after = mem_free_kib();
    CHECK(after == before);  // the child's copies and page tables are all free again
    CHECK(xos_test_shared_frames() == 0);
    CHECK(all(m.priv, 'c', 3 * PAGE) && all(m.heap, 'c', 2 * PAGE) && all(m.stack, 'c', 2 * PAGE));
    CHECK(all(m.shared, 'z', 2 * PAGE));
    printf("aspace: MemFree %ld kB before the second copy, %ld kB after\n", before, after);

    static char w[2 * PAGE];
    memset(w, 'W', sizeof w);
    m.file_fresh = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);  // read-only: a loader writes anyway
    CHECK(m.file_fresh != MAP_FAILED);
    char* targets[3] = {m.priv + 2 * PAGE - 10, m.untouched + PAGE, m.file_fresh};
    size_t sizes[3] = {PAGE + 10, PAGE, PAGE};
    for (g_written = 0; g_written < 3; ++g_written)
        CHECK(xos_test_fork_space_write(check_written, &m, 2, (unsigned long)targets[g_written], w, sizes[g_written]) ==
              0);
    CHECK(xos_test_shared_frames() == 0);

    printf("aspace: %d failure(s)\n", check_failures);
    return check_failures;
}
