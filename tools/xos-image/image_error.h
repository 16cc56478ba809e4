// The one error type of the container-image reader: a message that says what is wrong with which
// file, printed by the tools as "xos-build: error: <what>" (exit 1).
#pragma once

#include <stdexcept>
#include <string>

namespace xos::image {

struct ImageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace xos::image
