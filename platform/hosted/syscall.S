/* The hosted platform's only way into the host kernel. Every host syscall the platform makes
 * goes through the `syscall` instructions between xos_host_syscall_begin and _end, and the
 * seccomp filter (seccomp.cpp) lets host syscalls through only from there: a `syscall`
 * instruction anywhere else (the app, a prebuilt library) traps and is run by libos instead. */
    .section .text.xos_host_syscall,"ax",@progbits
    .globl xos_host_syscall_begin
xos_host_syscall_begin:

/* long xos_host_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6):
 * the Linux syscall ABI from the SysV function-call ABI. Returns the value or -errno. */
    .globl xos_host_syscall
    .type xos_host_syscall, @function
xos_host_syscall:
    mov %rdi, %rax
    mov %rsi, %rdi
    mov %rdx, %rsi
    mov %rcx, %rdx
    mov %r8, %r10
    mov %r9, %r8
    mov 8(%rsp), %r9
    syscall
    ret
    .size xos_host_syscall, . - xos_host_syscall

/* long xos_host_clone(unsigned long flags, void* stack, void (*fn)(unsigned long), unsigned long arg):
 * a host thread (vcpu.cpp: the vCPUs, made before the seccomp filter, which refuses clone)
 * that calls fn(arg) on `stack` and must never return. Returns its tid or -errno. */
    .globl xos_host_clone
    .type xos_host_clone, @function
xos_host_clone:
    push %r12
    push %r13
    mov %rdx, %r12
    mov %rcx, %r13
    mov $56, %eax                   /* clone(flags, stack, NULL, NULL, 0) */
    xor %edx, %edx
    xor %r10d, %r10d
    xor %r8d, %r8d
    syscall
    test %rax, %rax
    jnz 1f
    xor %ebp, %ebp                  /* the new thread, on `stack` */
    mov %r13, %rdi
    call *%r12
    ud2
1:  pop %r13
    pop %r12
    ret
    .size xos_host_clone, . - xos_host_clone

/* sa_restorer of every host signal handler. */
    .globl xos_host_sigreturn
    .type xos_host_sigreturn, @function
xos_host_sigreturn:
    mov $15, %eax                   /* rt_sigreturn */
    syscall
    ud2
    .size xos_host_sigreturn, . - xos_host_sigreturn

    .globl xos_host_syscall_end
xos_host_syscall_end:

    .section .note.GNU-stack,"",@progbits
