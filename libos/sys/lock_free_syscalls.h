// The syscalls the dispatcher runs without the big libos lock (docs/locking.md, "Lock-free
// syscalls"): one line each, so that branches can add lines without conflicts. Every other
// syscall takes the big lock in the dispatcher (libos/sys/dispatch.cpp) for its whole length
// (given back only while it blocks). A syscall goes here once everything it touches has a lock
// of its own or is the calling thread's alone, and it takes sched::BigLockScope itself around
// anything that is still the big lock's. Included with XOS_LOCK_FREE(name) defined.

XOS_LOCK_FREE(futex)  // wait/wake/requeue/WAKE_OP under bucket locks; PI takes the big lock inside
XOS_LOCK_FREE(sched_yield)
XOS_LOCK_FREE(getpid)
XOS_LOCK_FREE(gettid)
XOS_LOCK_FREE(getcpu)
XOS_LOCK_FREE(clock_gettime)
XOS_LOCK_FREE(clock_getres)
XOS_LOCK_FREE(gettimeofday)
XOS_LOCK_FREE(time)
XOS_LOCK_FREE(nanosleep)
XOS_LOCK_FREE(clock_nanosleep)
XOS_LOCK_FREE(read)  // pipes and eventfds without the big lock; other files take it (sys/fs.cpp)
XOS_LOCK_FREE(write)
XOS_LOCK_FREE(readv)
XOS_LOCK_FREE(writev)
XOS_LOCK_FREE(pread64)
XOS_LOCK_FREE(pwrite64)
XOS_LOCK_FREE(lseek)
XOS_LOCK_FREE(mmap)  // the address-space lock (mm/vm.h); a file mapping takes the big lock inside
XOS_LOCK_FREE(munmap)
XOS_LOCK_FREE(mprotect)
XOS_LOCK_FREE(brk)
XOS_LOCK_FREE(madvise)
XOS_LOCK_FREE(mremap)
XOS_LOCK_FREE(msync)
XOS_LOCK_FREE(preadv)  // regular files of ramfs/tmpfs, /dev/null, zero, urandom too; others take it (sys/fs.cpp)
XOS_LOCK_FREE(pwritev)
XOS_LOCK_FREE(fstat)  // getattr under the big lock unless the vnode is thread_safe() (ramfs)
XOS_LOCK_FREE(newfstatat)  // path walks take the big lock per directory that needs it (vfs/path_walk.cpp)
XOS_LOCK_FREE(statx)
XOS_LOCK_FREE(stat)
XOS_LOCK_FREE(lstat)
XOS_LOCK_FREE(getdents64)  // ramfs directories under their m_dir_lock; others take it
XOS_LOCK_FREE(close)  // the fd table's SpinLock; a description's destruction takes it unless plain ramfs
XOS_LOCK_FREE(dup)
XOS_LOCK_FREE(dup2)
XOS_LOCK_FREE(dup3)
XOS_LOCK_FREE(fcntl)  // F_DUPFD*, F_GETFD/SETFD, F_GETFL/SETFL; the other commands take it
XOS_LOCK_FREE(ioctl)  // FIOCLEX/FIONCLEX/FIONBIO/FIOASYNC, FIONREAD of lock-free files; others take it
XOS_LOCK_FREE(open)  // an existing file; O_CREAT/O_TMPFILE, devices, FIFOs, procfs take it (sys/file_open.cpp)
XOS_LOCK_FREE(openat)
XOS_LOCK_FREE(fsync)  // ramfs: nothing to write back; others take it
XOS_LOCK_FREE(fdatasync)
XOS_LOCK_FREE(bind)  // inet sockets under lwIP's core lock, AF_UNIX under g_unix_lock (net/unix.cpp)
XOS_LOCK_FREE(listen)
XOS_LOCK_FREE(accept)
XOS_LOCK_FREE(accept4)
XOS_LOCK_FREE(connect)
XOS_LOCK_FREE(shutdown)
XOS_LOCK_FREE(sendto)
XOS_LOCK_FREE(recvfrom)
XOS_LOCK_FREE(sendmsg)
XOS_LOCK_FREE(recvmsg)
XOS_LOCK_FREE(setsockopt)
XOS_LOCK_FREE(getsockopt)
XOS_LOCK_FREE(getsockname)
XOS_LOCK_FREE(getpeername)
XOS_LOCK_FREE(mkdir)  // ramfs/tmpfs directories under their locks; others take it (vfs/operations.cpp)
XOS_LOCK_FREE(mkdirat)
XOS_LOCK_FREE(rmdir)
XOS_LOCK_FREE(unlink)
XOS_LOCK_FREE(unlinkat)
XOS_LOCK_FREE(rename)
XOS_LOCK_FREE(renameat)
XOS_LOCK_FREE(renameat2)
XOS_LOCK_FREE(symlink)
XOS_LOCK_FREE(symlinkat)
XOS_LOCK_FREE(creat)  // open with O_CREAT (sys/file_open.cpp)
XOS_LOCK_FREE(ftruncate)  // a ramfs/tmpfs regular file (RamFile::setattr); others take it (sys/file_stat.cpp)
XOS_LOCK_FREE(fallocate)
XOS_LOCK_FREE(fchmod)
XOS_LOCK_FREE(fchown)
XOS_LOCK_FREE(
    getppid)  // the parent's pid stored with the pointer (atomic); docs/locking.md "Cheap per-process syscalls"
XOS_LOCK_FREE(getuid)  // one aligned id each, stored whole by set*id under the big lock
XOS_LOCK_FREE(geteuid)
XOS_LOCK_FREE(getgid)
XOS_LOCK_FREE(getegid)
XOS_LOCK_FREE(umask)  // an atomic exchange
XOS_LOCK_FREE(uname)  // the UTS names copied under their SpinLock (sys/uts.cpp)
XOS_LOCK_FREE(rt_sigprocmask)  // the caller's own mask; a barrier against post() (sys/signal.cpp)
XOS_LOCK_FREE(sched_getaffinity)  // the caller's own mask; another thread's under the big lock
XOS_LOCK_FREE(epoll_ctl)  // epoll's own locks; a watched file's readiness under the big lock if it needs it
XOS_LOCK_FREE(epoll_wait)
XOS_LOCK_FREE(epoll_pwait)  // with a signal mask: the big lock for the call (sys/poll_epoll.cpp)
XOS_LOCK_FREE(epoll_pwait2)
XOS_LOCK_FREE(poll)
XOS_LOCK_FREE(ppoll)  // with a signal mask: the big lock for the call (sys/poll.cpp)
XOS_LOCK_FREE(select)
XOS_LOCK_FREE(pselect6)
XOS_LOCK_FREE(socket)  // AF_UNIX (g_unix_lock, net/unix.cpp); other families take it (sys/net.cpp)
XOS_LOCK_FREE(socketpair)
