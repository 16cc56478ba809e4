// The overlay root off the big lock (docs/locking.md "The overlay"): a static Linux program run
// from an EROFS image by xos-run --root-image (tests/smp/run_overlay_root.py makes the image:
// this program as /overlay_root, and /data/lower-N, files of LOWER_SIZE bytes whose byte i is
// pattern(N, i), in the lower layer), so the root is the overlay with a ramfs upper layer.
//
//   overlay_root counts   with several CPUs, reads, fstat, stat, getdents64, open/close of lower
//                         files, writes of a copied-up file, and creat/unlink in an overlay
//                         directory take the big lock 0 times at entry and 0 times inside
//                         (/proc/xos/big_lock; on a build whose overlay is not thread-safe every
//                         one of them takes it)
//   overlay_root stress R 64 threads, R rounds each: read and check the lower files while some of
//                         the threads open them for writing at once (concurrent copy-ups of the
//                         same file: a reader sees the lower file or the whole copy, never a
//                         part), rewrite a range with the same bytes, stat them, list /data
//                         (every lower file exactly once), and create, write, check, rename and
//                         unlink files of their own; at the end every file's content and inode
//                         number are checked once more
//
// Exit status 0 = the checks passed.
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../image/check.h"
#include "big_lock_counts.h"

#define LOWER_FILES 8
#define LOWER_SIZE (3 * 65536 + 1234)  // more than one copy chunk (64 KiB)
#define ROUNDS 200
#define THREADS 64

static unsigned char pattern(int file, size_t i) { return (unsigned char)(i * 7 + file * 31 + (i >> 12)); }

static void lower_path(char* out, size_t size, int file) { snprintf(out, size, "/data/lower-%d", file); }

// --- counts ----------------------------------------------------------------------------------

// Runs `loop` a few times (the syscall rewriter's first trap at each site), then ROUNDS times
// and requires, with several CPUs, 0 big-lock entries at entry for `syscalls` and none inside
// beyond what reading the counters costs (measured with an empty loop first) and `device_reads`
// (the EROFS image's reads: the disk's driver is the big lock's, one per round for a lower
// file's data, which EROFS does not cache).
static void file_case(const char* what, const char* const* syscalls, void (*loop)(int round), long device_reads) {
    for (int i = 0; i < 3; ++i) loop(ROUNDS + i);
    counted_case(what, syscalls, loop, ROUNDS, device_reads);
}

static int g_lower_fd, g_upper_fd;
static char g_buffer[4096];

static void empty_round(int round) { (void)round; }

static void pread_round(int round) {
    CHECK(pread(g_lower_fd, g_buffer, sizeof g_buffer, (round % 16) * 4096) == (ssize_t)sizeof g_buffer);
    CHECK((unsigned char)g_buffer[5] == pattern(0, (size_t)(round % 16) * 4096 + 5));
}

static void read_round(int round) {
    (void)round;
    CHECK(lseek(g_lower_fd, 0, SEEK_SET) == 0);
    CHECK(read(g_lower_fd, g_buffer, 100) == 100);
}

static void fstat_round(int round) {
    (void)round;
    struct stat st;
    CHECK(fstat(g_lower_fd, &st) == 0 && st.st_size == LOWER_SIZE);
}

static void stat_round(int round) {
    struct stat st;
    char path[64];
    lower_path(path, sizeof path, 1 + round % (LOWER_FILES - 1));
    CHECK(stat(path, &st) == 0 && st.st_size == LOWER_SIZE);
}

static const char* g_directory;

static void getdents_round(int round) {
    (void)round;
    int fd = open(g_directory, O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0);
    static char entries[4096];  // not on the stack: a range check of a stack page not grown yet asks the big lock
    CHECK(syscall(SYS_getdents64, fd, entries, sizeof entries) > 0);
    close(fd);
}

static void open_close_round(int round) {
    char path[64];
    lower_path(path, sizeof path, 1 + round % (LOWER_FILES - 1));
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    close(fd);
}

static void pwrite_round(int round) {
    memset(g_buffer, 'a' + round % 26, 512);
    CHECK(pwrite(g_upper_fd, g_buffer, 512, (round % 8) * 512) == 512);
    CHECK(pread(g_upper_fd, g_buffer + 1024, 512, (round % 8) * 512) == 512 && g_buffer[1024] == 'a' + round % 26);
}

