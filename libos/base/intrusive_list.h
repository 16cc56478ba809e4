// A doubly linked list whose nodes live inside the elements (no allocation, O(1) removal of a
// known element). Hot paths of the scheduler use it (run queue, wait queues, sleepers).
#pragma once

#include <cstddef>

#include "base/verify.h"

namespace xos {

struct IntrusiveListNode {
    IntrusiveListNode* prev = nullptr;
    IntrusiveListNode* next = nullptr;
    bool is_linked() const { return next != nullptr; }
};

template <typename T, IntrusiveListNode T::* Member>
class IntrusiveList {
public:
    IntrusiveList() { m_head.prev = m_head.next = &m_head; }
    IntrusiveList(const IntrusiveList&) = delete;
    IntrusiveList& operator=(const IntrusiveList&) = delete;

    bool empty() const { return m_head.next == &m_head; }
    size_t size() const {
        size_t n = 0;
        for (auto* node = m_head.next; node != &m_head; node = node->next) ++n;
        return n;
    }

    T* front() const { return empty() ? nullptr : owner(m_head.next); }

    void push_back(T& item) { insert_before(m_head, item); }
    void push_front(T& item) { insert_before(*m_head.next, item); }

    // Inserts `item` before `position` (an element of this list).
    void insert_before(T& position, T& item) { insert_before(position.*Member, item); }

    static void remove(T& item) {
        IntrusiveListNode& node = item.*Member;
        if (!node.is_linked()) return;
        node.prev->next = node.next;
        node.next->prev = node.prev;
        node.prev = node.next = nullptr;
    }

    T* pop_front() {
        T* item = front();
        if (item) remove(*item);
        return item;
    }

    // Calls fn(T&) for each element; fn may remove the element it is given.
    template <typename Fn>
    void for_each(Fn&& fn) {
        for (auto* node = m_head.next; node != &m_head;) {
            auto* next = node->next;
            fn(*owner(node));
            node = next;
        }
    }

private:
    void insert_before(IntrusiveListNode& position, T& item) {
        IntrusiveListNode& node = item.*Member;
        ASSERT(!node.is_linked());  // on one list at a time (else both lists are corrupted)
        node.prev = position.prev;
        node.next = &position;
        position.prev->next = &node;
        position.prev = &node;
    }

    static T* owner(IntrusiveListNode* node) {
        // offsetof for a pointer-to-member: the node's offset within T.
        auto offset = reinterpret_cast<size_t>(&(static_cast<T*>(nullptr)->*Member));
        return reinterpret_cast<T*>(reinterpret_cast<char*>(node) - offset);
    }

    IntrusiveListNode m_head;
};

}  // namespace xos
