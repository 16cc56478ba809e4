/*
 * xos: replaces upstream src/signal/x86_64/restore.s, which did
 * `mov $15,%rax; syscall` (rt_sigreturn).
 *
 * __restore_rt is the sa_restorer musl installs for every handler
 * (ksigaction.h: #define __restore __restore_rt). When a handler returns
 * here, %rsp points at the signal frame (struct rt_sigframe: ucontext +
 * siginfo) that the signal-delivery code built.
 *
 * We call xos_syscall(SYS_rt_sigreturn = 15, frame, 0, 0, 0, 0, 0) where
 * a1 (%rsi) is the value %rsp had on entry here, i.e. the address of the
 * signal frame, so libxos does not have to guess it. Linux' rt_sigreturn
 * ignores its arguments. The stack is realigned per the SysV ABI and a6
 * (stack slot) is zeroed. xos_syscall(15, ...) must not return.
 */
.text
.global __restore_rt
.hidden __restore_rt
.type __restore_rt,@function
__restore_rt:
	mov %rsp,%rsi		/* a1 = signal frame */
	and $-16,%rsp
	push $0			/* padding */
	push $0			/* a6 */
	mov $15,%edi		/* n = SYS_rt_sigreturn */
	xor %edx,%edx
	xor %ecx,%ecx
	xor %r8d,%r8d
	xor %r9d,%r9d
	call xos_syscall
	hlt
.size __restore_rt,.-__restore_rt
