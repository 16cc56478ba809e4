/* The big lock's slow paths on the VM (docs/locking.md, "Waiting for the big lock"): a CPU whose
 * ticket is not served yet spins a bounded time, then halts until the CPU that passes the lock
 * to its ticket kicks it with an NMI. With more vCPUs than host CPUs a spinning waiter only
 * takes host time from the vCPU whose turn it is; a halted one gives it back. FIFO order is the
 * ticket lock's: the releaser kicks only the waiter whose ticket is now served.
 *
 * The kick is an NMI because the waiter waits with interrupts off (it is on its way into libos,
 * often from an interrupt: an ordinary interrupt would enter libos again and take a second
 * ticket). An NMI wakes `hlt` whatever IF says; its handler (xos_big_lock_nmi, vector 2) only
 * returns, and steps over the `hlt` when the NMI arrived between the waiter's last check and
 * the `hlt` (the kick would otherwise be lost). Spin waits (spinlocks: xos_spin_wait below) halt
 * and are kicked the same way. xos uses NMIs for nothing else. A TLB shootdown of a halted waiter
 * gets an NMI too (smp.cpp's send_ipi): the waiter answers it and halts again. */

#include "big_lock.h"

#define XOS_MAX_CPUS 16
#define LAPIC_ICR_LOW_VIRT 0xffff8000fee00300
#define LAPIC_ICR_HIGH_VIRT 0xffff8000fee00310
#define ICR_NMI 0x4400                  /* delivery mode NMI, level assert */
#define ICR_PENDING 0x1000
#define SPIN_ROUNDS 256                 /* before halting: a handover in progress is quicker */

    .text

/* %eax = this CPU's ticket, %rcx = &xos_cpus[this CPU], interrupts off, not holding the lock.
 * Returns once xos_big_lock_serving == %eax (the caller then owns the lock). Keeps every
 * register but the flags.
 *
 * The spin is short and has no `pause`: under QEMU's multi-threaded TCG each `pause` leaves the
 * vCPU's translated code and takes QEMU's global lock on the way back in, the lock the holder's
 * vCPU needs for its MMIO (local APIC, virtio) and QEMU's I/O thread for the NIC's backend; a
 * waiter pausing 4096 times made the holder crawl (apps/httpd with 2 vCPUs: 203 req/s, against
 * 2,035 with one; without the pause 2,861, and 3,695 with 256 rounds: bench/README.md, "apps/httpd
 * with 2 vCPUs"). A longer spin (65536 rounds: 556 req/s) only took host time from the holder on
 * a host with no core to spare. */
    .globl xos_big_lock_wait
    .type xos_big_lock_wait, @function
xos_big_lock_wait:
    push %rdx
    incq XOS_CPU_LOCK_WAITS(%rcx)   /* /proc/xos/cpus: only this CPU writes its own */
    mov $SPIN_ROUNDS, %edx
1:  cmp %eax, xos_big_lock_serving(%rip)
    je .Lwait_done
    cmpl $0, XOS_CPU_FLUSH_REQUEST(%rcx)
    je 2f
    call answer_flush
2:  dec %edx
    jnz 1b
    /* Halt: publish the ticket, count this CPU among the sleepers, then (each round) set the
     * halted flag (xchg: a full barrier, so the releaser that reads the flag as 0 advanced
     * xos_big_lock_serving before we read it below) and check once more. */
    mov %eax, XOS_CPU_LOCK_WAIT_TICKET(%rcx)
    lock incl xos_big_lock_sleepers(%rip)
3:  mov $1, %dl
    xchg %dl, XOS_CPU_LOCK_HALTED(%rcx)
    .globl xos_big_lock_halt_window
xos_big_lock_halt_window:               /* an NMI from here to the hlt skips the hlt */
    cmp %eax, xos_big_lock_serving(%rip)
    je 4f
    cmpl $0, XOS_CPU_FLUSH_REQUEST(%rcx)
    jne 5f
    .globl xos_big_lock_halt
xos_big_lock_halt:
    hlt
    .globl xos_big_lock_halt_end
xos_big_lock_halt_end:
    movb $0, XOS_CPU_LOCK_HALTED(%rcx)
    incq XOS_CPU_LOCK_HALTS(%rcx)
    jmp 3b
