// The hosted platform's view of the host kernel: raw Linux syscalls through the platform's own
// entry (syscall.S), never musl's (which call libxos). Values are Linux x86_64 ABI constants.
#pragma once

#include <cstddef>
#include <cstdint>

#include "xos/platform.h"

extern "C" long xos_host_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);
extern "C" char xos_host_syscall_begin[], xos_host_syscall_end[];
extern "C" void xos_host_sigreturn();

namespace xos::hosted::host {

// Every host syscall the platform makes, in one list (the seccomp filter names them from here).
enum Syscall : long {
    READ = 0,
    WRITE = 1,
    IOCTL = 16,
    CLOSE = 3,
    LSEEK = 8,
    MMAP = 9,
    MPROTECT = 10,
    RT_SIGACTION = 13,
    RT_SIGRETURN = 15,
    PREAD64 = 17,
    PWRITE64 = 18,
    READV = 19,
    WRITEV = 20,
    SETITIMER = 38,
    GETPID = 39,
    FCNTL = 72,
    FSYNC = 74,
    FDATASYNC = 75,
    FTRUNCATE = 77,
    GETCWD = 79,
    CHDIR = 80,
    FCHMOD = 91,
    UMASK = 95,
    CAPSET = 126,
    RT_SIGSUSPEND = 130,
    SIGALTSTACK = 131,
    PERSONALITY = 135,
    FSTATFS = 138,
    PIVOT_ROOT = 155,
    PRCTL = 157,
    ARCH_PRCTL = 158,
    MOUNT = 165,
    UMOUNT2 = 166,
    SETXATTR = 188,
    GETXATTR = 191,
    GETDENTS64 = 217,
    CLOCK_GETTIME = 228,
    EXIT_GROUP = 231,
    TGKILL = 234,
    OPENAT = 257,
    MKDIRAT = 258,
    MKNODAT = 259,
    FCHOWNAT = 260,
    NEWFSTATAT = 262,
    UNLINKAT = 263,
    LINKAT = 265,
    SYMLINKAT = 266,
    READLINKAT = 267,
    FCHMODAT = 268,
    UNSHARE = 272,
    UTIMENSAT = 280,
    FALLOCATE = 285,
    DUP3 = 292,
    PRLIMIT64 = 302,
    RENAMEAT2 = 316,
    SECCOMP = 317,
    GETRANDOM = 318,
    MEMBARRIER = 324,
    MEMFD_CREATE = 319,
    OPEN_TREE = 428,
    MOVE_MOUNT = 429,
    CLOSE_RANGE = 436,
    MOUNT_SETATTR = 442,
    LANDLOCK_CREATE_RULESET = 444,
    LANDLOCK_ADD_RULE = 445,
    LANDLOCK_RESTRICT_SELF = 446,
};

inline long call(long number, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0, long a6 = 0) {
    return xos_host_syscall(number, a1, a2, a3, a4, a5, a6);
}

constexpr long EINTR = 4, EAGAIN = 11;
constexpr int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
constexpr int MAP_SHARED = 0x01, MAP_PRIVATE = 0x02, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_NORESERVE = 0x4000,
              MAP_FIXED_NOREPLACE = 0x100000;
constexpr int SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGFPE = 8, SIGUSR1 = 10, SIGSEGV = 11, SIGPIPE = 13, SIGALRM = 14,
              SIGWINCH = 28, SIGIO = 29, SIGSYS = 31, SIGHUP = 1, SIGTERM = 15;
// xos-run --forward-signals sends the app's signals with sigqueue(SIGNAL_FORWARD, value = the
// signal): tools/xos-run/main.cpp's kHostedForwardSignal (a real-time signal: none is lost).
constexpr int SIGNAL_FORWARD = 40;
constexpr long ARCH_SET_FS = 0x1002;
constexpr long AT_FDCWD_VALUE = -100;  // (not AT_FDCWD: files that include <fcntl.h> have that macro)

// Every host descriptor the platform keeps sits at a fixed number (sandbox.cpp moves them there
// before the filter goes on, and closes everything else inherited); the seccomp filter names
// them. Descriptors opened later (a share's files, hostfs.cpp) take the lowest free number.
constexpr int FD_STATUS = 3, FD_NIC = 4, FD_RAM = 5, FD_PROC = 6, FD_CONSOLE_IN = 7;
constexpr int FD_FIRST_DISK = 8;  // up to 16 disks: 8..23
constexpr int FD_FIRST_SHARE = 24;  // up to 16 share roots: 24..39
constexpr int FD_FIRST_FREE = 40;

inline uintptr_t mmap(uintptr_t address, size_t length, int prot, int flags, int fd, uint64_t offset) {
    return uintptr_t(call(MMAP, long(address), long(length), prot, flags, fd, long(offset)));
}
inline bool failed(uintptr_t result) { return result > uintptr_t(-4096); }

// Writes everything (retrying short writes and EINTR); false on error.
bool write_all(int fd, const char* bytes, size_t count);
[[noreturn]] void exit_group(int status);

}  // namespace xos::hosted::host

