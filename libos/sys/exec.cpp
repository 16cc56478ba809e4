// Exec syscalls: execve replaces the program with an unmodified Linux executable (libos/exec).
#include "base/klog.h"
#include "exec/exec.h"
#include "sched/thread.h"
#include "sys/file_helpers.h"
#include "sys/handlers.h"

namespace xos::sys {

namespace {

// Linux's limits are larger (MAX_ARG_STRLEN 128 KiB each, a quarter of the stack in all); these
// match the kernel command line's (boot/command_line.h).
constexpr size_t MAX_STRINGS = 4096;
constexpr size_t STRING_BYTES = 256 * 1024;

// The arguments copied out of the calling program (its memory stays, but a bad pointer must be
// an EFAULT here, not a fault later). One exec at a time: the caller is the program's only thread.
struct ExecArguments {
    PathBuffer path;
    const char* argv[MAX_STRINGS + 1];
    const char* envp[MAX_STRINGS + 1];
    char strings[STRING_BYTES];
    size_t used = 0;
};
ExecArguments g_arguments;

ErrorOr<const char*> copy_string(UserPtr<const char> string, ExecArguments& out) {
    char* start = out.strings + out.used;
    auto length = copy_string_from_user(start, string, STRING_BYTES - out.used);
    if (!length) return std::unexpected(length.error().code == ENAMETOOLONG ? Error{E2BIG} : length.error());
    out.used += *length + 1;
    return start;
}

// Copies a NULL-terminated vector of strings; returns its length.
ErrorOr<size_t> copy_vector(UserPtr<const char* const> vector, const char** out, ExecArguments& arguments) {
    size_t count = 0;
    if (vector.is_null()) {  // Linux accepts NULL as an empty vector
        out[0] = nullptr;
        return 0;
    }
    for (;; ++count) {
        if (count == MAX_STRINGS) return error(E2BIG);
        const char* pointer = TRY(read_user(UserPtr<const char* const>(vector.address() + count * sizeof(char*))));
        if (!pointer) break;
        out[count] = TRY(copy_string(UserPtr<const char>(reinterpret_cast<uintptr_t>(pointer)), arguments));
    }
    out[count] = nullptr;
    return count;
}

}  // namespace

// Implements execve(2).
ErrorOr<long> sys_execve(UserPtr<const char> path, UserPtr<const char* const> argv, UserPtr<const char* const> envp) {
    // Linux ends the other threads first; libos cannot (they may be inside libos, holding locks).
    if (int threads = sched::thread_count(); threads > 1) {
        klog("xos: exec: execve from a program with %d threads is not supported (one thread only)", threads);
        return error(EBUSY);
    }
    ExecArguments& arguments = g_arguments;
    arguments.used = 0;
    std::string_view text = TRY(copy_path(path, arguments.path));
    size_t argc = TRY(copy_vector(argv, arguments.argv, arguments));
    size_t envc = TRY(copy_vector(envp, arguments.envp, arguments));
    TRY(exec::execute(text.data(), {arguments.argv, argc}, {arguments.envp, envc}));
    __builtin_unreachable();  // execute() returns only with an error
}

}  // namespace xos::sys
