// SMP file stress (issue 17): 64 threads at once on every CPU the image has, all in one
// directory of a ramfs/tmpfs (regular files and directories run without the big lock:
// docs/locking.md "Files and directories"), each with a result check:
// - 16 writers, each on a file of its own: pwrite a record at a round-dependent offset, read the
//   whole file back (pread) and compare it with what it must hold;
// - 16 appenders on one shared file, each through its own O_APPEND description: fixed-size
//   records "thread round" that the main thread checks at the end (the size is records x
//   record size, every record whole, each thread's rounds all there and in order);
// - 16 truncaters, each on a file of its own: write, ftruncate shorter, fstat, read back (the
//   kept bytes intact), ftruncate longer (the new part reads as zeros);
// - 16 listers: getdents64 of the directory (every permanent file listed), open/read/close of
//   a shared constant file (its contents checked), and create/unlink of files of their own
//   (directory changes, without the big lock too since branch smp-vfs2, while the others walk
//   and list it).
// Then the directory changes (branch smp-vfs2: mkdir, rmdir, unlink, rename, O_CREAT without
// the big lock on ramfs), 64 threads again, a third of the rounds, each round of each thread:
// - creates S/c<t>-<r> (O_EXCL) with 8 bytes, renames it to S/r<t>-<r> (one directory), makes
//   P<t>/d<r> and moves the file into it as P<t>/d<r>/f (two directories); on odd rounds
//   unlinks it and removes d<r> again;
// - opens S/shared with O_CREAT and no O_EXCL (all 64 threads: whoever comes first creates it,
//   the others must open it, never EEXIST);
// - moves its directory S/m<t> to S2/m<t> and back (directory renames between two directories);
// and at the end the listings must be exact: S holds "shared" and the 64 m<t>, S2 nothing, each
// P<t> the d<r> of the even rounds, each with its f holding what was written.
// Bounded by the round count (argument 1, default 100); the test's timeout catches a hang.
// Exit status 0 = every check passed.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../image/check.h"

#define THREADS 64
#define GROUP (THREADS / 4)
#define RECORD 32
#define DIR_PATH "/tmp/files_stress"

static long g_rounds = 100;

