/*
 * The QEMU floor guest: the smallest PVH image, which leaves the VM at its first instruction.
 * Boot time of any xos image is measured against this one (see DESIGN.md, "QEMU and KVM facts").
 *
 * Run it with `-device isa-debug-exit,iobase=0xf4,iosize=4`: writing 0 makes QEMU exit with
 * status (0 << 1) | 1 = 1. It writes no status record on port 0x4f0, so xos-run would call the
 * run a failure; bench scripts time QEMU directly. Built with -DFLOOR_STATUS_RECORD it first
 * writes "exit 0\n" to the xos status port, so `xos-run floor-status.elf` exits 0 and times
 * xos-run's own overhead on top of the floor.
 */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define DEBUG_EXIT_PORT 0xf4
#define STATUS_PORT 0x4f0

/*
 * Keep this note 4-byte aligned: QEMU finds the descriptor by rounding the name size up to
 * the note segment's p_align, which is only right for an alignment of 4.
 * The descriptor is 8 bytes, as Linux writes it for 64-bit kernels; QEMU reads a size_t.
 */
        .section .note.Xen, "a", @note
        .balign 4
        .long   4                       /* namesz: "Xen\0" */
        .long   8                       /* descsz */
        .long   XEN_ELFNOTE_PHYS32_ENTRY
        .asciz  "Xen"
        .quad   pvh_entry

/* PVH enters in 32-bit protected mode with paging off. */
        .text
        .code32
        .globl  pvh_entry
pvh_entry:
#ifdef FLOOR_STATUS_RECORD
        mov     $status_record, %esi
        mov     $(status_record_end - status_record), %ecx
        mov     $STATUS_PORT, %dx
        rep outsb
#endif
        mov     $0, %al
        out     %al, $DEBUG_EXIT_PORT
        /* Only reached without the exit device: fault, and QEMU (-no-reboot) stops at the reset. */
        ud2

#ifdef FLOOR_STATUS_RECORD
status_record:
        .ascii  "exit 0\n"
status_record_end:
#endif

        .section .note.GNU-stack, "", @progbits
