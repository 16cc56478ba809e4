// Descriptor work that fork/exec users rely on: close_range(2), and process descriptors
// (pidfd_open, pidfd_send_signal, waitid(P_PIDFD), pidfd_getfd) as Linux has them since 5.3-5.6.
//
// A pidfd names a process by pid and start time (a pid is not reused while the pidfd could
// confuse it with another process: the start time tells them apart). It polls readable once the
// process has exited (zombie or reaped), as Linux's pidfd_poll.
#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>

#include "base/intrusive_list.h"
#include "base/klog.h"
#include "mm/heap.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "sys/file_helpers.h"
#include "sys/handlers.h"
#include "sys/signal.h"
#include "vfs/anon_fs.h"
#include "vfs/process.h"

namespace xos::sys {

namespace {

constexpr unsigned CLOSE_RANGE_UNSHARE_FLAG = 1u << 1, CLOSE_RANGE_CLOEXEC_FLAG = 1u << 2;  // linux/close_range.h

class PidFile final : public vfs::File {
public:
    PidFile(RefPtr<vfs::Vnode> vnode, int flags, int pid, uint64_t start_ns)
        : File(static_cast<RefPtr<vfs::Vnode>&&>(vnode), flags), m_pid(pid), m_start_ns(start_ns) {}
    ~PidFile() override { List::remove(*this); }

    // The process, while it has not been reaped (a zombie included).
    sched::Process* process() const {
        sched::Process* p = sched::find_process(m_pid);
        return p && p->start_ns == m_start_ns ? p : nullptr;
    }
    int pid() const { return m_pid; }

    ErrorOr<size_t> read(std::span<std::byte>, std::optional<uint64_t>) override { return error(EINVAL); }
    ErrorOr<size_t> write(std::span<const std::byte>, std::optional<uint64_t>) override { return error(EINVAL); }
    ErrorOr<uint64_t> seek(int64_t, int) override { return error(ESPIPE); }
    ErrorOr<KString> anonymous_name() override { return KString::from("anon_inode:[pidfd]"); }
    vfs::PollMask poll_mask() override {
        sched::Process* p = process();
        if (!p) return vfs::poll_bits::READABLE | vfs::poll_bits::HUP;
        return p->state == sched::ProcessState::Alive ? 0 : vfs::poll_bits::READABLE;
    }
    vfs::PollWaiters* poll_waiters() override { return &m_poll; }

    IntrusiveListNode node;
    using List = IntrusiveList<PidFile, &PidFile::node>;

