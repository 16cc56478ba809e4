// eventfd2(2): a 64-bit counter file. read() takes the counter (or 1 in semaphore mode) and
// blocks while it is zero; write() adds and blocks while the sum would reach 2^64-1.
#pragma once

#include "vfs/file.h"

namespace xos::vfs {

ErrorOr<RefPtr<File>> create_eventfd(unsigned initial, int flags);

}  // namespace xos::vfs
