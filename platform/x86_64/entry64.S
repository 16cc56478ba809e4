/* Long-mode entry points: starting the app, and the trap path for a `syscall` instruction. */
#include "big_lock.h"

/* Everything below, up to xos_user_entry_end, is the way between app code and libos: the
 * interrupt path asks platform::cpu_context_in_app() whether an interrupted flow was in app
 * code, and an instruction in here is not (it may be on the app's stack without being app
 * code), so no signal frame is ever built for it. */
    .section .text.xos_user_entry, "ax", @progbits
    .globl xos_user_entry_begin
xos_user_entry_begin:

/* [[noreturn]] void xos_enter_app(void (*entry)(), uintptr_t stack_pointer)
 * Starts a static ELF the way Linux does: %rsp -> argc, %rdx = 0 (no ld.so fini), the other
 * registers cleared. */
    .globl xos_enter_app
    .type xos_enter_app, @function
xos_enter_app:
    pushfq
    BIG_LOCK_DROP
    popfq
    mov %rsi, %rsp
    mov %rdi, %rax
    xor %ebx, %ebx
    xor %ecx, %ecx
    xor %edx, %edx
    xor %esi, %esi
    xor %edi, %edi
    xor %ebp, %ebp
    xor %r8d, %r8d
    xor %r9d, %r9d
    xor %r10d, %r10d
    xor %r11d, %r11d
    xor %r12d, %r12d
    xor %r13d, %r13d
    xor %r14d, %r14d
    xor %r15d, %r15d
    jmp *%rax
    .size xos_enter_app, . - xos_enter_app


/* The syscall entry. Linux ABI: %rax = number, args in %rdi %rsi %rdx %r10 %r8 %r9; everything
 * but %rax, %rcx and %r11 is preserved; %rcx = return address, %r11 = RFLAGS. Reached by
 * MSR_LSTAR (through xos_syscall_trap_entry below), by the rewriter's trampolines, by the vDSO
 * and, through xos_syscall below, by a linked program's musl: ring 0 to ring 0 (or the same
 * host thread), so no stack switch happens by itself. The entry steps over the caller's red
 * zone, keeps %rcx and %r11 below it for a moment, then moves to the thread's kernel stack
 * (xos_kernel_stack_top, kept by the scheduler) and saves every register there as Linux's
 * mcontext gregs (xos/libos.h, UserRegister), plus the entry kind. libos (xos_syscall_frame)
 * runs the syscall on that stack. When the way back has work (signal delivery, rt_sigreturn,
 * an FPU state to load, the process exiting), libos may rewrite the frame and leaves through
 * xos_user_return, which loads all of it back; otherwise (the common case) xos_syscall_frame
 * returns, having changed only the result, and xos_syscall_fast_return loads just what the C
 * call may have clobbered. Already on the kernel stack (libos calling itself) or
 * before threads exist: the frame is built where the stack is. */
.macro SYSCALL_ENTRY kind
    lea -128(%rsp), %rsp            /* the caller's red zone */
    push %rcx
    push %r11
    pushfq                          /* restored once on the kernel stack */
    cmpb $0, xos_smp_active(%rip)
    je 3f
    XOS_IRQ_OFF                     /* this CPU's kernel stack: the flow may not move meanwhile */
3:
    XOS_CPU_PTR %r11, %r11d, %rcx   /* big_lock.h */
    mov XOS_CPU_KERNEL_STACK_TOP(%r11), %rcx
    test %rcx, %rcx
    jz 2f
    sub %rsp, %rcx
    cmp XOS_CPU_KERNEL_STACK_SIZE(%r11), %rcx
    jb 2f                           /* already on the kernel stack */
    mov XOS_CPU_KERNEL_STACK_TOP(%r11), %rcx
    mov %rsp, %r11                  /* -> the entry's RFLAGS, the caller's, its return address */
    mov %rcx, %rsp
    jmp 1f
2:  mov %rsp, %r11
1:
    push $\kind                     /* [23] entry kind (XOS_ENTRY_*) */
    push $0                         /* [22] cr2 */
    push $0                         /* [21] oldmask */
    push $0                         /* [20] trapno */
    push $0                         /* [19] err */
    push $0                         /* [18] csgsfs */
    push 8(%r11)                    /* [17] eflags */
    push 16(%r11)                   /* [16] rip */
    lea 152(%r11), %rcx
    push %rcx                       /* [15] rsp: the caller's */
    push 16(%r11)                   /* [14] rcx, as the syscall instruction leaves it */
    push %rax                       /* [13] */
    push %rdx
    push %rbx
    push %rbp
    push %rsi
    push %rdi
    push %r15
    push %r14
    push %r13
    push %r12
    push 8(%r11)                    /* [3] r11, as the syscall instruction leaves it */
    push %r10
    push %r9
    push %r8                        /* [0] */
    mov %rsp, %rbp
    pushq 0(%r11)                   /* the entry's interrupt flag again */
    popfq
    and $-16, %rsp
    mov %rbp, %rdi
    cld
    call xos_syscall_frame          /* returns only if the fast return below will do */
    jmp xos_syscall_fast_return
