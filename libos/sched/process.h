// Processes: what the threads of one program share (docs/processes.md). A process owns an
// address space (mm::VirtualMemory), its file-system state (vfs::Process: descriptors, root,
// cwd, umask), its signal actions, credentials and limits, and has a pid, a parent, a process
// group and a session. PID 1 is the image's first program; when it ends, the image ends.
//
// Lifetime: a process is alive while it has threads; when the last one exits it becomes a
// zombie until its parent reaps it with wait4/waitid (or at once, when the parent ignores
// SIGCHLD). Its memory is released once no thread runs on it any more (the scheduler's reaper),
// its descriptors at exit (so pipe readers see end-of-file).
#pragma once

#include <sys/resource.h>

#include <cstdint>

#include "base/intrusive_list.h"
#include "base/kstring.h"
#include "sched/wait_queue.h"

namespace xos::vfs {
struct Process;
}
namespace xos::mm {
class VirtualMemory;
}

namespace xos::sched {

constexpr int MAX_SIGNAL = 64;

// The kernel's struct sigaction layout (what rt_sigaction passes).
struct SignalAction {
    uintptr_t handler = 0;  // SIG_DFL
    unsigned long flags = 0;
    uintptr_t restorer = 0;
    uint64_t mask = 0;
};

// A process's user and group ids (sys/credentials.cpp): inherited by fork, kept by exec (no
// setuid/setgid executables), changed by setuid(2) and friends with Linux's rules (an effective
// uid of 0 may set any id, others only swap among their real, effective and saved ids). They are
// reported, not enforced: file access is not checked against them and new files belong to root.
struct Credentials {
    static constexpr int MAX_GROUPS = 64;
    uint32_t uid = 0, euid = 0, suid = 0, fsuid = 0;
    uint32_t gid = 0, egid = 0, sgid = 0, fsgid = 0;
    int group_count = 0;
    uint32_t groups[MAX_GROUPS] = {};
};

// Reaped: waited for, but a thread of it is not freed yet (no longer found by pid).
enum class ProcessState { Alive, Zombie, Reaped };

struct Process {
    int pid = 0;
    int pgid = 0;
    int sid = 0;
    Process* parent = nullptr;
    // The parent's pid, stored (atomically) with every change of `parent` (under the big lock):
    // getppid reads it without the big lock, where `parent` may be reaped and freed meanwhile.
    int parent_pid = 0;
    ProcessState state = ProcessState::Alive;
    int live_threads = 0;
    int references = 0;  // threads not yet freed by the scheduler + 1 while the parent may reap it
    int exit_signal = 0;  // sent to the parent at exit (clone's low byte; SIGCHLD for fork)

    // Set by exit_group, a fatal signal or exec: every other thread ends at its next chance (when
    // it leaves libos, or before it runs app code again).
    bool exiting = false;
    Thread* exec_survivor = nullptr;  // exec: the one thread that stays
    int wait_status = 0;  // the Linux wait status once exiting (exit code << 8, or the signal)

    // Stop/continue (SIGSTOP, SIGTSTP, SIGCONT): reported once each to a parent's wait.
    bool stopped = false;
    int stop_signal = 0;
    bool stop_to_report = false;
    bool continue_to_report = false;
    WaitQueue continued;  // stopped threads wait here

    // vfork: the parent sleeps on `vfork_done` until the child execs or exits.
    bool vfork_pending = false;
    WaitQueue vfork_done;

    IntrusiveListNode all_node;
    IntrusiveListNode sibling_node;
    IntrusiveList<Process, &Process::sibling_node> children;
    WaitQueue child_event;  // wait4/waitid of this process's threads: a child changed state

