#include "vfs/process.h"

#include "base/no_destroy.h"

namespace xos::vfs {

namespace {
constinit NoDestroy<Process> g_process;
}

Process& process() { return g_process.get(); }

}  // namespace xos::vfs
