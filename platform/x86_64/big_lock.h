/* "This CPU" and the big libos lock in the entry code (docs/locking.md), for entry64.S and
 * trap_entry.S. The entries no longer take the big lock (libos takes it on demand: the syscall
 * dispatcher, the fault path, sched::BigLockScope); the ways back to app code give it back if
 * this CPU still holds it (BIG_LOCK_DROP); the syscall rewriter's trap takes a level of it around
 * the rewriter (BIG_LOCK_ENTER/LEAVE). Nothing happens while xos_smp_active is 0 (one CPU):
 * the one-CPU paths pay a compare. A hosted image's vCPUs (host threads) use the same code with
 * their own CPU lookup, interrupt flag and waits (platform/hosted/entry_cpu.inc, big_lock.S).
 * The layout of struct XosCpu (xos/libos.h) is repeated here. */
#pragma once

#define XOS_CPU_KERNEL_STACK_TOP 0
#define XOS_CPU_KERNEL_STACK_SIZE 8
#define XOS_CPU_FPU_AREA 16
#define XOS_CPU_INDEX 24
#define XOS_CPU_FLUSH_REQUEST 28
#define XOS_CPU_LOCK_WAIT_TICKET 32
#define XOS_CPU_LOCK_HALTED 36
#define XOS_CPU_APIC_ID 37
#define XOS_CPU_LOCK_WAITS 40
#define XOS_CPU_LOCK_HALTS 48
#define XOS_CPU_SPIN_WAIT_WORD 56
#define XOS_CPU_SHIFT 6 /* sizeof(XosCpu) == 64 */
#define XOS_LAPIC_ID_VIRT 0xffff8000fee00020 /* the direct map's view of the local APIC's ID register */

/* \reg = &xos_cpus[this CPU's index]; clobbers \scratch. The index comes from RDPID (TSC_AUX,
 * set per CPU at bring-up) when the CPU has it, else from the local APIC's ID; 0 with one CPU.
 * The answer holds as long as the flow cannot move to another CPU (interrupts off). */
.macro XOS_CPU_PTR reg, reg32, scratch
    cmpb $0, xos_smp_active(%rip)
    jne .Lsmp\@
    xor \reg32, \reg32
    jmp .Lhave\@
.Lsmp\@:
    cmpb $0, xos_cpu_index_rdpid(%rip)
    je .Lapic\@
    rdpid \reg
    jmp .Lhave\@
.Lapic\@:
    movabs $XOS_LAPIC_ID_VIRT, \reg
    mov (\reg), \reg32
    shr $24, \reg32
    lea xos_apic_to_cpu(%rip), \scratch
    movzbl (\scratch, \reg), \reg32
.Lhave\@:
    shl $XOS_CPU_SHIFT, \reg
    lea xos_cpus(%rip), \scratch
    add \scratch, \reg
.endm

/* Interrupts off (cli), and what the hosted platform does when a vCPU asks for the lock and when
 * it holds it afresh: nothing on the VM. platform/hosted/entry_cpu.inc redefines these. */
.macro XOS_IRQ_OFF
    cli
.endm
.macro XOS_LOCK_ASKING
.endm
.macro XOS_LOCK_TAKEN
.endm

/* Takes the big lock (or one more level of it): a ticket lock, so CPUs get it in the order
 * they asked (a CPU looping over syscalls cannot starve the others). Interrupts must be off.
 * Clobbers %rax, %rcx, %r11 and the flags. Not our turn yet: xos_big_lock_wait (big_lock.S)
 * spins a bounded time, then halts until the releaser kicks this CPU, and answers TLB
 * shootdown requests meanwhile (the holder may be waiting for this CPU to). The stack must be
 * usable (it calls). */
.macro BIG_LOCK_ENTER
    cmpb $0, xos_smp_active(%rip)
    je .Ldone\@
    XOS_CPU_PTR %rcx, %ecx, %r11
    mov XOS_CPU_INDEX(%rcx), %r11d
    inc %r11d
    cmp %r11d, xos_big_lock_owner(%rip)
    je .Lnested\@
    XOS_LOCK_ASKING
    mov $1, %eax
    lock xadd %eax, xos_big_lock_next(%rip)
    cmp %eax, xos_big_lock_serving(%rip)
    je .Lgot\@
    call xos_big_lock_wait          /* %eax = the ticket, %rcx = this CPU; keeps both */
.Lgot\@:
    mov %r11d, xos_big_lock_owner(%rip)
    XOS_LOCK_TAKEN
.Lnested\@:
    incl xos_big_lock_depth(%rip)
.Ldone\@:
.endm

/* The next ticket's turn, after the holder gave the lock up: the locked increment orders it
 * before the read of xos_big_lock_sleepers (a waiter that halts sets its flag, then reads
 * xos_big_lock_serving), and a halted waiter gets its kick. Clobbers the flags. */
.macro BIG_LOCK_PASS
    lock incl xos_big_lock_serving(%rip)  /* only the holder writes it: the next ticket's turn */
    cmpl $0, xos_big_lock_sleepers(%rip)
    je .Lpassed\@
    call xos_big_lock_kick          /* keeps every register */
.Lpassed\@:
.endm

/* Gives one level back; the last one frees the lock. Interrupts must be off. Clobbers the flags. */
.macro BIG_LOCK_LEAVE
    cmpb $0, xos_smp_active(%rip)
    je .Ldone\@
    decl xos_big_lock_depth(%rip)
    jnz .Ldone\@
    movl $0, xos_big_lock_owner(%rip)
    BIG_LOCK_PASS
.Ldone\@:
.endm

/* Gives the lock back entirely if this CPU holds it: on the way to app code from libos (a new
 * thread's start, a signal frame, a cloned thread, a syscall's slow return). Turns interrupts
 * off (only with several CPUs: the hosted platform runs in ring 3, where cli faults); the way
 * out restores the app's flags. Clobbers the flags only; the stack must be usable. */
.macro BIG_LOCK_DROP
    cmpb $0, xos_smp_active(%rip)
    je .Ldone\@
    XOS_IRQ_OFF
    push %rcx
    push %r11
    XOS_CPU_PTR %rcx, %ecx, %r11
    mov XOS_CPU_INDEX(%rcx), %r11d
    inc %r11d
    cmp %r11d, xos_big_lock_owner(%rip)
    pop %r11                        /* pop: leaves the flags alone */
    pop %rcx
    jne .Ldone\@
    movl $0, xos_big_lock_depth(%rip)
    movl $0, xos_big_lock_owner(%rip)
    BIG_LOCK_PASS
.Ldone\@:
.endm

#ifdef XOS_HOSTED_ENTRY
#include "hosted/entry_cpu.inc"
#endif
