// Block devices (/dev/vda, /dev/vdb): run by run_blk_test.py with a read-write disk (vda) and a
// read-only one (vdb), both files the host filled with bg(offset) and a marker. Checks the
// device files' Linux semantics (fstat, ioctls, lseek, byte-granular I/O across sector
// boundaries, EOF and ENOSPC, EPERM on the read-only disk, fsync) and leaves a known pattern
// that the host then finds in the file. Exits with the number of failed checks.
//
// usage: blk SIZE          (SIZE: both disks' size in bytes)
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "../image/check.h"

// Keep in step with run_blk_test.py.
#define MARKER "XOS-BLK-MARKER-from-host"
#define MARKER_OFFSET 12388
static unsigned char bg(uint64_t i) { return (unsigned char)((i * 7 + 3) & 0xff); }
static unsigned char pattern(uint64_t i) { return (unsigned char)(((i * 131 + 7) & 0xff) ^ 0x5c); }

static uint64_t size;
static unsigned char* model;  // what the disk should hold

static void write_model(uint64_t offset, const void* data, size_t count) { memcpy(model + offset, data, count); }

static unsigned char* pattern_bytes(uint64_t offset, size_t count) {
    unsigned char* p = malloc(count);
    for (size_t i = 0; i < count; ++i) p[i] = pattern(offset + i);
    return p;
}

// pwrite of the pattern at [offset, offset + count), checked and recorded in the model.
static void pwrite_pattern(int fd, uint64_t offset, size_t count) {
    unsigned char* p = pattern_bytes(offset, count);
    ssize_t n = pwrite(fd, p, count, (off_t)offset);
    CHECK(n == (ssize_t)count);
    write_model(offset, p, count);
    free(p);
}

static int compare_disk(int fd, const char* when) {
    static unsigned char buffer[65536 + 17];
    int bad = 0;
    for (uint64_t at = 0; at < size;) {
        size_t chunk = sizeof buffer;  // an odd length: every read after the first is unaligned
        ssize_t n = pread(fd, buffer, chunk, (off_t)at);
        if (n <= 0) {
            printf("FAIL %s: pread at %llu returned %zd (errno %d)\n", when, (unsigned long long)at, n, errno);
            return 1;
        }
        for (ssize_t i = 0; i < n; ++i)
            if (buffer[i] != model[at + i] && bad++ < 5)
                printf("FAIL %s: byte %llu is %#x, expected %#x\n", when, (unsigned long long)(at + i), buffer[i],
                       model[at + i]);
        at += (uint64_t)n;
    }
    return bad != 0;
}

struct Interleave {
    int fd;
    int parity;
};

// Two threads write alternate single bytes of one sector: each write is a read-modify-write of
// that sector, so none may lose the other's bytes.
static void* interleave(void* arg) {
    struct Interleave* job = arg;
    for (int k = 0; k < 256; ++k) {
        uint64_t offset = 540000 + 2 * (uint64_t)k + (uint64_t)job->parity;
        unsigned char byte = pattern(offset);
        if (pwrite(job->fd, &byte, 1, (off_t)offset) != 1) return (void*)1;
        if (k % 16 == 0) sched_yield();
    }
    return NULL;
}

