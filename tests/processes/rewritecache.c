// The syscall-site rewriter's per-file cache and its site records (docs/syscall-rewriting.md):
// a file of code with SITES `mov $39,%eax; syscall; ret` stubs (getpid) on PAGES pages is mapped
// executable by several processes, each at another address, and every stub is called:
// - the first process patches every site (more than the 512 a fixed table held) and its
//   second round of calls makes no trap-path syscall;
// - the next ones, mapping the file elsewhere, patch nothing and trap nowhere: the patched
//   pages come from the cache, with their trampolines at the same distance;
// - the site records go when the processes exit;
// - the file rewritten (pwrite: getppid stubs on one page) drops its cached pages: a new mapping
//   runs the new code; a process that mapped the old file keeps it when a new file is renamed
//   over the path.
// Every stub's result is checked everywhere; the lines starting with "xos:" are printed only
// where /proc/xos/rewrite exists, the others are the same natively.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PAGES = 80, PER_PAGE = 8, SITES = PAGES * PER_PAGE, STUB = 16, PAGE = 4096 };

static const char* path = "/tmp/rewritecache/code.bin";

// One page: PER_PAGE stubs of `mov $N,%eax; syscall; ret`, int3 around them.
static void fill(unsigned char* page, int number) {
    memset(page, 0xcc, PAGE);
    for (int i = 0; i < PER_PAGE; ++i) {
        unsigned char* s = page + 64 + i * 256;  // apart: each site its own place in the page
        s[0] = 0xb8;
        memcpy(s + 1, &number, 4);
        s[5] = 0x0f, s[6] = 0x05, s[7] = 0xc3;
    }
}

static int write_file(const char* to, int other_page, int other_number) {
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0) return 0;
    static unsigned char page[PAGE];
    for (int p = 0; p < PAGES; ++p) {
        fill(page, p == other_page ? other_number : 39);
        if (write(fd, page, PAGE) != PAGE) return close(fd), 0;
    }
    return close(fd) == 0;
}

struct Counters {
    unsigned long traps, patched, sites, sites_freed, cache_pages, cache_hits, cache_invalidated;
};

static int read_counters(struct Counters* c) {
    memset(c, 0, sizeof *c);
    FILE* f = fopen("/proc/xos/rewrite", "r");
    if (!f) return 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "traps %lu", &c->traps);
        sscanf(line, "patched %lu", &c->patched);
        sscanf(line, "sites %lu", &c->sites);
        sscanf(line, "sites_freed %lu", &c->sites_freed);
        sscanf(line, "cache_pages %lu", &c->cache_pages);
        sscanf(line, "cache_hits %lu", &c->cache_hits);
        sscanf(line, "cache_invalidated %lu", &c->cache_invalidated);
    }
    fclose(f);
    return 1;
}

