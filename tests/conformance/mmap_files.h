#define _GNU_SOURCE
// Shared by the file-mmap conformance tests: a directory to work in (argv[1], or a fresh one
// under /tmp) and files with a known pattern.
#ifndef XOS_CONFORMANCE_MMAP_FILES_H
#define XOS_CONFORMANCE_MMAP_FILES_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096

static char g_dir[256];
static char g_path[512];

static const char* at(const char* name) {
    snprintf(g_path, sizeof g_path, "%s/%s", g_dir, name);
    return g_path;
}

static void choose_dir(int argc, char** argv) {
    if (argc > 1) {
        snprintf(g_dir, sizeof g_dir, "%s/mmapXXXXXX", argv[1]);
    } else {
        snprintf(g_dir, sizeof g_dir, "/tmp/mmapXXXXXX");
    }
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        exit(2);
    }
}

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / PAGE + 1); }

// A file of `size` pattern bytes, open O_RDWR.
static int make_file(const char* name, size_t size) {
    int fd = open(at(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror("open");
        exit(2);
    }
    unsigned char buffer[PAGE];
    for (size_t done = 0; done < size;) {
        size_t chunk = size - done < PAGE ? size - done : PAGE;
        for (size_t i = 0; i < chunk; ++i) buffer[i] = pattern(done + i);
        if (write(fd, buffer, chunk) != (ssize_t)chunk) {
            perror("write");
            exit(2);
        }
        done += chunk;
    }
    return fd;
}

// 1 if [p, p+n) holds the pattern of file offsets [offset, offset+n).
static int matches(const unsigned char* p, size_t offset, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] != pattern(offset + i)) return 0;
    return 1;
}

static int all_zero(const unsigned char* p, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i]) return 0;
    return 1;
}

static int byte_at(int fd, off_t offset) {
    unsigned char c;
    return pread(fd, &c, 1, offset) == 1 ? c : -1;
}

#endif
