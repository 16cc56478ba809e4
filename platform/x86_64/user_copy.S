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
    mov %rdx, %rcx
    shr $6, %rcx                /* 64-byte blocks */
    jz .Lsixteens
.Lblocks:
20: movdqu (%rsi), %xmm0
21: movdqu 16(%rsi), %xmm1
22: movdqu 32(%rsi), %xmm2
23: movdqu 48(%rsi), %xmm3
24: movdqu %xmm0, (%rdi)
25: movdqu %xmm1, 16(%rdi)
26: movdqu %xmm2, 32(%rdi)
27: movdqu %xmm3, 48(%rdi)
    add $64, %rsi
    add $64, %rdi
    sub $64, %rdx
    dec %rcx
    jnz .Lblocks
.Lsixteens:
    mov %rdx, %rcx
    shr $4, %rcx                /* 16-byte blocks */
    and $15, %edx               /* and the tail */
    test %rcx, %rcx
    jz .Ltail
.Lblocks16:
10: movdqu (%rsi), %xmm0
11: movdqu %xmm0, (%rdi)
    add $16, %rsi
    add $16, %rdi
    dec %rcx
    jnz .Lblocks16
.Ltail:
    cmp $8, %edx
    jb .Lbytes
12: mov (%rsi), %rax
13: mov %rax, (%rdi)
    add $8, %rsi
    add $8, %rdi
    sub $8, %edx
.Lbytes:
    test %edx, %edx
    jz .Ldone
.Lbyte:
14: movb (%rsi), %al
15: movb %al, (%rdi)
    inc %rsi
    inc %rdi
    dec %edx
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
5:  shl $4, %rcx                /* 16-byte moves: the blocks left, and the tail */
    lea (%rcx, %rdx), %rax
    ret
6:  mov %rdx, %rax              /* the 8-byte move, the byte loop and the 64-byte moves (the */
    ret                         /* whole block counts as not copied): %rdx is what is left */
    .size xos_copy_user, . - xos_copy_user
    .size _ZN3xos8platform9copy_userEPvPKvm, . - xos_copy_user

    .section .xos_extable, "a"
    .balign 8
    .quad 1b, 3b
    .quad 2b, 4b
    .quad 20b, 6b
    .quad 21b, 6b
    .quad 22b, 6b
    .quad 23b, 6b
    .quad 24b, 6b
    .quad 25b, 6b
    .quad 26b, 6b
    .quad 27b, 6b
    .quad 10b, 5b
    .quad 11b, 5b
    .quad 12b, 6b
    .quad 13b, 6b
    .quad 14b, 6b
    .quad 15b, 6b
