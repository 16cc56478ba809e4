#include "vfs/process.h"

#include "base/no_destroy.h"
#include "mm/heap.h"

namespace xos::vfs {

namespace {
constinit NoDestroy<Process> g_boot_process;
Process* (*g_resolver)();
}  // namespace

void set_current_process_resolver(Process* (*resolver)()) { g_resolver = resolver; }

Process& boot_process() { return g_boot_process.get(); }

Process& process() {
    Process* current = g_resolver ? g_resolver() : nullptr;
    return current ? *current : g_boot_process.get();
}

ErrorOr<Process*> copy_process(const Process& from) {
    auto* state = mm::kcreate<Process>();
    if (!state) return error(EAGAIN);
    state->root = from.root;
    state->cwd = from.cwd;
    state->umask = from.umask;
    for (int fd = 0; fd < FdTable::MAX_FDS; ++fd) {
        if (!from.fds.is_open(fd)) continue;
        auto file = from.fds.get(fd);
        auto installed = file ? state->fds.install(fd, *file, from.fds.cloexec(fd).value_or(false)) : ErrorOr<void>{};
        if (!file || !installed) {
            release_process(state);
            return error(EAGAIN);
        }
    }
    state->fds.set_limit(from.fds.limit());
    return state;
}

void release_process(Process* state) {
    if (!state) return;
    state->fds.close_all();
    state->root = nullptr;
    state->cwd = nullptr;
    if (state != &g_boot_process.get()) mm::kdestroy(state);
}

}  // namespace xos::vfs