static void create_unlink_round(int round) {
    char path[64];
    snprintf(path, sizeof path, "/data/made-%d", round);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    CHECK(fd >= 0);
    close(fd);
    CHECK(unlink(path) == 0);
}

static int counts(void) {
    char path[64];
    lower_path(path, sizeof path, 0);
    g_lower_fd = open(path, O_RDONLY);
    CHECK(g_lower_fd >= 0);
    lower_path(path, sizeof path, LOWER_FILES - 1);
    g_upper_fd = open(path, O_RDWR);  // a copy-up
    CHECK(g_upper_fd >= 0);
    CHECK(mkdir("/data/upper-only", 0755) == 0);  // listed without the lower layer
    for (int i = 0; i < 5; ++i) {
        char path[64];
        snprintf(path, sizeof path, "/data/upper-only/file-%d", i);
        int fd = open(path, O_CREAT | O_WRONLY, 0644);
        CHECK(fd >= 0);
        close(fd);
    }
    const char* const no_syscalls[] = {NULL};
    file_case("nothing", no_syscalls, empty_round, 0);
    // On main each of these took the big lock once a round inside (fstat's getattr, the path
    // walks, open's and close's vnode work, the transfers, the directory changes).
    file_case("fstat of a lower file", (const char* const[]){"fstat", NULL}, fstat_round, 0);
    file_case("stat of lower files", (const char* const[]){"stat", "newfstatat", "statx", NULL}, stat_round, 0);
    file_case("open and close of lower files", (const char* const[]){"open", "openat", "close", NULL}, open_close_round,
              0);
    g_directory = "/data/upper-only";
    file_case("getdents64 of an overlay directory",
              (const char* const[]){"open", "openat", "getdents64", "close", NULL}, getdents_round, 0);
    file_case("pwrite and pread of a copied-up file", (const char* const[]){"pwrite64", "pread64", NULL}, pwrite_round,
              0);
    file_case("creat and unlink in an overlay directory",
              (const char* const[]){"open", "openat", "close", "unlink", NULL}, create_unlink_round, 0);
    // Through the lower layer's data: EROFS's device reads take it (not the overlay).
    file_case("pread of a lower file", (const char* const[]){"pread64", NULL}, pread_round, ROUNDS);
    file_case("lseek and read of a lower file", (const char* const[]){"lseek", "read", NULL}, read_round, ROUNDS);
    g_directory = "/data";
    file_case("getdents64 of a merged directory", (const char* const[]){"open", "openat", "getdents64", "close", NULL},
              getdents_round, 0);
    close(g_lower_fd);
    close(g_upper_fd);
    printf("overlay_root: %d failure(s)\n", check_failures);
    return check_failures;
}

// --- stress ----------------------------------------------------------------------------------

static int g_rounds;
static atomic_int g_failures;

#define T_CHECK(cond)                                                                                                  \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            printf("FAIL thread %d round %d line %d: %s (errno %d)\n", self, round, __LINE__, #cond, errno);           \
            atomic_fetch_add(&g_failures, 1);                                                                          \
        }                                                                                                              \
    } while (0)

// Reads the whole file through `fd` and compares it with the lower file's pattern.
static int content_ok(int fd, int file, unsigned char* buffer) {
    size_t done = 0;
    while (done < LOWER_SIZE) {
        ssize_t n = pread(fd, buffer, 65536, done);
        if (n <= 0) return 0;
        for (ssize_t i = 0; i < n; ++i)
            if (buffer[i] != pattern(file, done + i)) return 0;
        done += n;
    }
    return pread(fd, buffer, 1, done) == 0;  // and no more
}