static void check_read_write_disk(void) {
    int fd = open("/dev/vda", O_RDWR);
    CHECK(fd >= 0);
    if (fd < 0) return;

    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    CHECK(S_ISBLK(st.st_mode));
    CHECK(st.st_size == 0);
    CHECK(major(st.st_rdev) == 254 && minor(st.st_rdev) == 0);
    CHECK(stat("/dev/vdb", &st) == 0 && S_ISBLK(st.st_mode) && minor(st.st_rdev) == 16);

    uint64_t bytes = 0;
    CHECK(ioctl(fd, BLKGETSIZE64, &bytes) == 0);
    CHECK(bytes == size);
    unsigned long sectors = 0;
    CHECK(ioctl(fd, BLKGETSIZE, &sectors) == 0 && sectors == size / 512);
    int ssz = 0;
    CHECK(ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz == 512);
    int ro = -1;
    CHECK(ioctl(fd, BLKROGET, &ro) == 0 && ro == 0);
    struct termios tio;
    CHECK(ioctl(fd, TCGETS, &tio) == -1 && errno == ENOTTY);
    int available;
    CHECK(ioctl(fd, FIONREAD, &available) == -1 && errno == ENOTTY);

    // What the host wrote.
    char marker[sizeof MARKER];
    CHECK(pread(fd, marker, sizeof MARKER - 1, MARKER_OFFSET) == sizeof MARKER - 1);
    CHECK(memcmp(marker, MARKER, sizeof MARKER - 1) == 0);
    CHECK(compare_disk(fd, "before writing") == 0);

    // Across sector boundaries, unaligned at both ends; one larger than the bounce buffer.
    pwrite_pattern(fd, 1000, 70000);
    pwrite_pattern(fd, 200003, 300001);
    pwrite_pattern(fd, 520191, 1);  // the last byte of a sector
    pwrite_pattern(fd, 520703, 2);  // the last byte of one sector and the first of the next
    pwrite_pattern(fd, 524288, 512);  // exactly one sector

    // write() at the file position, and lseek.
    CHECK(lseek(fd, 600001, SEEK_SET) == 600001);
    unsigned char* p = pattern_bytes(600001, 5000);
    CHECK(write(fd, p, 5000) == 5000);
    write_model(600001, p, 5000);
    free(p);
    CHECK(lseek(fd, 0, SEEK_CUR) == 605001);
    unsigned char small[3];
    CHECK(read(fd, small, 3) == 3 && small[0] == model[605001] && small[2] == model[605003]);
    CHECK(lseek(fd, 0, SEEK_END) == (off_t)size);
    CHECK(lseek(fd, -10, SEEK_END) == (off_t)size - 10);
    CHECK(lseek(fd, 1, SEEK_END) == -1 && errno == EINVAL);
    CHECK(lseek(fd, -1, SEEK_SET) == -1 && errno == EINVAL);
    CHECK(lseek(fd, 100, SEEK_DATA) == 100);
    CHECK(lseek(fd, 100, SEEK_HOLE) == (off_t)size);
    CHECK(lseek(fd, (off_t)size, SEEK_DATA) == -1 && errno == ENXIO);

    // The end of the disk: writes are cut short there, then ENOSPC; reads return 0.
    p = pattern_bytes(size - 10, 20);
    CHECK(lseek(fd, (off_t)size - 10, SEEK_SET) == (off_t)size - 10);
    CHECK(write(fd, p, 20) == 10);
    write_model(size - 10, p, 10);
    free(p);
    CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)size);
    CHECK(write(fd, "x", 1) == -1 && errno == ENOSPC);
    CHECK(pwrite(fd, "x", 1, (off_t)size + 100) == -1 && errno == ENOSPC);
    CHECK(pwrite(fd, "x", 0, (off_t)size) == 0);
    char tail[100];
    CHECK(read(fd, tail, sizeof tail) == 0);
    CHECK(pread(fd, tail, sizeof tail, (off_t)size + 4096) == 0);
    CHECK(pread(fd, tail, sizeof tail, (off_t)size - 4) == 4);
    CHECK(memcmp(tail, model + size - 4, 4) == 0);

    // Threads sharing one sector.
    pthread_t threads[2];
    struct Interleave jobs[2] = {{fd, 0}, {fd, 1}};
    for (int t = 0; t < 2; ++t) CHECK(pthread_create(&threads[t], NULL, interleave, &jobs[t]) == 0);
    for (int t = 0; t < 2; ++t) {
        void* result = (void*)1;
        CHECK(pthread_join(threads[t], &result) == 0 && result == NULL);
    }
    for (uint64_t i = 540000; i < 540512; ++i) model[i] = pattern(i);

    CHECK(fsync(fd) == 0);
    CHECK(fdatasync(fd) == 0);
    CHECK(ioctl(fd, BLKFLSBUF, 0) == 0);
    CHECK(compare_disk(fd, "after writing") == 0);
    CHECK(close(fd) == 0);

    // A second open sees the same data.
    fd = open("/dev/vda", O_RDONLY);
    CHECK(fd >= 0 && compare_disk(fd, "reopened") == 0);
    CHECK(write(fd, "x", 1) == -1 && errno == EBADF);
    close(fd);
}

// Linux lets a read-only disk be opened for writing and refuses the write itself (EPERM, from
// blkdev_write_iter); reads work.
static void check_read_only_disk(void) {
    int fd = open("/dev/vdb", O_RDONLY);
    CHECK(fd >= 0);
    if (fd < 0) return;
    int ro = -1;
    CHECK(ioctl(fd, BLKROGET, &ro) == 0 && ro == 1);
    uint64_t bytes = 0;
    CHECK(ioctl(fd, BLKGETSIZE64, &bytes) == 0 && bytes == size);
    char marker[sizeof MARKER];
    CHECK(pread(fd, marker, sizeof MARKER - 1, MARKER_OFFSET) == sizeof MARKER - 1);
    CHECK(memcmp(marker, MARKER, sizeof MARKER - 1) == 0);
    unsigned char byte = 0;
    CHECK(pread(fd, &byte, 1, 777) == 1 && byte == bg(777));
    CHECK(fsync(fd) == 0);
    close(fd);

    fd = open("/dev/vdb", O_RDWR);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(pwrite(fd, "x", 1, 0) == -1 && errno == EPERM);
    CHECK(write(fd, "x", 1) == -1 && errno == EPERM);
    CHECK(pread(fd, &byte, 1, 0) == 1 && byte == bg(0));
    close(fd);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: blk SIZE\n");
        return 100;
    }
    size = strtoull(argv[1], NULL, 10);
    model = malloc(size);
    for (uint64_t i = 0; i < size; ++i) model[i] = bg(i);
    memcpy(model + MARKER_OFFSET, MARKER, sizeof MARKER - 1);

    check_read_write_disk();
    check_read_only_disk();
    printf("%d failure(s)\n", check_failures);
    return check_failures;
}
