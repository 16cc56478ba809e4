// F_SETPIPE_SZ/F_GETPIPE_SZ and memfd seals (issue 16 part 5), natively and on xos: the same
// output. Not covered: sizes past /proc/sys/fs/pipe-max-size (EPERM only without
// CAP_SYS_RESOURCE, which depends on the machine).
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../conformance/show.h"

static void pipe_sizes(void) {
    int p[2];
    if (pipe2(p, O_NONBLOCK) != 0) return;
    SHOW("F_GETPIPE_SZ (default)", fcntl(p[0], F_GETPIPE_SZ));
    SHOW("F_GETPIPE_SZ on the write end", fcntl(p[1], F_GETPIPE_SZ));
    SHOW("F_SETPIPE_SZ 0 (one page)", fcntl(p[1], F_SETPIPE_SZ, 0));
    SHOW("F_SETPIPE_SZ 100", fcntl(p[1], F_SETPIPE_SZ, 100));
    SHOW("F_SETPIPE_SZ 5000 (rounds to pages, power of 2)", fcntl(p[1], F_SETPIPE_SZ, 5000));
    SHOW("F_SETPIPE_SZ 12289", fcntl(p[0], F_SETPIPE_SZ, 12289));
    SHOW("F_GETPIPE_SZ", fcntl(p[1], F_GETPIPE_SZ));
    SHOW("F_SETPIPE_SZ 1 MiB", fcntl(p[1], F_SETPIPE_SZ, 1 << 20));
    SHOW("F_GETPIPE_SZ", fcntl(p[0], F_GETPIPE_SZ));
    static char buffer[1 << 21];
    memset(buffer, 'x', sizeof buffer);
    SHOW("write 2 MiB into a 1 MiB pipe", write(p[1], buffer, sizeof buffer));
    SHOW("write more: full", write(p[1], buffer, 1));
    SHOW("read 1 MiB", read(p[0], buffer, sizeof buffer));
    SHOW("set 4096 on an empty pipe", fcntl(p[1], F_SETPIPE_SZ, 4096));
    SHOW("write 10000 into 4096", write(p[1], buffer, 10000));
    SHOW("write more: full", write(p[1], buffer, 1));
    SHOW("set 65536 with 4096 in it", fcntl(p[1], F_SETPIPE_SZ, 65536));
    SHOW("write 10000 more", write(p[1], buffer, 10000));
    SHOW("shrink to 4096 with 14096 in it", fcntl(p[1], F_SETPIPE_SZ, 4096));
    SHOW("shrink to 16384 with 14096 in it", fcntl(p[1], F_SETPIPE_SZ, 16384));
    SHOW("read it all", read(p[0], buffer, sizeof buffer));
    SHOW("F_SETPIPE_SZ -1", fcntl(p[1], F_SETPIPE_SZ, -1));
    int f = open("/dev/null", O_RDWR);
    SHOW("F_GETPIPE_SZ on /dev/null", fcntl(f, F_GETPIPE_SZ));
    SHOW("F_SETPIPE_SZ on /dev/null", fcntl(f, F_SETPIPE_SZ, 4096));
    close(f);
    close(p[0]);
    close(p[1]);
    // A fifo is a pipe too.
    mkfifo("/tmp/part5-fifo", 0600);
    f = open("/tmp/part5-fifo", O_RDWR);
    SHOW("F_SETPIPE_SZ on a fifo", fcntl(f, F_SETPIPE_SZ, 8192));
    SHOW("F_GETPIPE_SZ on a fifo", fcntl(f, F_GETPIPE_SZ));
    close(f);
    unlink("/tmp/part5-fifo");
}

