/* Interrupt and exception entry stubs. Every vector enters on an IST stack (see gdt_idt.cpp),
 * so the red zone of the interrupted code (app code is compiled for user space and uses it)
 * is never overwritten. Each stub pushes an error code (0 when the CPU pushes none) and the
 * vector number, then joins the common path that saves the registers as a TrapFrame. */

#include "big_lock.h"

    .text
.macro TRAP_STUB vector, has_error_code
    .balign 16
xos_trap_stub_\vector:
    .if \has_error_code == 0
    pushq $0
    .endif
    pushq $\vector
    jmp xos_trap_common
.endm

.irp v, 0,1,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
    TRAP_STUB \v, 0
.endr
.irp v, 8,10,11,12,13,14,17,21,29,30
    TRAP_STUB \v, 1
.endr
.irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191,192,193,194,195,196,197,198,199,200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223,224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255
    TRAP_STUB \v, 0
.endr

/* NMI: only ever a big-lock kick (big_lock.S), which returns at once. */
    .balign 16
xos_trap_stub_2:
    jmp xos_big_lock_nmi

    .balign 16
xos_trap_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    /* No big lock here (docs/locking.md): the handlers take it where they need it. Interrupts
     * are off (interrupt gates), so "this CPU" holds. The interrupted flow's FPU/SIMD state goes
     * into its thread's area before any C++ code (which may use SSE) runs; the handler may
     * switch threads, so the area restored on the way out is whichever is current then. */
    XOS_CPU_PTR %rdi, %edi, %rax    /* big_lock.h */
    mov XOS_CPU_FPU_AREA(%rdi), %rdi
    call xos_fpu_save
    mov %rsp, %rdi
    cld
    call xos_x86_trap
    XOS_CPU_PTR %rdi, %edi, %rax
    mov XOS_CPU_FPU_AREA(%rdi), %rdi
    call xos_fpu_restore
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp                   /* vector and error code */
    iretq

/* xos_fpu_save(area) / xos_fpu_restore(area): XSAVE/XRSTOR of every enabled component when
 * the CPU has XSAVE, FXSAVE/FXRSTOR otherwise. Clobber only %rax and %rdx. */
    .globl xos_fpu_save
xos_fpu_save:
    cmpb $0, xos_fpu_uses_xsave(%rip)
    je 1f
    mov $-1, %eax
    mov $-1, %edx
    xsave64 (%rdi)
    ret
1:  fxsave64 (%rdi)
    ret

    .globl xos_fpu_restore
xos_fpu_restore:
    cmpb $0, xos_fpu_uses_xsave(%rip)
    je 1f
    mov $-1, %eax
    mov $-1, %edx
    xrstor64 (%rdi)
    ret
1:  fxrstor64 (%rdi)
    ret

/* New threads start here (see context.cpp): %r12 = entry, %r13/%r14 = its two arguments. */
    .globl xos_thread_trampoline
xos_thread_trampoline:
    mov %r13, %rdi
    mov %r14, %rsi
    xor %ebp, %ebp
    call *%r12
    ud2

    /* Table of the 256 stub addresses, used by gdt_idt.cpp to build the IDT. */
    .section .rodata
    .balign 8
    .globl xos_trap_stubs
xos_trap_stubs:
.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139,140,141,142,143,144,145,146,147,148,149,150,151,152,153,154,155,156,157,158,159,160,161,162,163,164,165,166,167,168,169,170,171,172,173,174,175,176,177,178,179,180,181,182,183,184,185,186,187,188,189,190,191,192,193,194,195,196,197,198,199,200,201,202,203,204,205,206,207,208,209,210,211,212,213,214,215,216,217,218,219,220,221,222,223,224,225,226,227,228,229,230,231,232,233,234,235,236,237,238,239,240,241,242,243,244,245,246,247,248,249,250,251,252,253,254,255
    .quad xos_trap_stub_\v
.endr
