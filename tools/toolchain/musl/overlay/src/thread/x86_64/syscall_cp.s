/*
 * xos: replaces upstream src/thread/x86_64/syscall_cp.s.
 *
 *   long __syscall_cp_asm(volatile int *cancel, long nr,
 *                         long u, long v, long w, long x, long y, long z);
 *
 * Incoming (SysV): cancel=%rdi nr=%rsi u=%rdx v=%rcx w=%r8 x=%r9,
 *                  y=8(%rsp) z=16(%rsp).
 * If *cancel is non-zero, tail-call __cancel() (via __cp_cancel), exactly
 * like upstream. Otherwise tail-jump to
 *
 *   long xos_syscall(long n, long a1, long a2, long a3,
 *                    long a4, long a5, long a6);
 *
 * which wants n=%rdi a1=%rsi a2=%rdx a3=%rcx a4=%r8 a5=%r9 a6=8(%rsp).
 * The return address stays at 0(%rsp); z is moved into the (caller-owned)
 * stack-argument slot that held y, as upstream also does.
 *
 * __cp_begin/__cp_end/__cp_cancel must remain global hidden symbols:
 * src/thread/pthread_cancel.c compares the interrupted PC against
 * [__cp_begin, __cp_end) and redirects it to __cp_cancel.
 */
.text
.global __cp_begin
.hidden __cp_begin
.global __cp_end
.hidden __cp_end
.global __cp_cancel
.hidden __cp_cancel
.hidden __cancel
.global __syscall_cp_asm
.hidden __syscall_cp_asm
.type   __syscall_cp_asm,@function
__syscall_cp_asm:

__cp_begin:
	mov (%rdi),%eax
	test %eax,%eax
	jnz __cp_cancel
	mov %rsi,%rdi		/* n  = nr */
	mov %rdx,%rsi		/* a1 = u  */
	mov %rcx,%rdx		/* a2 = v  */
	mov %r8,%rcx		/* a3 = w  */
	mov %r9,%r8		/* a4 = x  */
	mov 8(%rsp),%r9		/* a5 = y  */
	mov 16(%rsp),%rax
	mov %rax,8(%rsp)	/* a6 = z  */
__cp_end:
	jmp xos_syscall
__cp_cancel:
	jmp __cancel
.size __syscall_cp_asm,.-__syscall_cp_asm
