// The program's root under xos-run --rootfs (run_exec_test.py "overlay"): a read-only host
// directory under a writable layer in memory, with /dev, /proc and /tmp inside. Every check runs
// in the root run_exec_test.py makes (make_overlay_root); the exit status is the number of
// failed checks (0: all passed). Also runs natively on Linux over overlayfs (the same root as
// the lower layer), where it must pass too.
//
//   overlay-probe MODE
//     write    the writable layer: create, append, truncate, rename, unlink, mkdir/rmdir, chmod,
//              utimens, link, mmap of a lower file, readdir, unlink while listing (rm -r);
//              /dev, /proc, /tmp
//     full     writes beyond --rootfs-size fail with ENOSPC
//     erofs [hostfs]   /ro is a read-only share: every change fails with EROFS (hostfs: and
//              statfs and /proc/mounts say ro); another share is mounted below /tmp
//     rw       --rootfs DIR:rw: a file written reaches DIR; /dev/null and /tmp are there
//     native   Linux over overlayfs: the file checks (write without /dev, /proc, /tmp)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(condition, ...)                                                                                          \
    do {                                                                                                               \
        if (!(condition)) {                                                                                            \
            ++failures;                                                                                                \
            printf("FAIL line %d: %s: ", __LINE__, #condition);                                                        \
            printf(__VA_ARGS__);                                                                                       \
            printf(" (errno %d %s)\n", errno, strerror(errno));                                                        \
        }                                                                                                              \
    } while (0)

static char* read_file(const char* path) {
    static char buffer[65536];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    if (n < 0) return NULL;
    buffer[n] = 0;
    return buffer;
}

static int write_file(const char* path, int flags, const char* text) {
    int fd = open(path, O_WRONLY | flags, 0644);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int same(const char* a, const char* b) { return a && b && strcmp(a, b) == 0; }

// The names in `path`, sorted, space-separated (without "." and "..").
static const char* listing(const char* path) {
    static char out[4096];
    struct dirent** entries;
    int n = scandir(path, &entries, NULL, alphasort);
    if (n < 0) return "<error>";
    out[0] = 0;
    for (int i = 0; i < n; ++i) {
        if (strcmp(entries[i]->d_name, ".") && strcmp(entries[i]->d_name, "..")) {
            if (out[0]) strcat(out, " ");
            strcat(out, entries[i]->d_name);
        }
        free(entries[i]);
    }
    free(entries);
    return out;
}

static void check_files(void) {
    // Create and write.
    CHECK(write_file("/data/new.txt", O_CREAT | O_EXCL, "hello\n") == 0, "create");
    CHECK(same(read_file("/data/new.txt"), "hello\n"), "read back");
    // Append to a lower file (copy-up, then the end of the copy).
    CHECK(write_file("/data/keep.txt", O_APPEND, "more\n") == 0, "append");
    CHECK(same(read_file("/data/keep.txt"), "keep\nmore\n"), "appended: %s", read_file("/data/keep.txt"));
    // Truncate a lower file by name.
    CHECK(truncate("/data/input.txt", 10) == 0, "truncate");
    struct stat st;
    CHECK(stat("/data/input.txt", &st) == 0 && st.st_size == 10, "size after truncate");
    CHECK(same(read_file("/data/input.txt"), "first line"), "truncated content");
    // O_TRUNC of a lower file.
    CHECK(write_file("/data/trunc.txt", O_TRUNC, "short") == 0, "O_TRUNC");
    CHECK(same(read_file("/data/trunc.txt"), "short"), "O_TRUNC content");
    // Rename a lower file; unlink one.
    CHECK(rename("/data/rename-me", "/data/renamed") == 0, "rename");
    CHECK(access("/data/rename-me", F_OK) != 0 && errno == ENOENT, "old name gone");
    CHECK(same(read_file("/data/renamed"), "rename me\n"), "renamed content");
    CHECK(unlink("/data/remove-me") == 0, "unlink");
    CHECK(access("/data/remove-me", F_OK) != 0 && errno == ENOENT, "unlinked");
    // Directories: a new one, a lower one emptied and removed, made again (empty).
    CHECK(mkdir("/data/newdir", 0755) == 0, "mkdir");
    CHECK(rmdir("/data/newdir") == 0, "rmdir new");
    CHECK(rmdir("/data/dir-full") != 0 && errno == ENOTEMPTY, "rmdir non-empty");
    CHECK(unlink("/data/dir-full/a") == 0 && unlink("/data/dir-full/b") == 0, "empty it");
    CHECK(same(listing("/data/dir-full"), ""), "emptied: %s", listing("/data/dir-full"));
    CHECK(rmdir("/data/dir-full") == 0, "rmdir emptied lower dir");
    CHECK(mkdir("/data/dir-full", 0700) == 0, "mkdir again");
    CHECK(same(listing("/data/dir-full"), ""), "made again, empty: %s", listing("/data/dir-full"));
    CHECK(rmdir("/data/dir-empty") == 0, "rmdir empty lower dir");
    CHECK(rename("/data/dir-lower", "/data/dir-moved") != 0 && errno == EXDEV, "lower directory: EXDEV");
    // chmod and utimens copy up; the data stays.
    CHECK(chmod("/data/chmod-me", 0600) == 0, "chmod");
    CHECK(stat("/data/chmod-me", &st) == 0 && (st.st_mode & 07777) == 0600, "mode %o", st.st_mode);
    CHECK(same(read_file("/data/chmod-me"), "chmod me\n"), "chmod content");
    struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
    CHECK(utimensat(AT_FDCWD, "/data/utime-me", times, 0) == 0, "utimensat");
    CHECK(stat("/data/utime-me", &st) == 0 && st.st_mtime == 1000000000, "mtime %ld", (long)st.st_mtime);
    // A hard link to a lower file.
    CHECK(link("/data/keep.txt", "/data/keep-link") == 0, "link");
    CHECK(stat("/data/keep-link", &st) == 0 && st.st_nlink == 2, "nlink %ld", (long)st.st_nlink);
    CHECK(same(read_file("/data/keep-link"), "keep\nmore\n"), "link content");
    // The listing: lower and upper names merged, whiteouts hidden.
    const char* expected =
        "chmod-me dir-full dir-lower input.txt keep-link keep.txt many mapped.bin new.txt renamed trunc.txt "
        "utime-me";
    CHECK(same(listing("/data"), expected), "listing: %s", listing("/data"));
    CHECK(same(listing("/data/dir-lower"), "inner"), "lower dir: %s", listing("/data/dir-lower"));
}

// rm -r's pattern over a lower directory larger than one getdents64 buffer: unlink each entry
// as it is listed (the first unlink copies the directory up mid-listing).
static void check_unlink_while_listing(void) {
    DIR* dir = opendir("/data/many");
    CHECK(dir != NULL, "opendir /data/many");
    if (!dir) return;
    int removed = 0;
    char path[300];
    for (struct dirent* entry; (entry = readdir(dir));) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
        snprintf(path, sizeof path, "/data/many/%s", entry->d_name);
        if (unlink(path) == 0) ++removed;
    }
    closedir(dir);
    CHECK(removed == 600, "removed %d of 600 while listing", removed);
    CHECK(rmdir("/data/many") == 0, "rmdir after removing every entry");
}

static void check_mmap(void) {
    // MAP_PRIVATE of a lower file: its bytes; writing the mapping leaves the file alone.
    int fd = open("/data/mapped.bin", O_RDONLY);
    CHECK(fd >= 0, "open mapped.bin");
    if (fd < 0) return;
    unsigned char* map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(map != MAP_FAILED, "mmap private");
    if (map != MAP_FAILED) {
        int good = 1;
        for (int i = 0; i < 8192; ++i) good &= map[i] == (unsigned char)(i * 7);
        CHECK(good, "mapped bytes");
        map[0] = 0xff;
        munmap(map, 8192);
    }
    close(fd);
    unsigned char first;
    fd = open("/data/mapped.bin", O_RDONLY);
    CHECK(fd >= 0 && pread(fd, &first, 1, 0) == 1 && first == 0, "private write stays private");
    close(fd);
    // MAP_SHARED writable: the file was copied up at open (O_RDWR); writes reach read().
    fd = open("/data/mapped.bin", O_RDWR);
    CHECK(fd >= 0, "open mapped.bin O_RDWR");
    if (fd < 0) return;
    map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(map != MAP_FAILED, "mmap shared");
    if (map != MAP_FAILED) {
        CHECK(map[1] == 7, "shared mapping bytes");
        map[4096] = 0xab;
        CHECK(msync(map, 8192, MS_SYNC) == 0, "msync");
        unsigned char byte = 0;
        CHECK(pread(fd, &byte, 1, 4096) == 1 && byte == 0xab, "write through the shared mapping: %x", byte);
        munmap(map, 8192);
    }
    close(fd);
}

static void check_system_dirs(void) {
    int fd = open("/dev/null", O_WRONLY);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1, "/dev/null");
    close(fd);
    char exe[256] = {0};
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0 && strcmp(exe, "/bin/overlay-probe") == 0, "/proc/self/exe: %s", exe);
    struct stat st;
    CHECK(stat("/tmp", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 01777, "/tmp mode %o", st.st_mode);
    CHECK(same(listing("/tmp"), ""), "/tmp empty: %s", listing("/tmp"));
    CHECK(write_file("/tmp/t", O_CREAT, "tmp") == 0 && same(read_file("/tmp/t"), "tmp"), "/tmp file");
    CHECK(unlink("/tmp/t") == 0, "/tmp unlink");
    // The root: ".." stays there, getcwd is right, statfs names the overlay.
    struct stat root, dotdot;
    CHECK(stat("/", &root) == 0 && stat("/..", &dotdot) == 0 && root.st_ino == dotdot.st_ino, "/.. is /");
    CHECK(mkdir("/data/cwd", 0755) == 0 && chdir("/data/cwd") == 0, "chdir");
    char cwd[256];
    CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/data/cwd") == 0, "getcwd %s", cwd);
    CHECK(chdir("/") == 0, "chdir /");
    struct statfs fs;
    CHECK(statfs("/", &fs) == 0 && fs.f_type == 0x794c7630, "statfs f_type %lx", (long)fs.f_type);
    const char* mounts = read_file("/proc/mounts");
    CHECK(mounts && strstr(mounts, "overlay / overlay rw"), "/proc/mounts: %s", mounts);
}

