// Declarations of the syscall handlers, one group per family file in libos/sys/.
// Each handler decodes its arguments, does the work through the subsystem, and returns a value
// or an Error; the dispatcher turns that into the Linux ABI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <csignal>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/times.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/user_ptr.h"

struct epoll_event;
struct iovec;
struct msghdr;
struct pollfd;
struct stat;
struct statfs;
struct statx;
struct timespec;
struct timeval;
struct utsname;
struct sysinfo;
struct rlimit;
struct itimerval;
struct timex;

namespace xos::sys {

// Files (fs.cpp: reading and writing; file_open.cpp: descriptors; file_stat.cpp: attributes;
// file_dirs.cpp: names and directories).
ErrorOr<long> sys_read(int fd, UserPtr<void> buffer, size_t count);
ErrorOr<long> sys_write(int fd, UserPtr<const void> buffer, size_t count);
ErrorOr<long> sys_pread64(int fd, UserPtr<void> buffer, size_t count, off_t offset);
ErrorOr<long> sys_pwrite64(int fd, UserPtr<const void> buffer, size_t count, off_t offset);
ErrorOr<long> sys_readv(int fd, UserPtr<const iovec> iov, int iovcnt);
ErrorOr<long> sys_writev(int fd, UserPtr<const iovec> iov, int iovcnt);
ErrorOr<long> sys_preadv(int fd, UserPtr<const iovec> iov, int iovcnt, unsigned long offset_low,
                         unsigned long offset_high);
ErrorOr<long> sys_pwritev(int fd, UserPtr<const iovec> iov, int iovcnt, unsigned long offset_low,
                          unsigned long offset_high);
ErrorOr<long> sys_lseek(int fd, off_t offset, int whence);
ErrorOr<long> sys_fadvise64(int fd, off_t offset, off_t length, int advice);
ErrorOr<long> sys_sendfile(int out_fd, int in_fd, UserPtr<off_t> offset, size_t count);
ErrorOr<long> sys_copy_file_range(int in_fd, UserPtr<off_t> in_offset, int out_fd, UserPtr<off_t> out_offset,
                                  size_t count, unsigned flags);
ErrorOr<long> sys_open(UserPtr<const char> path, int flags, mode_t mode);
ErrorOr<long> sys_openat(int dirfd, UserPtr<const char> path, int flags, mode_t mode);
ErrorOr<long> sys_creat(UserPtr<const char> path, mode_t mode);
ErrorOr<long> sys_close(int fd);
ErrorOr<long> sys_close_range(unsigned first, unsigned last, unsigned flags);
ErrorOr<long> sys_pidfd_open(pid_t pid, unsigned flags);
ErrorOr<long> sys_pidfd_send_signal(int fd, int signal, UserPtr<const siginfo_t> info, unsigned flags);
ErrorOr<long> sys_pidfd_getfd(int pidfd, int fd, unsigned flags);
ErrorOr<long> sys_dup(int fd);
ErrorOr<long> sys_dup2(int fd, int new_fd);
ErrorOr<long> sys_dup3(int fd, int new_fd, int flags);
ErrorOr<long> sys_fcntl(int fd, int command, unsigned long argument);
ErrorOr<long> sys_ioctl(int fd, unsigned long request, uintptr_t argument);
ErrorOr<long> sys_flock(int fd, int operation);
ErrorOr<long> sys_pipe(UserPtr<int> fds);
ErrorOr<long> sys_pipe2(UserPtr<int> fds, int flags);
ErrorOr<long> sys_eventfd2(unsigned initial, int flags);
ErrorOr<long> sys_memfd_create(UserPtr<const char> name, unsigned flags);
ErrorOr<long> sys_stat(UserPtr<const char> path, UserPtr<struct stat> out);
ErrorOr<long> sys_lstat(UserPtr<const char> path, UserPtr<struct stat> out);
ErrorOr<long> sys_fstat(int fd, UserPtr<struct stat> out);
ErrorOr<long> sys_newfstatat(int dirfd, UserPtr<const char> path, UserPtr<struct stat> out, int flags);
ErrorOr<long> sys_statx(int dirfd, UserPtr<const char> path, int flags, unsigned mask, UserPtr<struct statx> out);
// Extended attributes (file_xattr.cpp): none are stored.
ErrorOr<long> sys_getxattr(UserPtr<const char> path, UserPtr<const char> name, UserPtr<void> value, size_t size);
ErrorOr<long> sys_lgetxattr(UserPtr<const char> path, UserPtr<const char> name, UserPtr<void> value, size_t size);
ErrorOr<long> sys_fgetxattr(int fd, UserPtr<const char> name, UserPtr<void> value, size_t size);
ErrorOr<long> sys_listxattr(UserPtr<const char> path, UserPtr<char> list, size_t size);
ErrorOr<long> sys_llistxattr(UserPtr<const char> path, UserPtr<char> list, size_t size);
ErrorOr<long> sys_flistxattr(int fd, UserPtr<char> list, size_t size);
ErrorOr<long> sys_setxattr(UserPtr<const char> path, UserPtr<const char> name, UserPtr<const void> value, size_t size,
                           int flags);
ErrorOr<long> sys_lsetxattr(UserPtr<const char> path, UserPtr<const char> name, UserPtr<const void> value, size_t size,
                            int flags);
ErrorOr<long> sys_fsetxattr(int fd, UserPtr<const char> name, UserPtr<const void> value, size_t size, int flags);
ErrorOr<long> sys_removexattr(UserPtr<const char> path, UserPtr<const char> name);
ErrorOr<long> sys_lremovexattr(UserPtr<const char> path, UserPtr<const char> name);
ErrorOr<long> sys_fremovexattr(int fd, UserPtr<const char> name);
ErrorOr<long> sys_access(UserPtr<const char> path, int mode);
ErrorOr<long> sys_faccessat(int dirfd, UserPtr<const char> path, int mode);
ErrorOr<long> sys_faccessat2(int dirfd, UserPtr<const char> path, int mode, int flags);
ErrorOr<long> sys_chmod(UserPtr<const char> path, mode_t mode);
ErrorOr<long> sys_fchmod(int fd, mode_t mode);
ErrorOr<long> sys_fchmodat(int dirfd, UserPtr<const char> path, mode_t mode);
ErrorOr<long> sys_chown(UserPtr<const char> path, uid_t uid, gid_t gid);
ErrorOr<long> sys_lchown(UserPtr<const char> path, uid_t uid, gid_t gid);
ErrorOr<long> sys_fchown(int fd, uid_t uid, gid_t gid);
ErrorOr<long> sys_fchownat(int dirfd, UserPtr<const char> path, uid_t uid, gid_t gid, int flags);
ErrorOr<long> sys_utimensat(int dirfd, UserPtr<const char> path, UserPtr<const struct timespec> times, int flags);
ErrorOr<long> sys_truncate(UserPtr<const char> path, off_t length);
ErrorOr<long> sys_ftruncate(int fd, off_t length);
ErrorOr<long> sys_fallocate(int fd, int mode, off_t offset, off_t length);
ErrorOr<long> sys_fsync(int fd);
ErrorOr<long> sys_fdatasync(int fd);
ErrorOr<long> sys_sync();
ErrorOr<long> sys_syncfs(int fd);
ErrorOr<long> sys_statfs(UserPtr<const char> path, UserPtr<struct statfs> out);
ErrorOr<long> sys_fstatfs(int fd, UserPtr<struct statfs> out);
ErrorOr<long> sys_umask(mode_t mask);
ErrorOr<long> sys_getdents64(int fd, UserPtr<void> buffer, unsigned count);
ErrorOr<long> sys_mkdir(UserPtr<const char> path, mode_t mode);
ErrorOr<long> sys_mkdirat(int dirfd, UserPtr<const char> path, mode_t mode);
ErrorOr<long> sys_rmdir(UserPtr<const char> path);
ErrorOr<long> sys_unlink(UserPtr<const char> path);
ErrorOr<long> sys_unlinkat(int dirfd, UserPtr<const char> path, int flags);
ErrorOr<long> sys_rename(UserPtr<const char> old_path, UserPtr<const char> new_path);
ErrorOr<long> sys_renameat(int old_dirfd, UserPtr<const char> old_path, int new_dirfd, UserPtr<const char> new_path);
ErrorOr<long> sys_renameat2(int old_dirfd, UserPtr<const char> old_path, int new_dirfd, UserPtr<const char> new_path,
                            unsigned flags);
ErrorOr<long> sys_link(UserPtr<const char> old_path, UserPtr<const char> new_path);
ErrorOr<long> sys_linkat(int old_dirfd, UserPtr<const char> old_path, int new_dirfd, UserPtr<const char> new_path,
                         int flags);
ErrorOr<long> sys_symlink(UserPtr<const char> target, UserPtr<const char> path);
ErrorOr<long> sys_symlinkat(UserPtr<const char> target, int dirfd, UserPtr<const char> path);
ErrorOr<long> sys_readlink(UserPtr<const char> path, UserPtr<char> buffer, int size);
ErrorOr<long> sys_readlinkat(int dirfd, UserPtr<const char> path, UserPtr<char> buffer, int size);
ErrorOr<long> sys_mknod(UserPtr<const char> path, mode_t mode, dev_t device);
ErrorOr<long> sys_mknodat(int dirfd, UserPtr<const char> path, mode_t mode, dev_t device);
ErrorOr<long> sys_chdir(UserPtr<const char> path);
ErrorOr<long> sys_chroot(UserPtr<const char> path);
ErrorOr<long> sys_fchdir(int fd);
ErrorOr<long> sys_getcwd(UserPtr<char> buffer, size_t size);

// mm.cpp
ErrorOr<long> sys_mmap(uintptr_t address, size_t length, int prot, int flags, int fd, off_t offset);
ErrorOr<long> sys_munmap(uintptr_t address, size_t length);
ErrorOr<long> sys_msync(uintptr_t address, size_t length, int flags);
ErrorOr<long> sys_mprotect(uintptr_t address, size_t length, int prot);
ErrorOr<long> sys_mremap(uintptr_t old_address, size_t old_size, size_t new_size, int flags, uintptr_t new_address);
ErrorOr<long> sys_madvise(uintptr_t address, size_t length, int advice);
ErrorOr<long> sys_brk(uintptr_t address);

// exec.cpp
ErrorOr<long> sys_execve(UserPtr<const char> path, UserPtr<const char* const> argv, UserPtr<const char* const> envp);
ErrorOr<long> sys_execveat(int dirfd, UserPtr<const char> path, UserPtr<const char* const> argv,
                           UserPtr<const char* const> envp, int flags);
ErrorOr<long> sys_clone(unsigned long flags, uintptr_t stack, UserPtr<int> parent_tid, UserPtr<int> child_tid,
                        uintptr_t tls);
ErrorOr<long> sys_fork();
ErrorOr<long> sys_vfork();

// thread.cpp
ErrorOr<long> sys_gettid();
ErrorOr<long> sys_set_tid_address(UserPtr<int> tidptr);
ErrorOr<long> sys_set_robust_list(uintptr_t head, size_t length);
ErrorOr<long> sys_get_robust_list(int tid, UserPtr<uintptr_t> head, UserPtr<size_t> length);
ErrorOr<long> sys_sched_yield();
ErrorOr<long> sys_sched_setaffinity(pid_t pid, size_t size, UserPtr<const void> mask);
ErrorOr<long> sys_sched_getaffinity(pid_t pid, size_t size, UserPtr<void> mask);
ErrorOr<long> sys_getcpu(UserPtr<unsigned> cpu, UserPtr<unsigned> node, UserPtr<void> cache);
ErrorOr<long> sys_membarrier(int command, unsigned flags, int cpu);
ErrorOr<long> sys_rseq(uintptr_t area, uint32_t length, int flags, uint32_t signature);
ErrorOr<long> sys_clone3(uintptr_t arguments, size_t size);
ErrorOr<long> sys_futex(uintptr_t address, int operation, uint32_t value, uintptr_t timeout_or_value2,
                        uintptr_t address2, uint32_t value3);

// poll.cpp, poll_epoll.cpp: readiness.
ErrorOr<long> sys_poll(UserPtr<struct pollfd> fds, unsigned long count, int timeout_ms);
ErrorOr<long> sys_ppoll(UserPtr<struct pollfd> fds, unsigned long count, UserPtr<struct timespec> timeout,
                        UserPtr<const uint64_t> mask, size_t mask_size);
ErrorOr<long> sys_select(int nfds, UserPtr<void> in, UserPtr<void> out, UserPtr<void> ex,
                         UserPtr<struct timeval> timeout);
ErrorOr<long> sys_pselect6(int nfds, UserPtr<void> in, UserPtr<void> out, UserPtr<void> ex,
                           UserPtr<struct timespec> timeout, UserPtr<const void> mask_argument);
ErrorOr<long> sys_epoll_create(int size);
ErrorOr<long> sys_epoll_create1(int flags);
ErrorOr<long> sys_epoll_ctl(int epfd, int operation, int fd, UserPtr<const struct epoll_event> event);
ErrorOr<long> sys_epoll_wait(int epfd, UserPtr<struct epoll_event> events, int max_events, int timeout_ms);
ErrorOr<long> sys_epoll_pwait(int epfd, UserPtr<struct epoll_event> events, int max_events, int timeout_ms,
                              UserPtr<const uint64_t> mask, size_t mask_size);
ErrorOr<long> sys_epoll_pwait2(int epfd, UserPtr<struct epoll_event> events, int max_events,
                               UserPtr<const struct timespec> timeout, UserPtr<const uint64_t> mask, size_t mask_size);

// net.cpp: sockets.
ErrorOr<long> sys_socket(int family, int type, int protocol);
ErrorOr<long> sys_socketpair(int family, int type, int protocol, UserPtr<int> fds);
ErrorOr<long> sys_bind(int fd, UserPtr<const void> address, socklen_t length);
ErrorOr<long> sys_listen(int fd, int backlog);
ErrorOr<long> sys_accept(int fd, UserPtr<void> address, UserPtr<socklen_t> length);
ErrorOr<long> sys_accept4(int fd, UserPtr<void> address, UserPtr<socklen_t> length, int flags);
ErrorOr<long> sys_connect(int fd, UserPtr<const void> address, socklen_t length);
ErrorOr<long> sys_shutdown(int fd, int how);
ErrorOr<long> sys_sendto(int fd, UserPtr<const void> buffer, size_t size, int flags, UserPtr<const void> address,
                         socklen_t length);
ErrorOr<long> sys_recvfrom(int fd, UserPtr<void> buffer, size_t size, int flags, UserPtr<void> address,
                           UserPtr<socklen_t> length);
ErrorOr<long> sys_sendmsg(int fd, UserPtr<const struct msghdr> message, int flags);
ErrorOr<long> sys_recvmsg(int fd, UserPtr<struct msghdr> message, int flags);
ErrorOr<long> sys_setsockopt(int fd, int level, int name, UserPtr<const void> value, socklen_t length);
ErrorOr<long> sys_getsockopt(int fd, int level, int name, UserPtr<void> value, UserPtr<socklen_t> length);
ErrorOr<long> sys_getsockname(int fd, UserPtr<void> address, UserPtr<socklen_t> length);
ErrorOr<long> sys_getpeername(int fd, UserPtr<void> address, UserPtr<socklen_t> length);

// process.cpp
[[noreturn]] ErrorOr<long> sys_exit(int status);
[[noreturn]] ErrorOr<long> sys_exit_group(int status);
ErrorOr<long> sys_wait4(pid_t pid, UserPtr<int> status, int options, UserPtr<struct rusage> usage);
ErrorOr<long> sys_waitid(int type, id_t id, UserPtr<siginfo_t> info, int options, UserPtr<struct rusage> usage);
ErrorOr<long> sys_getrusage(int who, UserPtr<struct rusage> usage);
ErrorOr<long> sys_times(UserPtr<struct tms> out);
ErrorOr<long> sys_getpid();
ErrorOr<long> sys_getppid();
ErrorOr<long> sys_setpgid(pid_t pid, pid_t pgid);
ErrorOr<long> sys_getpgid(pid_t pid);
ErrorOr<long> sys_getpgrp();
ErrorOr<long> sys_setsid();
ErrorOr<long> sys_getsid(pid_t pid);

// credentials.cpp
ErrorOr<long> sys_getuid();
ErrorOr<long> sys_geteuid();
ErrorOr<long> sys_getgid();
ErrorOr<long> sys_getegid();
ErrorOr<long> sys_setuid(uid_t uid);
ErrorOr<long> sys_setgid(gid_t gid);
ErrorOr<long> sys_setreuid(uid_t ruid, uid_t euid);
ErrorOr<long> sys_setregid(gid_t rgid, gid_t egid);
ErrorOr<long> sys_setresuid(uid_t ruid, uid_t euid, uid_t suid);
ErrorOr<long> sys_setresgid(gid_t rgid, gid_t egid, gid_t sgid);
ErrorOr<long> sys_getresuid(UserPtr<uid_t> ruid, UserPtr<uid_t> euid, UserPtr<uid_t> suid);
ErrorOr<long> sys_getresgid(UserPtr<gid_t> rgid, UserPtr<gid_t> egid, UserPtr<gid_t> sgid);
ErrorOr<long> sys_getgroups(int size, UserPtr<gid_t> list);
ErrorOr<long> sys_setgroups(size_t size, UserPtr<const gid_t> list);
ErrorOr<long> sys_setfsuid(uid_t uid);
ErrorOr<long> sys_setfsgid(gid_t gid);
// proc.cpp
ErrorOr<long> sys_arch_prctl(int code, uintptr_t address);
// ipc.cpp (SysV IPC)
ErrorOr<long> sys_shmget(key_t key, size_t size, int flags);
ErrorOr<long> sys_shmat(int id, uintptr_t address, int flags);
ErrorOr<long> sys_shmdt(uintptr_t address);
ErrorOr<long> sys_shmctl(int id, int command, UserPtr<void> buffer);
ErrorOr<long> sys_semget(key_t key, int count, int flags);
ErrorOr<long> sys_semop(int id, UserPtr<const void> ops, size_t count);
ErrorOr<long> sys_semtimedop(int id, UserPtr<const void> ops, size_t count, UserPtr<const struct timespec> timeout);
ErrorOr<long> sys_semctl(int id, int number, int command, unsigned long argument);
ErrorOr<long> sys_msgget(key_t key, int flags);
ErrorOr<long> sys_msgsnd(int id, UserPtr<const void> message, size_t size, int flags);
ErrorOr<long> sys_msgrcv(int id, UserPtr<void> buffer, size_t size, long type, int flags);
ErrorOr<long> sys_msgctl(int id, int command, UserPtr<void> buffer);
// prctl.cpp
ErrorOr<long> sys_prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5);
ErrorOr<long> sys_personality(unsigned persona);
ErrorOr<long> sys_uname(UserPtr<struct utsname> out);
ErrorOr<long> sys_sethostname(UserPtr<const char> name, size_t length);
ErrorOr<long> sys_setdomainname(UserPtr<const char> name, size_t length);
ErrorOr<long> sys_sysinfo(UserPtr<struct sysinfo> out);
ErrorOr<long> sys_getrlimit(int resource, UserPtr<struct rlimit> out);
ErrorOr<long> sys_setrlimit(int resource, UserPtr<const struct rlimit> limit);
ErrorOr<long> sys_prlimit64(pid_t pid, int resource, UserPtr<const struct rlimit> new_limit,
                            UserPtr<struct rlimit> old_limit);
