/*
 * xos: replaces upstream src/thread/x86_64/__unmapself.s (raw munmap +
 * exit syscalls).
 *
 * This is musl's generic src/thread/__unmapself.c with two x86_64/xos
 * adjustments, needed because a "syscall" is now a full C call into libxos
 * (xos_syscall) instead of a single instruction:
 *   - the shared stack is 16 KiB instead of 256 bytes, so xos_syscall's
 *     SYS_munmap/SYS_exit paths have room to run;
 *   - do_unmap is entered with `call` from a 16-byte aligned stack top, so
 *     the SysV ABI alignment (%rsp = 8 mod 16 at entry) holds, and with
 *     %rbp = 0 so frame-pointer backtraces stop here instead of walking
 *     into the thread stack being unmapped.
 *
 * Concurrency is as upstream: pthread_exit only gets here while holding
 * the thread-list lock, which the exiting thread's ctid clear (the
 * CLONE_CHILD_CLEARTID emulation in libxos) releases, so only one thread
 * at a time runs on shared_stack.
 */
#include "pthread_impl.h"
#include "syscall.h"

static void *unmap_base;
static size_t unmap_size;
static char shared_stack[16384] __attribute__((__aligned__(16)));

__attribute__((__noreturn__))
static void do_unmap(void)
{
	__syscall(SYS_munmap, unmap_base, unmap_size);
	for (;;) __syscall(SYS_exit, 0);
}

void __unmapself(void *base, size_t size)
{
	unmap_base = base;
	unmap_size = size;
	__asm__ __volatile__ (
		"mov %1,%%rsp\n\t"
		"xor %%ebp,%%ebp\n\t"
		"call *%0\n\t"
		"hlt"
		: : "r"(do_unmap), "r"(shared_stack + sizeof shared_stack)
		: "memory");
	__builtin_unreachable();
}
