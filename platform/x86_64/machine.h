// What platform/x86_64 needs from the machine it runs on (kvm today, xen later): the console
// comes up first so every later failure is visible.
#pragma once

namespace xos::machine {

void init_console();
void init();

}  // namespace xos::machine