static int listing_ok(void) {
    int fd = open("/data", O_RDONLY | O_DIRECTORY);
    if (fd < 0) return 0;
    int seen[LOWER_FILES] = {0};
    char entries[8192];
    long n;
    while ((n = syscall(SYS_getdents64, fd, entries, sizeof entries)) > 0) {
        for (long at = 0; at < n;) {
            struct dirent64* entry = (struct dirent64*)(entries + at);
            int file;
            char extra;
            if (sscanf(entry->d_name, "lower-%d%c", &file, &extra) == 1 && file >= 0 && file < LOWER_FILES)
                ++seen[file];
            if (!strncmp(entry->d_name, ".wh.", 4)) seen[0] = 100;  // the upper layer's own names show
            at += entry->d_reclen;
        }
    }
    close(fd);
    for (int i = 0; i < LOWER_FILES; ++i)
        if (seen[i] != 1) return 0;
    return n == 0;
}

static void* stress_thread(void* arg) {
    int self = (int)(long)arg;
    unsigned char* buffer = malloc(65536);
    int round = 0;
    if (!buffer) return NULL;
    for (round = 0; round < g_rounds; ++round) {
        int file = (self + round) % LOWER_FILES;
        char path[64], own[64], moved[64];
        lower_path(path, sizeof path, file);
        // A quarter of the threads open for writing (copy-up, several at once on one file) and
        // rewrite a range with the bytes it has; the others read.
        int writer = self % 4 == 0;
        int fd = open(path, writer ? O_RDWR : O_RDONLY);
        T_CHECK(fd >= 0);
        if (fd < 0) continue;
        struct stat st;
        T_CHECK(fstat(fd, &st) == 0 && st.st_size == LOWER_SIZE);
        if (writer) {
            size_t at = (size_t)(self * 997 + round * 4099) % (LOWER_SIZE - 4096);
            for (int i = 0; i < 4096; ++i) buffer[i] = pattern(file, at + i);
            T_CHECK(pwrite(fd, buffer, 4096, at) == 4096);
        }
        T_CHECK(content_ok(fd, file, buffer));
        close(fd);
        T_CHECK(stat(path, &st) == 0 && st.st_size == LOWER_SIZE);
        if (round % 4 == 0) T_CHECK(listing_ok());
        // Files of its own: create, write, check, rename, unlink.
        snprintf(own, sizeof own, "/data/own-%d", self);
        snprintf(moved, sizeof moved, "/data/moved-%d", self);
        fd = open(own, O_CREAT | O_TRUNC | O_RDWR, 0644);
        T_CHECK(fd >= 0);
        if (fd >= 0) {
            memset(buffer, self, 3000);
            T_CHECK(write(fd, buffer, 3000) == 3000);
            close(fd);
        }
        T_CHECK(rename(own, moved) == 0);
        fd = open(moved, O_RDONLY);
        T_CHECK(fd >= 0);
        if (fd >= 0) {
            T_CHECK(read(fd, buffer, 4000) == 3000 && buffer[0] == (unsigned char)self &&
                    buffer[2999] == (unsigned char)self);
            close(fd);
        }
        T_CHECK(access(own, F_OK) != 0);
        T_CHECK(unlink(moved) == 0);
    }
    free(buffer);
    return NULL;
}

static int stress(int rounds) {
    g_rounds = rounds;
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; ++i) CHECK(pthread_create(&threads[i], NULL, stress_thread, (void*)(long)i) == 0);
    for (int i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
    // Every file copied up once: the same content, one inode number through every name lookup.
    unsigned char* buffer = malloc(65536);
    CHECK(buffer != NULL);
    for (int file = 0; file < LOWER_FILES && buffer; ++file) {
        char path[64];
        lower_path(path, sizeof path, file);
        int fd = open(path, O_RDONLY);
        CHECK(fd >= 0);
        struct stat by_fd, by_name;
        CHECK(fstat(fd, &by_fd) == 0 && stat(path, &by_name) == 0 && by_fd.st_ino == by_name.st_ino);
        CHECK(content_ok(fd, file, buffer));
        close(fd);
    }
    free(buffer);
    CHECK(listing_ok());
    int failures = check_failures + atomic_load(&g_failures);
    printf("overlay_root: %d failure(s)\n", failures);
    return failures;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "counts")) return counts();
    if (argc >= 2 && !strcmp(argv[1], "stress")) return stress(argc >= 3 ? atoi(argv[2]) : 20);
    fprintf(stderr, "usage: overlay_root counts | stress [ROUNDS]\n");
    return 2;
}
