/* The one routine through which libos moves bytes to or from application memory, made
 * fault-safe with an exception table (as Linux's copy_user and Zircon's _x86_copy_to_or_from_user):
 * each entry names an instruction that may fault on an app address and where to continue if
 * that fault cannot be resolved. The trap handler (traps.cpp on the VM, the SIGSEGV handler on
 * hosted) first lets demand paging resolve the fault; only an unresolvable one jumps to the
 * fixup, which returns the number of bytes not copied. The fast path is two string moves and
 * no check per byte. */
    .text

/* size_t xos_copy_user(void* to, const void* from, size_t size): 0, or the bytes not copied. */
    .globl xos_copy_user
    .type xos_copy_user, @function
xos_copy_user:
    mov %rdx, %rcx
    shr $3, %rcx
    and $7, %edx
1:  rep movsq
    mov %edx, %ecx
2:  rep movsb
    xor %eax, %eax
    ret
3:  lea (%rdx, %rcx, 8), %rax   /* fault in the quadwords: those left, and the tail */
    ret
4:  mov %rcx, %rax              /* fault in the tail */
    ret
    .size xos_copy_user, . - xos_copy_user

    .section .xos_extable, "a"
    .balign 8
    .quad 1b, 3b
    .quad 2b, 4b
