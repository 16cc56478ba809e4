// Reads the first 4 KiB of a disk (argv[1], /dev/vda): cases.py's blkfront error cases, where a
// misbehaving backend (fake_blkback.c) answers. Prints what read returned; exits 0 if it read the
// whole block, else with errno (5 for EIO).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "/dev/vda";
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("open %s: %s\n", path, strerror(errno));
        return errno;
    }
    static char block[4096];
    ssize_t n = pread(fd, block, sizeof block, 0);
    int error = n < 0 ? errno : 0;
    printf("pread %s: %zd%s%s\n", path, n, error ? ", " : "", error ? strerror(error) : "");
    return n == (ssize_t)sizeof block ? 0 : error ? error : 1;
}
