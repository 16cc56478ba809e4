// Image test of xos-build --rootfs: the image is built with --rootfs tests/image/rootfs, and the
// program finds that tree in / (a config file read through a symlink, a relative symlink to a
// directory, the executable bit, directories) next to libos's own /tmp, /etc defaults, /dev.
// Prints one line per failed check and exits with the number of failed checks.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

// The value of `key = value` in a config file, or NULL.
static char* config_value(const char* path, const char* key) {
    static char line[256];
    FILE* file = fopen(path, "r");
    if (!file) return NULL;
    char* found = NULL;
    while (!found && fgets(line, sizeof line, file)) {
        size_t key_length = strlen(key);
        if (strncmp(line, key, key_length) != 0 || strncmp(line + key_length, " = ", 3) != 0) continue;
        found = line + key_length + 3;
        found[strcspn(found, "\n")] = '\0';
    }
    fclose(file);
    return found;
}

static int count_entries(const char* path) {
    DIR* dir = opendir(path);
    if (!dir) return -1;
    int count = 0;
    for (struct dirent* entry; (entry = readdir(dir));)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) ++count;
    closedir(dir);
    return count;
}

int main(void) {
    // The config file, read through the symlink /etc/server.conf -> fs_rootfs/server.conf.
    char* greeting = config_value("/etc/server.conf", "greeting");
    CHECK(greeting && strcmp(greeting, "hello from the rootfs") == 0);
    char* root = config_value("/etc/fs_rootfs/server.conf", "root");
    CHECK(root && strcmp(root, "/srv/www") == 0);
    char* port = config_value("/srv/www/config/server.conf", "listen");  // through a directory link
    CHECK(port && atoi(port) == 8080);

    struct stat st;
    CHECK(lstat("/etc/server.conf", &st) == 0 && S_ISLNK(st.st_mode));
    char target[64] = {0};
    CHECK(readlink("/etc/server.conf", target, sizeof target - 1) == 21 &&
          strcmp(target, "fs_rootfs/server.conf") == 0);
    CHECK(readlink("/srv/www/config", target, sizeof target - 1) == 19);
    CHECK(stat("/srv/www/config", &st) == 0 && S_ISDIR(st.st_mode));

    // Modes: the executable bit and plain files as the host had them.
    CHECK(stat("/bin/tool.sh", &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0111);
    CHECK(access("/bin/tool.sh", X_OK) == 0);
    CHECK(stat("/etc/fs_rootfs/server.conf", &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0);
    CHECK(stat("/srv/www/index.html", &st) == 0 && st.st_size == 13 && st.st_mtime > 0);
    CHECK(stat("/srv/www", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0555) == 0555);
    CHECK(count_entries("/srv/www") == 2);

    char page[32] = {0};
    int fd = open("/srv/www/index.html", O_RDONLY);
    CHECK(fd >= 0 && read(fd, page, sizeof page - 1) == 13 && strcmp(page, "<h1>xos</h1>\n") == 0);
    close(fd);

    // The rootfs files are ordinary ramfs files: writable, removable.
    fd = open("/etc/fs_rootfs/server.conf", O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "extra = 1\n", 10) == 10);
    close(fd);
    char* extra = config_value("/etc/server.conf", "extra");
    CHECK(extra && strcmp(extra, "1") == 0);
    CHECK(unlink("/srv/www/index.html") == 0 && count_entries("/srv/www") == 1);

    // What libos adds around the rootfs: the /etc defaults it does not bring, /tmp, /dev, /proc.
    CHECK(access("/etc/hostname", R_OK) == 0 && access("/etc/passwd", R_OK) == 0);
    CHECK(stat("/tmp", &st) == 0 && (st.st_mode & 07777) == 01777);
    CHECK(access("/dev/null", W_OK) == 0 && access("/proc/self", F_OK) == 0);

    printf("%d failure(s)\n", check_failures);
    return check_failures;
}