// Files of 1 MiB until the layer is full: ENOSPC, well before the data would reach 64 MiB.
static void check_full(void) {
    static char chunk[1 << 20];
    memset(chunk, 'z', sizeof chunk);
    int fd = open("/data/huge", O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0, "create huge");
    if (fd < 0) return;
    int error = 0;
    for (int i = 0; i < 64 && !error; ++i) {
        ssize_t n = write(fd, chunk, sizeof chunk);
        if (n < 0)
            error = errno;
        else if (n < (ssize_t)sizeof chunk) {
            n = write(fd, chunk, sizeof chunk);
            error = n < 0 ? errno : 0;
            if (!error) error = -1;
        }
    }
    close(fd);
    CHECK(error == ENOSPC, "writes beyond the limit: error %d", error);
    CHECK(unlink("/data/huge") == 0, "unlink huge");
    CHECK(write_file("/data/small", O_CREAT, "room again") == 0, "room after unlink");
}

// `hostfs`: the share is hostfs (hosted), which also reports itself read-only; QEMU's 9p share
// (readonly=on) refuses changes with EROFS but does not say so in statfs or /proc/mounts.
static void check_erofs(int hostfs) {
    CHECK(same(read_file("/ro/data/keep.txt"), "keep\n"), "read from the read-only share");
    CHECK(same(read_file("/tmp/shared/data/keep.txt"), "keep\n"), "a share below /tmp");
    CHECK(open("/ro/data/keep.txt", O_WRONLY) < 0 && errno == EROFS, "open for writing");
    CHECK(open("/ro/data/new", O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS, "create");
    CHECK(unlink("/ro/data/keep.txt") != 0 && errno == EROFS, "unlink");
    CHECK(mkdir("/ro/data/d", 0755) != 0 && errno == EROFS, "mkdir");
    CHECK(rename("/ro/data/keep.txt", "/ro/data/k") != 0 && errno == EROFS, "rename");
    CHECK(chmod("/ro/data/keep.txt", 0600) != 0 && errno == EROFS, "chmod");
    CHECK(truncate("/ro/data/keep.txt", 0) != 0 && errno == EROFS, "truncate");
    if (!hostfs) return;
    struct statfs fs;
    CHECK(statfs("/ro", &fs) == 0 && (fs.f_flags & ST_RDONLY), "statfs flags %lx", (long)fs.f_flags);
    const char* mounts = read_file("/proc/mounts");
    CHECK(mounts && strstr(mounts, " /ro hostfs ro,"), "/proc/mounts: %s", mounts);
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "write") == 0) {
        check_files();
        check_unlink_while_listing();
        check_mmap();
        check_system_dirs();
    } else if (strcmp(mode, "full") == 0) {
        check_full();
    } else if (strcmp(mode, "erofs") == 0) {
        check_erofs(argc > 2 && strcmp(argv[2], "hostfs") == 0);
    } else if (strcmp(mode, "rw") == 0) {  // --rootfs DIR:rw: the file reaches the host directory
        CHECK(write_file("/data/written-through", O_CREAT, "rw\n") == 0, "create on the host");
        int fd = open("/dev/null", O_WRONLY);
        CHECK(fd >= 0, "/dev/null");
        close(fd);
        struct stat st;
        CHECK(stat("/tmp", &st) == 0 && (st.st_mode & 07777) == 01777, "/tmp mode %o", st.st_mode);
        CHECK(write_file("/tmp/t", O_CREAT, "tmp") == 0, "/tmp file");
    } else if (strcmp(mode, "native") == 0) {  // Linux over overlayfs: what does not need xos's /proc, /tmp
        check_files();
        check_unlink_while_listing();
        check_mmap();
    } else {
        fprintf(stderr, "usage: overlay-probe write|full|erofs|rw|native\n");
        return 100;
    }
    printf("%s: %d failure(s)\n", mode, failures);
    return failures > 100 ? 100 : failures;
}
