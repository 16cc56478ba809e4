// The split virtqueue (virtio 1.x, section 2.6): the one ring implementation every virtio
// driver uses (9p, net and blk). The driver chains buffers into descriptors and
// publishes the chain's head in the available ring; the device returns heads in the used
// ring, and reap() frees the chain and hands back the token the driver attached to it.
//
// Portable (no device access: the caller notifies the transport when needs_notify() says so)
// and unit-tested on the host against a fake device. Not thread-safe: callers serialize
// (one CPU; libos code disables interrupts around submit/reap when an interrupt handler could
// touch the same queue).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/error.h"

namespace xos::virtio {

struct VirtqDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

constexpr uint16_t VIRTQ_DESC_F_NEXT = 1;
constexpr uint16_t VIRTQ_DESC_F_WRITE = 2;
constexpr uint16_t VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
constexpr uint16_t VIRTQ_USED_F_NO_NOTIFY = 1;

struct VirtqUsedElem {
    uint32_t id;
    uint32_t len;
};

// One buffer of a chain: a device address (platform::dma_address) and a length.
struct VirtqBuffer {
    uint64_t address;
    uint32_t length;
    bool device_writes;  // true for buffers the device fills (replies, received packets)
};

struct VirtqCompletion {
    void* token;
    uint32_t length;  // bytes the device wrote into the chain's device-writable buffers
};

class Virtqueue {
public:
    static constexpr uint16_t MAX_SIZE = 32768;

    // Bytes of ring memory (descriptor table, available ring, used ring, each suitably
    // aligned) for a queue of `size` entries (a power of two).
    static size_t memory_bytes(uint16_t size);

    Virtqueue() = default;
    Virtqueue(const Virtqueue&) = delete;
    Virtqueue& operator=(const Virtqueue&) = delete;

    // Lays the rings out in `memory` (memory_bytes(size) zeroed bytes, 16-byte aligned, which
    // must outlive the queue and stay where it is: the device reads it). `tokens` holds one
    // slot per entry.
    void init(uint16_t size, void* memory, void** tokens);

    uint16_t size() const { return m_size; }
    uint16_t free_descriptors() const { return m_free_count; }

    // Where the rings are, for the transport (host pointers; convert with dma_address).
    const void* descriptor_table() const { return m_desc; }
    const void* driver_ring() const { return const_cast<const uint16_t*>(m_avail_flags); }
    const void* device_ring() const { return const_cast<const uint16_t*>(m_used_flags); }

    // Publishes a chain of buffers (device-readable ones first, then device-writable ones, as
    // the spec requires) with `token` (non-null) to get back from reap(). ENOSPC when not enough
    // descriptors are free (wait for completions), EINVAL for an empty chain or a readable
    // buffer after a writable one.
    ErrorOr<void> submit(std::span<const VirtqBuffer> chain, void* token);

    // True if the device asked to be notified of new buffers (clears the pending count).
    bool needs_notify();

    // True if the device has returned chains not yet reaped.
    bool has_completions() const;
    // Takes one completed chain off the used ring and frees its descriptors.
    std::optional<VirtqCompletion> reap();

    // Asks the device not to interrupt for this queue (a hint) / to interrupt again.
    void set_interrupts_wanted(bool wanted);

private:
    uint16_t m_size = 0;
    VirtqDesc* m_desc = nullptr;
    volatile uint16_t* m_avail_flags = nullptr;
    volatile uint16_t* m_avail_idx = nullptr;
    volatile uint16_t* m_avail_ring = nullptr;
    volatile uint16_t* m_used_flags = nullptr;
    volatile uint16_t* m_used_idx = nullptr;
    volatile VirtqUsedElem* m_used_ring = nullptr;
    void** m_tokens = nullptr;
    uint16_t m_free_head = 0;
    uint16_t m_free_count = 0;
    uint16_t m_avail_shadow = 0;  // our copy of avail->idx
    uint16_t m_last_used = 0;  // next used-ring index to reap
    uint16_t m_pending_notify = 0;
};

}  // namespace xos::virtio
