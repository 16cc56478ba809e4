// bench/fs/fsbench.c: the file-system benchmark of issue 4, one C source for both targets
// (xos-build for xos ramfs, musl-gcc -static for native Linux on tmpfs).
//
//   fsbench DIR [FILES] [BIG_MIB] [WHAT]
//
// WHAT (default "all") is a comma-separated list of:
//   small      create+write 4 KiB+close+unlink of FILES files (default 10,000), one after another
//   breakdown  the same loop with each call timed separately (open, write, close, unlink)
//   big        a BIG_MIB (default 256) MiB file written sequentially in 1 MiB writes, read back,
//              deleted; then the same again ("again" figures: in a VM the first pass also pays
//              for the first touch of the guest's RAM, which the host allocates lazily)
//   memcpy     copying 4 KiB with memcpy (how fast each target runs plain code: the reference)
//
// Output: JSON lines in bench/programs/bench.h's protocol. Each timed phase prints a "begin" line
// before it starts and an "end" line with the guest's own clock_gettime(CLOCK_MONOTONIC) time,
// flushed at once, so the harness can also time it with the host's clock.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char* what, const char* path) {
    fprintf(stderr, "fsbench: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static void begin(const char* figure) {
    printf("{\"mark\":\"begin\",\"figure\":\"%s\"}\n", figure);
    fflush(stdout);
}

static void end(const char* figure, const char* unit, long count, double guest_ns) {
    printf("{\"mark\":\"end\",\"figure\":\"%s\",\"unit\":\"%s\",\"count\":%ld,\"guest_ns\":%.0f}\n", figure, unit,
           count, guest_ns);
    fflush(stdout);
}

static void result(const char* figure, const char* unit, double value) {
    printf("{\"figure\":\"%s\",\"unit\":\"%s\",\"value\":%.3f}\n", figure, unit, value);
    fflush(stdout);
}

static char g_page[4096];

static void small_files(const char* dir, long files) {
    char path[512];
    begin("fs.small_files");
    double start = now_ns();
    for (long i = 0; i < files; ++i) {
        snprintf(path, sizeof path, "%s/f%06ld", dir, i);
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0) die("open", path);
        if (write(fd, g_page, sizeof g_page) != sizeof g_page) die("write", path);
        if (close(fd) != 0) die("close", path);
        if (unlink(path) != 0) die("unlink", path);
    }
    end("fs.small_files", "us/file", files, now_ns() - start);
}

static void small_files_breakdown(const char* dir, long files) {
    char path[512];
    double t_open = 0, t_write = 0, t_close = 0, t_unlink = 0;
    for (long i = 0; i < files; ++i) {
        snprintf(path, sizeof path, "%s/g%06ld", dir, i);
        double t0 = now_ns();
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        double t1 = now_ns();
        if (fd < 0) die("open", path);
        if (write(fd, g_page, sizeof g_page) != sizeof g_page) die("write", path);
        double t2 = now_ns();
        if (close(fd) != 0) die("close", path);
        double t3 = now_ns();
        if (unlink(path) != 0) die("unlink", path);
        double t4 = now_ns();
        t_open += t1 - t0, t_write += t2 - t1, t_close += t3 - t2, t_unlink += t4 - t3;
    }
    // A clock_gettime() pair alone, to subtract from each.
    double t0 = now_ns();
    for (long i = 0; i < files; ++i) now_ns();
    double clock_ns = (now_ns() - t0) / files;
    result("fs.small.open", "us/call", (t_open / files - clock_ns) / 1e3);
    result("fs.small.write", "us/call", (t_write / files - clock_ns) / 1e3);
    result("fs.small.close", "us/call", (t_close / files - clock_ns) / 1e3);
    result("fs.small.unlink", "us/call", (t_unlink / files - clock_ns) / 1e3);
    result("clock_gettime", "us/call", clock_ns / 1e3);
}

static void big_file(const char* dir, long mib, int again) {
    const char* write_figure = again ? "fs.big_write_again" : "fs.big_write";
    const char* read_figure = again ? "fs.big_read_again" : "fs.big_read";
    char path[512];
    snprintf(path, sizeof path, "%s/big.bin", dir);
    const size_t chunk = 1 << 20;
    char* buffer = malloc(chunk);
    if (!buffer) die("malloc", "1 MiB");
    for (size_t i = 0; i < chunk; ++i) buffer[i] = (char)(i * 31 + (i >> 12));

    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) die("open", path);
    begin(write_figure);
    double start = now_ns();
    for (long i = 0; i < mib; ++i) {
        buffer[0] = (char)i;  // every chunk differs
        if (write(fd, buffer, chunk) != (ssize_t)chunk) die("write", path);
    }
    if (close(fd) != 0) die("close", path);
    end(write_figure, "MiB/s", mib, now_ns() - start);

    fd = open(path, O_RDONLY);
    if (fd < 0) die("open", path);
    long sum = 0;
    begin(read_figure);
    start = now_ns();
    for (long i = 0; i < mib; ++i) {
        if (read(fd, buffer, chunk) != (ssize_t)chunk) die("read", path);
        sum += buffer[0] + buffer[chunk - 1];  // touch the data so the read cannot be skipped
    }
    end(read_figure, "MiB/s", mib, now_ns() - start);
    close(fd);
    if (unlink(path) != 0) die("unlink", path);
    free(buffer);
    if (sum == 42) printf("#\n");
}

static void memcpy_reference(void) {
    static char source[4096], target[4096];
    const long count = 200000;
    begin("memcpy.4k");
    double start = now_ns();
    for (long i = 0; i < count; ++i) {
        source[i & 4095] = (char)i;
        memcpy(target, source, sizeof target);
        __asm__ volatile("" ::"r"(target) : "memory");
    }
    end("memcpy.4k", "us/copy", count, now_ns() - start);
}

static int wants(const char* what, const char* name) {
    size_t length = strlen(name);
    for (const char* at = what; (at = strstr(at, name)); at += length)
        if ((at == what || at[-1] == ',') && (at[length] == ',' || at[length] == '\0')) return 1;
    return strcmp(what, "all") == 0;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fsbench DIR [FILES] [BIG_MIB] [small,breakdown,big,memcpy|all]\n");
        return 2;
    }
    const char* dir = argv[1];
    long files = argc > 2 ? atol(argv[2]) : 10000;
    long mib = argc > 3 ? atol(argv[3]) : 256;
    const char* what = argc > 4 ? argv[4] : "all";
    memset(g_page, 'x', sizeof g_page);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) die("mkdir", dir);

    // Warm-up (under TCG this translates the code once): a few hundred files.
    char path[512];
    for (int i = 0; i < 200; ++i) {
        snprintf(path, sizeof path, "%s/w%d", dir, i);
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0 || write(fd, g_page, sizeof g_page) != sizeof g_page) die("warm-up", path);
        close(fd);
        unlink(path);
    }
    if (wants(what, "memcpy")) memcpy_reference();
    if (wants(what, "small")) small_files(dir, files);
    if (wants(what, "breakdown")) small_files_breakdown(dir, files);
    if (wants(what, "big")) {
        big_file(dir, mib, 0);
        big_file(dir, mib, 1);
    }
    return 0;
}
