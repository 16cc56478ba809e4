#include "blk/virtio_blk.h"

#include <cstdio>

#include "base/klog.h"
#include "mm/heap.h"

namespace xos::blk {

namespace {

// Feature bits (section 5.2.3).
constexpr uint64_t F_SIZE_MAX = 1ull << 1;
constexpr uint64_t F_SEG_MAX = 1ull << 2;
constexpr uint64_t F_RO = 1ull << 5;
constexpr uint64_t F_BLK_SIZE = 1ull << 6;
constexpr uint64_t F_FLUSH = 1ull << 9;

// Configuration space (struct virtio_blk_config).
constexpr uint32_t CONFIG_CAPACITY = 0;  // le64, in 512-byte sectors
constexpr uint32_t CONFIG_SIZE_MAX = 8;  // le32
constexpr uint32_t CONFIG_SEG_MAX = 12;  // le32
constexpr uint32_t CONFIG_BLK_SIZE = 20;  // le32

// Request types and status values (section 5.2.6).
constexpr uint32_t T_IN = 0, T_OUT = 1, T_FLUSH = 4;
constexpr uint8_t S_OK = 0, S_UNSUPP = 2;

constexpr uint16_t QUEUE_SIZE = 128;
constexpr uint32_t MAX_SEGMENTS = 64;  // our own cap on a chain's data buffers
constexpr uint32_t DEFAULT_SEGMENT_BYTES = 1u << 20;  // without SIZE_MAX
constexpr size_t SECTOR = platform::BlockDevice::SECTOR_SIZE;

}  // namespace

uint32_t VirtioBlk::config_read32(uint32_t offset) {
    platform::VirtioTransport& t = m_device.transport();
    for (;;) {
        uint32_t generation = t.config_generation();
        uint32_t value = 0;
        for (uint32_t i = 0; i < 4; ++i) value |= uint32_t(t.config_read8(offset + i)) << (8 * i);
        if (t.config_generation() == generation) return value;
    }
}

uint64_t VirtioBlk::config_read64(uint32_t offset) {
    platform::VirtioTransport& t = m_device.transport();
    for (;;) {
        uint32_t generation = t.config_generation();
        uint64_t value = 0;
        for (uint32_t i = 0; i < 8; ++i) value |= uint64_t(t.config_read8(offset + i)) << (8 * i);
        if (t.config_generation() == generation) return value;
    }
}

ErrorOr<void> VirtioBlk::initialize() {
    platform::VirtioTransport& t = m_device.transport();
    snprintf(m_name, sizeof m_name, "virtio-blk on %s", t.name());
    TRY(m_device.negotiate(F_SIZE_MAX | F_SEG_MAX | F_RO | F_BLK_SIZE | F_FLUSH));
    uint64_t features = m_device.features();
    m_sectors = config_read64(CONFIG_CAPACITY);
    m_read_only = features & F_RO;
    m_flush = features & F_FLUSH;
    if (features & F_BLK_SIZE) {
        uint32_t size = config_read32(CONFIG_BLK_SIZE);
        if (size >= SECTOR && size <= 65536 && !(size & (size - 1)))
            m_block_size = size;
        else
            klog("xos: %s: ignoring block size %u (not a power of two from 512 to 64 KiB)", m_name, size);
    }
    m_sectors -= m_sectors % (m_block_size / SECTOR);  // whole logical blocks only
    m_max_segment_bytes = DEFAULT_SEGMENT_BYTES;
    if (features & F_SIZE_MAX) {
        uint32_t size_max = config_read32(CONFIG_SIZE_MAX);
        if (size_max && size_max < m_max_segment_bytes) m_max_segment_bytes = size_max;
    }
    // Segments hold whole blocks, so that every request's length stays a multiple of it.
    m_max_segment_bytes -= m_max_segment_bytes % m_block_size;
    if (m_max_segment_bytes == 0) m_max_segment_bytes = m_block_size;

    if (auto queue = m_device.setup_queue(0, QUEUE_SIZE, m_queue); !queue) {
        m_device.fail();
        return queue;
    }
    m_max_segments = 1;
    if (features & F_SEG_MAX) {
        uint32_t seg_max = config_read32(CONFIG_SEG_MAX);
        if (seg_max > 1) m_max_segments = seg_max;
    }
    if (m_max_segments > MAX_SEGMENTS) m_max_segments = MAX_SEGMENTS;
    if (m_max_segments + 2u > m_queue.ring.size()) m_max_segments = m_queue.ring.size() - 2u;
    m_request = static_cast<Request*>(mm::kmalloc(sizeof(Request)));
    m_chain = static_cast<virtio::VirtqBuffer*>(mm::kmalloc(sizeof(virtio::VirtqBuffer) * (m_max_segments + 2)));
    if (!m_request || !m_chain) {
        m_device.fail();
        return error(ENOMEM);
    }
    m_device.finish(&m_queue, 1);
    return {};
}

long VirtioBlk::submit_and_wait(uint32_t type, uint64_t sector, uintptr_t data, size_t bytes) {
    Request& request = *m_request;
    request.type = type;
    request.reserved = 0;
    request.sector = sector;
    request.status = 0xff;
    request.done = false;
    size_t length = 0;
    m_chain[length++] = {platform::dma_address(&request), 16, false};  // type, reserved, sector
    for (size_t offset = 0; offset < bytes;) {
        size_t piece = bytes - offset < m_max_segment_bytes ? bytes - offset : m_max_segment_bytes;
        m_chain[length++] = {platform::dma_address(reinterpret_cast<void*>(data + offset)), uint32_t(piece),
                             type == T_IN};
        offset += piece;
    }
    m_chain[length++] = {platform::dma_address(&request.status), 1, true};
    if (auto submitted = m_device.submit(0, m_queue, {m_chain, length}, &request); !submitted)
        return -submitted.error().code;
    m_device.wait(
        m_queue, [&] { return request.done; },
        [](const virtio::VirtqCompletion& completion) { static_cast<Request*>(completion.token)->done = true; });
    if (request.status == S_OK) return 0;
    if (request.status == S_UNSUPP) return type == T_FLUSH ? -EOPNOTSUPP : -EIO;
    return -EIO;
}

long VirtioBlk::transfer(uint32_t type, uint64_t sector, uintptr_t data, size_t count) {
    uint64_t per_block = m_block_size / SECTOR;
    if (sector > m_sectors || count > m_sectors - sector || (sector | count) % per_block) return -EINVAL;
    size_t max_bytes = size_t(m_max_segments) * m_max_segment_bytes;
    size_t remaining = count * SECTOR;
    while (remaining) {
        size_t bytes = remaining < max_bytes ? remaining : max_bytes;
        if (long r = submit_and_wait(type, sector, data, bytes); r < 0) return r;
        sector += bytes / SECTOR;
        data += bytes;
        remaining -= bytes;
    }
    return 0;
}

long VirtioBlk::read(uint64_t sector, void* buffer, size_t count) {
    return transfer(T_IN, sector, reinterpret_cast<uintptr_t>(buffer), count);
}

long VirtioBlk::write(uint64_t sector, const void* data, size_t count) {
    if (m_read_only) return -EROFS;
    return transfer(T_OUT, sector, reinterpret_cast<uintptr_t>(data), count);
}

long VirtioBlk::flush() {
    if (m_read_only) return 0;  // nothing was written (Linux also lets fsync succeed here)
    if (!m_flush) return 0;  // no volatile write cache: completed writes are durable
    return submit_and_wait(T_FLUSH, 0, 0, 0);
}

}  // namespace xos::blk
