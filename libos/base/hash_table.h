// An intrusive chained hash table: elements embed a HashTableNode; the bucket array comes from
// the kernel heap and doubles when the load passes 1. Lookups never allocate; insert may fail
// (ENOMEM) only while growing from empty.
//
// Traits must provide: static Key key_of(const T&); static size_t hash(Key); static bool
// equal(Key, Key).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/error.h"
#include "mm/heap.h"

namespace xos {

struct HashTableNode {
    HashTableNode* next = nullptr;
};

// FNV-1a: short names (directory entries) hash well and fast.
inline size_t hash_bytes(std::string_view bytes) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    return size_t(h ^ (h >> 32));
}

template <typename T, HashTableNode T::* Member, typename Traits>
class IntrusiveHashTable {
public:
    IntrusiveHashTable() = default;
    IntrusiveHashTable(const IntrusiveHashTable&) = delete;
    IntrusiveHashTable& operator=(const IntrusiveHashTable&) = delete;
    ~IntrusiveHashTable() { mm::kfree(m_buckets); }

    size_t size() const { return m_size; }

    template <typename Key>
    T* find(const Key& key) const {
        if (!m_buckets) return nullptr;
        for (HashTableNode* node = m_buckets[Traits::hash(key) & (m_bucket_count - 1)]; node; node = node->next) {
            T* item = owner(node);
            if (Traits::equal(Traits::key_of(*item), key)) return item;
        }
        return nullptr;
    }

    // Links `item` (whose key must not be present). Fails only when no bucket array exists yet
    // and none can be allocated; failing to grow later just keeps longer chains.
    ErrorOr<void> insert(T& item) {
        if (!m_buckets || m_size >= m_bucket_count) {
            if (!rehash(m_bucket_count ? m_bucket_count * 2 : 8) && !m_buckets) return error(ENOMEM);
        }
        link(item);
        ++m_size;
        return {};
    }

    void remove(T& item) {
        HashTableNode** link = &m_buckets[Traits::hash(Traits::key_of(item)) & (m_bucket_count - 1)];
        while (*link != &(item.*Member)) link = &(*link)->next;
        *link = (item.*Member).next;
        (item.*Member).next = nullptr;
        --m_size;
    }

    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (size_t i = 0; i < m_bucket_count; ++i)
            for (HashTableNode* node = m_buckets[i]; node;) {
                HashTableNode* next = node->next;
                fn(*owner(node));
                node = next;
            }
    }

private:
    static size_t member_offset() {
        alignas(T) static char probe_storage[sizeof(T)];
        auto* probe = reinterpret_cast<T*>(probe_storage);
        return size_t(reinterpret_cast<char*>(&(probe->*Member)) - probe_storage);
    }
    static T* owner(HashTableNode* node) {
        return reinterpret_cast<T*>(reinterpret_cast<char*>(node) - member_offset());
    }
    void link(T& item) {
        HashTableNode*& head = m_buckets[Traits::hash(Traits::key_of(item)) & (m_bucket_count - 1)];
        (item.*Member).next = head;
        head = &(item.*Member);
    }
    bool rehash(size_t new_count) {
        auto* buckets = static_cast<HashTableNode**>(mm::kmalloc(new_count * sizeof(HashTableNode*)));
        if (!buckets) return false;
        HashTableNode** old = m_buckets;
        size_t old_count = m_bucket_count;
        m_buckets = buckets;
        m_bucket_count = new_count;
        for (size_t i = 0; i < old_count; ++i)
            for (HashTableNode* node = old[i]; node;) {
                HashTableNode* next = node->next;
                link(*owner(node));
                node = next;
            }
        mm::kfree(old);
        return true;
    }

    HashTableNode** m_buckets = nullptr;
    size_t m_bucket_count = 0;  // a power of two
    size_t m_size = 0;
};

}  // namespace xos
