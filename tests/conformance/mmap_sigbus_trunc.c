// A mapped file truncated under its mapping: the pages past the new end are gone, and touching
// one is SIGBUS (status 135 on xos, killed by SIGBUS on Linux; compare.py treats both as 128+7).
#include "mmap_files.h"
#include "show.h"

int main(int argc, char** argv) {
    choose_dir(argc, argv);
    int fd = make_file("trunc", 3 * PAGE);
    unsigned char* p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char* q = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    SHOW("mmap shared and private", p == MAP_FAILED || q == MAP_FAILED ? -1 : 0);
    SHOW("page 2 before", matches(p + 2 * PAGE, 2 * PAGE, PAGE) && matches(q + 2 * PAGE, 2 * PAGE, PAGE));
    q[2 * PAGE] = 'C';  // a private copy past the coming end goes too
    SHOW("ftruncate to 100 bytes", ftruncate(fd, 100));
    unlink(at("trunc"));
    rmdir(g_dir);
    SHOW("byte 99 still there", p[99] == pattern(99) && q[99] == pattern(99));
    SHOW("byte 100 now zero", p[100] + q[100]);
    fflush(stdout);
    SHOW("private page 2 (past the new end)", q[2 * PAGE]);
    return 0;
}
