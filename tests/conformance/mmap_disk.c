// mmap of a block device (argv[1]: /dev/vda on xos, a regular file of the same size natively):
// MAP_PRIVATE copy on write, MAP_SHARED writes seen by pread and a second mapping, pwrite seen by
// the mappings, msync, partial munmap, and the data on the disk afterwards.
#include "mmap_files.h"
#include "show.h"

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    int fd = open(argv[1], O_RDWR);
    SHOW("open", fd < 0 ? -1 : 0);
    off_t size = lseek(fd, 0, SEEK_END);
    SHOW("size", size);
    unsigned char buffer[PAGE];
    for (off_t done = 0; done < size; done += PAGE) {
        for (size_t i = 0; i < PAGE; ++i) buffer[i] = pattern(done + i);
        size_t chunk = size - done < PAGE ? size - done : PAGE;
        if (pwrite(fd, buffer, chunk, done) != (ssize_t)chunk) return 3;
    }
    size_t length = (size + PAGE - 1) / PAGE * PAGE;

    unsigned char* p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    SHOW("mmap private", p == MAP_FAILED ? -1 : 0);
    SHOW("private: bytes match", matches(p, 0, size));
    p[5] = 'P';
    SHOW("private write not seen by pread", byte_at(fd, 5) == pattern(5));

    unsigned char* s1 = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char* s2 = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 8 * PAGE);
    SHOW("mmap shared x2", s1 == MAP_FAILED || s2 == MAP_FAILED ? -1 : 0);
    SHOW("shared: offset mapping matches", matches(s2, 8 * PAGE, 4 * PAGE));
    s1[9 * PAGE + 1] = 'S';
    s1[size - 1] = 'E';
    SHOW("shared write seen by pread", byte_at(fd, 9 * PAGE + 1) == 'S' && byte_at(fd, size - 1) == 'E');
    SHOW("shared write seen by the other mapping", s2[PAGE + 1] == 'S');
    SHOW("shared write not seen by the private copy's page", p[5] == 'P' && p[9 * PAGE + 1] == 'S');
    unsigned char q = 'Q';
    SHOW("pwrite seen by the mappings",
         pwrite(fd, &q, 1, 10 * PAGE) == 1 && s1[10 * PAGE] == 'Q' && s2[2 * PAGE] == 'Q');
    SHOW("msync", msync(s1, length, MS_SYNC));
    SHOW("munmap part of s1", munmap(s1 + PAGE, 2 * PAGE));
    SHOW("rest of s1 still mapped", s1[9 * PAGE + 1] == 'S' && matches(s1, 0, PAGE));
    s1[11 * PAGE] = 'M';
    SHOW("munmap s1", munmap(s1, length));
    SHOW("after munmap: on the disk", byte_at(fd, 11 * PAGE) == 'M');
    SHOW("munmap s2 and p", munmap(s2, 4 * PAGE) == 0 && munmap(p, length) == 0);
    SHOW("fsync", fsync(fd));
    close(fd);

    int ro = open(argv[1], O_RDONLY);
    SHOW("mmap O_RDONLY shared PROT_WRITE", (long)mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0));
    SHOW("reopened: data",
         byte_at(ro, 9 * PAGE + 1) == 'S' && byte_at(ro, size - 1) == 'E' && byte_at(ro, 5) == pattern(5));
    close(ro);
    return 0;
}