.endm

    .globl xos_syscall_entry
    .type xos_syscall_entry, @function
xos_syscall_entry:
    SYSCALL_ENTRY 0
    .size xos_syscall_entry, . - xos_syscall_entry

/* The common way back from xos_syscall_frame: %rbp -> the frame, which holds the app's
 * registers but for %rax = the result; the callee-saved %rbx and %r12-%r15 are the app's
 * already (the C call kept them), and the FPU state is live. Loads the caller-saved ones,
 * %rcx = the return address, %r11 and RFLAGS as saved (the caller's flags, exactly as Linux's
 * sysret leaves them; popfq also restores IF, which the VM's trap path may have cleared, and
 * DF), then the caller's %rsp and %rbp, and jumps. Nothing is written below the caller's stack. */
    .type xos_syscall_fast_return, @function
xos_syscall_fast_return:
    mov %rbp, %rsp
    mov 0*8(%rbp), %r8
    mov 1*8(%rbp), %r9
    mov 2*8(%rbp), %r10
    mov 3*8(%rbp), %r11
    mov 8*8(%rbp), %rdi
    mov 9*8(%rbp), %rsi
    mov 12*8(%rbp), %rdx
    mov 13*8(%rbp), %rax
    mov 16*8(%rbp), %rcx            /* %rip: also %rcx, as the syscall instruction leaves it */
    pushq 17*8(%rbp)
    popfq
    mov 15*8(%rbp), %rsp            /* mov: leaves the restored flags alone */
    mov 10*8(%rbp), %rbp
    jmp *%rcx
    .size xos_syscall_fast_return, . - xos_syscall_fast_return

/* long xos_syscall(long n, long a1, long a2, long a3, long a4, long a5, long a6): the same
 * entry as a SysV function call (a linked program's musl). Returns like `ret` (%rsp 8 above
 * the return address), with the callee-saved registers as they were. */
    .globl xos_syscall
    .type xos_syscall, @function
xos_syscall:
    mov %rdi, %rax
    mov %rsi, %rdi
    mov %rdx, %rsi
    mov %rcx, %rdx
    mov %r8, %r10
    mov %r9, %r8
    mov 8(%rsp), %r9
    pop %rcx                        /* the return address; %rsp is now the caller's */
    pushfq
    pop %r11
    SYSCALL_ENTRY 1
    .size xos_syscall, . - xos_syscall

/* A syscall restarted after a signal (SA_RESTART) from a site that is not a `syscall`
 * instruction (a trampoline, a function call): the signal frame's registers resume here with
 * %rax = the number, %rcx = the return address and %r11 = RFLAGS, as at the first entry. */
    .globl xos_syscall_restart
    .type xos_syscall_restart, @function
xos_syscall_restart:
    jmp xos_syscall_entry
    .size xos_syscall_restart, . - xos_syscall_restart

/* [[noreturn]] void xos_user_return(const uint64_t* regs, const uint8_t* fpu)
 * Loads every register of `regs` (the frame above: Linux's gregs order) and continues at its
 * %rip with its %rsp and RFLAGS; first the FPU/SIMD state from `fpu` (Linux's signal-frame
 * format, 64-byte aligned, checked by libos) unless null. The last four values pass through
 * 160 bytes below the target %rsp (beneath its red zone), which is how %rsp, %rip and the flags
 * change together without a privilege change. */
    .globl xos_user_return
    .type xos_user_return, @function
xos_user_return:
    BIG_LOCK_DROP                   /* popfq below restores the target's IF */
    mov %rdi, %rsp
    test %rsi, %rsi
    jz 1f
    mov %rsi, %rdi
    call xos_fpu_restore_user
