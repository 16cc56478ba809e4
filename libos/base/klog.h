// Kernel log: printf-style lines to the platform console.
#pragma once

namespace xos {

// Formats one line (a newline is appended) and writes it to the console.
[[gnu::format(printf, 1, 2)]] void klog(const char* format, ...);

// Logs the message with a backtrace and leaves the VM with status 134 (like SIGABRT).
[[noreturn, gnu::format(printf, 1, 2)]] void panic(const char* format, ...);

}  // namespace xos
