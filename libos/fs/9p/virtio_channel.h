// virtio-9p: the transport of 9P messages over one virtqueue ("requests"). Each slot owns a
// request and a reply buffer of msize bytes in kernel memory (the direct map); a request is a
// two-buffer chain (request readable by the device, reply writable), its completion wakes the
// thread that sent it. Kernel-only.
#pragma once

#include "fs/9p/client.h"
#include "sched/wait_queue.h"
#include "virtio/device.h"

namespace xos::p9 {

class VirtioChannel final : public Channel {
public:
    static constexpr size_t SLOTS = 4;
    static constexpr size_t BUFFER_SIZE = 128 * 1024 + 4096;  // msize: 128 KiB of data per read/write

    explicit VirtioChannel(platform::VirtioTransport& transport) : m_device(transport) {}

    // Brings the device up and reads its mount tag.
    ErrorOr<void> initialize();
    std::string_view mount_tag() const { return {m_tag, m_tag_length}; }

    size_t buffer_size() const override { return BUFFER_SIZE; }
    ErrorOr<Slot*> acquire() override;
    ErrorOr<size_t> transact(Slot& slot, size_t length) override;
    void release(Slot& slot) override;

private:
    struct SlotState {
        Slot slot;
        bool busy = false;
        bool done = false;
        uint32_t reply_length = 0;
    };

    virtio::Device m_device;
    virtio::QueueState m_queue;
    SlotState m_slots[SLOTS];
    sched::WaitQueue m_slot_waiters;
    char m_tag[64] = {};
    size_t m_tag_length = 0;
};

}  // namespace xos::p9
