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
