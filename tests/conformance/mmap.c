// File-backed mmap (differential): MAP_PRIVATE reads and copy-on-write, MAP_SHARED writes seen by
// read(2) and by other mappings, write(2) seen by mappings, msync, mprotect, partial munmap,
// mremap, truncation, an ld.so-like sequence and the errno cases. Run with a directory argument
// to test a share (9p or hostfs); without, in a new directory under /tmp (ramfs on xos).
#include "mmap_files.h"
#include "show.h"

static const char* g_files[] = {"private", "shared", "ldso", "trunc", "wronly", "grow", "other", "sparse"};

int main(int argc, char** argv) {
    choose_dir(argc, argv);
    const size_t size = 3 * PAGE + 100;

    // MAP_PRIVATE, read: the file's bytes, zeros after the end in the last page.
    int fd = make_file("private", size);
    unsigned char* p = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    SHOW("mmap private read", p == MAP_FAILED ? -1 : 0);
    if (p == MAP_FAILED) return 1;
    SHOW("private: bytes match the file", matches(p, 0, size));
    SHOW("private: zeros after EOF in the last page", all_zero(p + size, 4 * PAGE - size));
    SHOW("munmap private", munmap(p, 4 * PAGE));
    // A syscall given a mapped page wholly past EOF fails with EFAULT (the app itself touching
    // it gets SIGBUS: mmap_sigbus.c).
    unsigned char* e = mmap(NULL, 5 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    int ends[2];
    SHOW("mmap past EOF + pipe", e == MAP_FAILED || pipe(ends) != 0 ? -1 : 0);
    SHOW("write(2) from a mapped page past EOF", write(ends[1], e + 4 * PAGE, 16));
    SHOW("write(2) from the last page within EOF", write(ends[1], e + 3 * PAGE, 16));
    close(ends[0]);
    close(ends[1]);
    SHOW("munmap past EOF", munmap(e, 5 * PAGE));

    // MAP_PRIVATE, written: the write is the mapping's own.
    unsigned char* a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    unsigned char* b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    SHOW("mmap two private", a == MAP_FAILED || b == MAP_FAILED ? -1 : 0);
    a[10] = 'X';
    a[PAGE + 1] = 'Y';
    SHOW("private write: seen by the mapping", a[10] == 'X' && a[PAGE + 1] == 'Y');
    SHOW("private write: not seen by read()", byte_at(fd, 10) == pattern(10));
    SHOW("private write: not seen by another mapping", b[10] == pattern(10) && b[PAGE + 1] == pattern(PAGE + 1));
    SHOW("private: rest of the written page intact", matches(a + 11, 11, PAGE - 11));
    // write(2) to a page the private mapping has not written is seen by it (Linux's page cache).
    unsigned char q = 'Q';
    SHOW("pwrite into the file", pwrite(fd, &q, 1, 2 * PAGE + 3));
    SHOW("pwrite seen by an unwritten private page", a[2 * PAGE + 3] == 'Q' && b[2 * PAGE + 3] == 'Q');
    SHOW("pwrite not seen by a copied private page", pwrite(fd, &q, 1, 12) == 1 && a[12] == pattern(12));
    // A syscall writing into a private mapping (read(2) into it) copies the page too.
    int other = make_file("other", PAGE);
    SHOW("pread into a private mapping", pread(other, b + PAGE + 100, 50, 0));
    SHOW("  the mapping has the data", matches(b + PAGE + 100, 0, 50));
    SHOW("  the file does not", byte_at(fd, PAGE + 100) == pattern(PAGE + 100));
    close(other);
    // mprotect on a private file mapping.
    SHOW("mprotect private PROT_READ", mprotect(a, PAGE, PROT_READ));
    SHOW("private: copy kept after mprotect", a[10] == 'X');
    SHOW("mprotect private RW again", mprotect(a, 2 * PAGE, PROT_READ | PROT_WRITE));
    a[2 * PAGE + 5] = 'Z';
    SHOW("private: write after mprotect", a[2 * PAGE + 5] == 'Z' && byte_at(fd, 2 * PAGE + 5) == pattern(2 * PAGE + 5));
    SHOW("munmap a", munmap(a, size));
    SHOW("munmap b", munmap(b, size));
    close(fd);

    // MAP_SHARED: writes seen by read(2), by another mapping, and after msync by a new open.
    fd = make_file("shared", size);
    unsigned char* s1 = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char* s2 = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char* pv = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    SHOW("mmap shared x2 + private", s1 == MAP_FAILED || s2 == MAP_FAILED || pv == MAP_FAILED ? -1 : 0);
    SHOW("shared: bytes match the file", matches(s2, 0, size));
    s1[PAGE + 5] = 'S';
    s1[3 * PAGE + 99] = 'T';
    SHOW("shared write: seen by read()", byte_at(fd, PAGE + 5) == 'S' && byte_at(fd, 3 * PAGE + 99) == 'T');
    SHOW("shared write: seen by the other mapping", s2[PAGE + 5] == 'S');
    SHOW("shared write: seen by a private mapping", pv[PAGE + 5] == 'S');
    SHOW("pwrite seen by the shared mappings", pwrite(fd, &q, 1, 7) == 1 && s1[7] == 'Q' && s2[7] == 'Q');
    int other2 = make_file("other", PAGE);
    SHOW("pread into a shared mapping", pread(other2, s1 + 2 * PAGE + 100, 50, 0));
    SHOW("  seen by read()", byte_at(fd, 2 * PAGE + 100) == pattern(0) && byte_at(fd, 2 * PAGE + 149) == pattern(49));
    close(other2);
    SHOW("msync MS_SYNC", msync(s1, size, MS_SYNC));
    SHOW("msync MS_ASYNC", msync(s1, PAGE, MS_ASYNC));
    SHOW("msync bad flags", msync(s1, PAGE, MS_SYNC | MS_ASYNC));
    SHOW("msync unaligned", msync(s1 + 1, PAGE, MS_SYNC));
    int fd2 = open(at("shared"), O_RDONLY);
    SHOW("shared write: seen by a new open", byte_at(fd2, PAGE + 5) == 'S' && byte_at(fd2, 3 * PAGE + 99) == 'T');
    struct stat st;
    fstat(fd, &st);
    SHOW("shared write: size unchanged", st.st_size);
    // Partial munmap: the rest stays.
    SHOW("munmap the middle page", munmap(s2 + PAGE, PAGE));
    SHOW("after partial munmap: first page", s2[7] == 'Q' && matches(s2 + 8, 8, 100));
    SHOW("after partial munmap: third page", matches(s2 + 2 * PAGE, 2 * PAGE, PAGE));
    SHOW("msync over the hole", msync(s2, 3 * PAGE, MS_SYNC));
    // mprotect(PROT_WRITE) of a shared mapping of a read-only descriptor.
    unsigned char* ro = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd2, 0);
    SHOW("mmap shared O_RDONLY PROT_READ", ro == MAP_FAILED ? -1 : 0);
    SHOW("mprotect it PROT_WRITE", mprotect(ro, PAGE, PROT_READ | PROT_WRITE));
    SHOW("munmap ro", munmap(ro, PAGE));
    // munmap writes back: a new mapping after munmap sees the write too.
    s1[2 * PAGE] = 'U';
    SHOW("munmap s1", munmap(s1, size));
    SHOW("after munmap: seen by read()", byte_at(fd2, 2 * PAGE) == 'U');
    SHOW("munmap s2 rest", munmap(s2, 3 * PAGE) == 0 && munmap(pv, size) == 0);
    close(fd2);
    close(fd);

    // mremap of a file mapping: grows with the file's next pages.
    fd = make_file("grow", size);
    unsigned char* g = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    g = mremap(g, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
    SHOW("mremap grow", g == MAP_FAILED ? -1 : 0);
    SHOW("mremap: new pages are the file's", matches(g, 0, 3 * PAGE));
    g = mremap(g, 3 * PAGE, PAGE, 0);
    SHOW("mremap shrink", g == MAP_FAILED ? -1 : matches(g, 0, PAGE));
    SHOW("munmap g", munmap(g, PAGE));
    close(fd);

    // Truncation: shrinking and growing again reads zeros where the data was.
    fd = make_file("trunc", 2 * PAGE);
    unsigned char* t = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    SHOW("mmap trunc", t == MAP_FAILED ? -1 : matches(t, 0, 2 * PAGE));
    SHOW("ftruncate shrink", ftruncate(fd, PAGE + 10));
    SHOW("after shrink: kept part", matches(t, 0, PAGE + 10));
    SHOW("after shrink: zeros in the last page", all_zero(t + PAGE + 10, PAGE - 10));
    SHOW("ftruncate grow", ftruncate(fd, 2 * PAGE));
    SHOW("after grow: still zeros", all_zero(t + PAGE + 10, PAGE - 10));
    SHOW("munmap t", munmap(t, 2 * PAGE));
    close(fd);

    // A sparse file: holes read as zeros, and a write through a shared mapping fills one.
    fd = open(at("sparse"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    SHOW("ftruncate sparse", ftruncate(fd, 3 * PAGE));
    unsigned char* h = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char* hp = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    SHOW("mmap sparse", h == MAP_FAILED || hp == MAP_FAILED ? -1 : all_zero(h, 3 * PAGE) && all_zero(hp, PAGE));
    hp[5] = 1;
    h[PAGE + 5] = 'H';
    SHOW("sparse: shared write seen by read()", byte_at(fd, PAGE + 5) == 'H' && byte_at(fd, 5) == 0);
    SHOW("sparse: munmap", munmap(h, 3 * PAGE) == 0 && munmap(hp, 3 * PAGE) == 0);
    close(fd);

    // An ld.so-like sequence: reserve the span with the first segment, map the data segment at
    // its offset with MAP_FIXED, zero the partial page after the file data, anonymous bss over
    // the tail, relocate, then RELRO.
    fd = make_file("ldso", 3 * PAGE + 200);
    int lib = open(at("ldso"), O_RDONLY);
    unsigned char* base = mmap(NULL, 6 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, lib, 0);
    SHOW("ld.so: map the span", base == MAP_FAILED ? -1 : 0);
    unsigned char* data = mmap(base + PAGE, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, lib, PAGE);
    SHOW("ld.so: data segment MAP_FIXED", data == base + PAGE);
    memset(base + 3 * PAGE + 200, 0, PAGE - 200);  // bss start in the last file page
    unsigned char* bss =
        mmap(base + 4 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
    SHOW("ld.so: bss MAP_FIXED anonymous", bss == base + 4 * PAGE);
    memcpy(base + PAGE + 16, "relocated", 10);  // a relocation in the RELRO page
    base[2 * PAGE + 8] = 0x55;  // a plain data write
    SHOW("ld.so: mprotect RELRO", mprotect(base + PAGE, PAGE, PROT_READ));
    SHOW("ld.so: text is the file's", matches(base, 0, PAGE));
    SHOW("ld.so: RELRO keeps the relocation",
         memcmp(base + PAGE + 16, "relocated", 10) == 0 && matches(base + PAGE, PAGE, 16));
    SHOW("ld.so: data", base[2 * PAGE + 8] == 0x55 && matches(base + 3 * PAGE, 3 * PAGE, 200));
    SHOW("ld.so: bss zero", all_zero(base + 3 * PAGE + 200, PAGE - 200) && all_zero(bss, 2 * PAGE));
    bss[PAGE + 1] = 1;
    SHOW("ld.so: bss writable", bss[PAGE + 1]);
    SHOW("ld.so: file unchanged", byte_at(lib, PAGE + 16) == pattern(PAGE + 16) && byte_at(lib, 3 * PAGE + 201) == -1);
    SHOW("ld.so: munmap", munmap(base, 6 * PAGE));
    close(lib);
    close(fd);

    // Errors.
    fd = open(at("private"), O_RDONLY);
    int wr = open(at("wronly"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(wr, "abc", 3);
    int pipes[2];
    pipe(pipes);
    int dir = open(g_dir, O_RDONLY | O_DIRECTORY);
    int closed = open(at("private"), O_RDONLY);
    close(closed);
    SHOW("mmap fd -1 (not anonymous)", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, -1, 0));
    SHOW("mmap closed fd", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, closed, 0));
    SHOW("mmap unaligned offset", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 100));
    SHOW("mmap length 0", (long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE, fd, 0));
    SHOW("mmap O_WRONLY private", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, wr, 0));
    SHOW("mmap O_WRONLY shared", (long)mmap(NULL, PAGE, PROT_WRITE, MAP_SHARED, wr, 0));
    SHOW("mmap O_RDONLY shared PROT_WRITE", (long)mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    unsigned char* rw = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    SHOW("mmap O_RDONLY private PROT_WRITE", rw == MAP_FAILED ? -1 : 0);
    munmap(rw, PAGE);
    SHOW("mmap pipe read end", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, pipes[0], 0));
    SHOW("mmap pipe write end", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, pipes[1], 0));
    SHOW("mmap directory", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, dir, 0));
    SHOW("mmap huge length", (long)mmap(NULL, (size_t)1 << 62, PROT_READ, MAP_PRIVATE, fd, 0));
    unsigned char* beyond = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 16 * PAGE);
    SHOW("mmap offset past EOF (not touched)", beyond == MAP_FAILED ? -1 : munmap(beyond, PAGE));
    close(fd);
    close(wr);
    close(dir);

    for (size_t i = 0; i < sizeof g_files / sizeof g_files[0]; ++i) unlink(at(g_files[i]));
    SHOW("rmdir", rmdir(g_dir));
    return 0;
}
