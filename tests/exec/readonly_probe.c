// Read-only mounts and tmpfs mount options (run_readonly_test.py): runs natively on Linux in a
// mount namespace (a read-only bind mount of the root, tmpfs mounts with ro / noexec,nodev,nosuid,
// a read-only bind mount of a directory, a file bind-mounted below a tmpfs) and on xos (xos-run
// --rootfs ROOT:ro, --tmpfs, --share ...:ro, --file), VM and hosted. It prints one line per
// check, the result as an errno name or "ok"; the test compares the outputs, which must be the
// same. Paths (made by run_readonly_test.py):
//   /data/file, /data/dir   on the read-only root
//   /rotmp                  a tmpfs mounted ro
//   /nx                     a tmpfs mounted noexec,nodev,nosuid
//   /wtmp                   a tmpfs with no options
//   /shared/file            a read-only bind mount (xos: a share :ro)
//   /run/placed.txt         a file bind-mounted below the tmpfs /run (xos: --file)
// `readonly-probe child` prints "child ran" (the exec checks run it from the tmpfs mounts).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static void show(const char* label, long result) {
    if (result < 0)
        printf("%s: %s\n", label, strerrorname_np(errno));
    else
        printf("%s: ok\n", label);
}

static void show_open(const char* label, const char* path, int flags) {
    int fd = open(path, flags, 0644);
    show(label, fd);
    if (fd >= 0) close(fd);
}

// statvfs' mount flags that the mount options set (not ST_RELATIME and the like).
static void show_statvfs(const char* path) {
    struct statvfs st;
    if (statvfs(path, &st) != 0) {
        printf("statvfs %s: %s\n", path, strerrorname_np(errno));
        return;
    }
    unsigned long flags = st.f_flag;
    printf("statvfs %s:%s%s%s%s\n", path, flags & ST_RDONLY ? " rdonly" : " rw", flags & ST_NOSUID ? " nosuid" : "",
           flags & ST_NODEV ? " nodev" : "", flags & ST_NOEXEC ? " noexec" : "");
}

// The options /proc/mounts gives the mount at `path`: ro or rw, nosuid, nodev, noexec.
static void show_mount_options(const char* path) {
    FILE* mounts = fopen("/proc/mounts", "r");
    if (!mounts) {
        printf("mounts %s: cannot open /proc/mounts: %s\n", path, strerrorname_np(errno));
        return;
    }
    char line[1024], found[1024] = "";
    while (fgets(line, sizeof line, mounts)) {
        char device[256], point[256], type[64], options[512];
        if (sscanf(line, "%255s %255s %63s %511s", device, point, type, options) == 4 && strcmp(point, path) == 0)
            snprintf(found, sizeof found, "%s", options);  // the last one: the mount on top
    }
    fclose(mounts);
    if (!found[0]) {
        printf("mounts %s: not mounted\n", path);
        return;
    }
    char shown[256] = "";
    char* saved = NULL;
    for (char* option = strtok_r(found, ",", &saved); option; option = strtok_r(NULL, ",", &saved))
        if (!strcmp(option, "ro") || !strcmp(option, "rw") || !strcmp(option, "nosuid") || !strcmp(option, "nodev") ||
            !strcmp(option, "noexec")) {
            strcat(shown, " ");
            strcat(shown, option);
        }
    printf("mounts %s:%s\n", path, shown);
}

// Every change on a read-only mount: EROFS (or what Linux checks before it).
static void read_only_checks(const char* dir, const char* file, const char* subdir) {
    char path[256], other[256];
    printf("-- read-only %s\n", dir);
    show_open("open O_WRONLY", file, O_WRONLY);
    show_open("open O_RDWR", file, O_RDWR);
    show_open("open O_RDONLY|O_TRUNC", file, O_RDONLY | O_TRUNC);
    show_open("open O_RDONLY", file, O_RDONLY);
    show_open("open O_CREAT existing", file, O_RDONLY | O_CREAT);
    show_open("open O_CREAT|O_EXCL existing", file, O_RDONLY | O_CREAT | O_EXCL);
    snprintf(path, sizeof path, "%s/new", dir);
    show_open("open O_CREAT new", path, O_WRONLY | O_CREAT);
    show("creat new", creat(path, 0644));
    show("mkdir new", mkdir(path, 0755));
    show("mkdir existing", mkdir(dir, 0755));
    show("mknod fifo", mknod(path, S_IFIFO | 0644, 0));
    show("symlink", symlink("target", path));
    show("link", link(file, path));
    show("rename", rename(file, path));
    show("unlink", unlink(file));
    show("unlink missing", unlink(path));
    if (subdir) show("rmdir", rmdir(subdir));
    show("chmod", chmod(file, 0600));
    show("chown", chown(file, 0, 0));
    show("utimensat", utimensat(AT_FDCWD, file, NULL, 0));
    show("truncate", truncate(file, 0));
    show("setxattr", setxattr(file, "user.test", "x", 1, 0));
    show("removexattr", removexattr(file, "user.test"));
    show("access W_OK", access(file, W_OK));
    show("access W_OK dir", access(dir, W_OK));
    show("access R_OK", access(file, R_OK));
    int sock = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s/socket", dir);
    show("bind AF_UNIX", bind(sock, (struct sockaddr*)&address, sizeof address));
    close(sock);
    int fd = open(file, O_RDONLY);
    if (fd >= 0) {
        void* shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        show("mmap MAP_SHARED PROT_WRITE", shared == MAP_FAILED ? -1 : 0);
        if (shared != MAP_FAILED) munmap(shared, 4096);
        void* private_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        show("mmap MAP_PRIVATE PROT_WRITE", private_map == MAP_FAILED ? -1 : 0);
        if (private_map != MAP_FAILED) munmap(private_map, 4096);
        show("ftruncate", ftruncate(fd, 0));
        close(fd);
    }
    snprintf(other, sizeof other, "%s", dir);
    show_statvfs(other);
}

