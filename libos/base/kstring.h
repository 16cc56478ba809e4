// An owned, immutable byte string on the kernel heap (names of directory entries, symlink
// targets, paths). Not NUL-terminated in general; c_str() is, because the buffer keeps one.
#pragma once

#include <cstring>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "mm/heap.h"

namespace xos {

class KString {
public:
    KString() = default;
    KString(const KString&) = delete;
    KString& operator=(const KString&) = delete;
    KString(KString&& other) : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0)) {}
    KString& operator=(KString&& other) {
        std::swap(m_data, other.m_data);
        std::swap(m_size, other.m_size);
        return *this;
    }
    ~KString() { mm::kfree(m_data); }

    static ErrorOr<KString> from(std::string_view text) {
        KString s;
        s.m_data = static_cast<char*>(mm::kmalloc(text.size() + 1));
        if (!s.m_data) return error(ENOMEM);
        memcpy(s.m_data, text.data(), text.size());
        s.m_data[text.size()] = '\0';
        s.m_size = text.size();
        return s;
    }

    std::string_view view() const { return {m_data ? m_data : "", m_size}; }
    const char* c_str() const { return m_data ? m_data : ""; }
    size_t size() const { return m_size; }
    bool empty() const { return m_size == 0; }

private:
    char* m_data = nullptr;
    size_t m_size = 0;
};

}  // namespace xos
