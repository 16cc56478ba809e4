/* The VM's address-space layout, shared by C++, the boot assembly (pvh_entry.S) and, by hand,
 * the linker script (platform/kvm/xos-kvm.ld). Like Linux: the lower canonical half belongs to
 * the app, the upper half to libos.
 *
 *   0x0000000000000000 .. 0x000000000000ffff  never mapped (null pointers; Linux's mmap_min_addr)
 *   0x0000000000010000 .. 0x00007ffffffff000  the app region (ELFs at their link address, brk,
 *                                              mmap, stacks), mapped on demand by libos
 *   0xffff800000000000 .. + RAM (at least 4 GiB) the direct map: physical address p is at
 *                                              DIRECT_MAP_BASE + p; the image itself is loaded at
 *                                              physical 1 MiB, so it runs at DIRECT_MAP_BASE + 1 MiB
 *
 * Boot runs at physical addresses until pvh_entry.S has mapped the first GiB at both 0 and
 * DIRECT_MAP_BASE and jumped up; init_paging removes the low mapping. */
#pragma once

#define XOS_DIRECT_MAP_BASE 0xffff800000000000
#define XOS_APP_REGION_BASE 0x10000
#define XOS_APP_REGION_END 0x7ffffffff000
