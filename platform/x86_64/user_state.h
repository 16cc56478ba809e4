// The app's register state for signals (user_state.cpp); the pieces each platform provides.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xos::x86 {

constexpr uint32_t FP_XSTATE_MAGIC1 = 0x46505853;
constexpr uint32_t FP_XSTATE_MAGIC2 = 0x46505845;

// XCR0 as the platform set it, or 0 without XSAVE (VM: context.cpp; hosted: signals.cpp).
uint64_t enabled_xfeatures();
// %rip and %rsp of a thread's saved CPU context (VM: context.cpp; hosted: signals.cpp).
void cpu_context_pc_sp(const void* context, uintptr_t& rip, uintptr_t& rsp);
// Writes the software-reserved bytes (and FP_XSTATE_MAGIC2) of a signal-frame FPU state.
void fill_fpu_software_bytes(uint8_t* state);

}  // namespace xos::x86
