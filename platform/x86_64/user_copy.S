/* The one routine through which libos moves bytes to or from application memory, made
 * fault-safe with an exception table (as Linux's copy_user and Zircon's _x86_copy_to_or_from_user):
 * each entry names an instruction that may fault on an app address and where to continue if
 * that fault cannot be resolved. The trap handler (traps.cpp on the VM, the SIGSEGV handler on
 * hosted) first lets demand paging resolve the fault; only an unresolvable one jumps to the
 * fixup, which returns the number of bytes not copied (for the short copies, a conservative
 * count: what was left when the faulting step began). No check per byte: string moves for 256
 * bytes and more; below that, where a `rep movs` costs more to start than the copy takes (and
 * syscall structures are short: a timespec, a struct stat), few branches: the first and last
 * 8, 16 or 32 bytes (overlapping), or 64-byte blocks and the last 64 bytes. */
    .text

/* size_t xos::platform::copy_user(void* to, const void* from, size_t size) (platform.h): 0, or
 * the bytes not copied. Defined here under its C++ name, so that a user copy is one call. */
    .globl xos_copy_user
    .globl _ZN3xos8platform9copy_userEPvPKvm
    .type xos_copy_user, @function
    .type _ZN3xos8platform9copy_userEPvPKvm, @function
_ZN3xos8platform9copy_userEPvPKvm:
xos_copy_user:
    cmp $16, %rdx
    jb .Lunder16
    cmp $32, %rdx
    ja .Lover32
10: movdqu (%rsi), %xmm0                /* 16..32 bytes */
11: movdqu -16(%rsi, %rdx), %xmm1
12: movdqu %xmm0, (%rdi)
13: movdqu %xmm1, -16(%rdi, %rdx)
    xor %eax, %eax
    ret
.Lover32:
    cmp $64, %rdx
    ja .Lover64
14: movdqu (%rsi), %xmm0                /* 33..64 bytes */
15: movdqu 16(%rsi), %xmm1
16: movdqu -32(%rsi, %rdx), %xmm2
17: movdqu -16(%rsi, %rdx), %xmm3
18: movdqu %xmm0, (%rdi)
19: movdqu %xmm1, 16(%rdi)
20: movdqu %xmm2, -32(%rdi, %rdx)
21: movdqu %xmm3, -16(%rdi, %rdx)
    xor %eax, %eax
    ret
.Lover64:
    cmp $256, %rdx
    jae .Lstring
    lea -64(%rsi, %rdx), %r8            /* 65..255 bytes: the last 64 are copied last */
    lea -64(%rdi, %rdx), %r9
.Lblock64:
22: movdqu (%rsi), %xmm0
23: movdqu 16(%rsi), %xmm1
24: movdqu 32(%rsi), %xmm2
25: movdqu 48(%rsi), %xmm3
26: movdqu %xmm0, (%rdi)
27: movdqu %xmm1, 16(%rdi)
28: movdqu %xmm2, 32(%rdi)
29: movdqu %xmm3, 48(%rdi)
    add $64, %rsi
    add $64, %rdi
    sub $64, %rdx
    cmp $64, %rdx
    ja .Lblock64
30: movdqu (%r8), %xmm0
31: movdqu 16(%r8), %xmm1
32: movdqu 32(%r8), %xmm2
33: movdqu 48(%r8), %xmm3
34: movdqu %xmm0, (%r9)
35: movdqu %xmm1, 16(%r9)
36: movdqu %xmm2, 32(%r9)
37: movdqu %xmm3, 48(%r9)
    xor %eax, %eax
    ret
.Lunder16:
    cmp $8, %rdx
    jb .Lunder8
38: mov (%rsi), %rax                    /* 8..15 bytes */
39: mov -8(%rsi, %rdx), %rcx
40: mov %rax, (%rdi)
41: mov %rcx, -8(%rdi, %rdx)
    xor %eax, %eax
    ret
.Lunder8:
    test %rdx, %rdx
    jz .Ldone
.Lbyte:
42: movb (%rsi), %al
43: movb %al, (%rdi)
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
5:  mov %rdx, %rax              /* the short copies: %rdx is what was left when the step began */
    ret
    .size xos_copy_user, . - xos_copy_user
    .size _ZN3xos8platform9copy_userEPvPKvm, . - xos_copy_user

/* bool xos::platform::cmpxchg_user32(uint32_t* word, uint32_t* expected, uint32_t desired)
 * (platform.h): false if the word faulted; else *expected = the old value. */
    .globl _ZN3xos8platform14cmpxchg_user32EPjS1_j
    .type _ZN3xos8platform14cmpxchg_user32EPjS1_j, @function
_ZN3xos8platform14cmpxchg_user32EPjS1_j:
    mov (%rsi), %eax
50: lock cmpxchg %edx, (%rdi)
    mov %eax, (%rsi)
    mov $1, %eax
    ret
51: xor %eax, %eax              /* fixup: the word faulted */
    ret
    .size _ZN3xos8platform14cmpxchg_user32EPjS1_j, . - _ZN3xos8platform14cmpxchg_user32EPjS1_j

    .section .xos_extable, "a"
    .balign 8
    .quad 50b, 51b
    .quad 1b, 3b
    .quad 2b, 4b
    .irp label, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43
    .quad \label\()b, 5b
    .endr
