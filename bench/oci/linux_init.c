// bench/oci/linux_init.c: /init of the Linux microVM in bench/oci/run.py. Linked with
// bench/programs/linux_vm_init.c, which loads the initramfs's modules (virtio, virtio_net,
// virtio_blk, erofs), configures the network (xos_bench_net=...) before main and powers the VM
// off when main returns.
//
// The container image's root is the same EROFS file xos-run boots (OUT.erofs), given to the VM
// as a read-only virtio-blk disk: mounted read-only at /image, with what a container runtime
// puts over an image's root (proc, devtmpfs, a tmpfs on /tmp and /run) and no overlay (the root
// stays read-only: nginx's configuration writes only to /tmp; its compiled-in error log path
// cannot be opened and it says so once, then logs to stderr as configured). Then, chrooted into it, the program named
// by the arguments (the kernel command line after "--"; found in PATH as docker does) runs as
// init's child with docker's default PATH, and init returns its status.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int must(int result, const char* what) {
    if (result != 0) fprintf(stderr, "oci init: %s: %s\n", what, strerror(errno));
    return result;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "oci init: no program (kernel command line: ... -- PROGRAM ARGS)\n");
        return 127;
    }
    mkdir("/dev", 0755);
    must(mount("devtmpfs", "/dev", "devtmpfs", 0, NULL), "mount /dev");
    struct stat st;
    for (int i = 0; i < 500 && stat("/dev/vda", &st) != 0; i++) {  // up to 5 s for the disk to appear
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        nanosleep(&ms10, NULL);
    }
    mkdir("/image", 0755);
    if (must(mount("/dev/vda", "/image", "erofs", MS_RDONLY, NULL), "mount /dev/vda (erofs) on /image")) return 126;
    must(mount("proc", "/image/proc", "proc", 0, NULL), "mount /image/proc");
    must(mount("devtmpfs", "/image/dev", "devtmpfs", 0, NULL), "mount /image/dev");
    const char* writable[] = {"/image/tmp", "/image/run"};
    for (size_t i = 0; i < sizeof writable / sizeof *writable; i++)
        if (stat(writable[i], &st) == 0) must(mount("tmpfs", writable[i], "tmpfs", 0, "mode=1777"), writable[i]);
    if (must(chroot("/image"), "chroot /image") || must(chdir("/"), "chdir /")) return 126;
    setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
    setenv("HOME", "/root", 1);
    pid_t child = fork();
    if (child == 0) {
        execvp(argv[1], argv + 1);
        fprintf(stderr, "oci init: %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
