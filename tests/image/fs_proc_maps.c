// Image test of /proc/self/maps: the image's segments and the app's real mappings (mmap with
// its protections, mprotect splitting a mapping, munmap, the heap, the stack), in Linux's format.
// Prints one line per failed check and exits with the number of failed checks.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"

struct Mapping {
    uintptr_t start, end;
    char perms[5];
    char name[64];
};

static struct Mapping maps[256];
static int map_count;

// Reads /proc/self/maps into maps[]; false if a line does not have Linux's shape.
static int read_maps(void) {
    FILE* file = fopen("/proc/self/maps", "r");
    if (!file) return 0;
    char line[256];
    int ok = 1;
    map_count = 0;
    while (fgets(line, sizeof line, file) && map_count < 256) {
        struct Mapping* m = &maps[map_count++];
        unsigned long offset, inode;
        unsigned major, minor;
        int name_at = 0;
        m->name[0] = '\0';
        if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &m->start, &m->end, m->perms, &offset, &major, &minor, &inode,
                   &name_at) != 7) {
            printf("bad line: %s", line);
            ok = 0;
            continue;
        }
        sscanf(line + name_at, "%63s", m->name);
        // A named mapping's name starts at column 73, as on Linux.
        if (m->name[0] && name_at != 73) {
            printf("name not at column 73: %s", line);
            ok = 0;
        }
    }
    fclose(file);
    return ok;
}

static const struct Mapping* find(uintptr_t address) {
    for (int i = 0; i < map_count; ++i)
        if (address >= maps[i].start && address < maps[i].end) return &maps[i];
    return NULL;
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    char* region = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED);
    CHECK(mprotect(region + 2 * page, 2 * page, PROT_READ) == 0);
    CHECK(munmap(region + 6 * page, 2 * page) == 0);

    // The mmap region, split by mprotect, its tail unmapped (before anything else is mapped).
    CHECK(read_maps());
    const struct Mapping* m = find((uintptr_t)region);
    CHECK(m && m->start <= (uintptr_t)region && m->end == (uintptr_t)region + 2 * page &&
          strcmp(m->perms, "rw-p") == 0 && m->name[0] == '\0');
    m = find((uintptr_t)region + 2 * page);
    CHECK(m && m->end == (uintptr_t)region + 4 * page && strcmp(m->perms, "r--p") == 0);
    m = find((uintptr_t)region + 4 * page);
    CHECK(m && m->end == (uintptr_t)region + 6 * page && strcmp(m->perms, "rw-p") == 0);
    m = find((uintptr_t)region + 6 * page);
    CHECK(!m || m->start >= (uintptr_t)region + 8 * page);

    char* code_page = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(code_page != MAP_FAILED);
    char* heap = malloc(64);
    int on_stack = 0;

    CHECK(read_maps());
    CHECK(map_count >= 5);
    for (int i = 1; i < map_count; ++i) CHECK(maps[i - 1].end <= maps[i].start);  // sorted, disjoint

    // The image: code r-x, constants r--, data rw-, each named /proc/self/exe.
    m = find((uintptr_t)&main);
    CHECK(m && strcmp(m->perms, "r-xp") == 0 && strcmp(m->name, "/proc/self/exe") == 0);
    static const char constant[] = "constant";
    m = find((uintptr_t)constant);
    CHECK(m && strcmp(m->perms, "r--p") == 0 && strcmp(m->name, "/proc/self/exe") == 0);
    m = find((uintptr_t)&check_failures);
    CHECK(m && strcmp(m->perms, "rw-p") == 0 && strcmp(m->name, "/proc/self/exe") == 0);

    m = find((uintptr_t)code_page);
    CHECK(m && strcmp(m->perms, "r-xp") == 0);

    // The heap and the stack are named.
    m = find((uintptr_t)heap);
    CHECK(m && strchr(m->perms, 'w'));
    m = find((uintptr_t)&on_stack);
    CHECK(m && strcmp(m->name, "[stack]") == 0 && strcmp(m->perms, "rw-p") == 0);
    int heap_named = 0;
    for (int i = 0; i < map_count; ++i) heap_named |= strcmp(maps[i].name, "[heap]") == 0;
    void* brk_end = sbrk(0);
    CHECK(heap_named || brk_end == (void*)-1);

    if (check_failures)
        for (int i = 0; i < map_count; ++i)
            printf("  %lx-%lx %s %s\n", (unsigned long)maps[i].start, (unsigned long)maps[i].end, maps[i].perms,
                   maps[i].name);
    printf("%d failure(s)\n", check_failures);
    return check_failures;
}
