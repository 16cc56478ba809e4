// Errors are values: ErrorOr<T> holds a T or a Linux errno. Converted to -errno in exactly one
// place, the syscall dispatcher.
#pragma once

#include <cerrno>
#include <expected>
#include <utility>

namespace xos {

struct Error {
    int code;  // a positive errno value (EBADF, ENOMEM...)
};

template <typename T>
using ErrorOr = std::expected<T, Error>;

inline constexpr std::unexpected<Error> error(int errno_value) { return std::unexpected(Error{errno_value}); }

namespace detail {
template <typename T>
T take_value(std::expected<T, Error>&& result) {
    return std::move(*result);
}
inline void take_value(std::expected<void, Error>&&) {}
}  // namespace detail

}  // namespace xos

// Evaluates an ErrorOr expression; on error returns it from the enclosing function, otherwise
// yields the value.
#define TRY(expression)                                                                                                \
    ({                                                                                                                 \
        auto _try_result = (expression);                                                                               \
        if (!_try_result) return std::unexpected(_try_result.error());                                                 \
        ::xos::detail::take_value(std::move(_try_result));                                                             \
    })
