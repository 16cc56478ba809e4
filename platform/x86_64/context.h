// The x86_64 thread CPU context and the switch primitives used by the interrupt path.
#pragma once

#include <cstdint>

#include "trap.h"

namespace xos::x86 {

struct alignas(64) CpuContext {
    TrapFrame frame;  // where the thread resumes (iretq from an interrupt frame)
    uint64_t fs_base;  // its thread pointer
    alignas(64) uint8_t fpu[];  // XSAVE (or FXSAVE) area
};

void init_fpu_contexts();
CpuContext* current_context();
// Copies the interrupted flow's registers into the current context.
void save_interrupted(TrapFrame& frame);
// Makes `next` current and arranges for the interrupt to return into it.
void resume(CpuContext* next, TrapFrame& frame);

}  // namespace xos::x86
