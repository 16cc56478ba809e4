#include "net/virtio_net.h"

#include "base/klog.h"
#include "mm/heap.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"

namespace xos::net {

namespace {
constexpr uint64_t F_CSUM = 1ull << 0;
constexpr uint64_t F_GUEST_CSUM = 1ull << 1;
constexpr uint64_t F_MAC = 1ull << 5;
constexpr uint64_t F_MRG_RXBUF = 1ull << 15;
constexpr uint64_t F_STATUS = 1ull << 16;
constexpr uint16_t STATUS_LINK_UP = 1;
constexpr uint16_t RX_QUEUE = 0;
constexpr uint16_t TX_QUEUE = 1;
constexpr uint8_t HDR_F_NEEDS_CSUM = 1;

constexpr size_t ETHERNET_HEADER = 14;
constexpr uint16_t ETHERTYPE_IPV4 = 0x0800, ETHERTYPE_IPV6 = 0x86dd;
constexpr uint8_t PROTOCOL_TCP = 6;
constexpr size_t TCP_CHECKSUM_OFFSET = 16;

uint16_t load16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

uint32_t sum16(const uint8_t* p, size_t length, uint32_t sum = 0) {  // big-endian words
    for (size_t i = 0; i + 1 < length; i += 2) sum += load16(p + i);
    return sum;
}

// For a TCP segment in an IPv4 or IPv6 frame (no IPv4 fragment, no IPv6 extension header):
// where the checksum covers from (csum_start), and the pseudo-header sum (folded, not
// inverted) that belongs in the checksum field for the device to complete. False otherwise.
bool tcp_checksum_layout(const uint8_t* frame, size_t length, size_t& start, uint16_t& pseudo) {
    if (length < ETHERNET_HEADER + 20) return false;
    const uint8_t* ip = frame + ETHERNET_HEADER;
    uint32_t sum;
    size_t segment_length;
    switch (load16(frame + 12)) {
    case ETHERTYPE_IPV4: {
        size_t header = size_t(ip[0] & 0x0f) * 4;
        size_t total = load16(ip + 2);
        bool fragment = load16(ip + 6) & 0x3fff;  // MF or an offset
        if ((ip[0] >> 4) != 4 || header < 20 || ip[9] != PROTOCOL_TCP || fragment || total < header ||
            ETHERNET_HEADER + total > length)
            return false;
        segment_length = total - header;
        sum = sum16(ip + 12, 8) + PROTOCOL_TCP + uint32_t(segment_length);
        start = ETHERNET_HEADER + header;
        break;
    }
    case ETHERTYPE_IPV6: {
        if (length < ETHERNET_HEADER + 40 || (ip[0] >> 4) != 6 || ip[6] != PROTOCOL_TCP) return false;
        segment_length = load16(ip + 4);
        if (ETHERNET_HEADER + 40 + segment_length > length) return false;
        sum = sum16(ip + 8, 32) + PROTOCOL_TCP + uint32_t(segment_length);
        start = ETHERNET_HEADER + 40;
        break;
    }
    default: return false;
    }
    if (segment_length < 20) return false;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    pseudo = uint16_t(sum);
    return true;
}
}  // namespace

ErrorOr<void> VirtioNet::initialize() {
    platform::VirtioTransport& t = m_device.transport();
    TRY(m_device.negotiate(F_MAC | F_MRG_RXBUF | F_STATUS | F_CSUM | F_GUEST_CSUM));
    uint64_t features = m_device.features();
    m_checksum_offload = features & F_CSUM;
    m_guest_checksum = features & F_GUEST_CSUM;
    m_mergeable = features & F_MRG_RXBUF;
    m_has_status = features & F_STATUS;
    if (features & F_MAC) {
        for (;;) {
            uint32_t generation = t.config_generation();
            for (uint32_t i = 0; i < 6; ++i) m_mac[i] = t.config_read8(i);
            if (t.config_generation() == generation) break;
        }
    } else {
        // No MAC from the device: a random locally administered one.
        platform::entropy(m_mac, sizeof m_mac);
        m_mac[0] = uint8_t((m_mac[0] & 0xfe) | 0x02);
    }
    for (uint16_t q : {RX_QUEUE, TX_QUEUE}) {
        if (auto queue = m_device.setup_queue(q, q == RX_QUEUE ? RX_BUFFERS : TX_BUFFERS, m_queues[q]); !queue) {
            m_device.fail();
            return queue;
        }
    }
    // Buffers: BUFFER_SIZE each, carved from whole pages (the direct map, DMA-able).
    size_t rx_count = m_rx.ring.size();
    size_t tx_count = m_tx.ring.size();
    auto* rx = static_cast<uint8_t*>(mm::alloc_pages(rx_count * BUFFER_SIZE / 4096 + 1));
    auto* tx = static_cast<uint8_t*>(mm::alloc_pages(tx_count * BUFFER_SIZE / 4096 + 1));
    if (!rx || !tx) {
        m_device.fail();
        return error(ENOMEM);
    }
    {
        SpinLockGuard guard(m_lock);
        for (size_t i = 0; i < tx_count; ++i) m_tx_free[m_tx_free_count++] = tx + i * BUFFER_SIZE;
        for (size_t i = 0; i < rx_count; ++i) repost_rx(rx + i * BUFFER_SIZE);
        m_tx.ring.set_interrupts_wanted(false);  // TX completions are reclaimed on the next send
    }
    m_device.finish(m_queues, 2, &VirtioNet::on_interrupt, this);
    flush_rx();
    return {};
}

// Interrupt context, without the big lock (InterruptLocking::OwnLocks): the device returned
// buffers or changed its configuration (the link). Taking m_lock orders this interrupt after
// any waiter's check under it; the wake-ups (which may send a reschedule IPI) come after the
// release, so no other CPU spins on m_lock meanwhile.
void VirtioNet::on_interrupt(void* self) {
    sched::InterruptScope scope;
    auto* device = static_cast<VirtioNet*>(self);
    bool rx_waiting, tx_waiting;
    {
        SpinLockGuard guard(device->m_lock);
        rx_waiting = !device->m_rx.waiters.empty();  // waiters queue themselves under m_lock
        tx_waiting = !device->m_tx.waiters.empty();
    }
    if (rx_waiting) sched::wake_all(device->m_rx.waiters);
    if (tx_waiting) sched::wake_all(device->m_tx.waiters);
}

bool VirtioNet::link_changed(bool link) { return link_up() != link; }

void VirtioNet::wait_for_rx(bool link, sched::Deadline deadline) {
    SpinLockGuard guard(m_lock);
    for (;;) {
        if (m_rx.ring.has_completions() || link_changed(link)) return;
        if (!deadline.is_never() && platform::monotonic_ns() >= deadline.monotonic_ns) return;
        (void)sched::block_current_unlocking(&m_rx.waiters, m_lock, deadline, sched::Interruptible::No);
        m_lock.lock();
    }
}

bool VirtioNet::take_rx_batch(Batch& batch) {
    batch.segment_count = 0;
    batch.frame_count = 0;
    bool reaped = false;
    constexpr size_t MAX_SEGMENTS = 16;  // of one frame; a frame in more buffers is dropped
    while (BATCH_SEGMENTS - batch.segment_count >= MAX_SEGMENTS) {
        auto completion = m_rx.ring.reap();
        if (!completion) break;
        reaped = true;
        auto* buffer = static_cast<uint8_t*>(completion->token);
        size_t length = completion->length;
        // num_buffers (le16 at offset 10) with MRG_RXBUF; the frame's other buffers follow.
        size_t count = m_mergeable ? size_t(buffer[10] | buffer[11] << 8) : 1;
        if (count == 0) count = 1;
        size_t first = batch.segment_count;
        size_t used = 0;
        size_t total = 0;
        bool ok = length >= HEADER_SIZE;
        // virtio_net_hdr.flags: NEEDS_CSUM (1), DATA_VALID (2); only with GUEST_CSUM.
        uint32_t flags = m_guest_checksum && (buffer[0] & 3) ? FRAME_CHECKSUM_VALID : 0;
        if (ok) {
            batch.segments[first + used++] = {buffer + HEADER_SIZE, length - HEADER_SIZE};
            total = length - HEADER_SIZE;
        }
        repost_rx(buffer);
        for (size_t i = 1; i < count; ++i) {
            auto more = m_rx.ring.reap();
            if (!more) {  // the device promised more buffers than it returned: drop the frame
                ok = false;
                break;
            }
            auto* next = static_cast<uint8_t*>(more->token);
            if (used < MAX_SEGMENTS)
                batch.segments[first + used++] = {next, more->length};
            else
                ok = false;
            total += more->length;
            repost_rx(next);
        }
        if (ok && total > 0 && total <= UINT32_MAX) {
            batch.frames[batch.frame_count++] = {uint16_t(first), uint16_t(used), uint32_t(total), flags};
            batch.segment_count += used;
        }
    }
    return reaped;
}

bool VirtioNet::link_up() {
    if (!m_has_status) return true;
    platform::VirtioTransport& t = m_device.transport();
    return (t.config_read8(6) | t.config_read8(7) << 8) & STATUS_LINK_UP;
}

void VirtioNet::repost_rx(uint8_t* buffer) { m_rx_pending[m_rx_pending_count++] = buffer; }

void VirtioNet::flush_rx() {
    bool notify;
    {
        SpinLockGuard guard(m_lock);
        if (!m_rx_pending_count) return;
        for (size_t i = 0; i < m_rx_pending_count; ++i) {
            const virtio::VirtqBuffer chain[] = {{platform::dma_address(m_rx_pending[i]), uint32_t(BUFFER_SIZE), true}};
            if (!m_rx.ring.submit(chain, m_rx_pending[i])) klog("xos: %s: RX ring full", name());
        }
        m_rx_pending_count = 0;
        notify = m_rx.ring.needs_notify();
    }
    if (notify) m_device.transport().notify(RX_QUEUE);  // an MMIO write: after the release
}

void VirtioNet::reclaim_tx() {
    while (auto completion = m_tx.ring.reap()) m_tx_free[m_tx_free_count++] = static_cast<uint8_t*>(completion->token);
}

bool VirtioNet::transmit_idle() {
    SpinLockGuard guard(m_lock);
    reclaim_tx();
    return m_tx_free_count == m_tx.ring.size();
}

ErrorOr<uint8_t*> VirtioNet::acquire_tx_buffer() {
    SpinLockGuard guard(m_lock);
    reclaim_tx();
    if (!m_tx_free_count) {
        // Every buffer in flight: the device is behind. Ask for its TX interrupts and wait for a
        // completion (a device wait), at most 20 ms: then drop the frame (the core lock is held;
        // TCP retransmits). The bound is the drop policy, not a poll. The check and the queueing
        // are one step under m_lock, which the interrupt handler takes before it wakes
        // m_tx.waiters: the completion's wake-up is not lost (no big lock needed).
        auto deadline = sched::Deadline::after_ns(20'000'000);
        m_tx.ring.set_interrupts_wanted(true);
        while (!m_tx.ring.has_completions() && platform::monotonic_ns() < deadline.monotonic_ns) {
            (void)sched::block_current_unlocking(&m_tx.waiters, m_lock, deadline, sched::Interruptible::No);
            m_lock.lock();
        }
        m_tx.ring.set_interrupts_wanted(false);
        reclaim_tx();
        if (!m_tx_free_count) return error(ENOBUFS);
    }
    return m_tx_free[--m_tx_free_count];
}

ErrorOr<void> VirtioNet::submit_tx(uint8_t* buffer, size_t length) {
    for (size_t i = 0; i < HEADER_SIZE; ++i) buffer[i] = 0;  // no offloads, no GSO
    size_t start;
    uint16_t pseudo;
    if (m_checksum_offload && tcp_checksum_layout(buffer + HEADER_SIZE, length, start, pseudo)) {
        // lwIP left the checksum to the device (netif_glue turns NETIF_CHECKSUM_GEN_TCP off).
        uint8_t* field = buffer + HEADER_SIZE + start + TCP_CHECKSUM_OFFSET;
        field[0] = uint8_t(pseudo >> 8);
        field[1] = uint8_t(pseudo);
        buffer[0] = HDR_F_NEEDS_CSUM;
        buffer[6] = uint8_t(start);  // csum_start (le16)
        buffer[7] = uint8_t(start >> 8);
        buffer[8] = uint8_t(TCP_CHECKSUM_OFFSET);  // csum_offset (le16)
        buffer[9] = 0;
    }
    const virtio::VirtqBuffer chain[] = {{platform::dma_address(buffer), uint32_t(HEADER_SIZE + length), false}};
    bool notify;
    {
        SpinLockGuard guard(m_lock);
        if (auto result = m_tx.ring.submit(chain, buffer); !result) {
            m_tx_free[m_tx_free_count++] = buffer;
            return result;
        }
        notify = m_tx.ring.needs_notify();
    }
    if (notify) m_device.transport().notify(TX_QUEUE);  // an MMIO write: after the release
    return {};
}

}  // namespace xos::net
