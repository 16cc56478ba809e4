/* A stand-in for libxos in the tests of xos-build and xos-cc: the syscall entry points that the
 * rebuilt musl calls are forwarded to the Linux kernel with a real `syscall` instruction, and
 * the PVH entry jumps straight to musl's _start. An "image" linked against this shim (with a
 * linker script that keeps the default layout) is an ordinary static Linux executable, so
 * whole C and C++ programs can be checked end to end without booting a VM.
 * Compiled with xos-cc itself: no headers needed. */

long xos_syscall(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* Same ABI as musl's __clone; threads are not needed by these tests. */
int xos_clone(int (*fn)(void*), void* stack, int flags, void* arg, ...) {
    (void)fn;
    (void)stack;
    (void)flags;
    (void)arg;
    return -38; /* -ENOSYS */
}

/* musl's clock_gettime asks this first (libxos's vDSO-like fast path); -ENOSYS makes it use
 * the clock_gettime syscall. */
int xos_clock_gettime(int clock, void* ts) {
    (void)clock;
    (void)ts;
    return -38; /* -ENOSYS */
}

/* Linux enters here with the initial stack musl's _start expects. */
__asm__(".text\n"
        ".globl xos_pvh_entry\n"
        ".type xos_pvh_entry, @function\n"
        "xos_pvh_entry:\n"
        "    jmp _start\n");
