// The syscall dispatcher: the one place where ErrorOr becomes -errno.
//
// It runs before the app has a thread pointer (musl calls arch_prctl(ARCH_SET_FS) through
// here), so nothing on this path may touch TLS or the stack protector canary.
#include <sys/syscall.h>

#include <array>
#include <tuple>
#include <type_traits>
#include <utility>

#include "base/klog.h"
#include "sched/big_lock_stats.h"
#include "sched/thread.h"
#include "sys/handlers.h"
#include "sys/signal.h"
#include "sys/syscall_table.h"
#include "xos/libos.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

using RawArgs = const long*;
using Invoker = long (*)(RawArgs);

template <typename T>
T decode_argument(long raw) {
    if constexpr (is_user_ptr<T>)
        return T(uintptr_t(raw));
    else if constexpr (std::is_pointer_v<T>)
        return reinterpret_cast<T>(raw);
    else
        return static_cast<T>(raw);
}

template <typename F>
struct HandlerTraits;
template <typename... Args>
struct HandlerTraits<ErrorOr<long> (*)(Args...)> {
    using Arguments = std::tuple<Args...>;
    static constexpr size_t arity = sizeof...(Args);
};

// Adapts a typed handler to the raw six-register calling convention.
template <auto Handler>
long invoke(RawArgs raw) {
    using Traits = HandlerTraits<decltype(Handler)>;
    static_assert(Traits::arity <= 6, "a syscall takes at most six arguments");
    return [&]<size_t... I>(std::index_sequence<I...>) -> long {
        ErrorOr<long> result = Handler(decode_argument<std::tuple_element_t<I, typename Traits::Arguments>>(raw[I])...);
        return result ? *result : -long(result.error().code);
    }(std::make_index_sequence<Traits::arity>{});
}

constexpr std::array<Invoker, SYSCALL_COUNT> make_dispatch_table() {
    std::array<Invoker, SYSCALL_COUNT> table{};
#define XOS_SYSCALL(number, name, support, note) table[number] = &invoke<&sys_##name>;
#define XOS_SYSCALL_NONE(number, name, note)
#include "sys/syscall_list.h"
#undef XOS_SYSCALL
#undef XOS_SYSCALL_NONE
    return table;
}

constinit const auto g_dispatch = make_dispatch_table();

// Which syscalls run without the big lock (sys/lock_free_syscalls.h).
constexpr std::array<bool, SYSCALL_COUNT> make_lock_free_table() {
    std::array<bool, SYSCALL_COUNT> table{};
#define XOS_LOCK_FREE(name) table[SYS_##name] = true;
#include "sys/lock_free_syscalls.h"
#undef XOS_LOCK_FREE
    return table;
}

constinit const auto g_lock_free = make_lock_free_table();

// One log line per missing syscall number, so a user sees what their app needs.
uint64_t g_reported_missing[SYSCALL_COUNT / 64];

[[gnu::noinline, gnu::cold]] long not_implemented(long number) {
    if (number >= 0 && size_t(number) < SYSCALL_COUNT) {
        uint64_t bit = 1ull << (number % 64);
        if (g_reported_missing[number / 64] & bit) return -ENOSYS;
        g_reported_missing[number / 64] |= bit;
    }
    const char* name = syscall_name(number);
    klog("xos: syscall %ld (%s) is not implemented; returning -ENOSYS", number, name ? name : "unknown");
    return -ENOSYS;
}

}  // namespace

}  // namespace xos::sys

extern "C" void xos_syscall_frame(uint64_t* regs) {
    using namespace xos;
    using namespace xos::sys;
    sched::Thread* self = sched::current_or_null();
    // The outermost entry (from app code) has its frame at the top of the kernel stack; a
    // nested one (libos calling itself, or before threads exist) returns as a plain call.
    bool from_app = self && regs == sched::user_frame(*self);
    if (from_app) self->user_regs = regs;
    long number = long(regs[UR_RAX]);
    bool known = number >= 0 && size_t(number) < SYSCALL_COUNT;
    // The big lock (docs/locking.md): every syscall but the lock-free ones holds it for its
    // length; the scheduler gives it back while the syscall blocks.
    bool locked = !known || !g_lock_free[size_t(number)];
    if (locked && sched::big_lock_enter() && known) ++sched::g_big_lock_stats.syscalls[number];
    long result;
    if (number >= SYS_clone && number <= SYS_vfork && from_app) {
        // clone, fork, vfork return twice (through the syscall ABI, or called as a function:
        // musl's fork() in a linked program, whose frame resumes after the call like a
        // `syscall` instruction's): the child resumes from a copy of the registers (old order: r15 r14 r13 r12 rbp rbx r9 r8 r10 rdx rsi rdi rflags rip).
        const uint64_t frame[14] = {regs[UR_R15], regs[UR_R14], regs[UR_R13], regs[UR_R12], regs[UR_RBP],
                                    regs[UR_RBX], regs[UR_R9],  regs[UR_R8],  regs[UR_R10], regs[UR_RDX],
                                    regs[UR_RSI], regs[UR_RDI], regs[UR_EFL], regs[UR_RIP]};
        sched::enter_kernel();
        auto cloned = clone_from_syscall(frame, number, regs[UR_RSP]);
        sched::leave_kernel();
        result = cloned ? *cloned : -long(cloned.error().code);
    } else if (number < 0 || size_t(number) >= SYSCALL_COUNT || !g_dispatch[size_t(number)]) [[unlikely]] {
        result = not_implemented(number);
    } else {
        const long args[6] = {long(regs[UR_RDI]), long(regs[UR_RSI]), long(regs[UR_RDX]),
                              long(regs[UR_R10]), long(regs[UR_R8]),  long(regs[UR_R9])};
        sched::enter_kernel();  // libos code is not preempted (see sched/thread.h)
        result = g_dispatch[size_t(number)](args);
        sched::leave_kernel();
    }
    regs[UR_RAX] = uint64_t(result);
    if (!from_app) {
        if (locked) sched::big_lock_leave();
        return;
    }
    // The common case: no work on the way back, the frame is as the entry saved it but for
    // %rax, so the entry's fast return (entry64.S) loads only what the call may have changed.
    if (!user_return_work(*self)) [[likely]] {
        self->user_regs = nullptr;
        if (locked) sched::big_lock_leave();
        return;
    }
    // Like Linux on the way back to user space: act on signals that are now deliverable; the
    // frame may have changed, so all of it is loaded. Signal state is the big lock's; the
    // return to app code (xos_user_return) gives it back.
    if (!locked) (void)sched::big_lock_enter();
    platform::return_to_user(regs, return_to_user(regs, number == SYS_rt_sigreturn ? -1 : number));
}
