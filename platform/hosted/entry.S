/* ELF entry of a hosted image (a static Linux executable): %rsp -> argc, argv, envp, auxv. */
    .section .text.xos_hosted_entry,"ax",@progbits
    .globl xos_hosted_entry
    .type xos_hosted_entry, @function
xos_hosted_entry:
    xor %ebp, %ebp
    mov %rsp, %rdi
    and $-16, %rsp
    call xos_hosted_start
    ud2
    .size xos_hosted_entry, . - xos_hosted_entry

/* The marker xos-run looks for: a note named "xos-hosted" (type 1, version 1). */
    .section .note.xos, "a", @note
    .balign 4
    .long 11                        /* namesz: "xos-hosted\0" */
    .long 4                         /* descsz */
    .long 1                         /* type */
    .asciz "xos-hosted"
    .balign 4
    .long 1
    .balign 4

    .section .note.GNU-stack,"",@progbits
