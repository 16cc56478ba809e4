/* The application processors' way from real mode to long mode (smp.cpp). An AP starts at
 * XOS_AP_TRAMPOLINE (a page below 1 MiB, which libos never hands out) in 16-bit real mode after
 * INIT-SIPI-SIPI; smp.cpp copies this code there and fills in its parameters (the page tables
 * to use, which map this page at its physical address and the kernel's upper half; EFER bits;
 * the stack; the C entry and the CPU's index). It goes through 32-bit protected mode to long
 * mode with the trampoline's own GDT and jumps to the entry in the upper half, which loads
 * the CPU's own descriptor tables and page tables. Assembled at any address, run at
 * XOS_AP_TRAMPOLINE: every absolute address is computed relative to it. */

#define XOS_AP_TRAMPOLINE 0x70000
#define ABS(label) (XOS_AP_TRAMPOLINE + (label) - xos_ap_trampoline)
#define OFF(label) ((label) - xos_ap_trampoline)

#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_NE (1 << 5)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080

    .section .rodata.xos_ap_trampoline, "a"
    .balign 16
    .globl xos_ap_trampoline
    .code16
xos_ap_trampoline:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl OFF(ap_gdtr)
    mov %cr0, %eax
    or $CR0_PE, %eax
    mov %eax, %cr0
    ljmpl $0x08, $ABS(ap_protected)

    .code32
ap_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov %cr4, %eax
    or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    mov %eax, %cr4
    mov ABS(xos_ap_param_cr3), %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or ABS(xos_ap_param_efer), %eax     /* LME, and NXE when the kernel's tables use NX */
    wrmsr
    mov %cr0, %eax
    and $~CR0_EM, %eax
    or $(CR0_PE | CR0_MP | CR0_NE | CR0_WP | CR0_PG), %eax
    mov %eax, %cr0
    ljmp $0x18, $ABS(ap_long)

    .code64
ap_long:
    mov ABS(xos_ap_param_stack), %rsp
    mov ABS(xos_ap_param_index), %edi
    mov ABS(xos_ap_param_entry), %rax
    xor %ebp, %ebp
    jmp *%rax

    .balign 8
ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff        /* 0x10: data */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
ap_gdtr:
    .word ap_gdtr - ap_gdt - 1
    .long ABS(ap_gdt)
    .balign 8
    .globl xos_ap_param_cr3, xos_ap_param_efer, xos_ap_param_stack, xos_ap_param_entry, xos_ap_param_index
xos_ap_param_stack: .quad 0
xos_ap_param_entry: .quad 0
xos_ap_param_cr3: .long 0
xos_ap_param_efer: .long 0
xos_ap_param_index: .long 0
    .globl xos_ap_trampoline_end
xos_ap_trampoline_end:

    .section .note.GNU-stack, "", @progbits