ErrorOr<long> sys_getrandom(UserPtr<void> buffer, size_t count, unsigned flags);

// signal.cpp
ErrorOr<long> sys_rt_sigaction(int signal, UserPtr<const void> action, UserPtr<void> old_action, size_t sigset_size);
ErrorOr<long> sys_rt_sigprocmask(int how, UserPtr<const uint64_t> set, UserPtr<uint64_t> old_set, size_t sigset_size);
ErrorOr<long> sys_rt_sigpending(UserPtr<uint64_t> set, size_t sigset_size);
ErrorOr<long> sys_rt_sigsuspend(UserPtr<const uint64_t> mask, size_t sigset_size);
ErrorOr<long> sys_rt_sigreturn();
ErrorOr<long> sys_pause();
ErrorOr<long> sys_sigaltstack(UserPtr<const void> stack, UserPtr<void> old_stack);
ErrorOr<long> sys_kill(pid_t pid, int signal);
ErrorOr<long> sys_tkill(pid_t tid, int signal);
ErrorOr<long> sys_tgkill(pid_t tgid, pid_t tid, int signal);

// time.cpp
ErrorOr<long> sys_clock_gettime(clockid_t clock, UserPtr<struct timespec> out);
ErrorOr<long> sys_clock_getres(clockid_t clock, UserPtr<struct timespec> out);
ErrorOr<long> sys_gettimeofday(UserPtr<struct timeval> tv, UserPtr<void> tz);
ErrorOr<long> sys_time(UserPtr<long> out);
ErrorOr<long> sys_nanosleep(UserPtr<const struct timespec> request, UserPtr<struct timespec> remaining);
ErrorOr<long> sys_clock_settime(clockid_t clock, UserPtr<const struct timespec> value);
ErrorOr<long> sys_settimeofday(UserPtr<const struct timeval> tv, UserPtr<const void> tz);
ErrorOr<long> sys_adjtimex(UserPtr<struct timex> buffer);
ErrorOr<long> sys_clock_adjtime(clockid_t clock, UserPtr<struct timex> buffer);
// itimer.cpp
ErrorOr<long> sys_getitimer(int which, UserPtr<struct itimerval> value);
ErrorOr<long> sys_setitimer(int which, UserPtr<const struct itimerval> new_value, UserPtr<struct itimerval> old_value);
ErrorOr<long> sys_alarm(unsigned seconds);
ErrorOr<long> sys_clock_nanosleep(clockid_t clock, int flags, UserPtr<const struct timespec> request,
                                  UserPtr<struct timespec> remaining);

}  // namespace xos::sys
