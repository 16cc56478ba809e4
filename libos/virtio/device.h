// Bringing a virtio device up (virtio 1.x, section 3.1): reset, feature negotiation, queue
// set-up, DRIVER_OK; and the part of waiting for completions every driver shares (interrupt
// wake-ups, with polling while interrupts are off, e.g. at boot, or when the platform cannot
// deliver the device's interrupts). The transport (platform/api/xos/virtio.h) hides MMIO vs PCI.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "sched/wait_queue.h"
#include "virtio/virtqueue.h"
#include "xos/virtio.h"

namespace xos::virtio {

// Device status bits.
constexpr uint8_t STATUS_ACKNOWLEDGE = 1;
constexpr uint8_t STATUS_DRIVER = 2;
constexpr uint8_t STATUS_DRIVER_OK = 4;
constexpr uint8_t STATUS_FEATURES_OK = 8;
constexpr uint8_t STATUS_FAILED = 128;

// Device-independent feature bits.
constexpr uint64_t F_VERSION_1 = 1ull << 32;

// Device types.
constexpr uint32_t DEVICE_NET = 1;
constexpr uint32_t DEVICE_BLOCK = 2;
constexpr uint32_t DEVICE_9P = 9;

// A queue plus the memory it lives in and the wait queue its users sleep on (a Device wait
// queue once finish() has routed the device's interrupt).
struct QueueState {
    Virtqueue ring;
    void* memory = nullptr;
    size_t memory_pages = 0;
    void** tokens = nullptr;
    sched::WaitQueue waiters;
};

class Device {
public:
    explicit Device(platform::VirtioTransport& transport) : m_transport(transport) {}
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    platform::VirtioTransport& transport() { return m_transport; }
    uint64_t features() const { return m_features; }

    // Resets the device and negotiates `wanted` & offered (VERSION_1 is required and added).
    ErrorOr<void> negotiate(uint64_t wanted);
    // Allocates and enables queue `index` with up to `max_size` entries.
    ErrorOr<void> setup_queue(uint16_t index, uint16_t max_size, QueueState& queue);
    // Routes the device's interrupt (waking every queue's waiters, under the big lock) and sets
    // DRIVER_OK.
    void finish(QueueState* queues, size_t queue_count);
    // The same with the driver's own handler, run without the big lock (the driver's handler
    // takes its own lock and wakes the queues' waiters itself: virtio-net).
    void finish(QueueState* queues, size_t queue_count, void (*handler)(void* context), void* context);
    // On failure after negotiate(): marks the device FAILED.
    void fail();

    // Publishes a chain on `queue` and notifies the device if it wants that.
    ErrorOr<void> submit(uint16_t index, QueueState& queue, std::span<const VirtqBuffer> chain, void* token);

    // Waits until done() is true, reaping completions with on_completion(VirtqCompletion) in
    // between. Sleeps on the queue's wait queue until the device's interrupt, with no timeout
    // (a device wait: the scheduler's deadlock check knows the interrupt may end it); polls when
    // the device has no interrupt routing or interrupts are off.
    template <typename Done, typename OnCompletion>
    void wait(QueueState& queue, Done&& done, OnCompletion&& on_completion) {
        auto ready = [&] {
            bool reaped = false;
            while (auto completion = queue.ring.reap()) {
                on_completion(*completion);
                reaped = true;
            }
            // Completions of other threads' requests may be among them: let those threads look.
            if (reaped && !queue.waiters.empty()) sched::wake_all(queue.waiters);
            return done();
        };
        for (;;) {
            if (!platform::interrupts_enabled()) {  // boot (before the scheduler) or a caller with interrupts off
                if (ready()) return;
                asm volatile("" ::: "memory");  // the device writes the ring behind our back
                continue;
            }
            // Without interrupt routing nothing wakes the queue: poll every millisecond.
            auto deadline = m_interrupts ? sched::Deadline::never() : sched::Deadline::after_ns(1'000'000);
            auto result = sched::wait_event(queue.waiters, ready, deadline, sched::Interruptible::No);
            if (result) return;
        }
    }

private:
    static void on_interrupt(void* self);

    platform::VirtioTransport& m_transport;
    uint64_t m_features = 0;
    QueueState* m_queues = nullptr;
    size_t m_queue_count = 0;
    bool m_interrupts = false;
};

}  // namespace xos::virtio
