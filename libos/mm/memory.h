// The image's one address space, set up at boot from the platform's free memory.
#pragma once

#include "mm/address_space.h"

namespace xos::mm {

void init_memory();
AddressSpace& address_space();

}  // namespace xos::mm
