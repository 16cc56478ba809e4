// A file mapping touched past the end of the file: SIGBUS (status 135 on xos, killed by SIGBUS
// on Linux; compare.py treats both as 128+7). The partial page after EOF reads zeros.
#include "mmap_files.h"
#include "show.h"

int main(int argc, char** argv) {
    choose_dir(argc, argv);
    int fd = make_file("short", 100);
    unlink(at("short"));
    rmdir(g_dir);
    unsigned char* p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    SHOW("mmap 2 pages of a 100-byte file", p == MAP_FAILED ? -1 : 0);
    SHOW("byte 99", p[99] == pattern(99));
    SHOW("byte 4095 (after EOF, same page)", p[PAGE - 1]);
    fflush(stdout);
    SHOW("byte 4096 (the page after EOF)", p[PAGE]);
    return 0;
}