    vfs::PollWaiters m_poll;

private:
    int m_pid;
    uint64_t m_start_ns;
};

PidFile::List* g_pid_files = nullptr;  // every open pidfd (kernel heap: no static constructors)

PidFile::List& pid_files() {
    if (!g_pid_files) g_pid_files = mm::kcreate<PidFile::List>();
    return *g_pid_files;
}

ErrorOr<PidFile*> pid_file_for(int fd, RefPtr<vfs::File>& hold) {
    hold = TRY(file_for(fd));
    PidFile* found = nullptr;  // no RTTI: a pidfd is one on the list
    if (g_pid_files)
        g_pid_files->for_each([&](PidFile& file) {
            if (&file == hold.get()) found = &file;
        });
    if (!found) return error(EBADF);
    return found;
}

}  // namespace

// Implements close_range(2). Descriptor tables are per process (no CLONE_FILES between
// processes), so CLOSE_RANGE_UNSHARE has nothing to unshare in a process with one thread; the
// threads of a process share one table, which libos cannot split: EINVAL with a log line.
ErrorOr<long> sys_close_range(unsigned first, unsigned last, unsigned flags) {
    if (flags & ~(CLOSE_RANGE_UNSHARE_FLAG | CLOSE_RANGE_CLOEXEC_FLAG)) return error(EINVAL);
    if (first > last) return error(EINVAL);
    if ((flags & CLOSE_RANGE_UNSHARE_FLAG) && sched::current_process().live_threads > 1) {
        klog("xos: close_range: CLOSE_RANGE_UNSHARE from a process with several threads is not supported");
        return error(EINVAL);
    }
    vfs::FdTable& fds = vfs::process().fds;
    unsigned end = last < unsigned(vfs::FdTable::MAX_FDS - 1) ? last : unsigned(vfs::FdTable::MAX_FDS - 1);
    for (unsigned fd = first; fd <= end; ++fd) {
        if (!fds.is_open(int(fd))) continue;
        if (flags & CLOSE_RANGE_CLOEXEC_FLAG)
            (void)fds.set_cloexec(int(fd), true);
        else
            (void)fds.close(int(fd));
    }
    return 0;
}

// Implements pidfd_open(2): flags 0 or PIDFD_NONBLOCK; the descriptor is always close-on-exec.
ErrorOr<long> sys_pidfd_open(pid_t pid, unsigned flags) {
    if (flags & ~unsigned(O_NONBLOCK)) return error(EINVAL);
    if (pid <= 0) return error(EINVAL);
    sched::Process* process = sched::find_process(pid);
    if (!process) {
        // A thread id that is not a process's: EINVAL, as Linux (no thread-group leader).
        return error(sched::find_thread(pid) ? EINVAL : ESRCH);
    }
    RefPtr<vfs::Vnode> vnode = TRY(vfs::anon_fs().create_node(0600));
    auto* file = mm::kcreate<PidFile>(vnode, O_RDWR | (flags & O_NONBLOCK), pid, process->start_ns);
    if (!file) return error(ENOMEM);
    RefPtr<vfs::File> held(file);
    pid_files().push_back(*file);
    return long(TRY(vfs::process().fds.allocate(held, true)));
}

// Implements pidfd_send_signal(2): as kill(2) to the pidfd's process. `info`, when given, must
// name the same signal; its other fields are not passed on (the receiver sees SI_USER).
ErrorOr<long> sys_pidfd_send_signal(int fd, int signal, UserPtr<const siginfo_t> info, unsigned flags) {
    if (flags) return error(EINVAL);
    if (signal < 0 || signal > sched::MAX_SIGNAL) return error(EINVAL);
    RefPtr<vfs::File> hold;
    PidFile* pid_file = TRY(pid_file_for(fd, hold));
    if (!info.is_null()) {
        siginfo_t given = TRY(read_user(info));
        if (given.si_signo != signal) return error(EINVAL);
    }
    sched::Process* process = pid_file->process();
    if (!process) return error(ESRCH);
    send_signal_to_process(*process, signal);
    return 0;
}

// Whether the caller may take descriptors from `target`, as Linux's ptrace_may_access with
// PTRACE_MODE_ATTACH_REALCREDS: the caller's real uid and gid are all of the target's ids and
// the target is dumpable (a zombie has no memory left to check). An effective uid of 0 stands
// for CAP_SYS_PTRACE (credentials are reported, not enforced: docs/processes.md).
bool may_take_descriptors(const sched::Process& caller, const sched::Process& target) {
    if (&caller == &target) return true;
    const sched::Credentials& c = caller.credentials;
    if (c.euid == 0) return true;
    const sched::Credentials& t = target.credentials;
    bool same_user = c.uid == t.uid && c.uid == t.euid && c.uid == t.suid;
    bool same_group = c.gid == t.gid && c.gid == t.egid && c.gid == t.sgid;
    return same_user && same_group && (target.dumpable || target.state != sched::ProcessState::Alive);
}

// Implements pidfd_getfd(2): a new descriptor, close-on-exec, for the open file behind `fd` in
// the pidfd's process. EINVAL for flags, EBADF for a descriptor that is not a pidfd or an `fd`
// the process does not have open, EPERM as above, ESRCH once it exits (Linux since 6.9 says
// ESRCH rather than EBADF for a process whose descriptors are gone).
ErrorOr<long> sys_pidfd_getfd(int pidfd, int fd, unsigned flags) {
    if (flags) return error(EINVAL);
    RefPtr<vfs::File> hold;
    PidFile* pid_file = TRY(pid_file_for(pidfd, hold));
    sched::Process* target = pid_file->process();
    if (!target || target->state == sched::ProcessState::Reaped) return error(ESRCH);
    if (!may_take_descriptors(sched::current_process(), *target)) return error(EPERM);
    if (target->state != sched::ProcessState::Alive || !target->files) return error(ESRCH);
    RefPtr<vfs::File> file = TRY(target->files->fds.get(fd));
    return long(TRY(vfs::process().fds.allocate(file, true)));
}

ErrorOr<PidfdTarget> pidfd_target(int fd) {
    RefPtr<vfs::File> hold;
    PidFile* pid_file = TRY(pid_file_for(fd, hold));
    return PidfdTarget{pid_file->pid(), pid_file->nonblocking()};
}

void notify_pidfds(sched::Process& process) {
    if (!g_pid_files) return;
    g_pid_files->for_each([&](PidFile& file) {
        if (file.pid() == process.pid) file.m_poll.notify(vfs::poll_bits::READABLE);
    });
}

}  // namespace xos::sys
