#include "fs/procfs/text_buffer.h"

#include <cstdio>
#include <cstring>

#include "mm/heap.h"

namespace xos::fs {

TextBuffer::~TextBuffer() { mm::kfree(m_data); }

ErrorOr<void> TextBuffer::reserve(size_t size) {
    if (size <= m_capacity) return {};
    size_t capacity = m_capacity ? m_capacity : 256;
    while (capacity < size) capacity *= 2;
    char* data = static_cast<char*>(mm::kmalloc(capacity));
    if (!data) return error(ENOMEM);
    if (m_data) memcpy(data, m_data, m_size);
    mm::kfree(m_data);
    m_data = data;
    m_capacity = capacity;
    return {};
}

ErrorOr<void> TextBuffer::append_bytes(std::string_view bytes) {
    TRY(reserve(m_size + bytes.size() + 1));
    memcpy(m_data + m_size, bytes.data(), bytes.size());
    m_size += bytes.size();
    m_data[m_size] = '\0';
    return {};
}

ErrorOr<void> TextBuffer::append(const char* format, ...) {
    va_list args;
    va_start(args, format);
    va_list copy;
    va_copy(copy, args);
    int length = vsnprintf(nullptr, 0, format, copy);
    va_end(copy);
    if (length < 0 || !reserve(m_size + size_t(length) + 1)) {
        va_end(args);
        return error(ENOMEM);
    }
    vsnprintf(m_data + m_size, size_t(length) + 1, format, args);
    va_end(args);
    m_size += size_t(length);
    return {};
}

}  // namespace xos::fs
