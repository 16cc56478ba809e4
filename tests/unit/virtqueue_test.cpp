// The split virtqueue against a fake device that plays the other side of the rings the way
// the virtio spec says a device does.
#include "virtio/virtqueue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

using namespace xos::virtio;

namespace {

struct Rings {
    explicit Rings(uint16_t size) : size(size) {
        bytes = Virtqueue::memory_bytes(size);
        memory = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
        memset(memory, 0, bytes);
        tokens.resize(size);
        queue.init(size, memory, tokens.data());
    }
    ~Rings() { free(memory); }

    uint16_t size;
    size_t bytes;
    void* memory;
    std::vector<void*> tokens;
    Virtqueue queue;
};

// The device side: takes available chains, "processes" them (writes the reversed readable
// bytes into the writable buffers) and returns them, in the order it is told.
class FakeDevice {
public:
    explicit FakeDevice(Rings& rings) : m_rings(rings) {
        auto* base = static_cast<unsigned char*>(rings.memory);
        m_desc = reinterpret_cast<VirtqDesc*>(base);
        m_avail = static_cast<volatile uint16_t*>(const_cast<void*>(rings.queue.driver_ring()));
        m_used = static_cast<volatile uint16_t*>(const_cast<void*>(rings.queue.device_ring()));
        EXPECT_EQ(rings.queue.descriptor_table(), rings.memory);
        EXPECT_GE(static_cast<const unsigned char*>(rings.queue.device_ring()) + 6 + 8 * rings.size,
                  static_cast<const unsigned char*>(rings.queue.driver_ring()) + 6 + 2 * rings.size);
        EXPECT_LE(static_cast<const unsigned char*>(rings.queue.device_ring()) + 6 + 8 * rings.size,
                  base + rings.bytes);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(rings.queue.device_ring()) % 4, 0u);
    }

    // Heads of the chains made available since the last call.
    std::vector<uint16_t> take_available() {
        std::vector<uint16_t> heads;
        while (m_last_avail != m_avail[1]) heads.push_back(uint16_t(m_avail[2 + m_last_avail++ % m_rings.size]));
        return heads;
    }

    // Processes one chain; returns the bytes written.
    uint32_t process(uint16_t head) {
        std::vector<unsigned char> input;
        uint32_t written = 0;
        uint16_t index = head;
        size_t hops = 0;
        for (;;) {
            EXPECT_LT(index, m_rings.size);
            const VirtqDesc& d = m_desc[index];
            auto* data = reinterpret_cast<unsigned char*>(d.addr);
            if (d.flags & VIRTQ_DESC_F_WRITE) {
                for (uint32_t i = 0; i < d.len && !input.empty(); ++i, ++written) {
                    data[i] = input.back();
                    input.pop_back();
                }
            } else {
                EXPECT_EQ(written, 0u) << "readable descriptor after a writable one";
                input.insert(input.end(), data, data + d.len);
            }
            if (!(d.flags & VIRTQ_DESC_F_NEXT)) break;
            index = d.next;
            EXPECT_LT(++hops, m_rings.size) << "descriptor loop";
        }
        return written;
    }

    void complete(uint16_t head, uint32_t length) {
        auto* ring = reinterpret_cast<volatile VirtqUsedElem*>(m_used + 2);
        uint16_t idx = m_used[1];
        ring[idx % m_rings.size].id = head;
        ring[idx % m_rings.size].len = length;
        m_used[1] = uint16_t(idx + 1);
    }

    void set_no_notify(bool on) { m_used[0] = on ? VIRTQ_USED_F_NO_NOTIFY : 0; }
    uint16_t avail_flags() const { return m_avail[0]; }

private:
    Rings& m_rings;
    VirtqDesc* m_desc;
    volatile uint16_t* m_avail;
    volatile uint16_t* m_used;
    uint16_t m_last_avail = 0;
};

VirtqBuffer readable(const void* p, size_t n) { return {reinterpret_cast<uintptr_t>(p), uint32_t(n), false}; }
VirtqBuffer writable(void* p, size_t n) { return {reinterpret_cast<uintptr_t>(p), uint32_t(n), true}; }

}  // namespace

TEST(Virtqueue, RequestAndReplyRoundTrip) {
    Rings rings(8);
    FakeDevice device(rings);
    Virtqueue& q = rings.queue;
    EXPECT_EQ(q.free_descriptors(), 8);

    const char request[] = "abc";
    char reply[8] = {};
    int token;
    VirtqBuffer chain[] = {readable(request, 3), writable(reply, sizeof reply)};
    ASSERT_TRUE(q.submit(chain, &token));
    EXPECT_EQ(q.free_descriptors(), 6);
    EXPECT_TRUE(q.needs_notify());
    EXPECT_FALSE(q.needs_notify()) << "nothing new since the last notification";
    EXPECT_FALSE(q.has_completions());
    EXPECT_FALSE(q.reap());

    auto heads = device.take_available();
    ASSERT_EQ(heads.size(), 1u);
    device.complete(heads[0], device.process(heads[0]));
    ASSERT_TRUE(q.has_completions());
    auto done = q.reap();
    ASSERT_TRUE(done);
    EXPECT_EQ(done->token, &token);
    EXPECT_EQ(done->length, 3u);
    EXPECT_STREQ(reply, "cba");
    EXPECT_EQ(q.free_descriptors(), 8);
    EXPECT_FALSE(q.reap());
}

