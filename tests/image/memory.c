// Virtual memory: lazy commit, partial unmaps, protections, map/unmap cycles that give the
// memory back. Exits with the number of failed checks. Run with --mem 64M.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"

static long mem_free_kb(void) {
    FILE* f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[128];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemFree: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

int main(void) {
    // A 1 GiB reservation in a 64 MiB machine works until touched.
    size_t gib = 1ul << 30;
    char* big = mmap(NULL, gib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(big != MAP_FAILED);
    if (big != MAP_FAILED) {
        for (size_t off = 0; off < gib; off += 64ul << 20) big[off] = 1;  // 16 pages touched
        CHECK(big[0] == 1 && big[gib - 1] == 0);
        CHECK(munmap(big, gib) == 0);
    }

    // Partial unmaps split the mapping; the rest stays usable.
    char* m = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    memset(m, 7, 8 * 4096);
    CHECK(munmap(m + 2 * 4096, 2 * 4096) == 0);
    CHECK(m[0] == 7 && m[4 * 4096] == 7 && m[8 * 4096 - 1] == 7);
    CHECK(mprotect(m + 2 * 4096, 4096, PROT_READ) == -1 && errno == ENOMEM);  // a hole now
    CHECK(mprotect(m, 4096, PROT_READ) == 0 && m[0] == 7);
    CHECK(mprotect(m, 4096, PROT_READ | PROT_WRITE) == 0);
    m[0] = 8;
    CHECK(m[0] == 8);
    char* fixed = mmap(m + 2 * 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(fixed == m + 2 * 4096 && fixed[0] == 0);
    CHECK(madvise(m, 4096, MADV_DONTNEED) == 0 && m[0] == 0);
    char* grown = mremap(m + 4 * 4096, 4 * 4096, 64 * 4096, MREMAP_MAYMOVE);
    CHECK(grown != MAP_FAILED && grown[0] == 7 && grown[4 * 4096 - 1] == 7 && grown[63 * 4096] == 0);
    CHECK(munmap(m, 3 * 4096) == 0);
    if (grown != MAP_FAILED) CHECK(munmap(grown, 64 * 4096) == 0);

    // write() from a PROT_NONE buffer is EFAULT, not a crash.
    char* none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(none != MAP_FAILED && write(1, none, 1) == -1 && errno == EFAULT);
    char* ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ro != MAP_FAILED && read(0, ro, 1) <= 0);  // stdin at EOF; must not write to ro

    // 10,000 map/touch/unmap cycles give the memory back.
    long before = mem_free_kb();
    for (int i = 0; i < 10000; ++i) {
        size_t len = (size_t)(i % 7 + 1) * 4096;
        char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            CHECK(p != MAP_FAILED);
            break;
        }
        p[0] = 1;
        p[len - 1] = 1;
        munmap(p, len);
    }
    for (int i = 0; i < 1000; ++i) free(malloc((size_t)(i % 50 + 1) * 1000));
    long after = mem_free_kb();
    CHECK(before > 0 && after > 0);
    CHECK(after >= before - 512);  // a little slack for page tables and malloc's bookkeeping
    printf("MemFree before %ld kB, after %ld kB\n", before, after);

    printf("%d failure(s)\n", check_failures);
    return check_failures;
}
