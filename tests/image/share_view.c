// The other platform's look at a mapped share (run_share_test.py --view-image): after share.c ran
// in a VM (or hosted), this image, run hosted (or in a VM) on the same host directory, must see
// what share.c made there the same way: owners, modes with setuid/setgid bits, device nodes and
// symlinks kept in QEMU's mapped-xattr format. argv[1]: the share's guest path.
// Exit status = number of failures.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"

static const char* at(const char* dir, const char* name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

int main(int argc, char** argv) {
    if (argc < 2) return 100;
    const char* dir = argv[1];
    struct stat st;
    CHECK(lstat(at(dir, "setuid_root"), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 04755 &&
          st.st_uid == 0 && st.st_gid == 0 && st.st_size == 10);
    CHECK(lstat(at(dir, "setgid_dir"), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 02775);
    CHECK(lstat(at(dir, "blockdev"), &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == makedev(254, 0) &&
          (st.st_mode & 07777) == 0600);
    CHECK(lstat(at(dir, "chardev"), &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
    CHECK(lstat(at(dir, "from_guest.txt"), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640);
    CHECK(lstat(at(dir, "link"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 14);
    char target[64] = {0};
    CHECK(readlink(at(dir, "link"), target, sizeof target) == 14 && strcmp(target, "from_guest.txt") == 0);
    char text[64] = {0};
    FILE* f = fopen(at(dir, "link"), "r");  // through the symlink
    CHECK(f != NULL && fgets(text, sizeof text, f) && strcmp(text, "written by the guest\n") == 0);
    if (f) fclose(f);
    // And the other way: what this platform changes, the first one would see (the host checks
    // the attribute): chmod of the setuid file.
    CHECK(chmod(at(dir, "setuid_root"), 0750) == 0);
    CHECK(stat(at(dir, "setuid_root"), &st) == 0 && (st.st_mode & 07777) == 0750);
    printf("%d failure(s)\n", check_failures);
    return check_failures;
}
