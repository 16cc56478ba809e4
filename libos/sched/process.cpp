// The process table (sched/process.h).
#include "sched/process.h"

#include <csignal>
#include <cstring>

#include "base/klog.h"
#include "base/verify.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "sched/thread.h"
#include "vfs/process.h"
#include "xos/platform.h"

namespace xos::sched {

namespace {

IntrusiveList<Process, &Process::all_node> g_processes;
Process* g_first;
int g_process_count;

constexpr uint64_t bit(int signal) { return 1ull << (signal - 1); }

// Signals whose default action ends the process (the rest are ignored, or stop/continue it).
constexpr uint64_t DEFAULT_IGNORED = bit(SIGCHLD) | bit(SIGCONT) | bit(SIGURG) | bit(SIGWINCH);
constexpr uint64_t DEFAULT_STOPS = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU);

void default_limits(rlimit* limits) {
    for (int i = 0; i < RLIM_NLIMITS; ++i) limits[i] = {RLIM_INFINITY, RLIM_INFINITY};
    limits[RLIMIT_STACK] = {8 << 20, RLIM_INFINITY};
    limits[RLIMIT_NOFILE] = {1024, 1024};  // vfs::FdTable::MAX_FDS (sys/rlimit.cpp)
    limits[RLIMIT_CORE] = {0, RLIM_INFINITY};
    limits[RLIMIT_NPROC] = {4096, 4096};
    limits[RLIMIT_SIGPENDING] = {64, 64};
    limits[RLIMIT_MSGQUEUE] = {819200, 819200};
    limits[RLIMIT_RTPRIO] = {0, 0};
    limits[RLIMIT_NICE] = {0, 0};
}

// Taken off the process before it is destroyed: destroying may block (a mapped file's last
// reference going on a network file system), and a reap meanwhile may release the process again,
// even free it (nothing here touches it after the destruction).
void free_memory(Process& process) {
    mm::VirtualMemory* memory = process.memory;
    if (!memory) return;
    process.memory = nullptr;
    if (process.owns_memory && memory != &boot_memory()) destroy_memory(memory);
}

}  // namespace

void init_first_process(Thread& main) {
    auto* process = mm::kcreate<Process>();
    if (!process) panic("no memory for the first process");
    process->pid = process->pgid = process->sid = main.tid;
    process->exit_signal = SIGCHLD;
    process->files = &vfs::boot_process();
    process->memory = &boot_memory();
    process->live_threads = 1;
    process->references = 2;  // its thread, and "reaped by nobody": PID 1 is never freed
    process->start_ns = platform::monotonic_ns();
    strncpy(process->name, "init", sizeof process->name - 1);
    default_limits(process->limits);
    g_processes.push_back(*process);
    g_first = process;
    g_process_count = 1;
    main.process = process;
    vfs::set_current_process_resolver([]() -> vfs::Process* {
        Thread* thread = current_or_null();
        return thread && thread->process ? thread->process->files : nullptr;
    });
}

Process& current_process() {
    Process* process = current().process;
    VERIFY(process);  // not on the idle thread or a kernel thread
    return *process;
}

Process* first_process() { return g_first; }
int process_count() { return g_process_count; }
IntrusiveList<Process, &Process::all_node>& all_processes() { return g_processes; }

Process* find_process(int pid) {
    Process* found = nullptr;
    g_processes.for_each([&](Process& p) {
        if (p.pid == pid && p.state != ProcessState::Reaped) found = &p;
    });
    return found;
}

ErrorOr<Process*> create_process(Process& parent, int pid) {
    auto* process = mm::kcreate<Process>();
    if (!process) return error(EAGAIN);
    process->pid = pid;
    process->pgid = parent.pgid;
    process->sid = parent.sid;
    process->parent = &parent;
    __atomic_store_n(&process->parent_pid, parent.pid, __ATOMIC_RELAXED);
    process->references = 1;  // the parent's (reaping), threads add theirs
    process->start_ns = platform::monotonic_ns();
    memcpy(process->actions, parent.actions, sizeof process->actions);
    memcpy(process->limits, parent.limits, sizeof process->limits);
    process->credentials = parent.credentials;
    process->personality = parent.personality;
    process->dumpable = parent.dumpable;
    memcpy(process->name, parent.name, sizeof process->name);
    if (auto exe = KString::from(parent.exe.view())) process->exe = static_cast<KString&&>(*exe);
    process->arg_start = parent.arg_start, process->arg_end = parent.arg_end;
    process->env_start = parent.env_start, process->env_end = parent.env_end;
    parent.children.push_back(*process);
    g_processes.push_back(*process);
    ++g_process_count;
    return process;
}

void release_process(Process& process) {
    VERIFY(process.references > 0);
    if (--process.references > 0) {
        // The last thread is gone but the parent has yet to reap it: the memory can go now.
        if (process.live_threads == 0 && process.state != ProcessState::Alive) free_memory(process);
        return;
    }
    free_memory(process);
    decltype(g_processes)::remove(process);
    decltype(process.children)::remove(process);
    --g_process_count;
    mm::kdestroy(&process);
}

void activate_process_memory(Process& process) {
    if (process.memory) activate_memory(process.memory);
}

bool must_terminate(Thread& thread) {
    Process& process = *thread.process;
    if (process.exiting && process.exec_survivor != &thread) return true;
    uint64_t deliverable = (thread.signal_pending | process.signal_pending) & ~thread.signal_mask;
    if (deliverable & bit(SIGKILL)) return true;
    for (uint64_t rest = deliverable; rest;) {
        int signal = __builtin_ctzll(rest) + 1;
        rest &= rest - 1;
        if (process.actions[signal].handler == uintptr_t(SIG_DFL) && !(bit(signal) & (DEFAULT_IGNORED | DEFAULT_STOPS)))
            return true;
    }
    return false;
}

}  // namespace xos::sched
