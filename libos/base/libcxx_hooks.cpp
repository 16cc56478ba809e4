// Hooks libc++'s headers call from kernel code. libc++ lets a program provide its own
// __libcpp_verbose_abort (its assertion and "exception in -fno-exceptions code" path); libos's
// panics with a backtrace instead of pulling libc++'s version and abort() into every image.
#include <cstdarg>
#include <cstdio>

#include "base/klog.h"

namespace std {
inline namespace __1 {
[[noreturn]] void __libcpp_verbose_abort(const char* format, ...) {
    char message[256];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    xos::panic("libc++: %s", message);
}
}  // namespace __1
}  // namespace std
