#include "virtio/virtqueue.h"

namespace xos::virtio {

namespace {

constexpr size_t align_up(size_t value, size_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

// Layout (virtio 1.x alignments: descriptors 16, available ring 2, used ring 4; the used ring
// gets a 4 KiB boundary anyway so that the device-written part never shares a page with the
// driver-written part).
size_t avail_offset(uint16_t size) { return sizeof(VirtqDesc) * size; }
size_t used_offset(uint16_t size) { return align_up(avail_offset(size) + 6 + 2 * size_t(size), 4096); }

// Orders our ring writes before the index store the device reads, and the device's index
// store before our reads of what it published.
inline void release_fence() { __atomic_thread_fence(__ATOMIC_RELEASE); }
inline void acquire_fence() { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
inline void full_fence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

}  // namespace

size_t Virtqueue::memory_bytes(uint16_t size) { return used_offset(size) + 6 + sizeof(VirtqUsedElem) * size_t(size); }

void Virtqueue::init(uint16_t size, void* memory, void** tokens) {
    auto* base = static_cast<unsigned char*>(memory);
    m_size = size;
    m_desc = reinterpret_cast<VirtqDesc*>(base);
    auto* avail = reinterpret_cast<volatile uint16_t*>(base + avail_offset(size));
    m_avail_flags = avail;
    m_avail_idx = avail + 1;
    m_avail_ring = avail + 2;
    auto* used = reinterpret_cast<volatile uint16_t*>(base + used_offset(size));
    m_used_flags = used;
    m_used_idx = used + 1;
    m_used_ring = reinterpret_cast<volatile VirtqUsedElem*>(used + 2);
    m_tokens = tokens;
    for (uint16_t i = 0; i < size; ++i) {
        m_desc[i].next = uint16_t(i + 1);
        m_tokens[i] = nullptr;
    }
    m_free_head = 0;
    m_free_count = size;
    m_avail_shadow = 0;
    m_last_used = 0;
    m_pending_notify = 0;
}

ErrorOr<void> Virtqueue::submit(std::span<const VirtqBuffer> chain, void* token) {
    if (chain.empty() || !token) return error(EINVAL);
    for (size_t i = 1; i < chain.size(); ++i)
        if (chain[i - 1].device_writes && !chain[i].device_writes) return error(EINVAL);
    if (chain.size() > m_free_count) return error(ENOSPC);

    uint16_t head = m_free_head;
    uint16_t index = head;
    for (size_t i = 0; i < chain.size(); ++i) {
        VirtqDesc& desc = m_desc[index];
        desc.addr = chain[i].address;
        desc.len = chain[i].length;
        desc.flags = chain[i].device_writes ? VIRTQ_DESC_F_WRITE : 0;
        if (i + 1 < chain.size()) {
            desc.flags |= VIRTQ_DESC_F_NEXT;
            index = desc.next;
        }
    }
    m_free_head = m_desc[index].next;  // the last descriptor's free-list link
    m_free_count = uint16_t(m_free_count - chain.size());
    m_tokens[head] = token;

    m_avail_ring[m_avail_shadow % m_size] = head;
    ++m_avail_shadow;
    release_fence();
    *m_avail_idx = m_avail_shadow;
    ++m_pending_notify;
    return {};
}

bool Virtqueue::needs_notify() {
    if (!m_pending_notify) return false;
    m_pending_notify = 0;
    full_fence();  // the idx store must be visible before we read the device's flag
    return !(*m_used_flags & VIRTQ_USED_F_NO_NOTIFY);
}

bool Virtqueue::has_completions() const {
    bool any = *m_used_idx != m_last_used;
    acquire_fence();
    return any;
}

std::optional<VirtqCompletion> Virtqueue::reap() {
    VirtqUsedElem elem;
    for (;;) {
        if (!has_completions()) return std::nullopt;
        elem = {m_used_ring[m_last_used % m_size].id, m_used_ring[m_last_used % m_size].len};
        ++m_last_used;
        if (elem.id < m_size && m_tokens[elem.id]) break;
        // Not a chain we published (a device bug): skip the entry.
    }
    uint16_t head = uint16_t(elem.id);
    void* token = m_tokens[head];
    m_tokens[head] = nullptr;

    // Return the chain to the free list (it keeps its own next links).
    uint16_t index = head;
    uint16_t count = 1;
    while (m_desc[index].flags & VIRTQ_DESC_F_NEXT) {
        index = m_desc[index].next;
        ++count;
    }
    m_desc[index].next = m_free_head;
    m_free_head = head;
    m_free_count = uint16_t(m_free_count + count);
    return VirtqCompletion{token, elem.len};
}

void Virtqueue::set_interrupts_wanted(bool wanted) {
    *m_avail_flags = wanted ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
    full_fence();
}

}  // namespace xos::virtio
