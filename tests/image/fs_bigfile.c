// Image test: a 50 MB file on ramfs (/tmp), written in uneven chunks, read back whole with a
// checksum, then probed in the middle with lseek/read and pread/pwrite, extended sparsely and
// truncated. Run with enough guest memory (xos-run --mem 256M).
// Prints one line per failed check and exits with the number of failed checks.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define FILE_SIZE (50 * 1000 * 1000)
#define PATH "/tmp/big.bin"

// The byte at offset `at` of the file: a pattern that differs across pages and within them.
static uint8_t pattern(uint64_t at) { return (uint8_t)((at * 2654435761u) >> 13 ^ at >> 12); }

// FNV-1a over a buffer, continued from `hash`.
static uint64_t fnv1a(uint64_t hash, const uint8_t* bytes, size_t size) {
    for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
    return hash;
}

int main(void) {
    static uint8_t buffer[1 << 20];
    const uint64_t seed = 0xcbf29ce484222325ull;
    int fd = open(PATH, O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0);

    // Write in chunks of varying, unaligned sizes (4095, 8193, ... bytes).
    uint64_t written = 0, expected_hash = seed;
    for (size_t round = 0; written < FILE_SIZE; ++round) {
        size_t chunk = 4095 + (round % 7) * 37 * 1024 + (round % 3);
        if (chunk > FILE_SIZE - written) chunk = FILE_SIZE - written;
        for (size_t i = 0; i < chunk; ++i) buffer[i] = pattern(written + i);
        ssize_t n = write(fd, buffer, chunk);
        if (n != (ssize_t)chunk) {
            CHECK(n == (ssize_t)chunk);
            break;
        }
        expected_hash = fnv1a(expected_hash, buffer, chunk);
        written += chunk;
    }
    CHECK(fsync(fd) == 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == FILE_SIZE && st.st_blocks * 512 >= FILE_SIZE);

    // Read it back whole (through a second descriptor) and compare checksums.
    int reader = open(PATH, O_RDONLY);
    CHECK(reader >= 0);
    uint64_t hash = seed, total = 0;
    for (ssize_t n; (n = read(reader, buffer, sizeof buffer)) > 0; total += n) hash = fnv1a(hash, buffer, n);
    CHECK(total == FILE_SIZE);
    CHECK(hash == expected_hash);
    printf("checksum %016llx over %llu bytes\n", (unsigned long long)hash, (unsigned long long)total);

    // The middle: lseek + read, and pread, at unaligned offsets that straddle pages.
    uint8_t probe[10000];
    const uint64_t offsets[] = {FILE_SIZE / 2 - 5000, 4096 * 3000 - 1, FILE_SIZE - sizeof probe, 12345678};
    for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; ++k) {
        uint64_t at = offsets[k];
        CHECK(lseek(reader, (off_t)at, SEEK_SET) == (off_t)at);
        CHECK(read(reader, probe, sizeof probe) == sizeof probe);
        int same = 1;
        for (size_t i = 0; i < sizeof probe; ++i) same &= probe[i] == pattern(at + i);
        CHECK(same);
        memset(probe, 0, sizeof probe);
        CHECK(pread(fd, probe, sizeof probe, (off_t)at) == sizeof probe);
        same = 1;
        for (size_t i = 0; i < sizeof probe; ++i) same &= probe[i] == pattern(at + i);
        CHECK(same);
    }
    CHECK(lseek(reader, 0, SEEK_CUR) == (off_t)(12345678 + sizeof probe));
    CHECK(lseek(reader, -100, SEEK_END) == FILE_SIZE - 100 && read(reader, probe, sizeof probe) == 100);
    CHECK(read(reader, probe, sizeof probe) == 0);

    // pwrite in the middle changes exactly those bytes; the offset of fd does not move.
    off_t before = lseek(fd, 0, SEEK_CUR);
    memset(probe, 0xAB, 5000);
    CHECK(pwrite(fd, probe, 5000, FILE_SIZE / 3) == 5000);
    CHECK(lseek(fd, 0, SEEK_CUR) == before);
    uint8_t check[5002];
    CHECK(pread(reader, check, sizeof check, FILE_SIZE / 3 - 1) == sizeof check);
    CHECK(check[0] == pattern(FILE_SIZE / 3 - 1) && check[1] == 0xAB && check[5000] == 0xAB &&
          check[5001] == pattern(FILE_SIZE / 3 + 5000));

    // A hole past the end reads as zeros; truncating gives the memory back to the size asked.
    CHECK(pwrite(fd, "end", 3, FILE_SIZE + 10 * 1000 * 1000) == 3);
    CHECK(pread(reader, check, 4096, FILE_SIZE + 4096) == 4096);
    int zeros = 1;
    for (int i = 0; i < 4096; ++i) zeros &= check[i] == 0;
    CHECK(zeros);
    CHECK(ftruncate(fd, 4096) == 0 && fstat(fd, &st) == 0 && st.st_size == 4096);
    CHECK(pread(reader, check, 4096, 0) == 4096 && check[100] == pattern(100));

    CHECK(close(reader) == 0 && close(fd) == 0 && unlink(PATH) == 0);
    CHECK(access(PATH, F_OK) != 0 && errno == ENOENT);

    // ramfs reuses freed pages: a new file written partly must still read zeros around the data
    // (regression test for the page pool, which holds the big file's dirty pages now).
    for (int round = 0; round < 3; ++round) {
        int small = open("/tmp/small.bin", O_CREAT | O_RDWR | O_TRUNC, 0600);
        CHECK(small >= 0 && pwrite(small, "0123456789", 10, 100 + 4096 * round) == 10);
        CHECK(ftruncate(small, 4096 * (round + 1)) == 0);
        CHECK(pread(small, check, 4096, 4096 * round) == 4096);
        int clean = check[99] == 0 && memcmp(check + 100, "0123456789", 10) == 0;
        for (int i = 0; i < 4096; ++i) clean &= (i >= 100 && i < 110) || check[i] == 0;
        CHECK(clean);
        CHECK(close(small) == 0 && unlink("/tmp/small.bin") == 0);
    }
    printf("%d failure(s)\n", check_failures);
    return check_failures;
}
