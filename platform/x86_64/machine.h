// What platform/x86_64 needs from the machine it runs on (kvm today, xen later): the console
// comes up first so every later failure is visible.
#pragma once

#include <cstdint>

namespace xos::machine {

void init_console();
void init();

// Device interrupts arrive on vectors 32..255; the machine acknowledges them and says whether
// it was the scheduler's timer.
// DeviceWakeup: a device interrupt that may have made a thread runnable (switch to it if the
// CPU was idle, without charging the running thread a timer tick).
enum class IrqResult { TimerTick, DeviceWakeup, Handled, Unknown };
IrqResult handle_irq(uint64_t vector);

}  // namespace xos::machine
