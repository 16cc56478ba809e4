// Application processors, IPIs and TLB shootdowns on the VM (docs/locking.md).
#pragma once

#include <cstdint>

#include "machine.h"

namespace xos::x86 {

// Inter-processor interrupt vectors (above the device vectors, below the APIC's spurious 0xff).
constexpr uint64_t IPI_RESCHEDULE_VECTOR = 0xf0, IPI_TICK_VECTOR = 0xf1, IPI_TLB_VECTOR = 0xf2;

// For the machine's handle_irq: true if `vector` is an IPI (acknowledged; `result` says what
// the scheduler should do).
bool handle_ipi(uint64_t vector, machine::IrqResult& result);

// paging.cpp: makes `root` CPU `cpu`'s page tables (loads CR3: call on that CPU).
void load_cpu_root(unsigned cpu, uint64_t* root);

// start.cpp: the syscall instruction's MSRs, for each CPU.
void init_syscall_instruction();

}  // namespace xos::x86
