// Declarations of the syscall handlers, one group per family file in libos/sys/.
// Each handler decodes its arguments, does the work through the subsystem, and returns a value
// or an Error; the dispatcher turns that into the Linux ABI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

#include "base/error.h"
#include "base/user_ptr.h"

struct iovec;
struct stat;
struct timespec;
struct timeval;
struct utsname;
struct rlimit;

namespace xos::sys {

// fs.cpp (console descriptors until the VFS lands)
ErrorOr<long> sys_read(int fd, UserPtr<void> buffer, size_t count);
ErrorOr<long> sys_write(int fd, UserPtr<const void> buffer, size_t count);
ErrorOr<long> sys_readv(int fd, UserPtr<const iovec> iov, int iovcnt);
ErrorOr<long> sys_writev(int fd, UserPtr<const iovec> iov, int iovcnt);
ErrorOr<long> sys_close(int fd);
ErrorOr<long> sys_fstat(int fd, UserPtr<struct stat> out);
ErrorOr<long> sys_lseek(int fd, off_t offset, int whence);
ErrorOr<long> sys_ioctl(int fd, unsigned long request, uintptr_t argument);

// mm.cpp
ErrorOr<long> sys_mmap(uintptr_t address, size_t length, int prot, int flags, int fd, off_t offset);
ErrorOr<long> sys_munmap(uintptr_t address, size_t length);
ErrorOr<long> sys_mprotect(uintptr_t address, size_t length, int prot);
ErrorOr<long> sys_mremap(uintptr_t old_address, size_t old_size, size_t new_size, int flags, uintptr_t new_address);
ErrorOr<long> sys_madvise(uintptr_t address, size_t length, int advice);
ErrorOr<long> sys_brk(uintptr_t address);

// proc.cpp
[[noreturn]] ErrorOr<long> sys_exit(int status);
[[noreturn]] ErrorOr<long> sys_exit_group(int status);
ErrorOr<long> sys_getpid();
ErrorOr<long> sys_getppid();
ErrorOr<long> sys_gettid();
ErrorOr<long> sys_getuid();
ErrorOr<long> sys_geteuid();
ErrorOr<long> sys_getgid();
ErrorOr<long> sys_getegid();
ErrorOr<long> sys_set_tid_address(UserPtr<int> tidptr);
ErrorOr<long> sys_set_robust_list(uintptr_t head, size_t length);
ErrorOr<long> sys_arch_prctl(int code, uintptr_t address);
ErrorOr<long> sys_uname(UserPtr<struct utsname> out);
ErrorOr<long> sys_sched_yield();
ErrorOr<long> sys_sched_getaffinity(pid_t pid, size_t size, UserPtr<void> mask);
ErrorOr<long> sys_getrlimit(int resource, UserPtr<struct rlimit> out);
ErrorOr<long> sys_prlimit64(pid_t pid, int resource, UserPtr<const struct rlimit> new_limit,
                            UserPtr<struct rlimit> old_limit);
ErrorOr<long> sys_getrandom(UserPtr<void> buffer, size_t count, unsigned flags);

// signal.cpp
ErrorOr<long> sys_rt_sigaction(int signal, UserPtr<const void> action, UserPtr<void> old_action, size_t sigset_size);
ErrorOr<long> sys_rt_sigprocmask(int how, UserPtr<const uint64_t> set, UserPtr<uint64_t> old_set, size_t sigset_size);
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
ErrorOr<long> sys_clock_nanosleep(clockid_t clock, int flags, UserPtr<const struct timespec> request,
                                  UserPtr<struct timespec> remaining);

}  // namespace xos::sys