static void seals(void) {
    int plain = memfd_create("plain", 0);
    SHOW("F_GET_SEALS without MFD_ALLOW_SEALING (F_SEAL_SEAL)", fcntl(plain, F_GET_SEALS));
    SHOW("F_ADD_SEALS without MFD_ALLOW_SEALING", fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE));
    close(plain);
    SHOW("memfd_create(bad flags)", memfd_create("x", 0x100));
    int fd = memfd_create("sealed", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    SHOW("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
    SHOW("F_ADD_SEALS unknown bit", fcntl(fd, F_ADD_SEALS, 0x1000));
    char page[8192];
    memset(page, 'a', sizeof page);
    SHOW("write 8192", write(fd, page, sizeof page));
    SHOW("F_ADD_SEALS SHRINK", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
    SHOW("ftruncate smaller", ftruncate(fd, 4096));
    SHOW("ftruncate larger", ftruncate(fd, 12288));
    SHOW("ftruncate same size", ftruncate(fd, 12288));
    SHOW("F_ADD_SEALS GROW", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    SHOW("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
    SHOW("ftruncate larger", ftruncate(fd, 16384));
    SHOW("pwrite inside", pwrite(fd, page, 100, 0));
    SHOW("pwrite past the end", pwrite(fd, page, 100, 12288));
    SHOW("pwrite across the end", pwrite(fd, page, 100, 12250));
    SHOW("fallocate past the end", fallocate(fd, 0, 0, 20000));
    // SEAL_WRITE: refused while a shared writable mapping exists.
    char* shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("mmap shared writable: %s\n", shared == MAP_FAILED ? errname(errno) : "mapped");
    SHOW("F_ADD_SEALS WRITE with a writable mapping", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    munmap(shared, 4096);
    SHOW("F_ADD_SEALS WRITE", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    char* readonly = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
    printf("mmap shared read-only: %s\n", readonly == MAP_FAILED ? errname(errno) : "mapped");
    SHOW("mprotect(read-only shared, PROT_WRITE)", mprotect(readonly, 4096, PROT_READ | PROT_WRITE));
    printf("first byte still readable: %c\n", readonly[0]);
    SHOW("write", write(fd, page, 1));
    SHOW("pwrite", pwrite(fd, page, 1, 0));
    SHOW("ftruncate same size", ftruncate(fd, 12288));
    shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("mmap shared writable after SEAL_WRITE: %s\n", shared == MAP_FAILED ? errname(errno) : "mapped");
    char* priv = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    printf("mmap private writable after SEAL_WRITE: %s\n", priv == MAP_FAILED ? errname(errno) : "mapped");
    if (priv != MAP_FAILED) {
        priv[0] = 'b';
        printf("private copy written: %c, file keeps %c\n", priv[0], readonly[0]);
    }
    SHOW("F_ADD_SEALS SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
    SHOW("F_ADD_SEALS after SEAL", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    SHOW("F_ADD_SEALS nothing after SEAL", fcntl(fd, F_ADD_SEALS, 0));
    SHOW("F_GET_SEALS", fcntl(fd, F_GET_SEALS));
    // The seals belong to the file, not the descriptor.
    int again = dup(fd);
    SHOW("F_GET_SEALS through dup", fcntl(again, F_GET_SEALS));
    close(again);
    close(fd);
    // Seals on files that are not memfds.
    int file = open("/tmp/part5-seal", O_RDWR | O_CREAT | O_TRUNC, 0600);
    SHOW("F_GET_SEALS on a regular file", fcntl(file, F_GET_SEALS));
    SHOW("F_ADD_SEALS on a regular file", fcntl(file, F_ADD_SEALS, F_SEAL_WRITE));
    close(file);
    unlink("/tmp/part5-seal");
    int p[2];
    pipe(p);
    SHOW("F_GET_SEALS on a pipe", fcntl(p[0], F_GET_SEALS));
    close(p[0]);
    close(p[1]);
    // A read-only descriptor cannot add seals (Linux: EPERM).
    fd = memfd_create("ro", MFD_ALLOW_SEALING);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int ro = open(path, O_RDONLY);
    SHOW("F_ADD_SEALS through a read-only descriptor", fcntl(ro, F_ADD_SEALS, F_SEAL_GROW));
    SHOW("F_GET_SEALS through it", fcntl(ro, F_GET_SEALS));
    close(ro);
    close(fd);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGPIPE, SIG_IGN);
    pipe_sizes();
    seals();
    puts("done");
    return 0;
}