// Runs `path child` and shows how execve went: "ok" if the child ran (and said so).
static void show_exec(const char* label, const char* path) {
    fflush(stdout);
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipe_fds[1], 1);
        close(pipe_fds[0]);
        char* argv[] = {(char*)path, "child", NULL};
        execv(path, argv);
        printf("exec failed: %s\n", strerrorname_np(errno));
        fflush(stdout);
        _exit(126);
    }
    close(pipe_fds[1]);
    char output[256] = "";
    ssize_t got = read(pipe_fds[0], output, sizeof output - 1);
    if (got > 0) output[got] = 0;
    close(pipe_fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    output[strcspn(output, "\n")] = 0;
    printf("%s: %s (status %d)\n", label, output, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

// Copies this program to `path` with mode 0755.
static int copy_self(const char* path) {
    int in = open("/bin/readonly-probe", O_RDONLY);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (in < 0 || out < 0) return -1;
    char buffer[65536];
    ssize_t got;
    while ((got = read(in, buffer, sizeof buffer)) > 0)
        if (write(out, buffer, (size_t)got) != got) return -1;
    close(in);
    close(out);
    return chmod(path, 0755);
}

// noexec: execve EACCES, mmap PROT_EXEC EPERM, mprotect to PROT_EXEC EACCES; nodev: a device node
// can be made but not opened (EACCES). On /wtmp (no options) the same work.
static void option_checks(const char* dir) {
    char program[256], device[256];
    printf("-- options %s\n", dir);
    snprintf(program, sizeof program, "%s/probe-copy", dir);
    show("copy program", copy_self(program));
    show_exec("execve", program);
    int fd = open(program, O_RDONLY);
    if (fd >= 0) {
        void* code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
        show("mmap PROT_EXEC", code == MAP_FAILED ? -1 : 0);
        if (code != MAP_FAILED) munmap(code, 4096);
        void* data = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
        show("mmap PROT_READ", data == MAP_FAILED ? -1 : 0);
        if (data != MAP_FAILED) {
            show("mprotect PROT_EXEC", mprotect(data, 4096, PROT_READ | PROT_EXEC));
            munmap(data, 4096);
        }
        close(fd);
    }
    snprintf(device, sizeof device, "%s/null", dir);
    show("mknod char device", mknod(device, S_IFCHR | 0666, makedev(1, 3)));
    show_open("open char device", device, O_RDWR);
    show_statvfs(dir);
    show_mount_options(dir);
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        printf("child ran\n");
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    read_only_checks("/data", "/data/file", "/data/dir");
    show_mount_options("/");
    read_only_checks("/shared", "/shared/file", NULL);
    show_mount_options("/shared");
    printf("-- tmpfs ro\n");
    show_open("open O_CREAT new", "/rotmp/new", O_WRONLY | O_CREAT);
    show("mkdir new", mkdir("/rotmp/new", 0755));
    show_statvfs("/rotmp");
    show_mount_options("/rotmp");
    option_checks("/nx");
    option_checks("/wtmp");
    printf("-- file below a tmpfs\n");
    char text[256] = "";
    FILE* placed = fopen("/run/placed.txt", "r");
    if (placed) {
        if (!fgets(text, sizeof text, placed)) text[0] = 0;
        fclose(placed);
        text[strcspn(text, "\n")] = 0;
        printf("/run/placed.txt: %s\n", text);
    } else {
        printf("/run/placed.txt: %s\n", strerrorname_np(errno));
    }
    show_open("create in /run", "/run/other", O_WRONLY | O_CREAT);
    return 0;
}
