// Logging and fatal errors, implemented by libos (libos/base/klog.cpp) for itself and for the
// platform: the platform library sees only platform/api, so this is how it logs.
#pragma once

namespace xos {

// Formats one line (a newline is appended) and writes it to the console's error stream.
[[gnu::format(printf, 1, 2)]] void klog(const char* format, ...);

// Logs the message with a backtrace and leaves the machine with status 134 (like SIGABRT).
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* format, ...);

}  // namespace xos
