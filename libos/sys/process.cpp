// Process syscalls: exit and zombies, wait4/waitid, process groups and sessions, identity
// (docs/processes.md).
#include <csignal>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>

#include "base/klog.h"
#include "mm/vm.h"
#include "net/stack.h"
#include "sched/futex.h"
#include "sched/futex_pi.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "sys/handlers.h"
#include "sys/sysv_ipc.h"
#include "sys/signal.h"
#include "vfs/process.h"
#include "xos/platform.h"

namespace xos::sys {

uint64_t cpu_time_of(sched::Process& process) {
    uint64_t total = process.dead_threads_cpu_ns;
    sched::Thread* self = sched::current_or_null();
    // cpu_time_ns leaves out the slice a thread is running: the caller's own is added.
    sched::for_each_thread_of(
        process, [&](sched::Thread& t) { total += &t == self ? sched::thread_cpu_time_ns() : t.cpu_time_ns; });
    return total;
}

namespace {

using sched::Process;
using sched::ProcessState;

void sample_peak_rss(Process& process) {
    if (!process.memory || !process.owns_memory) return;
    long kb = long(process.memory->resident_bytes() / 1024);
    if (kb > process.peak_rss_kb) process.peak_rss_kb = kb;
}

// Where the orphans of `self` go: the nearest living ancestor that is a subreaper
// (PR_SET_CHILD_SUBREAPER), else PID 1.
Process* reaper_for(Process& self) {
    for (Process* p = self.parent; p; p = p->parent)
        if (p->child_subreaper && p->state == ProcessState::Alive && !p->exiting) return p;
    return sched::first_process();
}

// Folds a reaped (or auto-reaped) child's usage into its parent's RUSAGE_CHILDREN.
void account_child(Process& parent, Process& child) {
    parent.children_cpu_ns += cpu_time_of(child) + child.children_cpu_ns;
    long peak = child.peak_rss_kb > child.children_peak_rss_kb ? child.peak_rss_kb : child.children_peak_rss_kb;
    if (peak > parent.children_peak_rss_kb) parent.children_peak_rss_kb = peak;
}

// The process has no threads left: it releases what others may wait for (descriptors, a
// vfork parent), gives its children to its reaper (sending those that asked for it their
// parent-death signal) and tells its parent.
void become_zombie(Process& self) {
    self.exiting = true;
    sample_peak_rss(self);
    ipc_process_exited(self);
    vfs::release_process(self.files);
    self.files = nullptr;
    release_vfork_parent(self);
    Process* reaper = reaper_for(self);
    self.children.for_each([&](Process& child) {
        decltype(self.children)::remove(child);
        child.parent = reaper;
        __atomic_store_n(&child.parent_pid, reaper->pid, __ATOMIC_RELAXED);
        reaper->children.push_back(child);
        if (child.state == ProcessState::Zombie) sched::wake_all(reaper->child_event);
        if (child.parent_death_signal && child.state == ProcessState::Alive)
            send_signal_to_process(child, child.parent_death_signal);
    });
    Process* parent = self.parent;
    self.state = ProcessState::Zombie;
    if (reaps_children_automatically(*parent)) {
        // No zombie: nobody will wait for it (wait returns ECHILD once the others are gone).
        decltype(parent->children)::remove(self);
        self.state = ProcessState::Reaped;
        account_child(*parent, self);
        sched::wake_all(parent->child_event);
        notify_pidfds(self);
        sched::release_process(self);
        return;
    }
    if (self.exit_signal) send_signal_to_process(*parent, self.exit_signal);
    sched::wake_all(parent->child_event);
    notify_pidfds(self);
}

// wait4/waitid's choice of children: P_ALL, P_PID or P_PGID.
struct Selector {
    idtype_t type;
    id_t id;
    bool matches(const Process& child) const {
        switch (type) {
        case P_PID: return child.pid == int(id);
        case P_PGID: return child.pgid == int(id);
        default: return true;
        }
    }
};

enum WaitFor : int { Exited = WEXITED, Stopped = WSTOPPED, Continued = WCONTINUED };

struct WaitResult {
    int pid = 0;
    int status = 0;  // wait4's encoding
    int code = 0;  // waitid's si_code (CLD_*)
    int value = 0;  // waitid's si_status
    uint64_t cpu_ns = 0;
    long maxrss_kb = 0;
};

// The first child state change `options` asks for, consumed unless WNOWAIT. ECHILD if no child
// matches; EINTR when a signal comes first; pid 0 with WNOHANG and nothing to report.
ErrorOr<WaitResult> wait_for_child(Selector selector, int options) {
    Process& self = sched::current_process();
    WaitResult result;
    bool any = false;
    Process* found = nullptr;
    auto scan = [&] {
        any = false;
        found = nullptr;
        self.children.for_each([&](Process& child) {
            if (found || !selector.matches(child)) return;
            // __WCLONE children (exit signal other than SIGCHLD) only with __WCLONE or __WALL.
            bool clone_child = child.exit_signal != SIGCHLD;
            if (!(options & __WALL) && clone_child != bool(options & __WCLONE)) return;
            any = true;
            if (child.state == ProcessState::Zombie && (options & WEXITED))
                found = &child;
            else if (child.stopped && child.stop_to_report && (options & WSTOPPED))
                found = &child;
            else if (child.continue_to_report && (options & WCONTINUED))
                found = &child;
        });
        return found != nullptr || !any;
    };
    if (!scan() && !(options & WNOHANG)) TRY(sched::wait_event(self.child_event, scan));
    if (!any && !found) return error(ECHILD);
    if (!found) return result;  // WNOHANG
    Process& child = *found;
    result.pid = child.pid;
    bool consume = !(options & WNOWAIT);
    if (child.state == ProcessState::Zombie) {
        int status = child.wait_status;
        result.status = status;
        result.code = WIFSIGNALED(status) ? (WCOREDUMP(status) ? CLD_DUMPED : CLD_KILLED) : CLD_EXITED;
        result.value = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
        result.cpu_ns = cpu_time_of(child) + child.children_cpu_ns;
        result.maxrss_kb =
            child.peak_rss_kb > child.children_peak_rss_kb ? child.peak_rss_kb : child.children_peak_rss_kb;
        if (consume) {
            account_child(self, child);
            decltype(self.children)::remove(child);
            child.state = ProcessState::Reaped;
            sched::release_process(child);
        }
    } else if (child.stopped && child.stop_to_report) {
        result.status = (child.stop_signal << 8) | 0x7f;
        result.code = CLD_STOPPED;
        result.value = child.stop_signal;
        if (consume) child.stop_to_report = false;
    } else {
        result.status = 0xffff;
        result.code = CLD_CONTINUED;
        result.value = SIGCONT;
        if (consume) child.continue_to_report = false;
    }
    return result;
}

// CPU time is reported as user time (libos does not split it); ru_maxrss in KiB.
ErrorOr<void> write_rusage(UserPtr<struct rusage> out, uint64_t cpu_ns, long maxrss_kb) {
    if (out.is_null()) return {};
    struct rusage usage{};
    usage.ru_utime.tv_sec = time_t(cpu_ns / 1000000000);
    usage.ru_utime.tv_usec = suseconds_t(cpu_ns % 1000000000 / 1000);
    usage.ru_maxrss = maxrss_kb;
    TRY(write_user(out, usage));
    return {};
}

Process* process_or_self(pid_t pid) { return pid == 0 ? &sched::current_process() : sched::find_process(pid); }

}  // namespace

void release_vfork_waiters(Process& process) {
    process.children.for_each([](Process& child) {
        if (child.vfork_pending) sched::wake_all(child.vfork_done);
    });
}

void release_vfork_parent(Process& child) {
    if (!child.vfork_pending) return;
    child.vfork_pending = false;
    sched::wake_all(child.vfork_done);
}

void end_current_thread(int wait_status) {
    sched::Thread& self = sched::current();
    Process& process = *self.process;
    sched::exit_robust_list(self);
    if (self.clear_child_tid) {
        // CLONE_CHILD_CLEARTID: pthread_join and musl's thread-list lock wait for this.
        if (write_user(UserPtr<int>(self.clear_child_tid), 0)) sched::futex_wake(self.clear_child_tid, 1);
    }
    if (process.live_threads == 1) {
        if (!process.exiting) process.wait_status = wait_status;
        if (&process == sched::first_process()) {
            // PID 1: the image ends with it, and every other process with the image.
            net::drain_before_exit();
            int status = process.wait_status;
            if (WIFSIGNALED(status))
                platform::shutdown(platform::ExitKind::Crash, 128 + WTERMSIG(status), "PID 1 was killed");
            platform::shutdown(platform::ExitKind::Exit, WEXITSTATUS(status), nullptr);
        }
        become_zombie(process);
    } else if (process.exec_survivor && process.exec_survivor != &self) {
        // An exec waits for this thread to end: it rechecks once this one is gone (no
        // preemption between the wake and the end, so its check cannot come first).
        platform::interrupts_disable();
        sched::wake_all(process.threads_ended);
    }
    sched::exit_current();
}

void exit_current_process(int wait_status) {
    sched::Thread& self = sched::current();
    Process& process = *self.process;
    if (&process == sched::first_process() && !WIFSIGNALED(wait_status)) {
        net::drain_before_exit();
        platform::shutdown(platform::ExitKind::Exit, WEXITSTATUS(wait_status), nullptr);
    }
    if (!process.exiting) {
        process.exiting = true;
        process.exec_survivor = nullptr;
        process.wait_status = wait_status;
    }
    // The others end when they leave libos or before they run app code again (sched/thread.h).
    sched::for_each_thread_of(process, [&](sched::Thread& t) {
        if (&t != &self && t.state == sched::ThreadState::Blocked && t.interruptible)
            sched::wake(t, sched::WakeReason::Interrupted);
    });
    release_vfork_waiters(process);
    end_current_thread(wait_status);
}

// Implements exit(2): ends the calling thread; the last one ends the process.
ErrorOr<long> sys_exit(int status) { end_current_thread((status & 0xff) << 8); }

// Implements exit_group(2).
ErrorOr<long> sys_exit_group(int status) { exit_current_process((status & 0xff) << 8); }

// Implements wait4(2).
ErrorOr<long> sys_wait4(pid_t pid, UserPtr<int> status, int options, UserPtr<struct rusage> usage) {
    if (options & ~(WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE | __WNOTHREAD)) return error(EINVAL);
    if (pid == INT32_MIN) return error(ESRCH);
    Selector selector{P_ALL, 0};
    if (pid > 0) selector = {P_PID, id_t(pid)};
    if (pid == 0) selector = {P_PGID, id_t(sched::current_process().pgid)};
    if (pid < -1) selector = {P_PGID, id_t(-pid)};
    int wanted =
        WEXITED | (options & WUNTRACED ? WSTOPPED : 0) | (options & (WCONTINUED | WNOHANG | __WALL | __WCLONE));
    WaitResult result = TRY(wait_for_child(selector, wanted));
    if (result.pid == 0) return 0;
    if (!status.is_null()) TRY(write_user(status, result.status));
    TRY(write_rusage(usage, result.cpu_ns, result.maxrss_kb));
    return result.pid;
}

// Implements waitid(2).
ErrorOr<long> sys_waitid(int type, id_t id, UserPtr<siginfo_t> info, int options, UserPtr<struct rusage> usage) {
    if (options & ~(WNOHANG | WEXITED | WSTOPPED | WCONTINUED | WNOWAIT | __WALL | __WCLONE | __WNOTHREAD))
        return error(EINVAL);
    if (!(options & (WEXITED | WSTOPPED | WCONTINUED))) return error(EINVAL);
    Selector selector{P_ALL, 0};
    bool pidfd_nonblocking = false;
    switch (type) {
    case P_ALL: break;
    case P_PID:
        if (int(id) <= 0) return error(EINVAL);
        selector = {P_PID, id};
        break;
    case P_PGID: selector = {P_PGID, id ? id : id_t(sched::current_process().pgid)}; break;
    case P_PIDFD: {
        PidfdTarget target = TRY(pidfd_target(int(id)));
        selector = {P_PID, id_t(target.pid)};
        // Linux: a nonblocking pidfd makes the wait WNOHANG, and "nothing yet" EAGAIN.
        if (target.nonblocking && !(options & WNOHANG)) pidfd_nonblocking = true;
        break;
    }
    default: return error(EINVAL);
    }
    if (pidfd_nonblocking) options |= WNOHANG;
    WaitResult result = TRY(wait_for_child(selector, options));
    if (pidfd_nonblocking && !result.pid) return error(EAGAIN);
    if (!info.is_null()) {
        siginfo_t out{};
        if (result.pid) {
            out.si_signo = SIGCHLD;
            out.si_code = result.code;
            out.si_pid = result.pid;
            out.si_uid = 0;
            out.si_status = result.value;
        }
        TRY(write_user(info, out));
    }
    TRY(write_rusage(usage, result.cpu_ns, result.maxrss_kb));
    return 0;
}

// Implements getrusage(2): CPU time (as user time) and the peak resident set; the other
// counters read 0.
ErrorOr<long> sys_getrusage(int who, UserPtr<struct rusage> usage) {
    Process& self = sched::current_process();
    sample_peak_rss(self);
    switch (who) {
    case RUSAGE_SELF: TRY(write_rusage(usage, cpu_time_of(self), self.peak_rss_kb)); return 0;
    case RUSAGE_CHILDREN: TRY(write_rusage(usage, self.children_cpu_ns, self.children_peak_rss_kb)); return 0;
    case RUSAGE_THREAD: TRY(write_rusage(usage, sched::thread_cpu_time_ns(), self.peak_rss_kb)); return 0;
    default: return error(EINVAL);
    }
}

// Implements times(2): CPU time as user time, in clock ticks (100 Hz); returns ticks since boot.
ErrorOr<long> sys_times(UserPtr<struct tms> out) {
    Process& self = sched::current_process();
    constexpr uint64_t NS_PER_TICK = 10000000;
    if (!out.is_null()) {
        struct tms t{};
        t.tms_utime = clock_t(cpu_time_of(self) / NS_PER_TICK);
        t.tms_cutime = clock_t(self.children_cpu_ns / NS_PER_TICK);
        TRY(write_user(out, t));
    }
    return long(platform::monotonic_ns() / NS_PER_TICK);
}

// Implements getpid(2).
ErrorOr<long> sys_getpid() { return sched::current_process().pid; }

// Implements getppid(2): 0 for PID 1 (nobody started it from inside the VM). Without the big
// lock: the pid stored with the parent pointer, which a reparenting on another CPU changes.
ErrorOr<long> sys_getppid() { return __atomic_load_n(&sched::current_process().parent_pid, __ATOMIC_RELAXED); }

// Implements setpgid(2).
ErrorOr<long> sys_setpgid(pid_t pid, pid_t pgid) {
    if (pgid < 0) return error(EINVAL);
    Process& self = sched::current_process();
    Process* target = process_or_self(pid);
    if (!target || (target != &self && target->parent != &self)) return error(ESRCH);
    if (target->sid != self.sid) return error(EPERM);
    if (target->pid == target->sid) return error(EPERM);  // a session leader
    int group = pgid == 0 ? target->pid : pgid;
    if (group != target->pid) {
        bool exists = false;
        sched::for_each_process([&](Process& p) {
            if (p.pgid == group && p.sid == self.sid && p.state != ProcessState::Reaped) exists = true;
        });
        if (!exists) return error(EPERM);
    }
    target->pgid = group;
    return 0;
}

// Implements getpgid(2).
ErrorOr<long> sys_getpgid(pid_t pid) {
    Process* target = process_or_self(pid);
    if (!target) return error(ESRCH);
    return target->pgid;
}

// Implements getpgrp(2).
ErrorOr<long> sys_getpgrp() { return sched::current_process().pgid; }

// Implements setsid(2).
ErrorOr<long> sys_setsid() {
    Process& self = sched::current_process();
    bool leads_a_group = false;
    sched::for_each_process([&](Process& p) {
        if (p.pgid == self.pid && p.state != ProcessState::Reaped) leads_a_group = true;
    });
    if (leads_a_group) return error(EPERM);
    self.sid = self.pgid = self.pid;
    return self.sid;
}

// Implements getsid(2).
ErrorOr<long> sys_getsid(pid_t pid) {
    Process* target = process_or_self(pid);
    if (!target) return error(ESRCH);
    return target->sid;
}

}  // namespace xos::sys
