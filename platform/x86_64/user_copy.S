/* The one routine through which libos moves bytes to or from application memory, made
 * fault-safe with an exception table (as Linux's copy_user and Zircon's _x86_copy_to_or_from_user):
 * each entry names an instruction that may fault on an app address and where to continue if
 * that fault cannot be resolved. The trap handler (traps.cpp on the VM, the SIGSEGV handler on
 * hosted) first lets demand paging resolve the fault; only an unresolvable one jumps to the
 * fixup, which returns the number of bytes not copied. No check per byte: string moves for
 * 256 bytes and more; below that (a `rep movs` costs more to start than a short copy takes, and
 * syscall structures are short: a timespec, a struct stat) 64-byte blocks of 16-byte moves,
 * then 16, 8 and 1-byte moves. */
    .text

/* size_t xos::platform::copy_user(void* to, const void* from, size_t size) (platform.h): 0, or
 * the bytes not copied. Defined here under its C++ name, so that a user copy is one call. */
    .globl xos_copy_user
    .globl _ZN3xos8platform9copy_userEPvPKvm
    .type xos_copy_user, @function
    .type _ZN3xos8platform9copy_userEPvPKvm, @function
_ZN3xos8platform9copy_userEPvPKvm:
xos_copy_user:
    cmp $256, %rdx
    jae .Lstring
    /* Below 256 bytes %rdx is what is left to copy, lowered after each move completes. */
    cmp $64, %rdx
    jb .Lunder64
.Lblock64:
10: movdqu (%rsi), %xmm0
11: movdqu 16(%rsi), %xmm1
12: movdqu 32(%rsi), %xmm2
13: movdqu 48(%rsi), %xmm3
14: movdqu %xmm0, (%rdi)
15: movdqu %xmm1, 16(%rdi)
16: movdqu %xmm2, 32(%rdi)
17: movdqu %xmm3, 48(%rdi)
    add $64, %rsi
    add $64, %rdi
    sub $64, %rdx
    cmp $64, %rdx
    jae .Lblock64
.Lunder64:
    cmp $16, %rdx
    jb .Lunder16
.Lblock16:
18: movdqu (%rsi), %xmm0
19: movdqu %xmm0, (%rdi)
    add $16, %rsi
    add $16, %rdi
    sub $16, %rdx
    cmp $16, %rdx
    jae .Lblock16
.Lunder16:
    cmp $8, %rdx
    jb .Lunder8
20: mov (%rsi), %rax
21: mov %rax, (%rdi)
    add $8, %rsi
    add $8, %rdi
    sub $8, %rdx
.Lunder8:
    test %rdx, %rdx
    jz .Ldone
.Lbyte:
22: movb (%rsi), %al
23: movb %al, (%rdi)
    inc %rsi
    inc %rdi
    dec %rdx
    jnz .Lbyte
.Ldone:
    xor %eax, %eax
    ret
.Lstring:
    mov %rdx, %rcx
    shr $3, %rcx
    and $7, %edx
1:  rep movsq
    mov %edx, %ecx
2:  rep movsb
    xor %eax, %eax
    ret
    /* Fixups: the bytes left when the instruction faulted. */
3:  lea (%rdx, %rcx, 8), %rax   /* rep movsq: the quadwords left, and the tail */
    ret
4:  mov %rcx, %rax              /* rep movsb */
    ret
5:  mov %rdx, %rax              /* the short moves (a 64-byte block counts as not copied) */
    ret
    .size xos_copy_user, . - xos_copy_user
    .size _ZN3xos8platform9copy_userEPvPKvm, . - xos_copy_user

    .section .xos_extable, "a"
    .balign 8
    .quad 1b, 3b
    .quad 2b, 4b
    .quad 10b, 5b
    .quad 11b, 5b
    .quad 12b, 5b
    .quad 13b, 5b
    .quad 14b, 5b
    .quad 15b, 5b
    .quad 16b, 5b
    .quad 17b, 5b
    .quad 18b, 5b
    .quad 19b, 5b
    .quad 20b, 5b
    .quad 21b, 5b
    .quad 22b, 5b
    .quad 23b, 5b
