// A global that is constructed on first use and never destroyed. libos globals must not have
// destructors: they would be registered with the app's atexit list and run (closing files,
// freeing memory) while musl's exit() still flushes stdio.
#pragma once

#include <new>
#include <utility>

namespace xos {

template <typename T>
class NoDestroy {
public:
    template <typename... Args>
    T& get(Args&&... args) {
        if (!m_constructed) {
            new (m_storage) T(std::forward<Args>(args)...);
            m_constructed = true;
        }
        return *std::launder(reinterpret_cast<T*>(m_storage));
    }

private:
    alignas(T) unsigned char m_storage[sizeof(T)] = {};
    bool m_constructed = false;
};

}  // namespace xos
