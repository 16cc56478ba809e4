// Many vfork+execs of a few programs (this one, a copy of it, and dash when the root has it),
// each child making the same syscalls many times from a few sites; first, a fork whose parent
// and child patch a new site each while both live (their trampolines must stay apart: on xos
// the trampoline page they share copy on write gets a copy in the one that writes it). On xos the syscall-site
// rewriter (docs/syscall-rewriting.md) must keep the sites rewritten in every new address space:
// the counters of /proc/xos/rewrite must show no site left for want of a trampoline, as few
// trap-path syscalls per exec late in the run as early in it, and no site patched in the last
// 140 execs (the programs' patched pages come from the per-file cache). The lines starting with "xos:"
// are printed only where /proc/xos/rewrite exists; the others are the same natively.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

enum { EXECS = 300, WARM = 20, MIDDLE = 160, CHILD_STATUS = 3 };

// The child: the same few sites 200 times (one trap each once patched, else 200).
static int child(void) {
    pid_t parent = getppid();
    for (int i = 0; i < 100; ++i)
        if (getppid() != parent) return 10;
    int fd = open("/data/input.txt", O_RDONLY);
    if (fd < 0) return 11;
    char byte;
    for (int i = 0; i < 100; ++i)
        if (pread(fd, &byte, 1, i % 8) != 1) return 12;
    close(fd);
    return CHILD_STATUS;
}

// `mov $N,%eax; syscall` sites of their own (the rewriter's mov_eax pattern).
__attribute__((noinline)) static long site_getppid(void) {
    long result;
    asm volatile("mov $110, %%eax\n\tsyscall" : "=a"(result) : : "rcx", "r11", "memory");
    return result;
}

__attribute__((noinline)) static long site_getuid(void) {
    long result;
    asm volatile("mov $102, %%eax\n\tsyscall" : "=a"(result) : : "rcx", "r11", "memory");
    return result;
}

__attribute__((noinline)) static long site_getpid(void) {
    long result;
    asm volatile("mov $39, %%eax\n\tsyscall" : "=a"(result) : : "rcx", "r11", "memory");
    return result;
}

// The parent patches a site, forks; the child patches another one (the next free trampoline
// slot), then the parent a third (the same slot in its own view) while the child waits; the
// child's site must still make its own syscall.
static int fork_keeps_trampolines_apart(void) {
    pid_t parent = getpid();
    if (site_getpid() != parent) return 0;
    int ready[2], go[2];
    if (pipe(ready) || pipe(go)) return 0;
    pid_t pid = fork();
    if (pid < 0) return 0;
    char byte = 0;
    if (pid == 0) {
        int ok = site_getppid() == parent;
        if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 1) _exit(2);
        for (int i = 0; i < 10; ++i) ok = ok && site_getppid() == parent && site_getpid() == getpid();
        _exit(ok ? 0 : 1);
    }
    int ok = read(ready[0], &byte, 1) == 1;
    for (int i = 0; i < 10; ++i) ok = ok && site_getuid() == (long)getuid() && site_getpid() == parent;
    ok = write(go[1], &byte, 1) == 1 && ok;
    int status;
    ok = waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && ok;
    close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
    return ok;
}

struct Counters {
    unsigned long traps, patched, no_trampoline_sites, no_trampoline_traps, pages;
};

static int read_counters(struct Counters* c) {
    FILE* f = fopen("/proc/xos/rewrite", "r");
    if (!f) return 0;
    memset(c, 0, sizeof *c);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "traps %lu", &c->traps);
        sscanf(line, "patched %lu", &c->patched);
        sscanf(line, "trampoline_pages %lu", &c->pages);
        sscanf(line, "left_no_trampoline %lu %lu", &c->no_trampoline_sites, &c->no_trampoline_traps);
    }
    fclose(f);
    return 1;
}

static int have_dash;

static int run_one(int i) {
    char* self[] = {"execloop", "child", NULL};
    char* copy[] = {"execloop-b", "child", NULL};
    char* dash[] = {"dash", "-c", "i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo $i >/dev/null; done; exit 3", NULL};
    char** argv = i % 3 == 1 ? copy : (i % 3 == 2 && have_dash) ? dash : self;
    const char* path = argv == copy ? "/bin/execloop-b" : argv == dash ? "/usr/bin/dash" : "/bin/execloop";
    pid_t pid = vfork();
    if (pid < 0) return 0;
    if (pid == 0) {
        execve(path, argv, environ);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != CHILD_STATUS) {
        printf("exec %d (%s): status %#x\n", i, path, status);
        return 0;
    }
    return 1;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) return child();
    int forked = fork_keeps_trampolines_apart();
    printf("execloop: fork, parent and child patching new sites: %s\n",
           forked ? "each made its own syscalls" : "FAILED");
    have_dash = access("/usr/bin/dash", X_OK) == 0;
    struct Counters at[3];
    int xos = 1, failed = 0;
    for (int i = 0; i < EXECS; ++i) {
        if (i == WARM || i == MIDDLE) xos = read_counters(&at[i == WARM ? 0 : 1]) && xos;
        failed += !run_one(i);
    }
    xos = read_counters(&at[2]) && xos;
    printf("execloop: %d vfork+execs, %d failed\n", EXECS, failed);
    if (!xos) return failed || !forked ? 1 : 0;
    // Trap-path syscalls per exec: the first 140 after the warm-up against the last 140.
    double early = (double)(at[1].traps - at[0].traps) / (MIDDLE - WARM);
    double late = (double)(at[2].traps - at[1].traps) / (EXECS - MIDDLE);
    unsigned long late_patched = at[2].patched - at[1].patched;
    printf("xos: traps per exec %.1f (execs %d-%d), %.1f (execs %d-%d); patched %lu in all, %lu in the last %d; "
           "trampoline pages made %lu; left for want of a trampoline: %lu sites, %lu traps\n",
           early, WARM, MIDDLE, late, MIDDLE, EXECS, at[2].patched, late_patched, EXECS - MIDDLE, at[2].pages,
           at[2].no_trampoline_sites, at[2].no_trampoline_traps);
    // The programs' patched pages come from the per-file cache after their first run: the late
    // execs patch nothing (a vfork child's first use of a page the parent has unpatched maps the
    // cached page rather than patching it).
    int ok = at[2].no_trampoline_traps == 0 && late <= early * 1.25 + 1 && late_patched == 0;
    printf("xos: rewrite counters %s\n", ok ? "bounded" : "NOT bounded");
    return failed || !ok || !forked ? 1 : 0;
}
