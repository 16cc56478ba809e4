/* The one routine through which libos moves bytes to or from application memory, made
 * fault-safe with an exception table (as Linux's copy_user and Zircon's _x86_copy_to_or_from_user):
 * each entry names an instruction that may fault on an app address and where to continue if
 * that fault cannot be resolved. The trap handler (traps.cpp on the VM, the SIGSEGV handler on
 * hosted) first lets demand paging resolve the fault; only an unresolvable one jumps to the
 * fixup, which returns the number of bytes not copied. No check per byte: string moves for
 * 256 bytes and more; below that (a `rep movs` costs more to start than a short copy takes, and
 * syscall structures are short: a timespec, a struct stat) 16-byte moves, then 8, then bytes. */
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
    shr $4, %rcx                /* 16-byte blocks */
    and $15, %edx               /* and the tail */
    jrcxz .Ltail
.Lblocks:
10: movdqu (%rsi), %xmm0
11: movdqu %xmm0, (%rdi)
    add $16, %rsi
    add $16, %rdi
    dec %rcx
    jnz .Lblocks
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
6:  mov %rdx, %rax              /* the 8-byte move and the byte loop: %rdx is what is left */
    ret
    .size xos_copy_user, . - xos_copy_user
    .size _ZN3xos8platform9copy_userEPvPKvm, . - xos_copy_user

    .section .xos_extable, "a"
    .balign 8
    .quad 1b, 3b
    .quad 2b, 4b
    .quad 10b, 5b
    .quad 11b, 5b
    .quad 12b, 6b
    .quad 13b, 6b
    .quad 14b, 6b
    .quad 15b, 6b
