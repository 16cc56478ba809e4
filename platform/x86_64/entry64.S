/* Long-mode entry points: starting the app, and the trap path for a `syscall` instruction. */
    .text

/* [[noreturn]] void xos_enter_app(void (*entry)(), uintptr_t stack_pointer)
 * Starts a static ELF the way Linux does: %rsp -> argc, %rdx = 0 (no ld.so fini), the other
 * registers cleared. */
    .globl xos_enter_app
    .type xos_enter_app, @function
xos_enter_app:
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

/* Binary compatibility: code that executes a real `syscall` instruction (a prebuilt static
 * library, inline assembly) arrives here through MSR_LSTAR, in ring 0 on the caller's stack.
 * Linux ABI: %rax = number, args in %rdi %rsi %rdx %r10 %r8 %r9; everything but %rax, %rcx
 * and %r11 is preserved; %rcx = return address, %r11 = saved RFLAGS.
 * No stack switch happens, so step over the caller's 128-byte red zone first, and return
 * with `jmp *%rcx` (sysret would drop to ring 3). */
    .globl xos_syscall_entry
    .type xos_syscall_entry, @function
xos_syscall_entry:
    lea -128(%rsp), %rsp
    push %rcx
    push %r11
    push %rdi
    push %rsi
    push %rdx
    push %r10
    push %r8
    push %r9
    push %rbx
    mov %rsp, %rbx
    cmp $56, %rax                   /* SYS_clone, SYS_fork and SYS_vfork return twice: */
    jb 1f                           /* their own path, below */
    cmp $58, %rax
    jbe .Lclone
1:
    and $-16, %rsp
    sub $8, %rsp
    push %r9                        /* a6, 7th C argument */
    mov %r8, %r9                    /* a5 */
    mov %r10, %r8                   /* a4 */
    mov %rdx, %rcx                  /* a3 */
    mov %rsi, %rdx                  /* a2 */
    mov %rdi, %rsi                  /* a1 */
    mov %rax, %rdi                  /* number */
    cld
    call xos_syscall
.Lreturn:
    mov %rbx, %rsp
    pop %rbx
    pop %r9
    pop %r8
    pop %r10
    pop %rdx
    pop %rsi
    pop %rdi
    popfq                           /* the caller's RFLAGS (saved %r11) */
    pop %rcx
    mov -16(%rsp), %r11             /* %r11 = RFLAGS, as after a real sysret */
    lea 128(%rsp), %rsp             /* lea: leaves the restored flags alone */
    jmp *%rcx

/* clone, fork, vfork: the whole register state goes to libos (a new thread or process resumes
 * from a copy of it, xos_resume_clone below), and the number. Frame, upward: r15 r14 r13 r12
 * rbp rbx r9 r8 r10 rdx rsi rdi rflags(r11) rip(rcx); the caller's %rsp was 128 bytes above
 * it. Returns the parent's result in %rax like any syscall. */
.Lclone:
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    mov %rax, %rsi
    and $-16, %rsp
    cld
    call xos_syscall_clone
    jmp .Lreturn
    .size xos_syscall_entry, . - xos_syscall_entry

/* [[noreturn]] void xos_resume_clone(const uint64_t* frame, uintptr_t stack_pointer)
 * A thread made by a `syscall` clone starts here: the parent's registers from `frame` (as
 * .Lclone saved them), %rsp = the new stack, %rax = 0, at the instruction after the syscall. */
    .globl xos_resume_clone
    .type xos_resume_clone, @function
xos_resume_clone:
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

/* long xos_call_clone(long number, long a1, long a2, long a3, long a4, long a5)
 * clone, fork and vfork called as a function (musl's fork() in a program linked into the image
 * reaches xos_syscall with SYS_fork): the same frame as .Lclone, as if the caller had executed
 * a `syscall` instruction at its call: rip = the return address, the caller's %rsp = just above
 * it (128 bytes above the frame's end), its callee-saved registers, and the arguments where the
 * syscall ABI has them (rdi rsi rdx r10 r8). The child resumes after the call with %rax = 0, on
 * a copy-on-write copy of the stack (xos_resume_clone). */
    .globl xos_call_clone
    .type xos_call_clone, @function
xos_call_clone:
    mov (%rsp), %rax                /* the return address */
    lea 8(%rsp), %r11               /* the caller's %rsp after the return */
    lea -128(%r11), %rsp            /* below the caller's stack and red zone, as the trap path */
    push %rax                       /* rip */
    pushfq                          /* rflags */
    push %rsi                       /* rdi: a1 */
    push %rdx                       /* rsi: a2 */
    push %rcx                       /* rdx: a3 */
    push %r8                        /* r10: a4 */
    push %r9                        /* r8: a5 */
    push $0                         /* r9 */
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rdi, %rsi                  /* number */
    mov %rsp, %rdi                  /* frame */
    mov %rsp, %rbx
    and $-16, %rsp
    cld
    call xos_syscall_clone
    mov %rbx, %rsp
    mov 40(%rsp), %rbx              /* the caller's %rbx (the others were preserved by the call) */
    mov 104(%rsp), %rcx             /* rip */
    lea 240(%rsp), %rsp             /* the caller's %rsp: 14 words + 128 above the frame */
    jmp *%rcx
    .size xos_call_clone, . - xos_call_clone