5:  movb $0, XOS_CPU_LOCK_HALTED(%rcx)
    call answer_flush
    jmp 3b
4:  movb $0, XOS_CPU_LOCK_HALTED(%rcx)
    lock decl xos_big_lock_sleepers(%rip)
.Lwait_done:
    pop %rdx
    ret
    .size xos_big_lock_wait, . - xos_big_lock_wait

/* A TLB shootdown request for this CPU (%rcx): reload CR3, then clear it. Keeps every register. */
answer_flush:
    push %rax
    mov %cr3, %rax
    mov %rax, %cr3
    pop %rax
    movl $0, XOS_CPU_FLUSH_REQUEST(%rcx)
    ret

/* void xos_big_lock_wait_c(uint32_t ticket, XosCpu* cpu): the same from C++ (the scheduler's
 * big_lock_acquire), interrupts off. */
    .globl xos_big_lock_wait_c
    .type xos_big_lock_wait_c, @function
xos_big_lock_wait_c:
    mov %edi, %eax
    mov %rsi, %rcx
    jmp xos_big_lock_wait
    .size xos_big_lock_wait_c, . - xos_big_lock_wait_c

/* Sends an NMI to the CPU whose XosCpu is at \cpu, once the local APIC's ICR is idle. \icr is
 * a scratch register (the ICR's address); %rax and %edx are clobbered. */
.macro SEND_NMI cpu, icr
    movabs $LAPIC_ICR_LOW_VIRT, \icr
.Licr_busy\@:
    testl $ICR_PENDING, (\icr)
    jz .Licr_idle\@
    pause
    jmp .Licr_busy\@
.Licr_idle\@:
    movzbl XOS_CPU_APIC_ID(\cpu), %edx
    shl $24, %edx
    movabs $LAPIC_ICR_HIGH_VIRT, %rax
    mov %edx, (%rax)
    movl $ICR_NMI, (\icr)
.endm

/* In the NMI handler (%rax: the interrupted %rip, at 16(%rsp)): interrupted from \window to
 * \halt (inclusive), the waiter resumes at \end instead, and the handler goes on at \done.
 * Clobbers %rcx. */
.macro SKIP_HLT_IF_IN window, halt, end, done
    lea \window(%rip), %rcx
    cmp %rcx, %rax
    jb .Lnot_in\@
    lea \halt(%rip), %rcx
    cmp %rcx, %rax
    ja .Lnot_in\@
    lea \end(%rip), %rax
    mov %rax, 16(%rsp)
    jmp \done
.Lnot_in\@:
.endm

/* Called (with interrupts off) by a CPU that just advanced xos_big_lock_serving while
 * xos_big_lock_sleepers was not 0: the CPU halted for the ticket now served, if any, gets an
 * NMI. Keeps every register but the flags; callable from C++ (void xos_big_lock_kick()). */
    .globl xos_big_lock_kick
    .type xos_big_lock_kick, @function
xos_big_lock_kick:
    push %rax
    push %rcx
    push %rdx
    push %rsi
    mov xos_big_lock_serving(%rip), %eax
    lea xos_cpus(%rip), %rcx
    lea (XOS_MAX_CPUS << XOS_CPU_SHIFT)(%rcx), %rsi
1:  cmpb $1, XOS_CPU_LOCK_HALTED(%rcx)  /* halted for the big lock (2: a spin wait) */
    jne 2f
    cmp %eax, XOS_CPU_LOCK_WAIT_TICKET(%rcx)
    jne 2f
    SEND_NMI %rcx, %rsi
    jmp 5f                          /* one ticket, one waiter */
2:  add $(1 << XOS_CPU_SHIFT), %rcx
    cmp %rsi, %rcx
    jb 1b
5:  pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    ret
    .size xos_big_lock_kick, . - xos_big_lock_kick

/* Vector 2 (its own IST stack): an NMI is a big-lock kick (or a TLB shootdown for a halted
 * waiter). Interrupted between xos_big_lock_halt_window and the hlt (inclusive), the waiter
 * resumes after the hlt, so it checks again instead of sleeping through its kick. */
    .globl xos_big_lock_nmi
    .type xos_big_lock_nmi, @function