TEST(Virtqueue, RejectsBadChainsAndOverflow) {
    Rings rings(4);
    Virtqueue& q = rings.queue;
    char a[4], b[4];
    int token;
    auto empty = q.submit({}, &token);
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code, EINVAL);
    VirtqBuffer backwards[] = {writable(a, 4), readable(b, 4)};
    EXPECT_EQ(q.submit(backwards, &token).error().code, EINVAL);
    VirtqBuffer one[] = {readable(a, 4)};
    EXPECT_EQ(q.submit(one, nullptr).error().code, EINVAL);
    VirtqBuffer five[] = {readable(a, 1), readable(a, 1), readable(a, 1), readable(a, 1), readable(a, 1)};
    EXPECT_EQ(q.submit(five, &token).error().code, ENOSPC);
    VirtqBuffer three[] = {readable(a, 1), readable(a, 1), writable(b, 1)};
    ASSERT_TRUE(q.submit(three, &token));
    VirtqBuffer two[] = {readable(a, 1), writable(b, 1)};
    EXPECT_EQ(q.submit(two, &token).error().code, ENOSPC);
    EXPECT_EQ(q.free_descriptors(), 1);
}

TEST(Virtqueue, NotificationSuppressionAndInterruptHint) {
    Rings rings(4);
    FakeDevice device(rings);
    Virtqueue& q = rings.queue;
    char a[1];
    int token;
    VirtqBuffer one[] = {readable(a, 1)};
    device.set_no_notify(true);
    ASSERT_TRUE(q.submit(one, &token));
    EXPECT_FALSE(q.needs_notify());
    device.set_no_notify(false);
    ASSERT_TRUE(q.submit(one, &token));
    EXPECT_TRUE(q.needs_notify());
    q.set_interrupts_wanted(false);
    EXPECT_EQ(device.avail_flags(), VIRTQ_AVAIL_F_NO_INTERRUPT);
    q.set_interrupts_wanted(true);
    EXPECT_EQ(device.avail_flags(), 0);
}

// Chains of random lengths completed out of order, for long enough that the 16-bit ring
// indices wrap around several times; every descriptor must come back every time.
TEST(Virtqueue, OutOfOrderCompletionsAcrossIndexWraparound) {
    Rings rings(16);
    FakeDevice device(rings);
    Virtqueue& q = rings.queue;
    std::mt19937 rng(42);
    struct Request {
        char in[4];
        char out[4];
        int id;
        uint32_t expected;  // bytes the device writes back
    };
    std::vector<Request> requests(16);
    std::vector<Request*> in_flight;
    std::vector<uint16_t> device_holds;
    size_t completed = 0;
    for (int round = 0; round < 60000; ++round) {
        // Fill up with chains of 1..4 descriptors while there is room.
        for (;;) {
            size_t length = 1 + rng() % 4;
            if (length > q.free_descriptors()) break;
            Request* r = nullptr;
            for (auto& candidate : requests)
                if (std::find(in_flight.begin(), in_flight.end(), &candidate) == in_flight.end()) r = &candidate;
            if (!r) break;
            r->id = round;
            r->expected = uint32_t(length - 1);
            memcpy(r->in, "wxyz", 4);
            std::vector<VirtqBuffer> chain;
            for (size_t i = 0; i + 1 < length; ++i) chain.push_back(readable(r->in + i, 1));
            chain.push_back(writable(r->out, sizeof r->out));
            ASSERT_TRUE(q.submit(chain, r));
            in_flight.push_back(r);
        }
        (void)q.needs_notify();
        // The device finishes a random subset, in random order; the rest stay with it.
        for (uint16_t head : device.take_available()) device_holds.push_back(head);
        std::shuffle(device_holds.begin(), device_holds.end(), rng);
        size_t finish = device_holds.empty() ? 0 : 1 + rng() % device_holds.size();
        for (size_t i = 0; i < finish; ++i) device.complete(device_holds[i], device.process(device_holds[i]));
        device_holds.erase(device_holds.begin(), device_holds.begin() + ptrdiff_t(finish));
        while (auto done = q.reap()) {
            auto* r = static_cast<Request*>(done->token);
            auto it = std::find(in_flight.begin(), in_flight.end(), r);
            ASSERT_NE(it, in_flight.end());
            EXPECT_EQ(done->length, r->expected);
            in_flight.erase(it);
            ++completed;
        }
        ASSERT_EQ(in_flight.size(), device_holds.size());
    }
    for (uint16_t head : device_holds) device.complete(head, device.process(head));
    while (q.reap()) ++completed;
    EXPECT_EQ(q.free_descriptors(), 16);
    EXPECT_GT(completed, 65536u * 2);
}

TEST(Virtqueue, IgnoresUsedEntriesItDidNotPublish) {
    Rings rings(4);
    FakeDevice device(rings);
    Virtqueue& q = rings.queue;
    char a[1];
    int token;
    VirtqBuffer one[] = {readable(a, 1)};
    ASSERT_TRUE(q.submit(one, &token));
    auto heads = device.take_available();
    device.complete(3, 0);  // never published
    device.complete(99, 0);  // out of range
    device.complete(heads[0], 0);
    auto done = q.reap();
    ASSERT_TRUE(done);
    EXPECT_EQ(done->token, &token);
    EXPECT_FALSE(q.reap());
    EXPECT_EQ(q.free_descriptors(), 4);
}
