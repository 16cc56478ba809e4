// Differential probe for unmodified executables (tests/exec/run_exec_test.py): built by the
// host's gcc (static-pie, static non-PIE, dynamic PIE and non-PIE; glibc and musl) and run
// natively and on xos; both runs must print the same. Prints what Linux makes deterministic
// (arguments, chosen environment variables, auxv facts, where a non-PIE program is, how mmap
// treats hints and MAP_FIXED_NOREPLACE), reads the file named by argv[1], allocates, and runs
// a thread. Exits with status 7.
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

extern char** environ;
extern char end[];  // the linker's end of the program's bss

// mmap placement as Linux does it: a free hint is taken, a taken one is only a hint, one above
// the lower half falls back to a free place; MAP_FIXED_NOREPLACE fails with EEXIST on a mapping.
static void probe_mmap(void) {
    const size_t size = 64 << 10;
    const int prot = PROT_READ | PROT_WRITE, anonymous = MAP_PRIVATE | MAP_ANONYMOUS;
    char* hint = (char*)0x10000000000;  // 1 TiB
    char* at = mmap(hint, size, prot, anonymous, -1, 0);
    printf("mmap hint 1 TiB: taken %d\n", at == hint);
    char* again = mmap(hint, size, prot, anonymous, -1, 0);
    printf("mmap hint on a mapping: elsewhere %d\n", again != MAP_FAILED && again != hint);
    errno = 0;
    char* clash = mmap(hint, size, prot, anonymous | MAP_FIXED_NOREPLACE, -1, 0);
    printf("MAP_FIXED_NOREPLACE on a mapping: %s\n", clash == MAP_FAILED && errno == EEXIST ? "EEXIST" : "mapped");
    char* next = mmap(hint + size, size, prot, anonymous | MAP_FIXED_NOREPLACE, -1, 0);
    printf("MAP_FIXED_NOREPLACE on free space: taken %d\n", next == hint + size);
    char* go = mmap((char*)0xc000000000, size, prot, anonymous, -1, 0);  // Go's first arena hint
    printf("mmap hint 0xc000000000: taken %d\n", go == (char*)0xc000000000);
    char* high = mmap((char*)0x900000000000, size, prot, anonymous, -1, 0);  // above the lower half
    printf("mmap hint above the lower half: below 128 TiB %d\n",
           high != MAP_FAILED && (unsigned long)high < 0x800000000000ul);
    if (at != MAP_FAILED) at[0] = 1;
    if (next != MAP_FAILED) next[size - 1] = 2;
    munmap(at, size), munmap(again, size), munmap(next, size), munmap(go, size), munmap(high, size);
}

static void* block_on_pipe(void* arg) {
    char byte;
    (void)!read(((int*)arg)[0], &byte, 1);
    return NULL;
}

static void* thread_main(void* arg) {
    long n = (long)arg, sum = 0;
    for (long i = 1; i <= n; ++i) sum += i;
    return (void*)sum;
}

