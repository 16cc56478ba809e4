// Image test: the root file system (ramfs) has a size limit, as tmpfs' size=, and a full root
// leaves memory to the program. Fills / (a file in /tmp) until write fails with ENOSPC, checks
// statfs/fstatfs before and after (the size stays the limit, the free blocks fall by the file's
// pages to 0), then allocates and touches 16 MiB (without the limit the fill took all memory and
// this ended the image with 137), frees the file and writes again.
//
//   fs_rootfs_full [EXPECTED_BLOCKS]   EXPECTED_BLOCKS: f_blocks the limit must give (4 KiB blocks)
//
// Prints one line per failed check and exits with the number of failed checks.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "check.h"

#define PATH "/tmp/fill.bin"
#define TOUCH_BYTES (16 << 20)

static char chunk[1 << 20];

// Writes `size`-byte chunks to `fd` until write fails; returns the errno of the failure and adds
// the bytes written to *total.
static int fill(int fd, size_t size, uint64_t* total) {
    for (;;) {
        ssize_t n = write(fd, chunk, size);
        if (n < 0) return errno;
        if (n == 0) return 0;
        *total += (uint64_t)n;
    }
}

int main(int argc, char** argv) {
    memset(chunk, 0xa5, sizeof chunk);
    struct statfs before, after, by_fd, freed;
    CHECK(statfs("/", &before) == 0);
    printf("root: %llu blocks of %ld, %llu free\n", (unsigned long long)before.f_blocks, (long)before.f_bsize,
           (unsigned long long)before.f_bfree);
    CHECK(before.f_bsize == 4096);
    CHECK(before.f_blocks > 0);
    CHECK(before.f_bfree <= before.f_blocks);
    CHECK(before.f_bavail == before.f_bfree);
    if (argc > 1) CHECK(before.f_blocks == strtoull(argv[1], NULL, 10));

    int fd = open(PATH, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0);
    if (fd < 0) return check_failures;
    uint64_t written = 0;
    int error = fill(fd, sizeof chunk, &written);
    CHECK(error == ENOSPC);
    error = fill(fd, 1000, &written);  // what a 1 MiB write could not take, down to the last page
    CHECK(error == ENOSPC);
    uint64_t pages = (written + 4095) / 4096;
    printf("wrote %llu bytes (%llu pages) before ENOSPC\n", (unsigned long long)written, (unsigned long long)pages);

    CHECK(statfs("/", &after) == 0);
    CHECK(fstatfs(fd, &by_fd) == 0);
    printf("full: %llu blocks, %llu free\n", (unsigned long long)after.f_blocks, (unsigned long long)after.f_bfree);
    CHECK(after.f_blocks == before.f_blocks);
    CHECK(after.f_bfree == 0);
    CHECK(after.f_bavail == 0);
    CHECK(pages == before.f_bfree);  // the file took exactly what statfs said was free
    CHECK(by_fd.f_blocks == after.f_blocks && by_fd.f_bfree == after.f_bfree && by_fd.f_type == after.f_type);
    CHECK(write(fd, chunk, 1) == -1 && errno == ENOSPC);  // still full
    CHECK(close(fd) == 0);

    // The program still has memory: allocate and touch every page.
    char* memory = malloc(TOUCH_BYTES);
    CHECK(memory != NULL);
    if (memory) {
        for (size_t i = 0; i < TOUCH_BYTES; i += 4096) memory[i] = (char)(i >> 12 | 1);
        uint64_t sum = 0;
        for (size_t i = 0; i < TOUCH_BYTES; i += 4096) sum += (unsigned char)memory[i];
        CHECK(sum > 0);
        free(memory);
        printf("allocated and touched %d MiB after ENOSPC\n", TOUCH_BYTES >> 20);
    }

    // Freeing the file gives its blocks back; writing works again.
    CHECK(unlink(PATH) == 0);
    CHECK(statfs("/", &freed) == 0);
    CHECK(freed.f_bfree == before.f_bfree);
    fd = open(PATH, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0 && write(fd, chunk, sizeof chunk) == (ssize_t)sizeof chunk);
    CHECK(close(fd) == 0 && unlink(PATH) == 0);

    printf("%d failure(s)\n", check_failures);
    return check_failures;
}
