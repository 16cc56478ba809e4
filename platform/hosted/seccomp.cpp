// The sandbox: a seccomp filter installed before the app starts. Host syscalls are allowed only
// from the platform's own entry (syscall.S) and only those listed below; the list is
// documented in docs/hosted.md. Everything else raises SIGSYS (signals.cpp): a `syscall`
// instruction in the app is then run by libos, a disallowed call by the platform ends the
// image with a message naming the syscall (status 159).
//
// The app shares the address space with the platform, so it can call xos_host_syscall (or jump
// to the entry's `syscall` instruction) itself, with any arguments: every call allowed here is
// allowed to hostile code. Hence the argument checks below, wherever seccomp can express them
// (integers, not what pointers point to): tgkill only to this process's vCPU threads and the
// platform's signals, futex (several vCPUs only) only the private wait and wake,
// fds only the platform's (fixed numbers, host.h), no executable mapping (or, with XOS_EXEC=wx,
// none writable and executable). Paths cannot be checked here: the mount namespace and Landlock
// (sandbox.cpp) confine them.
#include <cstdint>

#include "hosted/host.h"
#include "hosted/vcpu.h"

namespace xos::hosted {

namespace {

struct SockFilter {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};
struct SockFprog {
    unsigned short length;
    const SockFilter* filter;
};

constexpr uint16_t BPF_LD_W_ABS = 0x20, BPF_JEQ_K = 0x15, BPF_JGE_K = 0x35, BPF_JSET_K = 0x45, BPF_RET_K = 0x06,
                   BPF_AND_K = 0x54, BPF_JA = 0x05;
constexpr uint32_t RET_KILL_PROCESS = 0x80000000u, RET_TRAP = 0x00030000u, RET_ALLOW = 0x7fff0000u;
constexpr uint32_t AUDIT_ARCH_X86_64 = 0xc000003eu;
// struct seccomp_data: nr, arch, instruction_pointer, args[6].
constexpr uint32_t OFFSET_NR = 0, OFFSET_ARCH = 4, OFFSET_IP_LOW = 8, OFFSET_IP_HIGH = 12, OFFSET_ARG0_LOW = 16;
// The low 32 bits of argument i: all an int argument (fd, signal, pid) is to the kernel.
constexpr uint32_t arg_low(int i) { return OFFSET_ARG0_LOW + 8 * uint32_t(i); }

constexpr uint32_t SYS_FUTEX = 202, FUTEX_WAIT_PRIVATE = 128, FUTEX_WAKE_PRIVATE = 129;

// Allowed without looking at the arguments: none of them reaches outside this process.
// write, readv/writev, the disks' calls, arch_prctl, tgkill, setitimer, mmap and mprotect are
// allowed below with their arguments checked.
constexpr long ALLOWED[] = {
    host::RT_SIGRETURN,  // return from every signal handler (interrupts, faults)
    host::RT_SIGSUSPEND,  // the idle wait
    host::CLOCK_GETTIME,  // the clocks
    host::GETRANDOM,  // entropy
    host::EXIT_GROUP,  // shutdown
};

// With shares: these calls take a descriptor first, which may not be the console's 0-2 (the
// platform's fds are all above; the shares' handles take the lowest free numbers above 2).
constexpr long SHARE_FD_CALLS[] = {host::CLOSE,     host::LSEEK,     host::PREAD64, host::PWRITE64,   host::FSYNC,
                                   host::FDATASYNC, host::FTRUNCATE, host::FSTATFS, host::GETDENTS64, host::FALLOCATE};

// Added only when the image has host directory shares (hostfs.cpp). openat's path is a pointer
// the filter cannot check: hostfs.cpp's wrappers confine every name to one component.
constexpr long ALLOWED_FOR_SHARES[] = {
    host::OPENAT,  // a share's files (O_PATH), reopening one for I/O through /proc/self/fd
    host::CLOSE,
    host::NEWFSTATAT,  // stat of a handle
    host::FSTATFS,    host::PREAD64,    host::PWRITE64,
    host::LSEEK,  // to a directory's cookie before getdents64
    host::GETDENTS64, host::FTRUNCATE,  host::FALLOCATE, host::FSYNC,     host::FDATASYNC,
    host::MKDIRAT,    host::MKNODAT,    host::UNLINKAT,  host::RENAMEAT2,
    host::LINKAT,  // through /proc/self/fd
    host::SYMLINKAT,  host::READLINKAT,
    host::FCHMODAT,  // through /proc/self/fd
    host::FCHOWNAT,  // AT_EMPTY_PATH
    host::UTIMENSAT,
    host::GETXATTR,  // user.virtfs.* of a share's file (through /proc/self/fd/N), the mapped mode
    host::SETXATTR,  // the same
};

class Program {
public:
    void add(uint16_t code, uint32_t k, uint8_t jt = 0, uint8_t jf = 0) {
        if (m_length == sizeof m_code / sizeof m_code[0]) setup_failed("the seccomp filter is too long", 0);
        m_code[m_length++] = {code, jt, jf, k};
    }
    SockFprog fprog() const { return {m_length, m_code}; }
    unsigned short here() const { return m_length; }
    // A block that starts with `JEQ nr, 0, <skip>` at `at`: its skip now goes to the next
    // instruction to be added.
    void skip_to_here(unsigned short at) {
        unsigned distance = m_length - at - 1u;
        if (distance > 255) setup_failed("a seccomp filter block is too long", 0);
        m_code[at].jf = uint8_t(distance);
    }
    // Traps unless the protection argument (A) is acceptable: never PROT_EXEC, or with
    // XOS_EXEC=wx never PROT_WRITE and PROT_EXEC together.
    void check_protection() {
        if (g_exec_allowed) {
            add(BPF_AND_K, host::PROT_WRITE | host::PROT_EXEC);
            add(BPF_JEQ_K, host::PROT_WRITE | host::PROT_EXEC, 0, 1);
        } else {
            add(BPF_JSET_K, host::PROT_EXEC, 0, 1);
        }
        add(BPF_RET_K, RET_TRAP);
    }

private:
    SockFilter m_code[256];
    unsigned short m_length = 0;
};

Program g_program;

}  // namespace

void install_seccomp() {
    Program& p = g_program;
    auto begin = reinterpret_cast<uintptr_t>(xos_host_syscall_begin);
    auto end = reinterpret_cast<uintptr_t>(xos_host_syscall_end);
    if ((begin >> 32) != ((end - 1) >> 32)) setup_failed("the syscall entry must not straddle a 4 GiB boundary", 0);

    p.add(BPF_LD_W_ABS, OFFSET_ARCH);
    p.add(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0);
    p.add(BPF_RET_K, RET_KILL_PROCESS);
    // clock_gettime from the host's vDSO (its fallback when the clock source needs the kernel).
    if (uintptr_t vdso_begin, vdso_end; vdso_text(vdso_begin, vdso_end)) {
        p.add(BPF_LD_W_ABS, OFFSET_NR);
        p.add(BPF_JEQ_K, host::CLOCK_GETTIME, 0, 6);
        p.add(BPF_LD_W_ABS, OFFSET_IP_HIGH);
        p.add(BPF_JEQ_K, uint32_t(vdso_begin >> 32), 0, 4);
        p.add(BPF_LD_W_ABS, OFFSET_IP_LOW);
        p.add(BPF_JGE_K, uint32_t(vdso_begin), 0, 2);
        p.add(BPF_JGE_K, uint32_t(vdso_end - 1), 1, 0);  // end - 1: `end` may be 2^32 (low half 0)
        p.add(BPF_RET_K, RET_ALLOW);
    }
    // Only syscall instructions inside [begin, end) reach the host.
    p.add(BPF_LD_W_ABS, OFFSET_IP_HIGH);
    p.add(BPF_JEQ_K, uint32_t(begin >> 32), 1, 0);
    p.add(BPF_RET_K, RET_TRAP);
    p.add(BPF_LD_W_ABS, OFFSET_IP_LOW);
    p.add(BPF_JGE_K, uint32_t(begin), 1, 0);
    p.add(BPF_RET_K, RET_TRAP);
    p.add(BPF_JGE_K, uint32_t(end), 0, 1);
    p.add(BPF_RET_K, RET_TRAP);
    p.add(BPF_LD_W_ABS, OFFSET_NR);
    for (long nr : ALLOWED) {
        p.add(BPF_JEQ_K, uint32_t(nr), 0, 1);
        p.add(BPF_RET_K, RET_ALLOW);
    }
    if (have_shares()) {
        // The descriptor calls first: fd 0-2 are refused, any other allowed.
        constexpr unsigned fd_calls = sizeof SHARE_FD_CALLS / sizeof SHARE_FD_CALLS[0];
        for (unsigned i = 0; i < fd_calls; ++i) p.add(BPF_JEQ_K, uint32_t(SHARE_FD_CALLS[i]), uint8_t(fd_calls - i), 0);
        p.add(BPF_JA, 4);  // none of them: past the check
        p.add(BPF_LD_W_ABS, arg_low(0));
        p.add(BPF_JGE_K, 3, 0, 1);
        p.add(BPF_RET_K, RET_ALLOW);
        p.add(BPF_RET_K, RET_TRAP);
        for (long nr : ALLOWED_FOR_SHARES) {
            p.add(BPF_JEQ_K, uint32_t(nr), 0, 1);
            p.add(BPF_RET_K, RET_ALLOW);
        }
    }
    // write: the console (fds 1 and 2) and the status fd only.
    p.add(BPF_JEQ_K, host::WRITE, 0, 6);
    p.add(BPF_LD_W_ABS, OFFSET_ARG0_LOW);
    p.add(BPF_JEQ_K, 1, 2, 0);
    p.add(BPF_JEQ_K, 2, 1, 0);
    p.add(BPF_JEQ_K, uint32_t(g_status_fd), 0, 1);
    p.add(BPF_RET_K, RET_ALLOW);
    p.add(BPF_RET_K, RET_TRAP);
    // read: the console input (console.cpp: fd 0 reopened) only.
    p.add(BPF_JEQ_K, host::READ, 0, 4);
    p.add(BPF_LD_W_ABS, OFFSET_ARG0_LOW);
    p.add(BPF_JEQ_K, uint32_t(host::FD_CONSOLE_IN), 0, 1);
    p.add(BPF_RET_K, RET_ALLOW);
    p.add(BPF_RET_K, RET_TRAP);
    // ioctl: TIOCGWINSZ (the terminal's size after a SIGWINCH) on the console input only, and
    // TCSETSW there when the image, run directly, must put the terminal back (console.cpp).
    p.add(BPF_JEQ_K, host::IOCTL, 0, 7);
    p.add(BPF_LD_W_ABS, OFFSET_ARG0_LOW);
    p.add(BPF_JEQ_K, uint32_t(host::FD_CONSOLE_IN), 0, 4);
    p.add(BPF_LD_W_ABS, arg_low(1));
    p.add(BPF_JEQ_K, 0x5413 /* TIOCGWINSZ */, 1, 0);
    p.add(BPF_JEQ_K, terminal_restore_needed() ? 0x5403 /* TCSETSW */ : 0x5413, 0, 1);
    p.add(BPF_RET_K, RET_ALLOW);
    p.add(BPF_RET_K, RET_TRAP);
    // readv, writev: the host NIC's fd only (nic.cpp; -1 without a NIC matches no open fd).
    p.add(BPF_JEQ_K, host::READV, 1, 0);
    p.add(BPF_JEQ_K, host::WRITEV, 0, 4);
    p.add(BPF_LD_W_ABS, OFFSET_ARG0_LOW);
    p.add(BPF_JEQ_K, uint32_t(g_nic_fd), 0, 1);
    p.add(BPF_RET_K, RET_ALLOW);
    p.add(BPF_RET_K, RET_TRAP);
    // pread64, pwrite64, fdatasync: the disks' fds only (block.cpp; without disks, nothing here).
    if (size_t disks = disk_count()) {
        p.add(BPF_JEQ_K, host::PREAD64, 2, 0);
        p.add(BPF_JEQ_K, host::PWRITE64, 1, 0);
        p.add(BPF_JEQ_K, host::FDATASYNC, 0, uint8_t(disks + 3));
        p.add(BPF_LD_W_ABS, OFFSET_ARG0_LOW);
        for (size_t i = 0; i < disks; ++i) p.add(BPF_JEQ_K, uint32_t(disk_fd(i)), uint8_t(disks - i), 0);
        p.add(BPF_RET_K, RET_TRAP);
        p.add(BPF_RET_K, RET_ALLOW);
    }
    // arch_prctl: ARCH_SET_FS only (the thread pointer).
    p.add(BPF_JEQ_K, host::ARCH_PRCTL, 0, 4);
    p.add(BPF_LD_W_ABS, OFFSET_ARG0_LOW);
    p.add(BPF_JEQ_K, uint32_t(host::ARCH_SET_FS), 0, 1);
    p.add(BPF_RET_K, RET_ALLOW);
    p.add(BPF_RET_K, RET_TRAP);
    // tgkill: this process only (tgid = pid; tid one of its vCPU threads: with one vCPU, the
    // pid), and only the platform's signals (yield, a held-back tick or SIGIO; with several vCPUs
    // the IPI). kill, tkill and the rest are not allowed.
    auto pid = uint32_t(host::call(host::GETPID));
    unsigned vcpus = g_vcpu_count;
    unsigned short block = p.here();
    p.add(BPF_JEQ_K, host::TGKILL, 0, 0);
    p.add(BPF_LD_W_ABS, arg_low(0));
    p.add(BPF_JEQ_K, pid, 1, 0);
    p.add(BPF_RET_K, RET_TRAP);
    p.add(BPF_LD_W_ABS, arg_low(1));
    for (unsigned i = 0; i < vcpus; ++i)
        p.add(BPF_JEQ_K, uint32_t(i == 0 ? pid : uint32_t(g_vcpus[i].tid)), uint8_t(vcpus - i), 0);
    p.add(BPF_RET_K, RET_TRAP);
    p.add(BPF_LD_W_ABS, arg_low(2));
    p.add(BPF_JEQ_K, host::SIGUSR1, 3, 0);
    p.add(BPF_JEQ_K, host::SIGALRM, 2, 0);
    p.add(BPF_JEQ_K, host::SIGIO, 1, 0);
    p.add(BPF_JEQ_K, vcpus > 1 ? uint32_t(SIGNAL_IPI) : uint32_t(host::SIGUSR1), 0, 1);
    p.add(BPF_RET_K, RET_ALLOW);
    p.add(BPF_RET_K, RET_TRAP);
    p.skip_to_here(block);
    // futex (several vCPUs only): the private wait and wake of the big lock's waiters, the vCPUs'
    // bring-up and a process switch (big_lock.S, vcpu.cpp): no shared futexes, requeue, PI.
    if (vcpus > 1) {
        p.add(BPF_JEQ_K, SYS_FUTEX, 0, 5);
        p.add(BPF_LD_W_ABS, arg_low(1));
        p.add(BPF_JEQ_K, FUTEX_WAIT_PRIVATE, 1, 0);
        p.add(BPF_JEQ_K, FUTEX_WAKE_PRIVATE, 0, 1);
        p.add(BPF_RET_K, RET_ALLOW);
        p.add(BPF_RET_K, RET_TRAP);
    }
    // membarrier (several vCPUs only): MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE only, the
    // rewriter's cross-modifying-code barrier (platform::sync_cores; registered before this
    // filter): its own threads serialize, nothing outside the process is touched.
    if (vcpus > 1) {
        p.add(BPF_JEQ_K, host::MEMBARRIER, 0, 4);
        p.add(BPF_LD_W_ABS, arg_low(0));
        p.add(BPF_JEQ_K, 32 /* MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE */, 0, 1);
        p.add(BPF_RET_K, RET_ALLOW);
        p.add(BPF_RET_K, RET_TRAP);
    }
    // setitimer: ITIMER_REAL (the scheduler's tick) only.
    p.add(BPF_JEQ_K, host::SETITIMER, 0, 4);
    p.add(BPF_LD_W_ABS, arg_low(0));
    p.add(BPF_JEQ_K, 0, 0, 1);
    p.add(BPF_RET_K, RET_ALLOW);
    p.add(BPF_RET_K, RET_TRAP);
    // mmap: no executable mapping (see check_protection), and no file but the RAM memfd.
    block = p.here();
    p.add(BPF_JEQ_K, host::MMAP, 0, 0);
    p.add(BPF_LD_W_ABS, arg_low(2));
    p.check_protection();
    p.add(BPF_LD_W_ABS, arg_low(4));
    p.add(BPF_JEQ_K, uint32_t(host::FD_RAM), 1, 0);
    p.add(BPF_JEQ_K, 0xffffffffu, 0, 1);  // -1: an anonymous PROT_NONE reservation
    p.add(BPF_RET_K, RET_ALLOW);
    p.add(BPF_RET_K, RET_TRAP);
    p.skip_to_here(block);
    // mprotect: the same protections.
    block = p.here();
    p.add(BPF_JEQ_K, host::MPROTECT, 0, 0);
    p.add(BPF_LD_W_ABS, arg_low(2));
    p.check_protection();
    p.add(BPF_RET_K, RET_ALLOW);
    p.skip_to_here(block);
    p.add(BPF_RET_K, RET_TRAP);

    // PR_SET_NO_NEW_PRIVS is set (enter_sandbox). With several vCPUs the filter goes on every
    // thread of the process at once (SECCOMP_FILTER_FLAG_TSYNC): the vCPU threads exist already.
    SockFprog fprog = p.fprog();
    long r = host::call(host::SECCOMP, 1 /* SECCOMP_SET_MODE_FILTER */, vcpus > 1 ? 1 : 0, long(&fprog));
    if (r > 0) setup_failed("the seccomp filter could not reach every vCPU thread (TSYNC)", r);
    if (r < 0) setup_failed("installing the seccomp filter failed", r);
}

}  // namespace xos::hosted
