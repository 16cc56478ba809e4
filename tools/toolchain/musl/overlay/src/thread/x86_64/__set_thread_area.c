/*
 * xos: replaces upstream src/thread/x86_64/__set_thread_area.s, which
 * executed arch_prctl(ARCH_SET_FS, p) with a raw `syscall` instruction.
 *
 * Called from __init_tp() very early, before the thread pointer is valid,
 * so it must not use the stack protector (musl's Makefile already builds
 * every %/__set_thread_area.o with CFLAGS_NOSSP; the attribute below is
 * belt and braces) and xos_syscall must cope with %fs not being set yet.
 */
#include "pthread_impl.h"

#define XOS_ARCH_SET_FS 0x1002

__attribute__((__no_stack_protector__))
int __set_thread_area(void *p)
{
	return xos_syscall(SYS_arch_prctl, XOS_ARCH_SET_FS, (long)p, 0, 0, 0, 0);
}
