/*
 * xos: replaces upstream src/thread/x86_64/clone.s (raw clone + exit
 * syscalls). musl's internal
 *
 *   int __clone(int (*func)(void *), void *stack, int flags, void *arg,
 *               pid_t *ptid, void *tls, pid_t *ctid);
 *
 * is forwarded unchanged (same registers, same stack argument) to libxos:
 *
 *   int xos_clone(int (*func)(void *), void *stack, int flags, void *arg,
 *                 pid_t *ptid, void *tls, pid_t *ctid);
 *
 * xos_clone is a normal default-visibility symbol defined in libxos.
 * It must return the child's tid (> 0) or -errno in the parent, and run
 * func(arg) on `stack` in the child, exiting the thread with its return
 * value (upstream: SYS_exit).
 */
.text
.global __clone
.hidden __clone
.type   __clone,@function
__clone:
	jmp xos_clone
.size __clone,.-__clone
