// Exec syscalls: execve replaces the calling process's program with an unmodified Linux
// executable (libos/exec) or a `#!` script's interpreter. The new program is built in a fresh
// address space; the old one is destroyed only once the exec cannot fail, so on failure the
// caller continues with its memory intact. libos runs the exec on the thread's kernel stack:
// the caller's stack is in the address space being replaced.
#include <fcntl.h>

#include <cstdio>
#include <cstring>

#include "base/klog.h"
#include "exec/exec.h"
#include "fs/procfs/procfs_nodes.h"
#include "sched/process.h"
#include "sched/process_stats.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "sys/file_helpers.h"
#include "xos/platform.h"
#include "sys/handlers.h"
#include "sys/signal.h"
#include "vfs/path_walk.h"
#include "vfs/process.h"

namespace xos::sys {

namespace {

// Linux's limits are larger (MAX_ARG_STRLEN 128 KiB each, a quarter of the stack in all); these
// match the kernel command line's (boot/command_line.h).
constexpr size_t MAX_STRINGS = 4096;
constexpr size_t STRING_BYTES = 256 * 1024;
constexpr int MAX_SCRIPT_NESTING = 4;  // Linux's BINPRM_MAX_RECURSION
constexpr size_t SCRIPT_LINE_BYTES = 256;  // Linux's BINPRM_BUF_SIZE

// The arguments copied out of the calling program (a bad pointer must be an EFAULT here, not a
// fault later; and the program's memory goes away). One exec at a time (g_exec_busy).
struct ExecArguments {
    PathBuffer path;
    const char* argv[MAX_STRINGS + 8];
    const char* envp[MAX_STRINGS + 1];
    size_t argc = 0, envc = 0;
    char strings[STRING_BYTES];
    size_t used = 0;
    char interpreters[MAX_SCRIPT_NESTING][SCRIPT_LINE_BYTES];
    char executable[vfs::PATH_MAX_BYTES];  // fexecve: the file's own path, for exe and comm ("" else)
};
ExecArguments g_arguments;
bool g_exec_busy;
sched::WaitQueue g_exec_done;

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

// `#!interpreter [argument]`: if the file at `path` is a script, rewrites the arguments to run
// its interpreter (interpreter, argument, path, argv[1...]) and returns the interpreter's path;
// else nullptr (also when the file is missing or not executable: exec::execute reports those).
ErrorOr<const char*> script_interpreter(const char* path, ExecArguments& arguments, int depth) {
    auto found = vfs::resolve(vfs::process().context(), path, vfs::Follow::Yes);
    if (!found) return nullptr;
    const RefPtr<vfs::Vnode>& vnode = *found;
    if (vnode->is_directory() || !vnode->is_regular() || !(vnode->mode() & 0111)) return nullptr;
    if (vnode->fs().mount_flags() & vfs::MOUNT_NO_EXEC) return nullptr;
    char* line = arguments.interpreters[depth];
    size_t got = TRY(vnode->read(0, {reinterpret_cast<std::byte*>(line), SCRIPT_LINE_BYTES - 1}));
    line[got] = 0;
    if (got < 2 || line[0] != '#' || line[1] != '!') return nullptr;
    // Linux: the interpreter and one optional argument (the rest of the line, trailing blanks
    // removed), separated by blanks; a line cut short by the buffer is an error (ENOEXEC).
    char* end = strchr(line, '\n');
    if (!end) {
        if (got == SCRIPT_LINE_BYTES - 1) return error(ENOEXEC);
        end = line + got;
    }
    *end = 0;
    while (end > line + 2 && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
    char* interpreter = line + 2;
    while (*interpreter == ' ' || *interpreter == '\t') ++interpreter;
    if (!*interpreter) return error(ENOEXEC);
    char* argument = interpreter;
    while (*argument && *argument != ' ' && *argument != '\t') ++argument;
    if (*argument) {
        *argument++ = 0;
        while (*argument == ' ' || *argument == '\t') ++argument;
    }
    // argv becomes: interpreter [argument] path argv[1..].
    size_t extra = *argument ? 2 : 1;
    size_t old_argc = arguments.argc;
    if (old_argc + extra + 1 > MAX_STRINGS) return error(E2BIG);
    size_t keep = old_argc > 0 ? old_argc - 1 : 0;  // argv[1..]
    memmove(&arguments.argv[extra + 1], &arguments.argv[old_argc > 0 ? 1 : 0], (keep + 1) * sizeof(char*));
    arguments.argv[0] = interpreter;
    if (*argument) arguments.argv[1] = argument;
    arguments.argv[extra] = path;
    arguments.argc = keep + extra + 1;
    return interpreter;
}

// What runs on the kernel stack: everything from the fresh address space on. `result` is the
// error when the exec fails (the caller's memory is current again by then).
struct ExecJob {
    const char* path;
    ErrorOr<void> result;
};

// The caller's memory while the exec runs: finish_exec() destroys it (if it is the process's
// own, not a vfork parent's).
mm::VirtualMemory* g_old_memory;
bool g_old_owned;
uint64_t g_exec_started_ns;  // the running exec's start (sched::g_process_stats)
uint64_t g_exec_load_start_ns;

void exec_on_kernel_stack(void* raw) {
    auto& job = *static_cast<ExecJob*>(raw);
    sched::Process& process = sched::current_process();
    mm::VirtualMemory* old_memory = process.memory;
    bool old_owned = process.owns_memory;
    uint64_t create_start = platform::monotonic_ns();
    sched::g_process_stats.exec_prepare_ns += create_start - g_exec_started_ns;
    auto fresh = sched::create_memory();
    g_exec_load_start_ns = platform::monotonic_ns();
    sched::g_process_stats.exec_create_ns += g_exec_load_start_ns - create_start;
    if (!fresh && fresh.error().code != ENOSYS) {
        job.result = std::unexpected(fresh.error());
        return;
    }
    g_old_memory = fresh ? old_memory : nullptr;
    g_old_owned = old_owned;
    if (fresh) {
        process.memory = *fresh;
        process.owns_memory = true;
        sched::activate_memory(*fresh);
        sched::note_active_process(&process);
    }
    // Without address spaces of its own (ENOSYS), the new program is loaded beside the old one.
    job.result = exec::execute(job.path, {g_arguments.argv, g_arguments.argc}, {g_arguments.envp, g_arguments.envc});
    // execute() returns only on failure: back to the caller's memory.
    if (fresh) {
        process.memory = old_memory;
        process.owns_memory = old_owned;
        sched::activate_memory(old_memory);
        sched::destroy_memory(*fresh);
    }
}

// Linux's de_thread: the other threads of the process end (as by SIGKILL) before the exec
// proceeds, and the exec'ing thread takes the pid as its thread id. Checked first: a program
// file that is missing or cannot be run fails the exec with the threads left alone.
ErrorOr<void> end_other_threads(const char* program) {
    sched::Process& process = sched::current_process();
    if (process.live_threads == 1) return {};
    RefPtr<vfs::Vnode> file = TRY(vfs::resolve(vfs::process().context(), program, vfs::Follow::Yes));
    if (file->is_directory() || !file->is_regular() || !(file->mode() & 0111)) return error(EACCES);
    if (file->fs().mount_flags() & vfs::MOUNT_NO_EXEC) return error(EACCES);
    sched::Thread& self = sched::current();
    process.exiting = true;
    process.exec_survivor = &self;
    sched::for_each_thread_of(process, [&](sched::Thread& t) {
        if (&t != &self && t.state == sched::ThreadState::Blocked && t.interruptible)
            sched::wake(t, sched::WakeReason::Interrupted);
    });
    release_vfork_waiters(process);  // a thread waiting for a vfork child ends too
    // Each one wakes this queue as it ends (end_current_thread).
    (void)sched::wait_event(
        process.threads_ended, [&] { return process.live_threads == 1; }, sched::Deadline::never(),
        sched::Interruptible::No);
    process.exiting = false;
    process.exec_survivor = nullptr;
    self.tid = process.pid;
    return {};
}

ErrorOr<long> execute_copied(const char* path) {
    const char* program = path;
    for (int depth = 0;; ++depth) {
        if (depth == MAX_SCRIPT_NESTING) return error(ELOOP);
        const char* interpreter = TRY(script_interpreter(program, g_arguments, depth));
        if (!interpreter) break;
        program = interpreter;
    }
    TRY(end_other_threads(program));
    // In libos memory: the caller's stack is not mapped while the new image is built.
    static ExecJob job{nullptr, {}};
    job = {program, {}};
    sched::run_on_kernel_stack(exec_on_kernel_stack, &job);
    if (!job.result && job.result.error().code == EISDIR) return error(EACCES);  // as Linux
    TRY(job.result);
    __builtin_unreachable();
}

// The path execveat runs: `path` itself, or relative to the directory behind `dirfd`, or with
// AT_EMPTY_PATH and "" the file behind `dirfd` (fexecve: "/dev/fd/N" as on Linux, which the
// program sees as AT_EXECFN and a script's interpreter as the script's name).
ErrorOr<void> choose_path(int dirfd, std::string_view text, int flags, ExecArguments& arguments) {
    arguments.executable[0] = 0;
    if (text.empty()) {
        RefPtr<vfs::File> file = TRY(file_for(dirfd, true));
        if (file->vnode()->is_directory()) return error(EACCES);
        snprintf(arguments.path.text, sizeof arguments.path.text, "/dev/fd/%d", dirfd);
        if (auto name = fs::describe_open_file(vfs::process(), *file); name && name->size() < vfs::PATH_MAX_BYTES)
            memcpy(arguments.executable, name->c_str(), name->size() + 1);
        return {};
    }
    if (dirfd != AT_FDCWD && text[0] != '/') {
        RefPtr<vfs::File> file = TRY(file_for(dirfd, true));
        if (!file->vnode()->is_directory()) return error(ENOTDIR);
        char directory[vfs::PATH_MAX_BYTES];
        size_t length = TRY(vfs::directory_path(vfs::process().context(), file->vnode(), directory)) - 1;
        char joined[vfs::PATH_MAX_BYTES];
        int written = snprintf(joined, sizeof joined, "%s%s%.*s", directory, length > 1 ? "/" : "", int(text.size()),
                               text.data());
        if (written < 0 || size_t(written) >= sizeof joined) return error(ENAMETOOLONG);
        memcpy(arguments.path.text, joined, size_t(written) + 1);
    }
    if (flags & AT_SYMLINK_NOFOLLOW) {
        auto found = vfs::resolve(vfs::process().context(), arguments.path.text, vfs::Follow::No);
        if (found && (*found)->is_symlink()) return error(ELOOP);
    }
    return {};
}

ErrorOr<long> do_execve(int dirfd, UserPtr<const char> path, UserPtr<const char* const> argv,
                        UserPtr<const char* const> envp, int flags) {
    TRY(sched::wait_event(g_exec_done, [] { return !g_exec_busy; }));
    g_exec_busy = true;
    g_exec_started_ns = platform::monotonic_ns();
    ExecArguments& arguments = g_arguments;
    arguments.used = 0;
    auto result = [&]() -> ErrorOr<long> {
        std::string_view text = TRY(copy_path(path, arguments.path, flags & AT_EMPTY_PATH));
        TRY(choose_path(dirfd, text, flags, arguments));
        arguments.argc = TRY(copy_vector(argv, arguments.argv, arguments));
        arguments.envc = TRY(copy_vector(envp, arguments.envp, arguments));
        return execute_copied(arguments.path.text);
    }();
    g_exec_busy = false;
    sched::wake_one(g_exec_done);
    return result;
}

}  // namespace

void finish_exec() {
    // The point of no return (exec::execute): the old program's memory goes, a vfork parent
    // continues, caught signals are reset, the exec lock is released.
    sched::Process& process = sched::current_process();
    uint64_t destroy_start = platform::monotonic_ns();
    sched::g_process_stats.exec_load_ns += destroy_start - g_exec_load_start_ns;
    if (g_old_memory && g_old_owned) sched::destroy_memory(g_old_memory);
    g_old_memory = nullptr;
    sched::g_process_stats.exec_old_memory_ns += platform::monotonic_ns() - destroy_start;
    reset_signal_handlers_for_exec();
    sched::current().altstack_base = 0;  // no sigaltstack after execve
    sched::current().altstack_size = 0;
    release_vfork_parent(process);
    // The old program's CLONE_CHILD_CLEARTID / set_tid_address word is gone with its memory.
    sched::current().clear_child_tid = 0;
    // comm: the file name exec'd (fexecve: the file's own name, as Linux since 6.14).
    const char* name = g_arguments.executable[0] ? g_arguments.executable : g_arguments.path.text;
    if (g_arguments.executable[0])
        if (auto exe = KString::from(g_arguments.executable)) process.exe = static_cast<KString&&>(*exe);
    const char* slash = strrchr(name, '/');
    memset(process.name, 0, sizeof process.name);
    strncpy(process.name, slash ? slash + 1 : name, sizeof process.name - 1);
    g_exec_busy = false;
    sched::wake_one(g_exec_done);
    ++sched::g_process_stats.execs;
    sched::g_process_stats.exec_ns += platform::monotonic_ns() - g_exec_started_ns;
}

// Implements execve(2).
ErrorOr<long> sys_execve(UserPtr<const char> path, UserPtr<const char* const> argv, UserPtr<const char* const> envp) {
    return do_execve(AT_FDCWD, path, argv, envp, 0);
}

// Implements execveat(2).
ErrorOr<long> sys_execveat(int dirfd, UserPtr<const char> path, UserPtr<const char* const> argv,
                           UserPtr<const char* const> envp, int flags) {
    if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return error(EINVAL);
    return do_execve(dirfd, path, argv, envp, flags);
}

}  // namespace xos::sys
