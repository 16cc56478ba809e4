// Typed pointers to application memory. There is one address space, but every pointer that
// comes in through a syscall is checked before libos touches it, and libos touches app memory
// only through copy_from_user/copy_to_user (or read_user/write_user): a bad pointer is -EFAULT,
// never a kernel crash.
//
// Two layers, as in Linux: a permission check (the image's own regions by section, the app's
// mappings by VMA protection; libos's data, the heap, page tables, stacks and low memory are
// never app memory), then a fault-safe copy. The check alone is not enough: a thread can block
// in a syscall after the check while another one unmaps the buffer, and the copy then faults;
// the platform's copy routine turns a fault it cannot resolve into a short copy (EFAULT).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "base/error.h"
#include "xos/platform.h"

namespace xos {

// A part of the image the app may name, with the PROT_* bits it allows. Set once at boot.
struct UserRegion {
    uintptr_t base;
    uintptr_t end;  // exclusive
    int prot;
};
void set_user_regions(std::span<const UserRegion> regions);
// Memory outside those regions (the app's virtual memory) is vouched for by this check, given
// the PROT_* bits the access needs.
using UserMemoryCheck = bool (*)(uintptr_t address, size_t size, int prot);
void set_user_memory_check(UserMemoryCheck check);
// The fault-safe copy: returns the number of bytes not copied (0: all). The platform's
// (platform/x86_64/user_copy.S); the host unit tests provide a memcpy.
inline size_t user_copy(void* to, const void* from, size_t size) { return platform::copy_user(to, from, size); }

// True if the app may let libos read (user_range_ok) or write (user_range_writable) every byte.
bool user_range_ok(uintptr_t address, size_t size);
bool user_range_writable(uintptr_t address, size_t size);

template <typename T>
class UserPtr {
public:
    constexpr UserPtr() = default;
    constexpr explicit UserPtr(uintptr_t address) : m_address(address) {}

    uintptr_t address() const { return m_address; }
    bool is_null() const { return m_address == 0; }
    // The raw pointer, for the copy routines only: dereferencing it directly is not fault-safe.
    T* unchecked() const { return reinterpret_cast<T*>(m_address); }

    template <typename U = T>
    UserPtr<U> offset(size_t bytes) const {
        return UserPtr<U>(m_address + bytes);
    }

private:
    uintptr_t m_address = 0;
};

template <typename T>
inline constexpr bool is_user_ptr = false;
template <typename T>
inline constexpr bool is_user_ptr<UserPtr<T>> = true;

// Copies `size` bytes between the app and libos, failing with EFAULT if any byte is not app
// memory with the needed permission, or faults during the copy.
inline ErrorOr<void> copy_from_user(void* to, UserPtr<const void> from, size_t size) {
    if (!user_range_ok(from.address(), size)) return error(EFAULT);
    if (user_copy(to, from.unchecked(), size)) return error(EFAULT);
    return {};
}

inline ErrorOr<void> copy_to_user(UserPtr<void> to, const void* from, size_t size) {
    if (!user_range_writable(to.address(), size)) return error(EFAULT);
    if (user_copy(to.unchecked(), from, size)) return error(EFAULT);
    return {};
}

// Copies a NUL-terminated string of at most `capacity` bytes (the NUL included) into `to`:
// its length, ENAMETOOLONG if there is no NUL within `capacity`, EFAULT if it is not readable.
ErrorOr<size_t> copy_string_from_user(char* to, UserPtr<const char> from, size_t capacity);

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

// Atomically replaces the app's 32-bit word with `desired` if it holds `expected`; either way
// `expected` becomes the word's old value (std::atomic's compare_exchange_strong). True if it
// was exchanged; EFAULT if the word is not writable app memory.
inline ErrorOr<bool> cmpxchg_user(UserPtr<uint32_t> word, uint32_t& expected, uint32_t desired) {
    if (!user_range_writable(word.address(), sizeof(uint32_t))) return error(EFAULT);
    uint32_t want = expected;
    if (!platform::cmpxchg_user32(word.unchecked(), &expected, desired)) return error(EFAULT);
    return expected == want;
}

}  // namespace xos
