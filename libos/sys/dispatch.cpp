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
#include "sched/thread.h"
#include "sys/handlers.h"
#include "sys/signal.h"
#include "sys/syscall_table.h"

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

extern "C" long xos_call_clone(long number, long a1, long a2, long a3, long a4, long a5);  // entry64.S

extern "C" long xos_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
    using namespace xos;
    using namespace xos::sys;
    // clone, fork, vfork return twice: called as a function (musl's fork() in a linked program;
    // the trap path has its own entry), the child resumes here with 0, in its own memory.
    if (number >= SYS_clone && number <= SYS_vfork) [[unlikely]]
        return xos_call_clone(number, a1, a2, a3, a4, a5);
    if (number < 0 || size_t(number) >= SYSCALL_COUNT || !g_dispatch[size_t(number)]) [[unlikely]]
        return not_implemented(number);
    const long args[6] = {a1, a2, a3, a4, a5, a6};
    sched::enter_kernel();  // libos code is not preempted (see sched/thread.h)
    long result = g_dispatch[size_t(number)](args);
    sched::leave_kernel();
    // Like Linux on the way back to user space: act on signals that are now deliverable.
    deliver_pending_signals();
    return result;
}