1:
    mov 15*8(%rsp), %rax            /* the target %rsp */
    lea -160(%rax), %rax
    mov 14*8(%rsp), %rcx
    mov %rcx, 0(%rax)               /* %rcx */
    mov 3*8(%rsp), %rcx
    mov %rcx, 8(%rax)               /* %r11 */
    mov 17*8(%rsp), %rcx
    mov %rcx, 16(%rax)              /* RFLAGS */
    mov 16*8(%rsp), %rcx
    mov %rcx, 24(%rax)              /* %rip */
    mov %rax, 18*8(%rsp)            /* [18]: not where the four go, even in a nested frame */
    pop %r8
    pop %r9
    pop %r10
    add $8, %rsp                    /* r11: below */
    pop %r12
    pop %r13
    pop %r14
    pop %r15
    pop %rdi
    pop %rsi
    pop %rbp
    pop %rbx
    pop %rdx
    pop %rax
    mov 4*8(%rsp), %rsp             /* [18]: the four values beneath the target stack */
    pop %rcx
    pop %r11
    popfq
    lea 136(%rsp), %rsp             /* lea: leaves the flags alone; %rsp = the target */
    jmp *-136(%rsp)
    .size xos_user_return, . - xos_user_return

/* [[noreturn]] void xos_resume_clone(const uint64_t* frame, uintptr_t stack_pointer)
 * A thread made by a `syscall` clone starts here: the parent's registers from `frame` (as
 * xos_syscall_frame passed them to clone_from_syscall), %rsp = the new stack, %rax = 0, at the instruction after the syscall. */
    .globl xos_resume_clone
    .type xos_resume_clone, @function
xos_resume_clone:
    BIG_LOCK_DROP                   /* popfq below restores the parent's flags */
    mov 0(%rdi), %r15
    mov 8(%rdi), %r14
    mov 16(%rdi), %r13
    mov 24(%rdi), %r12
    mov 32(%rdi), %rbp
    mov 40(%rdi), %rbx
    mov 48(%rdi), %r9
    mov 56(%rdi), %r8
    mov 64(%rdi), %r10
    mov 72(%rdi), %rdx
    mov 96(%rdi), %r11
    mov 104(%rdi), %rcx
    mov %rsi, %rsp
    push %r11
    popfq
    mov 80(%rdi), %rsi
    mov 88(%rdi), %rdi
    mov $0, %eax                    /* mov: leaves the restored flags alone */
    jmp *%rcx
    .size xos_resume_clone, . - xos_resume_clone

/* The trap path of a `syscall` instruction, in front of xos_syscall_entry (entry64.S): MSR_LSTAR
 * points here on the VM, and the hosted SIGSYS handler resumes here (hosted/signals.cpp). It
 * gives libos's syscall-site rewriter (libos/rewrite) the site, `syscall` being 2 bytes before
 * %rcx, then runs the syscall exactly as before. A site the rewriter patched no longer traps:
 * its per-site trampoline enters xos_syscall_entry directly. Registers, flags and the 128-byte
 * red zone below the caller's %rsp are left as they were on entry, except %rcx, the syscall's
 * return address, which the rewriter may redirect (xos_rewrite_trap's result). */
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
    cmpb $0, xos_smp_active(%rip)
    je 1f
    XOS_IRQ_OFF                     /* popfq below restores the caller's IF */
    BIG_LOCK_ENTER
    mov 104(%rbp), %rcx
    mov 112(%rbp), %rax
1:
    and $-16, %rsp
    mov %rcx, %rdi                  /* the address after the `syscall` instruction */
    mov %rax, %rsi                  /* the syscall number */
    mov %rbp, %rdx                  /* the registers saved above, from %rbp up */
    cld
    call xos_rewrite_trap
    mov %rax, 104(%rbp)              /* the saved %rcx: where the syscall returns (the site's
                                       trampoline tail if the rewriter moved what follows it) */
    cmpb $0, xos_smp_active(%rip)
    je 1f
    XOS_IRQ_OFF
    BIG_LOCK_LEAVE
1:
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


/* xos_fpu_restore_user(fpu): the FPU/SIMD state from Linux's signal-frame format (an FXSAVE
 * image, followed by an XSAVE header and the extended state when the CPU has XSAVE; libos
 * checked and sanitised it, so XRSTOR cannot fault). Clobbers %rax and %rdx. */
    .globl xos_fpu_restore_user
    .type xos_fpu_restore_user, @function
xos_fpu_restore_user:
    cmpb $0, xos_user_fpu_xsave(%rip)
    je 1f
    mov xos_user_fpu_features(%rip), %eax
    mov xos_user_fpu_features+4(%rip), %edx
    xrstor64 (%rdi)
    ret
1:  fxrstor64 (%rdi)
    ret
    .size xos_fpu_restore_user, . - xos_fpu_restore_user

    .globl xos_user_entry_end
xos_user_entry_end:

/* The CPU lookup of big_lock.h, filled in by smp.cpp when application processors start. */
    .bss
    .globl xos_cpu_index_rdpid, xos_apic_to_cpu
xos_cpu_index_rdpid: .byte 0
xos_apic_to_cpu: .skip 256

    .section .note.GNU-stack, "", @progbits
