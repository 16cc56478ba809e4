// The guest half of the --share test (run_share_test.py is the host half): works in the shared
// directory argv[1] and leaves results the host checks. Exit status = number of failures.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

static int failures;
static char path_buffer[4][512];

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            printf("FAIL line %d: %s (errno %d %s)\n", __LINE__, #cond, errno, strerror(errno));                       \
            ++failures;                                                                                                \
        }                                                                                                              \
    } while (0)

static const char* at(int slot, const char* dir, const char* name) {
    snprintf(path_buffer[slot], sizeof path_buffer[slot], "%s/%s", dir, name);
    return path_buffer[slot];
}

// The big file's byte at `i`: a pattern the host recomputes.
static unsigned char pattern(size_t i) { return (unsigned char)((i * 131 + i / 4096) & 0xff); }

enum { BIG_SIZE = 300 * 1024 + 123 };  // several msize chunks and a ragged end

// Threads doing I/O on the share at once (several requests in flight on the virtqueue).
static const char* g_dir;
static int g_thread_failures;
static void* concurrent_io(void* arg) {
    long id = (long)arg;
    char path[512], data[50000], back[50000];
    snprintf(path, sizeof path, "%s/thread%ld", g_dir, id);
    for (int round = 0; round < 5; ++round) {
        memset(data, 'a' + (int)id + round, sizeof data);
        int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
        if (fd < 0 || write(fd, data, sizeof data) != sizeof data || pread(fd, back, sizeof back, 0) != sizeof back ||
            memcmp(data, back, sizeof data) != 0)
            __atomic_add_fetch(&g_thread_failures, 1, __ATOMIC_SEQ_CST);
        if (fd >= 0) close(fd);
    }
    if (unlink(path) != 0) __atomic_add_fetch(&g_thread_failures, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

// Reads up to 4 KiB of `path`: the byte count, or -errno.
static long slurp(const char* path, char* out, size_t size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -errno;
    ssize_t n = read(fd, out, size);
    close(fd);
    return n < 0 ? -errno : n;
}

// Paths in the share resolve in the guest's namespace, never the host's: "..", and symlinks the
// host put there (run_share_test.py) pointing to absolute host paths and up out of the share.
static void check_confinement(const char* dir) {
    char guest[4096], seen[4096], path[600];
    long guest_n = slurp("/etc/passwd", guest, sizeof guest);
    CHECK(guest_n > 0);
    snprintf(path, sizeof path, "%s/../../../../../etc/passwd", dir);
    CHECK(slurp(path, seen, sizeof seen) == guest_n && memcmp(seen, guest, (size_t)guest_n) == 0);
    CHECK(slurp(at(0, dir, "escape_up/etc/passwd"), seen, sizeof seen) == guest_n &&
          memcmp(seen, guest, (size_t)guest_n) == 0);
    struct stat root, up;
    CHECK(stat("/", &root) == 0 && stat(at(0, dir, "escape_up"), &up) == 0 && up.st_dev == root.st_dev &&
          up.st_ino == root.st_ino);
    // The host's secret file outside the share: its absolute path and ../outside/ name nothing
    // in the guest.
    CHECK(slurp(at(0, dir, "escape_abs"), seen, sizeof seen) == -ENOENT);
    CHECK(slurp(at(0, dir, "escape_rel"), seen, sizeof seen) == -ENOENT);
    // /etc/shadow: whatever the guest's own /etc/shadow gives (the host's would be readable to
    // a root host user).
    long own = slurp("/etc/shadow", guest, sizeof guest),
         linked = slurp(at(0, dir, "escape_shadow"), seen, sizeof seen);
    CHECK(linked == own && (own < 0 || memcmp(seen, guest, (size_t)own) == 0));
    DIR* d = opendir(at(0, dir, "escape_up"));
    int saw_share_parent = 0;
    for (struct dirent* e; d && (e = readdir(d));) saw_share_parent |= !strcmp(e->d_name, "outside");
    if (d) closedir(d);
    CHECK(d != NULL && !saw_share_parent);  // the guest's /, not the host's temporary directory
}

int main(int argc, char** argv) {
    if (argc < 2) return 100;
    const char* dir = argv[1];
    char buffer[256];

    // A file the host put there.
    int fd = open(at(0, dir, "from_host.txt"), O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    CHECK(n == (ssize_t)strlen("written on the host\n"));
    buffer[n > 0 ? n : 0] = '\0';
    CHECK(strcmp(buffer, "written on the host\n") == 0);
    CHECK(read(fd, buffer, sizeof buffer) == 0);
    close(fd);

    // The listing. In the mapped mode d_type is DT_UNKNOWN (QEMU's mapped-xattr: a host file's
    // type is not the guest's), and hosted does the same.
    const char* share_mode = getenv("SHARE_MODE");
    int passthrough = share_mode && strcmp(share_mode, "passthrough") == 0;
    unsigned char dt_reg = passthrough ? DT_REG : DT_UNKNOWN, dt_dir = passthrough ? DT_DIR : DT_UNKNOWN;
    int seen_host = 0, seen_sub = 0, seen_dot = 0, entries = 0;
    DIR* d = opendir(dir);
    CHECK(d != NULL);
    for (struct dirent* e; d && (e = readdir(d));) {
        ++entries;
        if (!strcmp(e->d_name, "from_host.txt")) seen_host = e->d_type == dt_reg;
        if (!strcmp(e->d_name, "sub")) seen_sub = e->d_type == dt_dir;
        if (!strcmp(e->d_name, ".")) seen_dot = 1;
    }
    if (d) closedir(d);
    CHECK(seen_host && seen_sub && seen_dot);
    printf("listed %d entries\n", entries);

    // A big file, written in one go, fsynced, read back.
    unsigned char* big = malloc(BIG_SIZE);
    unsigned char* back = malloc(BIG_SIZE);
    for (size_t i = 0; i < BIG_SIZE; ++i) big[i] = pattern(i);
    fd = open(at(0, dir, "from_guest.bin"), O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, big, BIG_SIZE) == BIG_SIZE);
    CHECK(fsync(fd) == 0);
    CHECK(pread(fd, back, BIG_SIZE, 0) == BIG_SIZE);
    CHECK(memcmp(big, back, BIG_SIZE) == 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == BIG_SIZE && S_ISREG(st.st_mode));
    close(fd);

    // A small text file the host reads.
    fd = open(at(0, dir, "from_guest.txt"), O_CREAT | O_WRONLY | O_EXCL, 0640);
    CHECK(fd >= 0);
    const char text[] = "written by the guest\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    CHECK(fdatasync(fd) == 0);
    close(fd);
    fd = open(at(0, dir, "from_guest.txt"), O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "appended\n", 9) == 9);
    close(fd);

    // Rename and delete files the host made.
    CHECK(rename(at(0, dir, "to_rename.txt"), at(1, dir, "renamed.txt")) == 0);
    CHECK(unlink(at(0, dir, "to_delete.txt")) == 0);
    CHECK(access(at(0, dir, "to_delete.txt"), F_OK) == -1 && errno == ENOENT);

    // Directories, symlinks, attributes.
    CHECK(mkdir(at(0, dir, "newdir"), 0755) == 0);
    CHECK(mkdir(at(0, dir, "newdir"), 0755) == -1 && errno == EEXIST);
    CHECK(rename(at(0, dir, "renamed.txt"), at(1, dir, "newdir/moved.txt")) == 0);
    CHECK(rename(at(0, dir, "newdir/moved.txt"), at(1, dir, "renamed.txt")) == 0);
    CHECK(rmdir(at(0, dir, "sub")) == -1 && errno == ENOTEMPTY);
    CHECK(rmdir(at(0, dir, "sub/empty")) == 0);
    CHECK(symlink("from_guest.txt", at(0, dir, "link")) == 0);
    n = readlink(at(0, dir, "link"), buffer, sizeof buffer);
    CHECK(n == 14 && memcmp(buffer, "from_guest.txt", 14) == 0);
    CHECK(stat(at(0, dir, "link"), &st) == 0 && S_ISREG(st.st_mode));
    CHECK(lstat(at(0, dir, "link"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(chmod(at(0, dir, "renamed.txt"), 0600) == 0);
    CHECK(stat(at(0, dir, "renamed.txt"), &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK(truncate(at(0, dir, "from_guest.bin"), 1000) == 0);
    CHECK(stat(at(0, dir, "from_guest.bin"), &st) == 0 && st.st_size == 1000);
    struct timeval times[2] = {{1000000000, 0}, {1234567890, 0}};
    CHECK(utimes(at(0, dir, "renamed.txt"), times) == 0);
    CHECK(stat(at(0, dir, "renamed.txt"), &st) == 0 && st.st_mtime == 1234567890);
    CHECK(link(at(0, dir, "renamed.txt"), at(1, dir, "hardlink.txt")) == 0);
    CHECK(stat(at(0, dir, "hardlink.txt"), &st) == 0 && st.st_nlink == 2);

    // What a guest root may set: owners, setuid/setgid modes, device nodes. How they reach the
    // host is the share's mode (SHARE_MODE in the environment; run_share_test.py checks the
    // host): mapped (the default) keeps them in xattrs of plain host files, so all of it must
    // work; passthrough gives them to the host, which refuses what its user may not (EPERM).
    fd = open(at(0, dir, "setuid_root"), O_CREAT | O_WRONLY | O_EXCL, 0755);
    CHECK(fd >= 0 && write(fd, "#!/bin/sh\n", 10) == 10);
    close(fd);
    int chowned = chown(at(0, dir, "setuid_root"), 0, 0);
    CHECK(chowned == 0 || (passthrough && errno == EPERM));
    CHECK(chmod(at(0, dir, "setuid_root"), 04755) == 0);
    CHECK(stat(at(0, dir, "setuid_root"), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 04755);
    if (chowned == 0) CHECK(st.st_uid == 0 && st.st_gid == 0);
    CHECK(mkdir(at(0, dir, "setgid_dir"), 0755) == 0 && chmod(at(0, dir, "setgid_dir"), 02775) == 0);
    CHECK(stat(at(0, dir, "setgid_dir"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 02775);
    int made = mknod(at(0, dir, "chardev"), S_IFCHR | 0644, makedev(1, 3));
    // Passthrough: EPERM from a host that may not make device nodes; ENXIO from QEMU 7.2, whose 9p
    // server (security_model=none) removes a special file it has just made ("broken or
    // compromised client detected").
    CHECK(made == 0 || (passthrough && (errno == EPERM || errno == ENXIO)));
    if (made == 0)
        CHECK(lstat(at(0, dir, "chardev"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3) &&
              (st.st_mode & 07777) == 0644);
    if (!passthrough) {  // a block device node 254:0 (a virtio disk): on the host only a plain file
        CHECK(mknod(at(0, dir, "blockdev"), S_IFBLK | 0600, makedev(254, 0)) == 0);
        CHECK(lstat(at(0, dir, "blockdev"), &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == makedev(254, 0) &&
              (st.st_mode & 07777) == 0600);
    }

    // Errors come back with the host's errno.
    CHECK(open(at(0, dir, "missing"), O_RDONLY) == -1 && errno == ENOENT);
    CHECK(open(at(0, dir, "from_host.txt/x"), O_RDONLY) == -1 && errno == ENOTDIR);
    CHECK(unlink(at(0, dir, "newdir")) == -1 && errno == EISDIR);
    CHECK(open(at(0, dir, "from_host.txt"), O_CREAT | O_EXCL | O_WRONLY, 0644) == -1 && errno == EEXIST);

    // An unlinked file stays readable through its descriptor.
    fd = open(at(0, dir, "scratch"), O_CREAT | O_RDWR, 0644);
    CHECK(fd >= 0 && write(fd, "scratch", 7) == 7);
    CHECK(unlink(at(0, dir, "scratch")) == 0);
    CHECK(pread(fd, buffer, 7, 0) == 7 && memcmp(buffer, "scratch", 7) == 0);
    close(fd);

    // 9p's magic on the VM; on hosted the host file system's (argv[2], hex), as a bind mount.
    struct statfs sfs;
    long expected_type = argc > 2 ? strtol(argv[2], NULL, 16) : 0x01021997;
    CHECK(statfs(dir, &sfs) == 0 && sfs.f_type == expected_type && sfs.f_bsize > 0);
    check_confinement(dir);
    CHECK(chdir(dir) == 0);
    CHECK(getcwd(buffer, sizeof buffer) && strcmp(buffer, dir) == 0);
    CHECK(access("newdir", F_OK) == 0);

    g_dir = dir;
    pthread_t threads[6];
    for (long i = 0; i < 6; ++i) CHECK(pthread_create(&threads[i], NULL, concurrent_io, (void*)i) == 0);
    for (int i = 0; i < 6; ++i) pthread_join(threads[i], NULL);
    CHECK(g_thread_failures == 0);

    printf("%d failure(s)\n", failures);
    return failures;
}
