/* The trap path of a `syscall` instruction, in front of xos_syscall_entry (entry64.S): MSR_LSTAR
 * points here on the VM, and the hosted SIGSYS handler resumes here (hosted/signals.cpp). It
 * gives libos's syscall-site rewriter (libos/rewrite) the site, `syscall` being 2 bytes before
 * %rcx, then runs the syscall exactly as before. A site the rewriter patched no longer traps:
 * its per-site trampoline enters xos_syscall_entry directly. Registers, flags and the 128-byte
 * red zone below the caller's %rsp are left as they were on entry, except %rcx, the syscall's
 * return address, which the rewriter may redirect (xos_rewrite_trap's result). */
    .text
    .globl xos_syscall_trap_entry
    .type xos_syscall_trap_entry, @function
xos_syscall_trap_entry:
    lea -128(%rsp), %rsp            /* the caller's red zone */
    pushfq
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %rbp
    push %rbx                       /* callee-saved, but pushed so the rewriter can read them */
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rbp
    and $-16, %rsp
    mov %rcx, %rdi                  /* the address after the `syscall` instruction */
    mov %rax, %rsi                  /* the syscall number */
    mov %rbp, %rdx                  /* the registers saved above, from %rbp up */
    cld
    call xos_rewrite_trap
    mov %rax, 104(%rbp)              /* the saved %rcx: where the syscall returns (the site's
                                       trampoline tail if the rewriter moved what follows it) */
    mov %rbp, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    popfq
    lea 128(%rsp), %rsp             /* lea: leaves the flags alone */
    jmp xos_syscall_entry
    .size xos_syscall_trap_entry, . - xos_syscall_trap_entry

    .section .note.GNU-stack, "", @progbits
