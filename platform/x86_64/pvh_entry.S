/* PVH entry: the hypervisor (QEMU -kernel, Firecracker, Cloud Hypervisor, Xen) finds
 * XEN_ELFNOTE_PHYS32_ENTRY in this ELF and starts us in 32-bit protected mode, paging off,
 * %ebx = physical address of struct hvm_start_info. The image is linked in the upper half
 * (layout.h) but loaded at physical 1 MiB, so this code runs at physical addresses and names
 * its data by physical address (symbol - XOS_DIRECT_MAP_BASE) until it has switched to long
 * mode with the first GiB mapped twice, at 0 and at XOS_DIRECT_MAP_BASE (2 MiB pages, enough
 * for the image and boot data); then it jumps up, enables SSE (compiled C++ uses it from the
 * first instruction) and calls xos_x86_64_start(start_info physical address) on the boot
 * stack. init_paging drops the mapping at 0. */

#include "layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PHYS(symbol) ((symbol) - XOS_DIRECT_MAP_BASE)
#define DIRECT_MAP_SLOT 256

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
#define EFER_LME (1 << 8)

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

    .section .note.Xen, "a", @note
    .balign 4
    .long 4                         /* name size ("Xen\0") */
    .long 4                         /* descriptor size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .balign 4
    .long PHYS(xos_pvh_entry)

    .section .boot.text, "ax"
    .code32
    .globl xos_pvh_entry
    .type xos_pvh_entry, @function
xos_pvh_entry:
    cli
    cld
    mov %ebx, %esi                  /* keep the start_info pointer */

    /* PML4[0] and PML4[256] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB (first GiB, 2 MiB pages). */
    mov $PHYS(xos_boot_pdpt), %eax
    or $(PTE_P | PTE_W), %eax
    mov %eax, PHYS(xos_boot_pml4)
    mov %eax, PHYS(xos_boot_pml4) + 8 * DIRECT_MAP_SLOT
    mov $PHYS(xos_boot_pd), %eax
    or $(PTE_P | PTE_W), %eax
    mov %eax, PHYS(xos_boot_pdpt)
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $(PTE_P | PTE_W | PTE_PS), %eax
    mov %eax, PHYS(xos_boot_pd)(, %ecx, 8)
    inc %ecx
    cmp $512, %ecx
    jb 1b

    mov $PHYS(xos_boot_pml4), %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    mov %eax, %cr4
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    and $~CR0_EM, %eax
    or $(CR0_PE | CR0_MP | CR0_NE | CR0_WP | CR0_PG), %eax
    mov %eax, %cr0

    /* A 32-bit lgdt takes the low half of the base: the GDT's physical address (the direct
     * map's base has zero low bits). */
    lgdt PHYS(xos_boot_gdtr)
    ljmp $0x08, $PHYS(long_mode)

    .code64
long_mode:
    movabs $high_half, %rax
    jmp *%rax
high_half:
    lgdt xos_boot_gdtr(%rip)        /* now with the GDT's 64-bit (upper-half) address */
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    lea xos_boot_stack_top(%rip), %rsp
    xor %ebp, %ebp
    mov %esi, %edi                  /* zero-extends: the upper halves are undefined here */
    call xos_x86_64_start
2:  hlt
    jmp 2b
    .size xos_pvh_entry, . - xos_pvh_entry

    /* The GDT lives in .data so C++ can add the TSS descriptor later (selector 0x18). */
    .section .data.xos_gdt, "aw"
    .balign 16
    .globl xos_gdt
xos_gdt:
    .quad 0                         /* null */
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code, ring 0 */
    .quad 0x00cf92000000ffff        /* 0x10: data, ring 0 */
    .quad 0, 0                      /* 0x18: TSS (16 bytes), filled in by gdt.cpp */
xos_gdt_end:
    .globl xos_boot_gdtr
xos_boot_gdtr:
    .word xos_gdt_end - xos_gdt - 1
    .quad xos_gdt

    .section .bss.xos_boot, "aw", @nobits
    .balign 4096
    .globl xos_boot_pml4
xos_boot_pml4: .skip 4096
    .globl xos_boot_pdpt
xos_boot_pdpt: .skip 4096
xos_boot_pd:   .skip 4096
    .balign 16
xos_boot_stack: .skip 65536
    .globl xos_boot_stack_top
xos_boot_stack_top:
