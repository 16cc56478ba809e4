// A growable text buffer on the kernel heap, for procfs file contents.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <string_view>

#include "base/error.h"

namespace xos::fs {

class TextBuffer {
public:
    TextBuffer() = default;
    TextBuffer(const TextBuffer&) = delete;
    TextBuffer& operator=(const TextBuffer&) = delete;
    ~TextBuffer();

    [[gnu::format(printf, 2, 3)]] ErrorOr<void> append(const char* format, ...);
    ErrorOr<void> append_bytes(std::string_view bytes);
    std::string_view view() const { return {m_data ? m_data : "", m_size}; }
    // Hands the buffer over (the caller kfree()s it).
    char* take() {
        char* data = m_data;
        m_data = nullptr;
        m_size = m_capacity = 0;
        return data;
    }

private:
    ErrorOr<void> reserve(size_t size);
    char* m_data = nullptr;
    size_t m_size = 0;
    size_t m_capacity = 0;
};

}  // namespace xos::fs