static long now_ms(void) {  // progress lines only, no verdict
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
static atomic_long g_failures;
static char g_constant[10000];

static void fail(const char* what, int thread, long round) {
    printf("FAIL %s (thread %d, round %ld, errno %d)\n", what, thread, round, errno);
    atomic_fetch_add(&g_failures, 1);
}

static void path_of(char* out, const char* kind, int thread) { sprintf(out, DIR_PATH "/%s%d", kind, thread); }

static char pattern(int thread, long offset) { return (char)('A' + (thread * 7 + offset / 100) % 26); }

static void* writer(void* arg) {
    int thread = (int)(intptr_t)arg;
    char path[64];
    path_of(path, "w", thread);
    int fd = open(path, O_RDWR);
    if (fd < 0) return fail("open writer file", thread, 0), NULL;
    enum { SIZE = 3 * 4096 + 100, CHUNK = 700 };
    char* expect = calloc(1, SIZE);
    char* got = malloc(SIZE);
    char* chunk = malloc(CHUNK);
    if (!expect || !got || !chunk) return fail("malloc", thread, 0), NULL;
    long written_end = 0;
    for (long round = 0; round < g_rounds; ++round) {
        long offset = (round * 1237) % (SIZE - CHUNK);
        for (int i = 0; i < CHUNK; ++i) chunk[i] = pattern(thread, offset + i + round);
        if (pwrite(fd, chunk, CHUNK, offset) != CHUNK) fail("pwrite", thread, round);
        memcpy(expect + offset, chunk, CHUNK);
        if (offset + CHUNK > written_end) written_end = offset + CHUNK;
        if (pread(fd, got, SIZE, 0) != written_end) fail("pread size", thread, round);
        if (memcmp(got, expect, (size_t)written_end) != 0) fail("pread contents", thread, round);
    }
    close(fd);
    free(expect), free(got), free(chunk);
    return NULL;
}

static void* appender(void* arg) {
    int thread = (int)(intptr_t)arg;
    int fd = open(DIR_PATH "/log", O_WRONLY | O_APPEND);
    if (fd < 0) return fail("open log", thread, 0), NULL;
    for (long round = 0; round < g_rounds; ++round) {
        char record[RECORD + 1];
        snprintf(record, sizeof record, "%04d %08ld ........ ........\n", thread, round);
        if (write(fd, record, RECORD) != RECORD) fail("append", thread, round);
    }
    close(fd);
    return NULL;
}

static void* truncater(void* arg) {
    int thread = (int)(intptr_t)arg;
    char path[64];
    path_of(path, "t", thread);
    int fd = open(path, O_RDWR);
    if (fd < 0) return fail("open truncater file", thread, 0), NULL;
    enum { MAX = 9000 };
    char* data = malloc(MAX);
    char* got = malloc(MAX);
    if (!data || !got) return fail("malloc", thread, 0), NULL;
    for (long round = 0; round < g_rounds; ++round) {
        long size = 1000 + (round * 811 + thread * 97) % 8000, keep = size / 3 + round % 50;
        for (long i = 0; i < size; ++i) data[i] = pattern(thread, i + round);
        if (ftruncate(fd, 0) != 0) fail("ftruncate 0", thread, round);
        if (pwrite(fd, data, (size_t)size, 0) != size) fail("pwrite", thread, round);
        if (ftruncate(fd, keep) != 0) fail("ftruncate shorter", thread, round);
        struct stat st;
        if (fstat(fd, &st) != 0 || st.st_size != keep) fail("fstat after truncate", thread, round);
        if (pread(fd, got, MAX, 0) != keep || memcmp(got, data, (size_t)keep) != 0)
            fail("read after truncate", thread, round);
        if (ftruncate(fd, keep + 5000) != 0) fail("ftruncate longer", thread, round);
        if (pread(fd, got, MAX, 0) != keep + 5000) fail("read after growing", thread, round);
        for (long i = keep; i < keep + 5000; ++i)
            if (got[i] != 0) {
                fail("grown part not zero", thread, round);
                break;
            }
    }
    close(fd);
    free(data), free(got);
    return NULL;
}

// True if `name` is in the getdents64 records of `buffer`.
static int listed(const char* buffer, long size, const char* name) {
    for (long at = 0; at < size;) {
        const struct dirent64* entry = (const struct dirent64*)(buffer + at);
        if (!strcmp(entry->d_name, name)) return 1;
        at += entry->d_reclen;
    }
    return 0;
}

static void* lister(void* arg) {
    int thread = (int)(intptr_t)arg;
    enum { BUFFER = 32768 };
    char* buffer = malloc(BUFFER);
    char* got = malloc(sizeof g_constant);
    if (!buffer || !got) return fail("malloc", thread, 0), NULL;
    for (long round = 0; round < g_rounds; ++round) {
        int dir = open(DIR_PATH, O_RDONLY | O_DIRECTORY);
        if (dir < 0) {
            fail("open directory", thread, round);
            continue;
        }
        long size = syscall(SYS_getdents64, dir, buffer, BUFFER);
        if (size <= 0) fail("getdents64", thread, round);
        char name[32];
        sprintf(name, "w%d", (int)(round % GROUP));
        if (size > 0 &&
            (!listed(buffer, size, "log") || !listed(buffer, size, "constant") || !listed(buffer, size, name)))
            fail("a permanent file not listed", thread, round);
        close(dir);
        int fd = open(DIR_PATH "/constant", O_RDONLY);
        if (fd < 0 || read(fd, got, sizeof g_constant) != sizeof g_constant ||
            memcmp(got, g_constant, sizeof g_constant) != 0)
            fail("constant file", thread, round);
        if (fd >= 0) close(fd);
        char path[64];
        sprintf(path, DIR_PATH "/x%d-%ld", thread, round);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 || write(fd, path, 8) != 8) fail("create", thread, round);
        if (fd >= 0) close(fd);
        struct stat st;
        if (stat(path, &st) != 0 || st.st_size != 8) fail("stat created", thread, round);
        if (unlink(path) != 0) fail("unlink", thread, round);
    }
    free(buffer), free(got);
    return NULL;
}

