#include "fs/9p/virtio_channel.h"

#include "base/klog.h"
#include "mm/heap.h"

namespace xos::p9 {

namespace {
constexpr uint64_t F_MOUNT_TAG = 1;  // VIRTIO_9P_MOUNT_TAG
constexpr size_t BUFFER_PAGES = (VirtioChannel::BUFFER_SIZE + 4095) / 4096;
}  // namespace

ErrorOr<void> VirtioChannel::initialize() {
    platform::VirtioTransport& t = m_device.transport();
    TRY(m_device.negotiate(F_MOUNT_TAG));
    if (!(m_device.features() & F_MOUNT_TAG)) {
        klog("xos: %s: virtio-9p device without a mount tag", t.name());
        m_device.fail();
        return error(ENODEV);
    }
    // Config space: le16 tag_len, then the tag (not NUL-terminated).
    for (;;) {
        uint32_t generation = t.config_generation();
        size_t length = t.config_read8(0) | size_t(t.config_read8(1)) << 8;
        if (length > sizeof m_tag) length = sizeof m_tag;
        for (size_t i = 0; i < length; ++i) m_tag[i] = char(t.config_read8(uint32_t(2 + i)));
        m_tag_length = length;
        if (t.config_generation() == generation) break;
    }
    if (auto queue = m_device.setup_queue(0, 128, m_queue); !queue) {
        m_device.fail();
        return queue;
    }
    for (size_t i = 0; i < SLOTS; ++i) {
        auto* request = static_cast<std::byte*>(mm::alloc_pages(BUFFER_PAGES));
        auto* reply = static_cast<std::byte*>(mm::alloc_pages(BUFFER_PAGES));
        if (!request || !reply) {
            m_device.fail();
            return error(ENOMEM);
        }
        m_slots[i].slot = Slot{{request, BUFFER_SIZE}, {reply, BUFFER_SIZE}, uint16_t(i)};
    }
    m_device.finish(&m_queue, 1);
    return {};
}

ErrorOr<Channel::Slot*> VirtioChannel::acquire() {
    auto free_slot = [&]() -> SlotState* {
        for (SlotState& state : m_slots)
            if (!state.busy) return &state;
        return nullptr;
    };
    for (;;) {
        if (SlotState* state = free_slot()) {
            state->busy = true;
            return &state->slot;
        }
        // Every slot is in flight on other threads: wait for a release. No timeout: the slots'
        // holders wait on the device (device waits), so the deadlock check stays quiet.
        (void)sched::wait_event(
            m_slot_waiters, [&] { return free_slot() != nullptr; }, sched::Deadline::never(), sched::Interruptible::No);
    }
}

void VirtioChannel::release(Slot& slot) {
    m_slots[slot.tag].busy = false;
    sched::wake_one(m_slot_waiters);
}

ErrorOr<size_t> VirtioChannel::transact(Slot& slot, size_t length) {
    SlotState& state = m_slots[slot.tag];
    state.done = false;
    const virtio::VirtqBuffer chain[] = {
        {platform::dma_address(slot.request.data()), uint32_t(length), false},
        {platform::dma_address(slot.reply.data()), uint32_t(slot.reply.size()), true},
    };
    TRY(m_device.submit(0, m_queue, chain, &state));
    m_device.wait(
        m_queue, [&] { return state.done; },
        [](const virtio::VirtqCompletion& completion) {
            auto* finished = static_cast<SlotState*>(completion.token);
            finished->done = true;
            finished->reply_length = completion.length;
        });
    size_t reply = state.reply_length;
    return reply == 0 || reply > slot.reply.size() ? slot.reply.size() : reply;
}

}  // namespace xos::p9