xos_big_lock_nmi:
    push %rax
    push %rcx
    mov 16(%rsp), %rax              /* the interrupted %rip */
    SKIP_HLT_IF_IN xos_big_lock_halt_window, xos_big_lock_halt, xos_big_lock_halt_end, 1f
    SKIP_HLT_IF_IN xos_spin_halt_window, xos_spin_halt, xos_spin_halt_end, 1f  /* a spin wait's */
1:  pop %rcx
    pop %rax
    iretq
    .size xos_big_lock_nmi, . - xos_big_lock_nmi

/* The halting part of a spin wait (platform::spin_wait in smp.cpp: a spinlock's turn, after a
 * bounded spin), as the big lock's above: void xos_spin_wait(const uint32_t* word, uint32_t value,
 * XosCpu* cpu), interrupts off; returns once *word == value. The CPU publishes the word and the
 * value, counts itself in xos_spin_sleepers, sets its halted flag to 2 (xchg: a full barrier, so a
 * releaser that reads the flag as 0 stored the word before we read it below), checks the word and
 * its flush request once more and halts; the releaser (xos_spin_kick, after its store to the word,
 * itself a full barrier) sends an NMI to the CPU halted for the word's new value. Keeps every
 * register but %rax, %rcx and the flags. */
    .globl xos_spin_wait
    .type xos_spin_wait, @function
xos_spin_wait:
    mov %rdx, %rcx                  /* answer_flush's CPU */
    mov %rdi, XOS_CPU_SPIN_WAIT_WORD(%rcx)
    mov %esi, XOS_CPU_LOCK_WAIT_TICKET(%rcx)
    lock incl xos_spin_sleepers(%rip)
1:  mov $2, %al
    xchg %al, XOS_CPU_LOCK_HALTED(%rcx)
    .globl xos_spin_halt_window
xos_spin_halt_window:                   /* an NMI from here to the hlt skips the hlt */
    cmp %esi, (%rdi)
    je 3f
    cmpl $0, XOS_CPU_FLUSH_REQUEST(%rcx)
    jne 2f
    .globl xos_spin_halt
xos_spin_halt:
    hlt
    .globl xos_spin_halt_end
xos_spin_halt_end:
    movb $0, XOS_CPU_LOCK_HALTED(%rcx)
    jmp 1b
2:  movb $0, XOS_CPU_LOCK_HALTED(%rcx)
    call answer_flush
    jmp 1b
3:  movb $0, XOS_CPU_LOCK_HALTED(%rcx)
    lock decl xos_spin_sleepers(%rip)
    ret
    .size xos_spin_wait, . - xos_spin_wait

/* void xos_spin_kick(const uint32_t* word, uint32_t value): called (interrupts off) after a
 * store of `value` to *word that was a full barrier, while xos_spin_sleepers was not 0: the CPU
 * halted in xos_spin_wait for that word and value, if any, gets an NMI (one value, one waiter: a
 * ticket). Keeps every register but %rax, %rcx, %rdx, %r8 and the flags (a C function). */
    .globl xos_spin_kick
    .type xos_spin_kick, @function
xos_spin_kick:
    lea xos_cpus(%rip), %rcx
    lea (XOS_MAX_CPUS << XOS_CPU_SHIFT)(%rcx), %r8
1:  cmpb $2, XOS_CPU_LOCK_HALTED(%rcx)
    jne 2f
    cmp %rdi, XOS_CPU_SPIN_WAIT_WORD(%rcx)
    jne 2f
    cmp %esi, XOS_CPU_LOCK_WAIT_TICKET(%rcx)
    jne 2f
    SEND_NMI %rcx, %r8
    ret
2:  add $(1 << XOS_CPU_SHIFT), %rcx
    cmp %r8, %rcx
    jb 1b
    ret
    .size xos_spin_kick, . - xos_spin_kick

    .data
    .balign 4
    .globl xos_spin_sleepers
xos_spin_sleepers: .long 0          /* how many CPUs are in the halting part of xos_spin_wait */
    .globl xos_big_lock_sleepers
xos_big_lock_sleepers: .long 0      /* how many CPUs are in the halting part of xos_big_lock_wait */

    .section .note.GNU-stack,"",@progbits