static void check_log(void) {
    int fd = open(DIR_PATH "/log", O_RDONLY);
    CHECK(fd >= 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    long expected = (long)GROUP * g_rounds * RECORD;
    if (st.st_size != expected) printf("FAIL log size %ld, expected %ld\n", (long)st.st_size, expected);
    CHECK(st.st_size == expected);
    char* log = malloc((size_t)st.st_size + 1);
    CHECK(log && read(fd, log, (size_t)st.st_size) == st.st_size);
    close(fd);
    if (!log) return;
    long next[THREADS] = {0};
    for (long at = 0; at + RECORD <= st.st_size; at += RECORD) {
        int thread;
        long round;
        if (sscanf(log + at, "%d %ld", &thread, &round) != 2 || thread < 0 || thread >= THREADS ||
            log[at + RECORD - 1] != '\n' || round != next[thread]) {
            printf("FAIL log record at %ld: %.32s\n", at, log + at);
            ++check_failures;
            break;
        }
        ++next[thread];
    }
    free(log);
}

// --- Directory changes (branch smp-vfs2) ------------------------------------------------------

#define S_PATH "/tmp/dirs_stress"
#define S2_PATH "/tmp/dirs_stress2"

static long g_dir_rounds;  // a third of the rounds (at least 2): 64 threads, ~12 changes a round

static void* dir_changer(void* arg) {
    int thread = (int)(intptr_t)arg;
    char a[96], b[96], c[96], d[96];
    for (long round = 0; round < g_dir_rounds; ++round) {
        sprintf(a, S_PATH "/c%d-%ld", thread, round);
        int fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0644);
        char content[9];
        sprintf(content, "%02d-%05ld", thread % 100, round % 100000);
        if (fd < 0 || write(fd, content, 8) != 8) fail("dirs: create", thread, round);
        if (fd >= 0) close(fd);
        sprintf(b, S_PATH "/r%d-%ld", thread, round);
        if (rename(a, b) != 0) fail("dirs: rename in one directory", thread, round);
        sprintf(c, S_PATH "/p%d/d%ld", thread, round);
        if (mkdir(c, 0755) != 0) fail("dirs: mkdir", thread, round);
        sprintf(d, "%s/f", c);
        if (rename(b, d) != 0) fail("dirs: rename between directories", thread, round);
        if (round % 2) {
            if (unlink(d) != 0) fail("dirs: unlink", thread, round);
            if (rmdir(c) != 0) fail("dirs: rmdir", thread, round);
        }
        fd = open(S_PATH "/shared", O_RDWR | O_CREAT, 0644);
        if (fd < 0)
            fail("dirs: O_CREAT of an existing name", thread, round);
        else
            close(fd);
        sprintf(a, S_PATH "/m%d", thread);
        sprintf(b, S2_PATH "/m%d", thread);
        if (rename(a, b) != 0 || rename(b, a) != 0) fail("dirs: directory rename", thread, round);
    }
    return NULL;
}

// The names in `path` (but . and ..), sorted into one string "a b c ".
static int list_names(const char* path, char* out, size_t size) {
    DIR* dir = opendir(path);
    if (!dir) return -1;
    char names[4096][24];
    int count = 0;
    struct dirent* entry;
    while ((entry = readdir(dir)))
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..") && count < 4096)
            snprintf(names[count++], sizeof names[0], "%s", entry->d_name);
    closedir(dir);
    qsort(names, (size_t)count, sizeof names[0], (int (*)(const void*, const void*))strcmp);
    out[0] = '\0';
    for (int i = 0; i < count; ++i)
        if (strlen(out) + strlen(names[i]) + 2 < size) strcat(strcat(out, names[i]), " ");
    return count;
}

static char g_names[4096][24];

