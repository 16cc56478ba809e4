// Clang's thread-safety analysis (-Wthread-safety, on for libos as an error: libos/meson.build):
// a lock type is a CAPABILITY, data says which lock guards it (GUARDED_BY), functions say which
// locks they need (REQUIRES), take (ACQUIRE) or give back (RELEASE), and the compiler checks
// every access and every path. Only annotated code is checked; unannotated data and functions
// (most of libos, still under the big lock: docs/locking.md) are not. Other compilers (the host
// unit tests may use one) see nothing.
#pragma once

#if defined(__clang__)
#define XOS_THREAD_SAFETY(attribute) __attribute__((attribute))
#else
#define XOS_THREAD_SAFETY(attribute)
#endif

// A type whose objects are locks ("spinlock", "mutex": the name appears in warnings).
#define CAPABILITY(name) XOS_THREAD_SAFETY(capability(name))
// An RAII type that holds a lock for its lifetime (SpinLockGuard, MutexLocker).
#define SCOPED_CAPABILITY XOS_THREAD_SAFETY(scoped_lockable)
// Data read or written only with the lock held; PT_: the data the pointer points to.
#define GUARDED_BY(lock) XOS_THREAD_SAFETY(guarded_by(lock))
#define PT_GUARDED_BY(lock) XOS_THREAD_SAFETY(pt_guarded_by(lock))
// The caller must hold the locks / must not hold them.
#define REQUIRES(...) XOS_THREAD_SAFETY(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) XOS_THREAD_SAFETY(locks_excluded(__VA_ARGS__))
// The function takes / gives back the locks (no argument: `this`).
#define ACQUIRE(...) XOS_THREAD_SAFETY(acquire_capability(__VA_ARGS__))
#define RELEASE(...) XOS_THREAD_SAFETY(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) XOS_THREAD_SAFETY(try_acquire_capability(__VA_ARGS__))
// The function checks at run time that the lock is held (VERIFY_HELD), so the analysis may
// assume it from there on.
#define ASSERT_CAPABILITY(lock) XOS_THREAD_SAFETY(assert_capability(lock))
// The function returns (a reference to) this lock.
#define RETURN_CAPABILITY(lock) XOS_THREAD_SAFETY(lock_returned(lock))
// The lock order (docs/locking.md), for readers; clang checks it only with -Wthread-safety-beta.
#define ACQUIRED_BEFORE(...) XOS_THREAD_SAFETY(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) XOS_THREAD_SAFETY(acquired_after(__VA_ARGS__))
// The body is outside the analysis: the lock primitives themselves, and code whose locking the
// analysis cannot follow (a lock handed to another function that gives it back). Say why.
#define NO_THREAD_SAFETY_ANALYSIS XOS_THREAD_SAFETY(no_thread_safety_analysis)
