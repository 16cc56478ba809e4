// Intrusive reference counting for libos objects (vnodes, open files, pipes). The count is
// atomic: an open file description is referenced and released by syscalls on several CPUs
// without a common lock (fd tables, docs/locking.md "I/O objects"). Whoever finds an object
// through a table (a weak lookup) must hold the lock that the object's destruction takes to
// remove it from that table.
#pragma once

#include <cstddef>
#include <utility>

namespace xos {

// Base of reference-counted objects. The object is destroyed through its virtual destructor
// (and freed by the overridable destroy()) when the last reference goes away.
class RefCounted {
public:
    RefCounted() = default;
    RefCounted(const RefCounted&) = delete;
    RefCounted& operator=(const RefCounted&) = delete;

    void ref() const { __atomic_fetch_add(&m_refs, 1, __ATOMIC_RELAXED); }
    void unref() const {
        if (__atomic_sub_fetch(&m_refs, 1, __ATOMIC_ACQ_REL) == 0) const_cast<RefCounted*>(this)->destroy();
    }
    size_t ref_count() const { return __atomic_load_n(&m_refs, __ATOMIC_RELAXED); }
    // Takes a reference unless the count is 0 (false then: the object is being destroyed). For
    // a table that finds objects by raw pointer and lets their destruction remove them: a
    // lookup never revives an object whose last reference went on another CPU.
    bool try_ref() const {
        size_t refs = __atomic_load_n(&m_refs, __ATOMIC_RELAXED);
        while (refs > 0)
            if (__atomic_compare_exchange_n(&m_refs, &refs, refs + 1, true, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return true;
        return false;
    }
    // Drops a reference unless it is the last one (false then, nothing changed): a caller that
    // may not destroy the object where it stands (mm: a vnode's end relies on the big lock)
    // drops the others without ceremony and takes what the end needs only for the last.
    bool unref_unless_last() const {
        size_t refs = __atomic_load_n(&m_refs, __ATOMIC_RELAXED);
        while (refs > 1)
            if (__atomic_compare_exchange_n(&m_refs, &refs, refs - 1, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
                return true;
        return false;
    }

    // The compiler's deleting destructor for a virtual destructor refers to operator delete;
    // without this it would be the app's (libc++'s), dragging libc++abi, the unwinder and the
    // demangler into every image. libos never deletes objects with `delete`.
    static void operator delete(void* object);

protected:
    virtual ~RefCounted() = default;
    // Frees the object; the default runs the destructor and returns the memory to the kernel heap.
    virtual void destroy();

private:
    mutable size_t m_refs = 0;
};

template <typename T>
class RefPtr {
public:
    constexpr RefPtr() = default;
    constexpr RefPtr(std::nullptr_t) {}
    RefPtr(T* object) : m_object(object) {
        if (m_object) m_object->ref();
    }
    RefPtr(const RefPtr& other) : RefPtr(other.m_object) {}
    RefPtr(RefPtr&& other) : m_object(std::exchange(other.m_object, nullptr)) {}
    template <typename U>
    RefPtr(const RefPtr<U>& other) : RefPtr(static_cast<T*>(other.get())) {}
    template <typename U>
    RefPtr(RefPtr<U>&& other) : m_object(static_cast<T*>(other.leak())) {}
    ~RefPtr() { clear(); }

    RefPtr& operator=(RefPtr other) {
        std::swap(m_object, other.m_object);
        return *this;
    }

    void clear() {
        if (auto* object = std::exchange(m_object, nullptr)) object->unref();
    }
    // Gives up the reference without dropping it.
    T* leak() { return std::exchange(m_object, nullptr); }

    T* get() const { return m_object; }
    T* operator->() const { return m_object; }
    T& operator*() const { return *m_object; }
    explicit operator bool() const { return m_object != nullptr; }
    bool operator==(const RefPtr& other) const { return m_object == other.m_object; }
    bool operator==(const T* other) const { return m_object == other; }

private:
    T* m_object = nullptr;
};

}  // namespace xos
