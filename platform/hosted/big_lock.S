/* The big lock's slow paths (x86_64/big_lock.h) on hosted, where each vCPU is a host thread
 * (vcpu.cpp, docs/hosted.md): a waiter spins briefly, then sleeps in a host futex wait on
 * xos_big_lock_serving (FUTEX_WAIT_PRIVATE with the value it saw: a pass in between makes the
 * wait return at once); the vCPU passing the lock wakes the sleepers (FUTEX_WAKE_PRIVATE), each
 * of which checks whether its ticket is served now. While it waits, XosCpu::lock_halted is set:
 * the platform's signal handlers hold a timer tick or an IPI back then (signals.cpp), as the
 * VM's waiter does with interrupts off. */

#include "x86_64/big_lock.h"

#define SYS_FUTEX 202
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
#define SPIN_ROUNDS 256

    .text
/* Everything from here to xos_hosted_lock_code_end runs while the vCPU holds a ticket it is not
 * served yet (or the lock at depth 0): the signal handlers hold interrupts back there
 * (signals.cpp), or they would take a second ticket behind the first. */
    .globl xos_hosted_lock_code_begin
xos_hosted_lock_code_begin:
/* %eax = the ticket, %rcx = this CPU's XosCpu; keeps every register but the flags. */
    .globl xos_big_lock_wait
    .type xos_big_lock_wait, @function
xos_big_lock_wait:
    movb $1, XOS_CPU_LOCK_HALTED(%rcx)
    push %rdx
    mov $SPIN_ROUNDS, %edx
1:  cmp %eax, xos_big_lock_serving(%rip)
    je 4f
    pause
    dec %edx
    jnz 1b
    push %rax
    push %rcx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %rbx
    mov %eax, %ebx
    lock incl xos_big_lock_sleepers(%rip)
2:  mov xos_big_lock_serving(%rip), %ecx
    cmp %ebx, %ecx
    je 3f
    mov $SYS_FUTEX, %edi            /* futex(&serving, FUTEX_WAIT_PRIVATE, the value seen, NULL) */
    lea xos_big_lock_serving(%rip), %rsi
    mov $FUTEX_WAIT_PRIVATE, %edx
    xor %r8d, %r8d
    xor %r9d, %r9d
    call xos_host_syscall
    jmp 2b
3:  lock decl xos_big_lock_sleepers(%rip)
    pop %rbx
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rcx
    pop %rax
4:  pop %rdx
    movb $0, XOS_CPU_LOCK_HALTED(%rcx)
    ret
    .size xos_big_lock_wait, . - xos_big_lock_wait

/* void xos_big_lock_wait_c(uint32_t ticket, XosCpu* cpu) */
    .globl xos_big_lock_wait_c
    .type xos_big_lock_wait_c, @function
xos_big_lock_wait_c:
    mov %edi, %eax
    mov %rsi, %rcx
    jmp xos_big_lock_wait
    .size xos_big_lock_wait_c, . - xos_big_lock_wait_c

/* void xos_hosted_lock_wait(uint32_t ticket, XosCpu* cpu): platform::big_lock_wait, the C
 * callers' wait (libos's BigLockScope, on the app's stack in a function-call entry): the same
 * steps as BIG_LOCK_ENTER's, on the vCPU's entry stack until its space is mapped again. */
    .globl xos_hosted_lock_wait
    .type xos_hosted_lock_wait, @function
xos_hosted_lock_wait:
    mov %edi, %eax
    mov %rsi, %rcx
    XOS_LOCK_ASKING
    cmp %eax, xos_big_lock_serving(%rip)
    je 1f
    call xos_big_lock_wait
1:  XOS_LOCK_TAKEN
    ret
    .size xos_hosted_lock_wait, . - xos_hosted_lock_wait

    .globl xos_hosted_lock_code_end
xos_hosted_lock_code_end:

/* After the serving word moved on with sleepers counted: wakes them all (each checks its own
 * ticket; at most XOS_MAX_CPUS - 1 sleep). Keeps every register but the flags. */
    .globl xos_big_lock_kick
    .type xos_big_lock_kick, @function
xos_big_lock_kick:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    mov $SYS_FUTEX, %edi
    lea xos_big_lock_serving(%rip), %rsi
    mov $FUTEX_WAKE_PRIVATE, %edx
    mov $0x7fffffff, %ecx
    xor %r8d, %r8d
    xor %r9d, %r9d
    call xos_host_syscall
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    ret
    .size xos_big_lock_kick, . - xos_big_lock_kick

/* XOS_LOCK_TAKEN's slow path (big_lock.h): the host maps another process's app pages than this
 * vCPU's; vcpu.cpp maps its own again. Keeps every register (and the SSE ones) and the flags. */
    .globl xos_hosted_space_fixup
    .type xos_hosted_space_fixup, @function
xos_hosted_space_fixup:
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
    mov %rsp, %rbp
    sub $256, %rsp
    and $-16, %rsp
    movdqa %xmm0, 0(%rsp)
    movdqa %xmm1, 16(%rsp)
    movdqa %xmm2, 32(%rsp)
    movdqa %xmm3, 48(%rsp)
    movdqa %xmm4, 64(%rsp)
    movdqa %xmm5, 80(%rsp)
    movdqa %xmm6, 96(%rsp)
    movdqa %xmm7, 112(%rsp)
    movdqa %xmm8, 128(%rsp)
    movdqa %xmm9, 144(%rsp)
    movdqa %xmm10, 160(%rsp)
    movdqa %xmm11, 176(%rsp)
    movdqa %xmm12, 192(%rsp)
    movdqa %xmm13, 208(%rsp)
    movdqa %xmm14, 224(%rsp)
    movdqa %xmm15, 240(%rsp)
    cld
    call xos_hosted_space_fixup_c
    movdqa 0(%rsp), %xmm0
    movdqa 16(%rsp), %xmm1
    movdqa 32(%rsp), %xmm2
    movdqa 48(%rsp), %xmm3
    movdqa 64(%rsp), %xmm4
    movdqa 80(%rsp), %xmm5
    movdqa 96(%rsp), %xmm6
    movdqa 112(%rsp), %xmm7
    movdqa 128(%rsp), %xmm8
    movdqa 144(%rsp), %xmm9
    movdqa 160(%rsp), %xmm10
    movdqa 176(%rsp), %xmm11
    movdqa 192(%rsp), %xmm12
    movdqa 208(%rsp), %xmm13
    movdqa 224(%rsp), %xmm14
    movdqa 240(%rsp), %xmm15
    mov %rbp, %rsp
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
    ret
    .size xos_hosted_space_fixup, . - xos_hosted_space_fixup

    .data
    .balign 4
    .globl xos_big_lock_sleepers
xos_big_lock_sleepers: .long 0

    .section .note.GNU-stack,"",@progbits