namespace xos::hosted {

// Set up by start.cpp before anything else runs.
extern int g_status_fd;  // where shutdown writes "exit N" / "crash N reason" (-1: none)
extern int g_ram_fd;  // the memfd behind the RAM region and the app's pages
extern uintptr_t g_ram_base;

void init_clock();  // devices.cpp
// The host's vDSO (vdso.cpp), from AT_SYSINFO_EHDR (0: none): clock_gettime without a syscall.
void init_vdso(uintptr_t base);
long clock_gettime(int clock, void* timespec);  // through the vDSO, else the raw syscall
bool vdso_text(uintptr_t& begin, uintptr_t& end);  // its code, where seccomp lets clock_gettime through
void init_memory(size_t ram_bytes);  // memory.cpp
void init_signals();  // signals.cpp
void install_seccomp();  // seccomp.cpp
// The sandbox around the filter (sandbox.cpp). adopt_inherited_fds runs first of all: it keeps
// only the status and NIC descriptors named in the environment (moved to FD_STATUS, FD_NIC) and
// closes every other inherited one but 0-2. place_fd moves a descriptor the platform opened to
// its fixed number. enter_sandbox runs after every descriptor is open, before install_seccomp:
// user, network and mount namespaces (a root holding only the shares), Landlock, no
// capabilities, syscall user dispatch.
void adopt_inherited_fds(int& status_fd, int& nic_fd);
int place_fd(long fd, int slot, const char* what);
void enter_sandbox();
// XOS_EXEC=wx (start.cpp): the image loads code, so app pages may be mapped executable (never
// writable and executable at once); without it no app page is ever executable on the host.
extern bool g_exec_allowed;
// Syscall user dispatch is on (sandbox.cpp): a `syscall` outside the platform's entry raises
// SIGSYS before the host kernel looks at it (seccomp, and the uprobe calls seccomp lets pass).
bool user_dispatch_enabled();
// The host NIC (nic.cpp): the fd from XOS_NIC_FD, made nonblocking and O_ASYNC (SIGIO) before
// the sandbox; g_nic_fd is the only fd readv/writev may use (-1: no NIC).
extern int g_nic_fd;
void init_nic(int fd, bool tap);
// signals.cpp: handler(context) runs as a device interrupt (interrupts off) on each SIGIO, under
// the big lock or not (`locking`, xos/platform.h).
void set_io_interrupt_handler(void (*handler)(void* context), void* context,
                              platform::InterruptLocking locking = platform::InterruptLocking::BigLock);
// True once after a SIGWINCH (the host terminal was resized).
bool take_resize();
// XOS_FORWARD_SIGNALS: SIGNAL_FORWARD's handler, installed by init_signal_forwarding(), keeps each
// forwarded signal until console_take_signal() takes it (console.cpp).
void init_signal_forwarding();
int take_forwarded_signal();
// Console input (console.cpp): what fds 0-2 are, and host fd 0 reopened at FD_CONSOLE_IN
// (a description of its own, nonblocking and O_ASYNC, for a terminal or a pipe; fd 0 itself
// for a file). Before the sandbox.
void init_console_input();
// Run directly on a terminal, init_console_input() put it in raw mode: restore_terminal() puts it
// back (at shutdown, and from restore_terminal_on_termination()'s SIGTERM/SIGHUP handler); the
// seccomp filter allows TCSETSW on FD_CONSOLE_IN while terminal_restore_needed().
bool terminal_restore_needed();
void restore_terminal();
void restore_terminal_on_termination();
// Host directory shares (hostfs.cpp): one XOS_SHARE* variable's HOSTDIR:GUESTPATH, then the
// set-up the shares need; have_shares() adds their syscalls to the seccomp filter.
void add_share(const char* variable, const char* value);
void init_shares();
bool have_shares();
// For the sandbox (sandbox.cpp): the share roots' descriptors, and replacing them (and the
// /proc/self/fd handle) by ones opened in the image's own mount namespace.
size_t share_root_count();
int share_root_fd(size_t index);
const char* share_host_dir(size_t index);  // the HOSTDIR it was opened from
bool share_read_only(size_t index);  // XOS_SHARE...:ro: its mount in the image's namespace is read-only too
bool share_root_is(size_t index, int fd);  // fd names that share's root directory
// Disks (block.cpp): one XOS_DISK_<n>=PATH[:ro] variable's file, opened at once; the disks'
// fds are the only ones pread64/pwrite64/fdatasync may use (seccomp.cpp).
void add_disk(const char* variable, const char* value);
size_t disk_count();
int disk_fd(size_t index);
// An early, unrecoverable set-up failure: message on stderr, exit 125 (xos-run's own failure).
[[noreturn]] void setup_failed(const char* what, long error);

}  // namespace xos::hosted
