// Differential conformance of the file syscalls: normal and error paths, printed as results
// and errno names only (no inode numbers, times or addresses). Runs in a fresh directory
// under /tmp on both Linux and xos.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "show.h"

static int count_entries(const char* path) {
    DIR* dir = opendir(path);
    if (!dir) return -1;
    int n = 0;
    while (readdir(dir)) n++;
    closedir(dir);
    return n;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);  // EPIPE is what is compared; xos raises no SIGPIPE yet
    char dir[] = "/tmp/xos-files-XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0) return 2;
    umask(022);
    char buf[256];
    struct stat st;

    // open/creat/close, read/write, lseek.
    SHOW("open(missing)", open("missing", O_RDONLY));
    SHOW("open(O_CREAT)", open("f", O_CREAT | O_RDWR, 0640));
    SHOW("write(3, 10)", write(3, "0123456789", 10));
    SHOW("lseek(3, 0, SEEK_CUR)", lseek(3, 0, SEEK_CUR));
    SHOW("lseek(3, -1, SEEK_SET)", lseek(3, -1, SEEK_SET));
    SHOW("lseek(3, 0, 99)", lseek(3, 0, 99));
    SHOW("lseek(3, 2, SEEK_SET)", lseek(3, 2, SEEK_SET));
    SHOW("read(3, 4)", read(3, buf, 4));
    SHOW("read(3, bad ptr)", read(3, (void*)8, 4));
    SHOW("pread(3, 3, 7)", pread(3, buf, 3, 7));
    SHOW("pread(3, -1)", pread(3, buf, 3, -1));
    SHOW("pwrite(3, 20)", pwrite(3, "x", 1, 20));
    SHOW("fstat size", fstat(3, &st) == 0 ? st.st_size : -1);
    SHOW("fstat mode", fstat(3, &st) == 0 ? (long)(st.st_mode & 07777) : -1);
    SHOW("hole reads zero", pread(3, buf, 5, 12) == 5 && buf[0] == 0 && buf[4] == 0);
    SHOW("open(O_CREAT|O_EXCL existing)", open("f", O_CREAT | O_EXCL | O_RDWR, 0644));
    SHOW("open(f/, O_RDONLY)", open("f/", O_RDONLY));
    SHOW("open(f/x)", open("f/x", O_RDONLY));
    SHOW("open(., O_RDWR)", open(".", O_RDWR));
    SHOW("open(f, O_DIRECTORY)", open("f", O_DIRECTORY));
    SHOW("open(NULL)", open(NULL, O_RDONLY));
    SHOW("open(\"\")", open("", O_RDONLY));
    SHOW("creat(g)", creat("g", 0600));
    SHOW("write(4 on O_WRONLY... read)", read(4, buf, 1));
    SHOW("close(4)", close(4));
    SHOW("close(4) again", close(4));
    SHOW("read(99)", read(99, buf, 1));
    SHOW("write(O_RDONLY fd)", (close(open("f", O_RDONLY)), write(open("f", O_RDONLY), "x", 1)));
    close(4);

    // readv/writev/preadv/pwritev.
    struct iovec iov[2] = {{"ab", 2}, {"cde", 3}};
    SHOW("writev(3, 2 vectors)", writev(3, iov, 2));
    char a[2], b[3];
    struct iovec in[2] = {{a, 2}, {b, 3}};
    SHOW("preadv(3, 0)", preadv(3, in, 2, 0));
    SHOW("pwritev(3, 1)", pwritev(3, iov, 1, 30));
    SHOW("readv(3, -1)", readv(3, in, -1));

    // ftruncate/truncate/fallocate.
    SHOW("ftruncate(3, 4)", ftruncate(3, 4));
    SHOW("size after truncate", fstat(3, &st) == 0 ? st.st_size : -1);
    SHOW("ftruncate(3, -1)", ftruncate(3, -1));
    SHOW("truncate(f, 100)", truncate("f", 100));
    SHOW("truncate(., 1)", truncate(".", 1));
    SHOW("truncate(missing)", truncate("missing", 1));
    SHOW("fallocate(3, 0, 0, 8192)", fallocate(3, 0, 0, 8192));
    SHOW("size after fallocate", fstat(3, &st) == 0 ? st.st_size : -1);
    SHOW("fallocate(3, 0, 0, 0)", fallocate(3, 0, 0, 0));
    SHOW("fsync(3)", fsync(3));
    SHOW("fdatasync(3)", fdatasync(3));
    SHOW("fsync(99)", fsync(99));

    // Directories.
    SHOW("mkdir(d)", mkdir("d", 0755));
    SHOW("mkdir(d) again", mkdir("d", 0755));
    SHOW("mkdir(missing/x)", mkdir("missing/x", 0755));
    SHOW("mkdir(f/x)", mkdir("f/x", 0755));
    SHOW("mkdir(.)", mkdir(".", 0755));
    SHOW("mkdir(d/e)", mkdir("d/e", 0700));
    SHOW("stat(d) nlink", stat("d", &st) == 0 ? (long)st.st_nlink : -1);
    SHOW("stat(d/e) mode", stat("d/e", &st) == 0 ? (long)(st.st_mode & 07777) : -1);
    SHOW("rmdir(d)", rmdir("d"));
    SHOW("rmdir(f)", rmdir("f"));
    SHOW("rmdir(d/e/.)", rmdir("d/e/."));
    SHOW("unlink(d)", unlink("d"));
    SHOW("unlink(f/)", unlink("f/"));
    SHOW("entries in d", count_entries("d"));
    SHOW("rmdir(d/e)", rmdir("d/e"));
    SHOW("unlinkat(d, AT_REMOVEDIR)", unlinkat(AT_FDCWD, "d", AT_REMOVEDIR));
    SHOW("unlinkat(bad flag)", unlinkat(AT_FDCWD, "f", 0x1000));

    // Names: long names, links, symlinks, loops.
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    SHOW("open(300-byte name)", open(longname, O_RDONLY));
    char* longpath = malloc(PATH_MAX + 10);
    memset(longpath, 'p', PATH_MAX + 9);
    longpath[PATH_MAX + 9] = 0;
    SHOW("stat(PATH_MAX+ path)", stat(longpath, &st));
    free(longpath);
    SHOW("link(f, h)", link("f", "h"));
    SHOW("nlink of f", stat("f", &st) == 0 ? (long)st.st_nlink : -1);
    SHOW("link(f, h) again", link("f", "h"));
    SHOW("link(., x)", link(".", "x"));
    SHOW("symlink(f, s)", symlink("f", "s"));
    SHOW("symlink(, t)", symlink("", "t"));
    SHOW("readlink(s)", readlink("s", buf, sizeof buf));
    SHOW("readlink(f)", readlink("f", buf, sizeof buf));
    SHOW("readlink(s, size 0)", readlink("s", buf, 0));
    SHOW("lstat(s) is link", lstat("s", &st) == 0 && S_ISLNK(st.st_mode));
    SHOW("stat(s) is reg", stat("s", &st) == 0 && S_ISREG(st.st_mode));
    SHOW("symlink(loop1, loop2)", symlink("loop1", "loop2"));
    SHOW("symlink(loop2, loop1)", symlink("loop2", "loop1"));
    SHOW("stat(loop1)", stat("loop1", &st));
    SHOW("open(s, O_NOFOLLOW)", open("s", O_RDONLY | O_NOFOLLOW));
    SHOW("symlink(dangling-target, dl)", symlink("dangling-target", "dl"));
    SHOW("open(dl, O_CREAT) creates target", open("dl", O_CREAT | O_WRONLY, 0600));
    SHOW("target exists", access("dangling-target", F_OK));
    SHOW("fstatat(s, NOFOLLOW) is link", fstatat(AT_FDCWD, "s", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode));
    SHOW("fstatat(bad flags)", fstatat(AT_FDCWD, "s", &st, 0x4));
    SHOW("stat(f, bad buf)", syscall(SYS_stat, "f", (struct stat*)8));

    // rename and renameat2.
    SHOW("rename(h, h2)", rename("h", "h2"));
    SHOW("rename(missing, x)", rename("missing", "x"));
    SHOW("mkdir(r1)", mkdir("r1", 0755));
    SHOW("mkdir(r1/sub)", mkdir("r1/sub", 0755));
    SHOW("mkdir(r2)", mkdir("r2", 0755));
    SHOW("rename(r1, r1/sub/x)", rename("r1", "r1/sub/x"));
    SHOW("rename(r2, r1) non-empty", rename("r2", "r1"));
    SHOW("rename(f, r2)", rename("f", "r2"));
    SHOW("rename(r2, f)", rename("r2", "f"));
    SHOW("rename(r2, r1/sub)", rename("r2", "r1/sub"));
    SHOW("renameat2(NOREPLACE existing)", syscall(SYS_renameat2, AT_FDCWD, "h2", AT_FDCWD, "f", 1));
    SHOW("renameat2(EXCHANGE h2 g)", syscall(SYS_renameat2, AT_FDCWD, "h2", AT_FDCWD, "g", 2));
    SHOW("size of h2 after exchange", stat("h2", &st) == 0 ? st.st_size : -1);
    SHOW("renameat2(EXCHANGE missing)", syscall(SYS_renameat2, AT_FDCWD, "h2", AT_FDCWD, "nope", 2));
    SHOW("renameat2(both flags)", syscall(SYS_renameat2, AT_FDCWD, "h2", AT_FDCWD, "g", 3));
    SHOW("rename(., x)", rename(".", "x"));

    // dirfd-relative calls.
    int dfd = open("r1", O_RDONLY | O_DIRECTORY);
    SHOW("open(r1, O_DIRECTORY) >= 0", dfd >= 0);
    SHOW("openat(r1, new, O_CREAT)", close(openat(dfd, "new", O_CREAT | O_WRONLY, 0644)));
    SHOW("faccessat(r1, new)", faccessat(dfd, "new", F_OK, 0));
    SHOW("openat(fd 3 (file), x)", openat(3, "x", O_RDONLY));
    SHOW("openat(99, x)", openat(99, "x", O_RDONLY));
    SHOW("openat(99, /tmp) absolute ignores dirfd", close(openat(99, "/tmp", O_RDONLY)));
    SHOW("fstatat(3, \"\", AT_EMPTY_PATH) size", fstatat(3, "", &st, AT_EMPTY_PATH) == 0 ? st.st_size : -1);
    SHOW("mkdirat(r1, m)", mkdirat(dfd, "m", 0755));
    SHOW("symlinkat(new, r1, sl)", symlinkat("new", dfd, "sl"));
    SHOW("readlinkat(r1, sl)", readlinkat(dfd, "sl", buf, sizeof buf));
    SHOW("linkat(r1/new, r1/new2)", linkat(dfd, "new", dfd, "new2", 0));
    SHOW("renameat(r1/new2, new3)", renameat(dfd, "new2", AT_FDCWD, "new3"));
    SHOW("unlinkat(r1, m, REMOVEDIR)", unlinkat(dfd, "m", AT_REMOVEDIR));
    SHOW("fchdir(r1)", fchdir(dfd));
    SHOW("getcwd ends in /r1", getcwd(buf, sizeof buf) && strcmp(buf + strlen(buf) - 3, "/r1") == 0);
    SHOW("getcwd(size 1)", syscall(SYS_getcwd, buf, 1));
    SHOW("chdir(..)", chdir(".."));
    SHOW("chdir(f)", chdir("f"));
    SHOW("chdir(missing)", chdir("missing"));
    SHOW("fchdir(3)", fchdir(3));
    close(dfd);

    // getdents64.
    SHOW("entries in r1", count_entries("r1"));
    int rfd = open("r1", O_RDONLY | O_DIRECTORY);
    SHOW("getdents64(tiny buffer)", syscall(SYS_getdents64, rfd, buf, 8));
    SHOW("getdents64(file)", syscall(SYS_getdents64, 3, buf, sizeof buf));
    SHOW("read(dir)", read(rfd, buf, 1));
    close(rfd);

    // access, chmod, chown, utimensat.
    SHOW("access(f, R_OK|W_OK)", access("f", R_OK | W_OK));
    SHOW("access(f, X_OK)", access("f", X_OK));
    SHOW("access(f, 99)", access("f", 99));
    SHOW("chmod(f, 0755)", chmod("f", 0755));
    SHOW("access(f, X_OK) after chmod", access("f", X_OK));
    SHOW("mode after chmod", stat("f", &st) == 0 ? (long)(st.st_mode & 07777) : -1);
    SHOW("fchmod(3, 0600)", fchmod(3, 0600));
    SHOW("fchmodat(f, 0644)", fchmodat(AT_FDCWD, "f", 0644, 0));
    SHOW("chown(f, 123, 456)", chown("f", 123, 456));
    SHOW("owner", stat("f", &st) == 0 ? (long)st.st_uid * 1000 + st.st_gid : -1);
    SHOW("fchown(3, -1, 7)", fchown(3, -1, 7));
    SHOW("owner after fchown", stat("f", &st) == 0 ? (long)st.st_uid * 1000 + st.st_gid : -1);
    SHOW("lchown(s, 5, 5)", lchown("s", 5, 5));
    SHOW("chmod(missing)", chmod("missing", 0644));
    struct timespec times[2] = {{1000, 0}, {2000, 500}};
    SHOW("utimensat(f)", utimensat(AT_FDCWD, "f", times, 0));
    SHOW("mtime", stat("f", &st) == 0 ? (long)st.st_mtim.tv_sec : -1);
    SHOW("atime", stat("f", &st) == 0 ? (long)st.st_atim.tv_sec : -1);
    struct timespec bad[2] = {{0, 2000000000}, {0, 0}};
    SHOW("utimensat(bad nsec)", utimensat(AT_FDCWD, "f", bad, 0));
    struct timespec omit[2] = {{0, UTIME_OMIT}, {3000, 0}};
    SHOW("futimens(3, omit atime)", futimens(3, omit));
    SHOW("atime kept", stat("f", &st) == 0 ? (long)st.st_atim.tv_sec : -1);

    // dup family and fcntl.
    SHOW("dup(3)", dup(3));
    SHOW("dup2(3, 10)", dup2(3, 10));
    SHOW("dup2(3, 3)", dup2(3, 3));
    SHOW("dup2(99, 11)", dup2(99, 11));
    SHOW("dup3(3, 3, 0)", dup3(3, 3, 0));
    SHOW("dup3(3, 11, O_CLOEXEC)", dup3(3, 11, O_CLOEXEC));
    SHOW("F_GETFD(11)", fcntl(11, F_GETFD));
    SHOW("F_SETFD(11, 0)", fcntl(11, F_SETFD, 0));
    SHOW("F_GETFD(11) after", fcntl(11, F_GETFD));
    SHOW("F_DUPFD(3, 20)", fcntl(3, F_DUPFD, 20));
    SHOW("F_DUPFD_CLOEXEC(3, 20)", fcntl(3, F_DUPFD_CLOEXEC, 20));
    SHOW("F_GETFD(21)", fcntl(21, F_GETFD));
    SHOW("F_DUPFD(3, -1)", fcntl(3, F_DUPFD, -1));
    SHOW("F_GETFL(3) accmode", fcntl(3, F_GETFL) & O_ACCMODE);
    SHOW("F_SETFL(3, O_APPEND)", fcntl(3, F_SETFL, O_APPEND));
    SHOW("F_GETFL has O_APPEND", (fcntl(3, F_GETFL) & O_APPEND) != 0);
    SHOW("shared offset: lseek(4) moves 3", (lseek(4, 5, SEEK_SET), lseek(3, 0, SEEK_CUR)));
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    SHOW("F_SETLK(3, WRLCK)", fcntl(3, F_SETLK, &lock));
    SHOW("F_GETLK(3) type is UNLCK", (fcntl(3, F_GETLK, &lock), lock.l_type == F_UNLCK));
    lock.l_type = 99;
    SHOW("F_SETLK(bad type)", fcntl(3, F_SETLK, &lock));
    SHOW("fcntl(3, 9999)", fcntl(3, 9999));
    SHOW("fcntl(99, F_GETFD)", fcntl(99, F_GETFD));
    int ro = open("f", O_RDONLY);
    lock.l_type = F_WRLCK;
    SHOW("F_SETLK(WRLCK on O_RDONLY)", fcntl(ro, F_SETLK, &lock));
    SHOW("flock(3, LOCK_EX)", flock(3, LOCK_EX));
    SHOW("flock(other open, LOCK_EX|LOCK_NB)", flock(ro, LOCK_EX | LOCK_NB));
    SHOW("flock(3, LOCK_UN)", flock(3, LOCK_UN));
    SHOW("flock(other open, LOCK_SH|LOCK_NB)", flock(ro, LOCK_SH | LOCK_NB));
    SHOW("flock(3, 0)", flock(3, 0));
    close(ro);
    for (int fd = 4; fd < 30; fd++) close(fd);

    // Pipes.
    int p[2];
    SHOW("pipe2(p, O_NONBLOCK)", pipe2(p, O_NONBLOCK));
    SHOW("read(empty nonblocking pipe)", read(p[0], buf, 1));
    SHOW("write(pipe, 3)", write(p[1], "abc", 3));
    int avail = -1;
    SHOW("FIONREAD", (ioctl(p[0], FIONREAD, &avail), avail));
    SHOW("lseek(pipe)", lseek(p[0], 0, SEEK_SET));
    SHOW("pread(pipe)", pread(p[0], buf, 1, 0));
    SHOW("read(pipe, 10)", read(p[0], buf, 10));
    SHOW("write(read end)", write(p[0], "x", 1));
    SHOW("close(read end)", close(p[0]));
    SHOW("write(no reader)", write(p[1], "x", 1));
    close(p[1]);
    SHOW("pipe2(bad flags)", pipe2(p, 0x1));
    SHOW("pipe(bad ptr)", pipe((int*)8));
    SHOW("pipe(p)", pipe(p));
    SHOW("write then close writer", (write(p[1], "xy", 2), close(p[1])));
    SHOW("read 2", read(p[0], buf, 5));
    SHOW("read EOF", read(p[0], buf, 5));
    close(p[0]);
    SHOW("mkfifo(fifo)", mkfifo("fifo", 0644));
    SHOW("fifo is FIFO", stat("fifo", &st) == 0 && S_ISFIFO(st.st_mode));
    SHOW("open(fifo, O_WRONLY|O_NONBLOCK) no reader", open("fifo", O_WRONLY | O_NONBLOCK));
    int fr = open("fifo", O_RDONLY | O_NONBLOCK);
    SHOW("open(fifo, O_RDONLY|O_NONBLOCK) >= 0", fr >= 0);
    int fw = open("fifo", O_WRONLY | O_NONBLOCK);
    SHOW("open(fifo, O_WRONLY|O_NONBLOCK) >= 0", fw >= 0);
    SHOW("fifo write", write(fw, "hey", 3));
    SHOW("fifo read", read(fr, buf, 10));
    close(fr);
    close(fw);
    SHOW("mknod(dir type)", mknod("nd", S_IFDIR | 0755, 0));
    SHOW("mknod(regular)", mknod("nreg", S_IFREG | 0644, 0));

    // eventfd, memfd, sendfile, copy_file_range.
    int efd = eventfd(2, EFD_NONBLOCK);
    uint64_t value = 0;
    SHOW("eventfd read", (read(efd, &value, 8), (long)value));
    SHOW("eventfd read empty", read(efd, &value, 8));
    value = 5;
    SHOW("eventfd write", write(efd, &value, 8));
    SHOW("eventfd short read", read(efd, &value, 4));
    SHOW("eventfd(bad flags)", eventfd(0, 0x100));
    close(efd);
    int mfd = memfd_create("test", MFD_CLOEXEC);
    SHOW("memfd write", write(mfd, "memory", 6));
    SHOW("memfd size", fstat(mfd, &st) == 0 ? st.st_size : -1);
    SHOW("memfd F_GETFD", fcntl(mfd, F_GETFD));
    SHOW("memfd_create(bad flags)", memfd_create("x", 0x100));
    int src = open("sf", O_CREAT | O_RDWR, 0644);
    SHOW("write source", write(src, "sendfile data!", 14));
    int dst = open("sf2", O_CREAT | O_RDWR, 0644);
    off_t off = 2;
    SHOW("sendfile(offset 2)", sendfile(dst, src, &off, 100));
    SHOW("offset after", (long)off);
    SHOW("sendfile(bad fd)", sendfile(dst, 99, NULL, 1));
    loff_t in_off = 0, out_off = 0;
    int dst2 = open("sf3", O_CREAT | O_RDWR, 0644);
    SHOW("copy_file_range", copy_file_range(src, &in_off, dst2, &out_off, 8, 0));
    SHOW("copy_file_range(flags)", copy_file_range(src, &in_off, dst2, &out_off, 8, 1));
    SHOW("copied content ok", pread(dst2, buf, 8, 0) == 8 && memcmp(buf, "sendfile", 8) == 0);
    close(src), close(dst), close(dst2), close(mfd);

    // /proc/self/fd/N names an opened file by its absolute path, however the open named it.
    {
        char want[PATH_MAX], link[64], got[PATH_MAX];
        SHOW("mkdir(pf)", mkdir("pf", 0755));
        int made = open("pf/file", O_CREAT | O_WRONLY, 0644);
        SHOW("create pf/file", made >= 0);
        close(made);
        snprintf(want, sizeof want, "%s/pf/file", dir);
        const char* paths[] = {"pf/file", "./pf/file", "pf//file", "pf/../pf/file", want};
        const char* labels[] = {"relative", "./relative", "double slash", "with ..", "absolute"};
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            int fd = open(paths[i], O_RDONLY | O_NONBLOCK);
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, got, sizeof got - 1);
            got[n < 0 ? 0 : n] = 0;
            printf("%-48s %s\n", labels[i], fd < 0 ? "open failed" : strcmp(got, want) == 0 ? "names the file" : got);
            close(fd);
        }
        SHOW("open(pf/file/) (trailing slash)", open("pf/file/", O_RDONLY));
        SHOW("open(pf/missing)", open("pf/missing", O_RDONLY));
        SHOW("unlink(pf/file)", unlink("pf/file"));
        SHOW("rmdir(pf)", rmdir("pf"));
    }

    // statfs, sync.
    SHOW("sync()", (sync(), 0));
    SHOW("syncfs(3)", syncfs(3));
    SHOW("syncfs(99)", syncfs(99));

    // Cleanup, and the directory is empty at the end.
    const char* files[] = {"f",    "g",    "h2",   "s",  "loop1", "loop2", "dl",     "dangling-target",
                           "new3", "fifo", "nreg", "sf", "sf2",   "sf3",   "r1/new", "r1/sl"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (unlink(files[i]) != 0) printf("unlink %s: %s\n", files[i], errname(errno));
    SHOW("rmdir(r1/sub)", rmdir("r1/sub"));
    SHOW("rmdir(r1)", rmdir("r1"));
    SHOW("entries left", count_entries("."));
    close(3);
    SHOW("rmdir(test dir)", rmdir(dir));
    SHOW("getcwd of removed dir", syscall(SYS_getcwd, buf, sizeof buf));
    return 0;
}
