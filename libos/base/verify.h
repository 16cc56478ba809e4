// Checked invariants: the preconditions libos documents ("interrupts off", "not in interrupt
// context", "on the thread that holds the lock"...) are stated as code that runs, not as
// comments (SerenityOS AK/Assertions.h).
//
//   VERIFY(expr)   always checked. For invariants whose violation would corrupt state and whose
//                  check costs a compare and a branch (the failure path is a cold call).
//   ASSERT(expr)   checked when libos is built with assertions (Meson option `assertions`: on for
//                  the default debugoptimized build and in the tests, off for release builds);
//                  otherwise `expr` is not evaluated at all. For preconditions on hot paths.
//   VERIFY_NOT_REACHED()  a branch that must never run.
//
// A failed check prints "VERIFY failed: <expr>" with file:line and function, and a backtrace,
// through panic(), and ends the image with status 134 (as SIGABRT would).
#pragma once

// 1 or 0, from the build (meson.build passes -DXOS_ASSERTIONS=...). Host unit tests that do not
// set it get the checks.
#ifndef XOS_ASSERTIONS
#define XOS_ASSERTIONS 1
#endif

namespace xos {

// Reports a failed check and ends the image (through panic(): backtrace, status 134).
[[noreturn, gnu::cold]] void verify_failed(const char* expression, const char* file, int line, const char* function);

}  // namespace xos

#define VERIFY(expression)                                                                                             \
    (__builtin_expect(static_cast<bool>(expression), 1)                                                                \
         ? static_cast<void>(0)                                                                                        \
         : ::xos::verify_failed(#expression, __FILE__, __LINE__, __func__))

#define VERIFY_NOT_REACHED() ::xos::verify_failed("not reached", __FILE__, __LINE__, __func__)

#define VERIFY_HELD(lock) (lock).assert_held()

#if XOS_ASSERTIONS
#define ASSERT(expression) VERIFY(expression)
#else
// Type-checked, never evaluated.
#define ASSERT(expression) static_cast<void>(sizeof(static_cast<bool>(expression)))
#endif