// `probe --exec-with-a-thread PROGRAM`: execs PROGRAM while a second thread is blocked. Linux
// and xos end that thread and run PROGRAM; exits 42 if the exec fails with EBUSY (what xos did
// before it ended other threads), 1 on other errors.
static int exec_with_a_thread(const char* program) {
    static int blocker[2];
    pthread_t thread;
    if (pipe(blocker) != 0 || pthread_create(&thread, NULL, block_on_pipe, blocker) != 0) return 1;
    char* const arguments[] = {(char*)program, NULL};
    execv(program, arguments);
    int failure = errno;
    fprintf(stderr, "execv: %s\n", strerror(failure));
    return failure == EBUSY ? 42 : 1;
}

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "--exec-with-a-thread") == 0) return exec_with_a_thread(argv[2]);
    for (int i = 1; i < argc; ++i) printf("argv[%d]=%s\n", i, argv[i]);
    for (char** e = environ; *e; ++e)
        if (strncmp(*e, "PROBE_", 6) == 0) printf("env %s\n", *e);
    printf("AT_PAGESZ=%lu AT_PHENT=%lu AT_UID=getuid:%d AT_EUID=geteuid:%d AT_GID=getgid:%d AT_EGID=getegid:%d "
           "AT_SECURE=%lu\n",
           getauxval(AT_PAGESZ), getauxval(AT_PHENT), getauxval(AT_UID) == getuid(), getauxval(AT_EUID) == geteuid(),
           getauxval(AT_GID) == getgid(), getauxval(AT_EGID) == getegid(), getauxval(AT_SECURE));
    const char* platform = (const char*)getauxval(AT_PLATFORM);
    const char* execfn = (const char*)getauxval(AT_EXECFN);
    size_t execfn_length = execfn ? strlen(execfn) : 0, argv0_length = strlen(argv[0]);
    printf("AT_PLATFORM=%s AT_EXECFN ends with argv[0]: %d AT_RANDOM set: %d AT_CLKTCK=%lu\n",
           platform ? platform : "(none)",
           execfn_length >= argv0_length && strcmp(execfn + execfn_length - argv0_length, argv[0]) == 0,
           getauxval(AT_RANDOM) != 0, getauxval(AT_CLKTCK));
    // AT_PHDR/AT_PHNUM describe this program: its own PT_LOAD count.
    const ElfW(Phdr)* phdr = (const ElfW(Phdr)*)getauxval(AT_PHDR);
    int loads = 0;
    for (unsigned long i = 0; i < getauxval(AT_PHNUM); ++i) loads += phdr[i].p_type == PT_LOAD;
    printf("PT_LOAD segments: %d\n", loads);
    // A non-PIE (ET_EXEC) program runs at its link address: where its headers and entry are is
    // the same natively and on xos; its break starts after its end (Linux 6 adds up to 32 GiB).
    unsigned long lowest = ~0ul;
    for (unsigned long i = 0; i < getauxval(AT_PHNUM); ++i)
        if (phdr[i].p_type == PT_LOAD && phdr[i].p_vaddr < lowest) lowest = phdr[i].p_vaddr;
    if (lowest != 0) {
        unsigned long brk = (unsigned long)sbrk(0);
        printf("non-PIE: AT_PHDR=%#lx AT_ENTRY=%#lx, break after the program: %d\n", getauxval(AT_PHDR),
               getauxval(AT_ENTRY), brk >= (unsigned long)end && brk < (unsigned long)end + (33ul << 30));
    }
    probe_mmap();

    if (argc > 1) {
        FILE* f = fopen(argv[1], "r");
        if (!f) {
            perror(argv[1]);
            return 1;
        }
        char line[256];
        unsigned long bytes = 0, checksum = 0;
        int c;
        while ((c = fgetc(f)) != EOF) ++bytes, checksum = checksum * 31 + (unsigned char)c;
        rewind(f);
        if (fgets(line, sizeof line, f)) printf("first line: %s", line);
        fclose(f);
        printf("%s: %lu bytes, checksum %lu\n", argv[1], bytes, checksum);
    }

    size_t size = 32 << 20;
    unsigned char* block = malloc(size);
    if (!block) return 2;
    for (size_t i = 0; i < size; i += 4096) block[i] = (unsigned char)(i >> 12);
    unsigned long total = 0;
    for (size_t i = 0; i < size; i += 4096) total += block[i];
    free(block);
    printf("malloc 32 MiB: sum %lu\n", total);

    pthread_t thread;
    void* result;
    if (pthread_create(&thread, NULL, thread_main, (void*)1000) != 0 || pthread_join(thread, &result) != 0) {
        printf("thread: failed\n");
        return 3;
    }
    printf("thread: sum %ld\n", (long)result);

    // What runtimes call at start-up, through glibc's or musl's structures: thread names,
    // resource limits (set and read back), disarming the interval timer (Redis).
    char name[16] = "";
    int named = prctl(PR_SET_NAME, "probe-name-longer-than-15");
    prctl(PR_GET_NAME, name);
    printf("prctl PR_SET_NAME: %d, PR_GET_NAME: %s\n", named, name);
    struct rlimit limit, lowered;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 4;
    lowered = (struct rlimit){64, limit.rlim_max};
    int set = setrlimit(RLIMIT_NOFILE, &lowered);
    getrlimit(RLIMIT_NOFILE, &lowered);
    printf("setrlimit RLIMIT_NOFILE soft 64: %d, reads %lu\n", set, (unsigned long)lowered.rlim_cur);
    setrlimit(RLIMIT_NOFILE, &limit);
    struct itimerval disarmed = {{0, 0}, {0, 0}}, old;
    printf("setitimer ITIMER_REAL disarm: %d\n", setitimer(ITIMER_REAL, &disarmed, &old));
    fflush(stdout);
    return 7;
}
