// Typed pointers to application memory. There is one address space, but every pointer that
// comes in through a syscall is checked before libos touches it: a bad pointer is -EFAULT,
// never a kernel crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "base/error.h"

namespace xos {

// Where application pointers may point. Set once at boot by the memory manager.
struct UserRange {
    uintptr_t lowest;
    uintptr_t highest;  // exclusive
};
void set_user_range(UserRange range);
// Memory outside that range (the app's virtual memory) is vouched for by this check, given the
// PROT_* bits the access needs.
using UserMemoryCheck = bool (*)(uintptr_t address, size_t size, int prot);
void set_user_memory_check(UserMemoryCheck check);
// True if libos may read (user_range_ok) or write (user_range_writable) every byte.
bool user_range_ok(uintptr_t address, size_t size);
bool user_range_writable(uintptr_t address, size_t size);

template <typename T>
class UserPtr {
public:
    constexpr UserPtr() = default;
    constexpr explicit UserPtr(uintptr_t address) : m_address(address) {}

    uintptr_t address() const { return m_address; }
    bool is_null() const { return m_address == 0; }
    // The raw pointer, once the caller has validated the range it will touch.
    T* unchecked() const { return reinterpret_cast<T*>(m_address); }

    template <typename U = T>
    UserPtr<U> offset(size_t bytes) const { return UserPtr<U>(m_address + bytes); }

private:
    uintptr_t m_address = 0;
};

template <typename T>
inline constexpr bool is_user_ptr = false;
template <typename T>
inline constexpr bool is_user_ptr<UserPtr<T>> = true;

// Copies `size` bytes between the app and libos, failing with EFAULT if any byte is outside
// the app-addressable range.
inline ErrorOr<void> copy_from_user(void* to, UserPtr<const void> from, size_t size) {
    if (!user_range_ok(from.address(), size)) return error(EFAULT);
    memcpy(to, from.unchecked(), size);
    return {};
}

inline ErrorOr<void> copy_to_user(UserPtr<void> to, const void* from, size_t size) {
    if (!user_range_writable(to.address(), size)) return error(EFAULT);
    memcpy(to.unchecked(), from, size);
    return {};
}

template <typename T>
ErrorOr<T> read_user(UserPtr<const T> from) {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    TRY(copy_from_user(&value, UserPtr<const void>(from.address()), sizeof(T)));
    return value;
}

template <typename T>
ErrorOr<void> write_user(UserPtr<T> to, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    return copy_to_user(UserPtr<void>(to.address()), &value, sizeof(T));
}

}  // namespace xos
