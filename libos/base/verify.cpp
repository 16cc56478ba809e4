#include "base/verify.h"

#include "base/klog.h"

namespace xos {

void verify_failed(const char* expression, const char* file, int line, const char* function) {
    // __FILE__ is relative to the build directory ("../libos/sched/scheduler.cpp").
    while (file[0] == '.' && file[1] == '.' && file[2] == '/') file += 3;
    panic("VERIFY failed: %s at %s:%d in %s()", expression, file, line, function);
}

}  // namespace xos
