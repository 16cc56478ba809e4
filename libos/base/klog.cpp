#include "base/klog.h"

#include <cstdarg>
#include <cstdio>

#include "xos/platform.h"

namespace xos {

namespace {

void vlog(const char* format, va_list args) {
    char line[512];
    int n = vsnprintf(line, sizeof line - 1, format, args);
    if (n < 0) return;
    if (n > int(sizeof line) - 2) n = sizeof line - 2;
    line[n++] = '\n';
    platform::console_write(platform::ConsoleStream::Err, line, size_t(n));
}

}  // namespace

void klog(const char* format, ...) {
    va_list args;
    va_start(args, format);
    vlog(format, args);
    va_end(args);
}

void panic(const char* format, ...) {
    char reason[256];
    va_list args;
    va_start(args, format);
    vsnprintf(reason, sizeof reason, format, args);
    va_end(args);
    klog("xos: panic: %s", reason);
    klog("backtrace:");
    platform::print_backtrace();
    platform::shutdown(platform::ExitKind::Crash, 134, reason);
}

}  // namespace xos