    SignalAction actions[MAX_SIGNAL + 1];
    uint64_t signal_pending = 0;  // sent to the process, not yet taken by one of its threads
    vfs::Process* files = nullptr;
    mm::VirtualMemory* memory = nullptr;
    bool owns_memory = true;  // false while it shares its parent's (CLONE_VM, vfork)
    rlimit limits[RLIM_NLIMITS];
    Credentials credentials;
    char name[16] = {};  // comm: the file name exec'd, as /proc/PID/comm shows
    // What /proc/PID shows of the program (set by execve, copied by fork): the executable's
    // absolute path (exe; empty for the image's own program) and where its arguments and
    // environment strings lie in its memory (cmdline, environ; 0 when not exec'd).
    KString exe;
    uintptr_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
    // exec from a thread while others run: the exec'ing thread waits here for them to end.
    WaitQueue threads_ended;

    uint64_t start_ns = 0;
    uint64_t dead_threads_cpu_ns = 0;  // CPU time of its threads that were freed
    uint64_t children_cpu_ns = 0;  // reaped children's CPU time (RUSAGE_CHILDREN, times)
    long peak_rss_kb = 0;  // ru_maxrss as last sampled (getrusage, exit)
    long children_peak_rss_kb = 0;  // the largest of its reaped children's (RUSAGE_CHILDREN)

    // prctl and personality (sys/prctl.cpp): fork copies the personality; the child starts with
    // no parent-death signal and is no subreaper.
    int parent_death_signal = 0;  // PR_SET_PDEATHSIG: sent to it when its parent exits
    bool child_subreaper = false;  // PR_SET_CHILD_SUBREAPER: orphaned descendants come here
    bool dumpable = true;  // PR_SET_DUMPABLE
    unsigned personality = 0;  // PER_LINUX and flags

    // Interval timers (sys/itimer.cpp), ITIMER_REAL/VIRTUAL/PROF: when each fires (REAL: the
    // monotonic clock; VIRTUAL and PROF: the process's CPU time), 0 when disarmed, and its
    // interval. Not inherited by fork; kept by exec.
    uint64_t itimer_expiry[3] = {};
    uint64_t itimer_interval[3] = {};
};

// Makes the boot program PID 1 (the boot file-system state and memory) and gives it `main`.
void init_first_process(Thread& main);

Process& current_process();
Process* find_process(int pid);
Process* first_process();  // PID 1
int process_count();  // alive and zombie

// A new process with the given pid, child of `parent`: same group and session, copies of the
// parent's signal actions, limits and credentials (files and memory are the caller's to set).
ErrorOr<Process*> create_process(Process& parent, int pid);

// Calls fn(Process&) for every process (alive or zombie), in creation order.
template <typename Fn>
void for_each_process(Fn&& fn);

// Calls fn(Thread&) for every live thread of `process`.
template <typename Fn>
void for_each_thread_of(Process& process, Fn&& fn);

// Drops one reference; frees the process (its memory, files, the struct) at zero.
void release_process(Process& process);

// Makes `process`'s address space the current one (the scheduler calls it when it switches to
// a thread of another process; exec when it moves to the new image).
void activate_process_memory(Process& process);

// Address spaces (process_memory.cpp, over mm::VirtualMemory): the boot program's; a new empty
// one (exec); a copy-on-write copy of the current one (fork, ENOSYS where not supported); making
// one current; freeing one that is not current.
mm::VirtualMemory& boot_memory();
ErrorOr<mm::VirtualMemory*> create_memory();
ErrorOr<mm::VirtualMemory*> fork_memory(mm::VirtualMemory& from);
void activate_memory(mm::VirtualMemory* memory);
void destroy_memory(mm::VirtualMemory* memory);

// The live threads of all processes, for for_each_thread_of.
IntrusiveList<Process, &Process::all_node>& all_processes();
void for_each_live_thread(void (*fn)(Thread&, void*), void* context);

template <typename Fn>
void for_each_process(Fn&& fn) {
    all_processes().for_each(fn);
}

template <typename Fn>
void for_each_thread_of(Process& process, Fn&& fn) {
    struct Context {
        Process* process;
        Fn* fn;
    } context{&process, &fn};
    for_each_live_thread(
        [](Thread& thread, void* raw) {
            auto* c = static_cast<Context*>(raw);
            if (thread.process == c->process) (*c->fn)(thread);
        },
        &context);
}

}  // namespace xos::sched
