// The vDSO image: a small ELF shared object libos maps into every program it loads
// (libos/exec), reported in AT_SYSINFO_EHDR, so that glibc, musl and Go read the time without a
// syscall instruction. It runs at the app's privilege level in the app's address space and calls
// libos through the function pointers libos put in the vvar page below it (vvar.h): the fast
// path is one indirect call into libos's xos_clock_gettime, which only reads the platform's
// clock; what that does not handle goes to the syscall entry, entered as the rewriter's
// trampolines enter it (never through a trapping `syscall` instruction). Built freestanding,
// position-independent, without relocations (vdso.lds, embed_vdso.py). See docs/vdso.md.
#include "vvar.h"

#define ENOSYS 38
#define CLOCK_REALTIME 0
#define SYS_gettimeofday 96
#define SYS_time 201
#define SYS_clock_gettime 228
#define SYS_clock_getres 229
#define SYS_getcpu 309

struct vdso_timespec {
    long tv_sec;
    long tv_nsec;
};
struct vdso_timeval {
    long tv_sec;
    long tv_usec;
};
struct vdso_timezone {
    int tz_minuteswest;
    int tz_dsttime;
};

// Defined by the linker at the image's first byte (vdso.lds maps the ELF header).
extern const char __ehdr_start[] __attribute__((visibility("hidden")));

static const volatile struct XosVvar* vvar(void) {
    return (const volatile struct XosVvar*)((unsigned long)__ehdr_start - XOS_VVAR_PAGE_SIZE);
}

// A syscall as a `syscall` instruction would make it, through libos's syscall entry (which
// preserves every register but %rax, %rcx and %r11, the red zone included).
static long libos_syscall(long number, long a1, long a2) {
    long result;
    __asm__ volatile("lea 1f(%%rip), %%rcx\n\t"
                     "pushfq\n\t"
                     "pop %%r11\n\t"
                     "jmp *%[entry]\n"
                     "1:"
                     : "=a"(result)
                     : "0"(number), "D"(a1), "S"(a2), [entry] "r"(vvar()->syscall_entry)
                     : "rcx", "r11", "memory", "cc");
    return result;
}

static int libos_clock_gettime(int clock, struct vdso_timespec* out) {
    int (*read_clock)(int, struct vdso_timespec*) = (int (*)(int, struct vdso_timespec*))vvar()->clock_gettime;
    return read_clock(clock, out);
}

int __vdso_clock_gettime(int clock, struct vdso_timespec* out) {
    int result = libos_clock_gettime(clock, out);
    if (result != -ENOSYS) return result;
    return (int)libos_syscall(SYS_clock_gettime, clock, (long)out);
}

int __vdso_gettimeofday(struct vdso_timeval* tv, struct vdso_timezone* tz) {
    if (tv) {
        struct vdso_timespec now;
        if (libos_clock_gettime(CLOCK_REALTIME, &now) != 0)
            return (int)libos_syscall(SYS_gettimeofday, (long)tv, (long)tz);
        tv->tv_sec = now.tv_sec;
        tv->tv_usec = now.tv_nsec / 1000;
    }
    if (tz) {  // as libos's gettimeofday: UTC, no DST
        tz->tz_minuteswest = 0;
        tz->tz_dsttime = 0;
    }
    return 0;
}

long __vdso_time(long* out) {
    struct vdso_timespec now;
    if (libos_clock_gettime(CLOCK_REALTIME, &now) != 0) return libos_syscall(SYS_time, (long)out, 0);
    if (out) *out = now.tv_sec;
    return now.tv_sec;
}

// The CPU the caller runs on (getcpu(2): libos's, the CPU that took the call), one NUMA node.
int __vdso_getcpu(unsigned* cpu, unsigned* node, void* unused) {
    (void)unused;
    return (int)libos_syscall(SYS_getcpu, (long)cpu, (long)node);
}

int __vdso_clock_getres(int clock, struct vdso_timespec* out) {
    return (int)libos_syscall(SYS_clock_getres, clock, (long)out);
}

// The unprefixed names Linux's vDSO also exports.
int clock_gettime(int, struct vdso_timespec*) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct vdso_timeval*, struct vdso_timezone*) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long*) __attribute__((weak, alias("__vdso_time")));
int getcpu(unsigned*, unsigned*, void*) __attribute__((weak, alias("__vdso_getcpu")));
int clock_getres(int, struct vdso_timespec*) __attribute__((weak, alias("__vdso_clock_getres")));
