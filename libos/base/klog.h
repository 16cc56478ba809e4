// Kernel log: printf-style lines to the platform console. The declarations are part of the
// platform API (xos/log.h: the platform logs through libos); libos code includes this header.
#pragma once

#include "xos/log.h"
