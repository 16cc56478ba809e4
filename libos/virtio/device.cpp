#include "virtio/device.h"

#include "base/klog.h"
#include "mm/heap.h"

namespace xos::virtio {

ErrorOr<void> Device::negotiate(uint64_t wanted) {
    platform::VirtioTransport& t = m_transport;
    t.set_status(0);  // reset
    t.set_status(STATUS_ACKNOWLEDGE);
    t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    uint64_t offered = t.device_features();
    if (!(offered & F_VERSION_1)) {
        klog("xos: %s: device does not offer VIRTIO_F_VERSION_1 (a legacy device): not supported", t.name());
        fail();
        return error(ENODEV);
    }
    m_features = (wanted | F_VERSION_1) & offered;
    t.set_driver_features(m_features);
    t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(t.status() & STATUS_FEATURES_OK)) {
        klog("xos: %s: device refused features %#llx", t.name(), (unsigned long long)m_features);
        fail();
        return error(ENODEV);
    }
    return {};
}

ErrorOr<void> Device::setup_queue(uint16_t index, uint16_t max_size, QueueState& queue) {
    uint16_t size = m_transport.queue_max_size(index);
    if (size == 0) return error(ENODEV);
    if (size > max_size) size = max_size;
    while (size & (size - 1)) size &= uint16_t(size - 1);  // a power of two (split rings need it)
    queue.memory_pages = (Virtqueue::memory_bytes(size) + 4095) / 4096;
    queue.memory = mm::alloc_pages(queue.memory_pages);
    queue.tokens = static_cast<void**>(mm::kmalloc(sizeof(void*) * size));
    if (!queue.memory || !queue.tokens) return error(ENOMEM);
    queue.ring.init(size, queue.memory, queue.tokens);
    if (!m_transport.queue_enable(index, size, platform::dma_address(queue.ring.descriptor_table()),
                                  platform::dma_address(queue.ring.driver_ring()),
                                  platform::dma_address(queue.ring.device_ring())))
        return error(EIO);
    return {};
}

void Device::on_interrupt(void* self) {
    sched::InterruptScope scope;
    auto* device = static_cast<Device*>(self);
    for (size_t i = 0; i < device->m_queue_count; ++i) sched::wake_all(device->m_queues[i].waiters);
}

void Device::finish(QueueState* queues, size_t queue_count) { finish(queues, queue_count, nullptr, nullptr); }

void Device::finish(QueueState* queues, size_t queue_count, void (*handler)(void*), void* context) {
    m_queues = queues;
    m_queue_count = queue_count;
    m_interrupts = handler
        ? m_transport.set_interrupt_handler(handler, context, platform::InterruptLocking::OwnLocks)
        : m_transport.set_interrupt_handler(&Device::on_interrupt, this, platform::InterruptLocking::BigLock);
    if (!m_interrupts) klog("xos: %s: no interrupt routing; the driver polls its queues", m_transport.name());
    for (size_t i = 0; i < queue_count; ++i)
        queues[i].waiters.set_wake_source(m_interrupts ? sched::WakeSource::Device : sched::WakeSource::Thread);
    m_transport.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
}

void Device::fail() { m_transport.set_status(m_transport.status() | STATUS_FAILED); }

ErrorOr<void> Device::submit(uint16_t index, QueueState& queue, std::span<const VirtqBuffer> chain, void* token) {
    {
        platform::InterruptGuard guard;
        TRY(queue.ring.submit(chain, token));
    }
    if (queue.ring.needs_notify()) m_transport.notify(index);
    return {};
}

}  // namespace xos::virtio
