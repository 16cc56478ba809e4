/* The big lock's slow paths (x86_64/big_lock.h) on hosted, where one host thread runs libos
 * and xos_smp_active stays 0: the entry code never calls them. A plain spin, so that the
 * shared entry code links. */

#include "x86_64/big_lock.h"

    .text
    .globl xos_big_lock_wait
    .type xos_big_lock_wait, @function
xos_big_lock_wait:
1:  pause
    cmp %eax, xos_big_lock_serving(%rip)
    jne 1b
    ret
    .size xos_big_lock_wait, . - xos_big_lock_wait

    .globl xos_big_lock_wait_c
    .type xos_big_lock_wait_c, @function
xos_big_lock_wait_c:
    mov %edi, %eax
    jmp xos_big_lock_wait
    .size xos_big_lock_wait_c, . - xos_big_lock_wait_c

    .globl xos_big_lock_kick
    .type xos_big_lock_kick, @function
xos_big_lock_kick:
    ret
    .size xos_big_lock_kick, . - xos_big_lock_kick

    .data
    .balign 4
    .globl xos_big_lock_sleepers
xos_big_lock_sleepers: .long 0

    .section .note.GNU-stack,"",@progbits