static void dirs_phase(void) {
    g_dir_rounds = g_rounds / 3 < 2 ? 2 : g_rounds / 3;
    CHECK(mkdir(S_PATH, 0755) == 0 && mkdir(S2_PATH, 0755) == 0);
    for (int t = 0; t < THREADS; ++t) {
        char path[64];
        sprintf(path, S_PATH "/p%d", t);
        CHECK(mkdir(path, 0755) == 0);
        sprintf(path, S_PATH "/m%d", t);
        CHECK(mkdir(path, 0755) == 0);
    }
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; ++i) CHECK(pthread_create(&threads[i], NULL, dir_changer, (void*)(intptr_t)i) == 0);
    for (int i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
    static char got[65536], want[65536];
    // S: shared, m<t>, p<t>.
    int count = 0;
    snprintf(g_names[count++], sizeof g_names[0], "shared");
    for (int t = 0; t < THREADS; ++t) {
        snprintf(g_names[count++], sizeof g_names[0], "m%d", t);
        snprintf(g_names[count++], sizeof g_names[0], "p%d", t);
    }
    qsort(g_names, (size_t)count, sizeof g_names[0], (int (*)(const void*, const void*))strcmp);
    want[0] = '\0';
    for (int i = 0; i < count; ++i) strcat(strcat(want, g_names[i]), " ");
    int listed_count = list_names(S_PATH, got, sizeof got);
    if (listed_count != count || strcmp(got, want))
        printf("FAIL dirs: " S_PATH " lists %d: %.300s\n", listed_count, got);
    CHECK(listed_count == count && !strcmp(got, want));
    CHECK(list_names(S2_PATH, got, sizeof got) == 0);
    for (int t = 0; t < THREADS; ++t) {
        char path[96];
        sprintf(path, S_PATH "/p%d", t);
        count = 0;
        for (long r = 0; r < g_dir_rounds; r += 2) snprintf(g_names[count++], sizeof g_names[0], "d%ld", r);
        qsort(g_names, (size_t)count, sizeof g_names[0], (int (*)(const void*, const void*))strcmp);
        want[0] = '\0';
        for (int i = 0; i < count; ++i) strcat(strcat(want, g_names[i]), " ");
        listed_count = list_names(path, got, sizeof got);
        if (listed_count != count || strcmp(got, want))
            printf("FAIL dirs: %s lists %d: %.200s\n", path, listed_count, got);
        CHECK(listed_count == count && !strcmp(got, want));
        for (long r = 0; r < g_dir_rounds; r += 2) {
            char file[96], content[16], expected[9];
            sprintf(file, S_PATH "/p%d/d%ld/f", t, r);
            sprintf(expected, "%02d-%05ld", t % 100, r % 100000);
            int fd = open(file, O_RDONLY);
            long n = fd >= 0 ? read(fd, content, sizeof content) : -1;
            if (fd >= 0) close(fd);
            if (n != 8 || memcmp(content, expected, 8)) {
                printf("FAIL dirs: %s: %ld bytes\n", file, n);
                ++check_failures;
            }
        }
    }
}

int main(int argc, char** argv) {
    if (argc > 1) g_rounds = atol(argv[1]);
    long start = now_ms();
    mkdir("/tmp", 01777);
    mkdir(DIR_PATH, 0755);
    for (size_t i = 0; i < sizeof g_constant; ++i) g_constant[i] = (char)(i * 31 + 7);
    int fd = open(DIR_PATH "/constant", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, g_constant, sizeof g_constant) == sizeof g_constant);
    close(fd);
    fd = open(DIR_PATH "/log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    close(fd);
    for (int i = 0; i < THREADS; ++i) {
        char path[64];
        if (i % 4 == 0)
            path_of(path, "w", i / 4);
        else if (i % 4 == 2)
            path_of(path, "t", i);
        else
            continue;
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0);
        close(fd);
    }
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; ++i) {
        void* (*body)(void*) = i % 4 == 0 ? writer : i % 4 == 1 ? appender : i % 4 == 2 ? truncater : lister;
        intptr_t arg = i % 4 == 0 ? i / 4 : i;
        CHECK(pthread_create(&threads[i], NULL, body, (void*)arg) == 0);
    }
    for (int i = 0; i < THREADS; ++i) pthread_join(threads[i], NULL);
    check_log();
    printf("files_stress: files done after %ld ms\n", (long)((now_ms() - start)));
    fflush(stdout);
    dirs_phase();
    printf("files_stress: directories done after %ld ms\n", (long)((now_ms() - start)));
    check_failures += (int)atomic_load(&g_failures);
    printf("files_stress: %d failure(s)\n", check_failures);
    return check_failures;
}
