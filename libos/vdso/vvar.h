// The vDSO's data page ("vvar"): what libos tells the vDSO image (vdso_image.c) when it maps it.
// The page lies just below the image's ELF header, so the image finds it at a fixed offset from
// its own position (no relocation, no libos address compiled in). Shared by the image (C,
// freestanding) and libos (vdso.cpp); plain integers, so both see the same layout.
#ifndef XOS_VDSO_VVAR_H
#define XOS_VDSO_VVAR_H

#define XOS_VVAR_MAGIC 0x3172617676736f78ULL  // "xosvvar1"
#define XOS_VVAR_PAGE_SIZE 4096  // the vvar page is this far below the image's ELF header

struct XosVvar {
    unsigned long long magic;  // XOS_VVAR_MAGIC once libos filled the page
    // int (*)(clockid_t, struct timespec*): libos's xos_clock_gettime (libos/sys/time.cpp). Reads
    // the platform's clocks only, in the caller's context (no in_kernel, may be preempted);
    // -ENOSYS for clocks it leaves to the syscall.
    unsigned long long clock_gettime;
    // xos_syscall_entry (platform): what a `syscall` instruction reaches, entered the way the
    // rewriter's trampolines enter it (%eax number, %rcx return address, %r11 RFLAGS).
    unsigned long long syscall_entry;
};

#endif
