// The generic kernel image's application: it runs the Linux executable named by its first
// argument with the rest as that program's arguments and the image's environment (execve:
// libos/exec). xos-run --rootfs has libos make the host directory the root before this runs
// (xos.root=: an overlay with /dev, /proc and /tmp inside, libos/fs/boot.cpp). `--root DIR`
// still makes DIR the root first (chroot), for images that mount a root of their own.
// An image made by `xos-build --exec PROGRAM` links this loader (as xos-loader.o) with the
// program's path baked in (xos_exec_program) and the program's files as its initrd: it runs
// that program with the image's arguments.
// When exec fails the loader does what a shell does: a message naming the file, 127 if it
// (or its interpreter) does not exist, 126 if it cannot be run.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int usage(void) {
    fprintf(stderr,
            "xos-kernel: no program to run\n"
            "usage: xos-run --rootfs DIR -- /path/to/program [argument...]\n"
            "       (the image's arguments: [--root DIR] PROGRAM [ARGUMENT...])\n");
    return 127;
}

// Defined by the object xos-build --exec generates; absent (null) in the generic kernel.
extern const char* const xos_exec_program __attribute__((weak));

static int exec_failed(const char* program) {
    int failure = errno;
    fprintf(stderr, "xos-kernel: %s: %s\n", program, strerror(failure));
    return failure == ENOENT || failure == ENOTDIR ? 127 : 126;
}

int main(int argc, char** argv) {
    if (&xos_exec_program && xos_exec_program) {
        // argv[0] (the image's name) becomes the program's path, as a shell would pass it.
        argv[0] = (char*)xos_exec_program;
        execv(xos_exec_program, argv);
        return exec_failed(xos_exec_program);
    }
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--root") == 0) {
        if (chroot(argv[2]) != 0 || chdir("/") != 0) {
            fprintf(stderr, "xos-kernel: cannot use %s as the root: %s\n", argv[2], strerror(errno));
            return 126;
        }
        first = 3;
    }
    if (first >= argc) return usage();
    execvp(argv[first], argv + first);
    return exec_failed(argv[first]);
}