// Maps the file, `shift` MiB further down than it would go (a reservation placed first).
static unsigned char* map_code(int shift) {
    if (shift && mmap(NULL, (size_t)shift << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
        return NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    void* code = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    close(fd);
    return code == MAP_FAILED ? NULL : code;
}

static int call_all(unsigned char* code, int other_page, long other) {
    int wrong = 0;
    long pid = getpid();
    for (int p = 0; p < PAGES; ++p)
        for (int i = 0; i < PER_PAGE; ++i) {
            long (*stub)(void) = (long (*)(void))(code + p * PAGE + 64 + i * 256);
            wrong += stub() != (p == other_page ? other : pid);
        }
    return wrong;
}

// The stubs of page `other_page` must return `other`, the rest getpid(). Returns the number of
// wrong results.
static int call_all(unsigned char* code, int other_page, long other);

// A child that maps the code `shift` MiB lower, calls every stub twice and reports what the
// counters did in each round (xos lines) and how many results were wrong. `pages`: how many
// pages it should patch (the others come from the cache).
static int child(const char* name, int shift, int other_page, long other, unsigned long pages) {
    struct Counters before_map, c0, c1, c2;
    read_counters(&before_map);  // the cached pages are mapped with the file
    unsigned char* code = map_code(shift);
    if (!code) {
        printf("%s: cannot map the code\n", name);
        return 1;
    }
    int xos = read_counters(&c0);
    int wrong = call_all(code, other_page, other);
    read_counters(&c1);
    wrong += call_all(code, other_page, other);
    read_counters(&c2);
    printf("%s: %d calls, %d wrong results\n", name, 2 * SITES, wrong);
    int ok = wrong == 0;
    if (xos) {
        // A trap per site in the first round when patching (reading /proc/xos/rewrite itself
        // makes a few trap-path syscalls: allowed a handful), none from the stubs after.
        unsigned long traps1 = c1.traps - c0.traps, traps2 = c2.traps - c1.traps;
        unsigned long patched = c2.patched - c0.patched, hits = c1.cache_hits - before_map.cache_hits;
        printf("xos: %s at %#lx: patched %lu, traps %lu then %lu, pages from the cache %lu, site records %lu\n", name,
               (unsigned long)code, patched, traps1, traps2, hits, c2.sites);
        unsigned long sites = pages * PER_PAGE;
        ok = ok && patched >= sites && patched <= sites + 4 && traps1 >= sites && traps1 <= sites + 8 && traps2 < 8 &&
            hits + pages + 2 >= PAGES;
    }
    return ok ? 0 : 1;
}

static int run_child(const char* name, int shift, int other_page, long other, unsigned long pages) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int status = child(name, shift, other_page, other, pages);
        fflush(stdout);
        _exit(status);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void) {
    mkdir("/tmp", 01777);
    mkdir("/tmp/rewritecache", 0755);
    if (!write_file(path, -1, 0)) {
        printf("cannot write %s\n", path);
        return 1;
    }
    struct Counters start, end;
    int xos = read_counters(&start);
    int ok = 1;
    // Each at another address.
    ok = run_child("first", 0, -1, 0, PAGES) && ok;
    ok = run_child("second", 64, -1, 0, 0) && ok;
    ok = run_child("third", 300, -1, 0, 0) && ok;
    // Rewritten in place: page 5's stubs become getppid; the cache must not give the old code.
    int fd = open(path, O_WRONLY);
    static unsigned char page[PAGE];
    fill(page, 110);
    ok = fd >= 0 && pwrite(fd, page, PAGE, 5 * PAGE) == PAGE && close(fd) == 0 && ok;
    ok = run_child("rewritten", 16, 5, getpid(), 1) && ok;
    // A process maps the file and waits; a new file (page 7 getppid) is renamed over the path;
    // the process still runs the old code, a new one the new code.
    int go[2], mapped[2];
    if (pipe(go) || pipe(mapped)) return 1;
    fflush(stdout);
    pid_t old = fork();
    if (old == 0) {
        unsigned char* code = map_code(0);
        char byte;
        if (code) call_all(code, 5, getppid());  // patched before the rename
        if (!code || write(mapped[1], "m", 1) != 1 || read(go[0], &byte, 1) != 1) _exit(1);
        int wrong = call_all(code, 5, getppid());
        printf("mapped before the rename: %d wrong results\n", wrong);
        fflush(stdout);
        _exit(wrong ? 1 : 0);
    }
    char byte;
    ok = read(mapped[0], &byte, 1) == 1 && ok;
    ok = write_file("/tmp/rewritecache/new.bin", 7, 110) && rename("/tmp/rewritecache/new.bin", path) == 0 && ok;
    ok = write(go[1], "g", 1) == 1 && ok;
    int status;
    ok = waitpid(old, &status, 0) == old && WIFEXITED(status) && WEXITSTATUS(status) == 0 && ok;
    ok = run_child("renamed over", 0, 7, getpid(), PAGES) && ok;
    if (xos) {
        read_counters(&end);
        printf("xos: site records %lu before, %lu after (%lu freed); cached pages %lu, %lu dropped for a change\n",
               start.sites, end.sites, end.sites_freed - start.sites_freed, end.cache_pages,
               end.cache_invalidated - start.cache_invalidated);
        // The children's records went with them (this process made a few of its own).
        ok = ok && end.sites < start.sites + 64 && end.sites_freed - start.sites_freed >= 2 * SITES &&
            end.cache_invalidated > start.cache_invalidated;
    }
    unlink(path);
    rmdir("/tmp/rewritecache");
    printf("rewritecache: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
