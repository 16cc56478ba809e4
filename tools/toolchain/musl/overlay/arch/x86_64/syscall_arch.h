/*
 * xos: musl x86_64 syscall glue.
 *
 * In xos there is no kernel/user boundary. Every "system call" musl makes is
 * an ordinary SysV-ABI function call into libxos:
 *
 *     long xos_syscall(long n, long a1, long a2, long a3,
 *                      long a4, long a5, long a6);
 *
 * xos_syscall is NOT defined in musl. It is a normal, default-visibility
 * external symbol provided by libxos at final link time. Return value
 * convention is the Linux one: a value in [-4095, -1] is -errno.
 *
 * Compared to upstream musl 1.2.3 this header:
 *   - replaces the inline `syscall` instruction in __syscall0..6 by calls
 *     to xos_syscall;
 *   - drops VDSO_USEFUL / VDSO_CGT_* / VDSO_GETCPU_* so musl never looks
 *     for a vDSO (clock_gettime and sched_getcpu go through xos_syscall);
 *   - keeps __SYSCALL_LL_E/__SYSCALL_LL_O and IPC_64 unchanged.
 */

#define __SYSCALL_LL_E(x) (x)
#define __SYSCALL_LL_O(x) (x)

__attribute__((__visibility__("default")))
long xos_syscall(long n, long a1, long a2, long a3, long a4, long a5, long a6);

static __inline long __syscall0(long n)
{
	return xos_syscall(n, 0, 0, 0, 0, 0, 0);
}

static __inline long __syscall1(long n, long a1)
{
	return xos_syscall(n, a1, 0, 0, 0, 0, 0);
}

static __inline long __syscall2(long n, long a1, long a2)
{
	return xos_syscall(n, a1, a2, 0, 0, 0, 0);
}

static __inline long __syscall3(long n, long a1, long a2, long a3)
{
	return xos_syscall(n, a1, a2, a3, 0, 0, 0);
}

static __inline long __syscall4(long n, long a1, long a2, long a3, long a4)
{
	return xos_syscall(n, a1, a2, a3, a4, 0, 0);
}

static __inline long __syscall5(long n, long a1, long a2, long a3, long a4, long a5)
{
	return xos_syscall(n, a1, a2, a3, a4, a5, 0);
}

static __inline long __syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return xos_syscall(n, a1, a2, a3, a4, a5, a6);
}

/* No vDSO in xos: VDSO_USEFUL, VDSO_CGT_SYM/VER and VDSO_GETCPU_SYM/VER are
 * intentionally not defined. */

#define IPC_64 0
