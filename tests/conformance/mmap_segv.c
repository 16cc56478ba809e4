// A write to a PROT_READ file mapping: SIGSEGV (status 139 on xos, killed by SIGSEGV on Linux;
// compare.py treats both as 128+11).
#include "mmap_files.h"
#include "show.h"

int main(int argc, char** argv) {
    choose_dir(argc, argv);
    int fd = make_file("ro", 2 * PAGE);
    unlink(at("ro"));
    rmdir(g_dir);
    unsigned char* p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    SHOW("mmap shared", p == MAP_FAILED ? -1 : 0);
    p[0] = 1;
    SHOW("mprotect PROT_READ", mprotect(p, 2 * PAGE, PROT_READ));
    SHOW("read after mprotect", p[0] + p[PAGE]);
    fflush(stdout);
    p[PAGE] = 2;
    SHOW("write to PROT_READ (not reached)", 0);
    return 0;
}
