// virtio-blk (virtio 1.x, section 5.2): a disk on the shared virtqueue and transport
// (libos/virtio), behind the same interface as the platform's host disks (xos/block.h).
//
// - Features: VERSION_1 (legacy devices are refused), RO, BLK_SIZE (requests are aligned to the
//   logical block size it gives, and the capacity is rounded down to whole blocks), FLUSH (without it the device has no volatile cache and
//   flush() has nothing to do), SEG_MAX and SIZE_MAX (a request's data is cut into at most
//   seg_max segments of at most size_max bytes; without SEG_MAX one segment, as Linux assumes).
// - One request queue (queue 0), one request in flight: a request is the chain
//   [header (type, sector) | data segments | status byte], and the calling thread sleeps on the
//   queue's wait queue until the device's interrupt (Device::wait; it polls when the transport
//   cannot route interrupts, or while interrupts are off at boot).
// Callers serialize (xos/block.h); the data buffers are kernel memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "virtio/device.h"
#include "xos/block.h"

namespace xos::blk {

class VirtioBlk final : public platform::BlockDevice {
public:
    explicit VirtioBlk(platform::VirtioTransport& transport) : m_device(transport) {}

    // Brings the device up and reads its configuration.
    ErrorOr<void> initialize();

    const char* name() const override { return m_name; }
    uint64_t sector_count() const override { return m_sectors; }
    uint32_t block_size() const override { return m_block_size; }
    bool read_only() const override { return m_read_only; }
    long read(uint64_t sector, void* buffer, size_t count) override;
    long write(uint64_t sector, const void* data, size_t count) override;
    long flush() override;

private:
    // struct virtio_blk_req's parts before and after the data, in one kernel allocation.
    struct Request {
        uint32_t type;
        uint32_t reserved;
        uint64_t sector;
        uint8_t status;
        bool done;
    };

    long transfer(uint32_t type, uint64_t sector, uintptr_t data, size_t count);
    // One request with `segments` data buffers (at most m_max_segments) starting at `data`.
    long submit_and_wait(uint32_t type, uint64_t sector, uintptr_t data, size_t bytes);
    uint32_t config_read32(uint32_t offset);
    uint64_t config_read64(uint32_t offset);

    virtio::Device m_device;
    virtio::QueueState m_queue;
    Request* m_request = nullptr;
    virtio::VirtqBuffer* m_chain = nullptr;  // m_max_segments + 2 entries
    uint64_t m_sectors = 0;
    uint32_t m_block_size = platform::BlockDevice::SECTOR_SIZE;
    uint32_t m_max_segments = 1;
    uint32_t m_max_segment_bytes = 0;
    bool m_read_only = false;
    bool m_flush = false;
    char m_name[64] = {};
};

}  // namespace xos::blk
