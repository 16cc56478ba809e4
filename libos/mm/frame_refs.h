// Reference counts of physical frames shared by several address spaces (fork's copy on write),
// changed atomically (several CPUs may share and drop one frame at once).
// A frame mapped by one space has no entry to speak of: the table holds the number of *extra*
// references, zero for a frame that only one mapping owns, so fresh and freed frames need no
// bookkeeping at all and the table starts zeroed. Portable; unit-tested on the host.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xos::mm {

class FrameRefs {
public:
    // Covers the frames of [base, end) (page-aligned), with `table` holding (end-base)/4096
    // zeroed counters.
    void init(uintptr_t base, uintptr_t end, uint32_t* table);
    static size_t table_entries(uintptr_t base, uintptr_t end) { return (end - base) / 4096; }

    bool covers(uintptr_t frame) const { return frame >= m_base && frame < m_end; }
    // One more mapping shares `frame`. False if the frame is outside the table (it cannot be
    // shared, the caller must copy it instead) or its count is saturated.
    [[nodiscard]] bool ref(uintptr_t frame);
    // One mapping drops `frame`: true if it was the last one (the caller frees the frame).
    bool unref(uintptr_t frame);
    // More than one mapping holds `frame`.
    bool shared(uintptr_t frame) const { return covers(frame) && extra(frame) != 0; }
    // How many mappings hold `frame` (1 when not shared).
    uint32_t count(uintptr_t frame) const { return covers(frame) && m_extra ? extra(frame) + 1 : 1; }
    // Frames with more than one mapping (for tests and /proc).
    size_t shared_frames() const { return __atomic_load_n(&m_shared, __ATOMIC_RELAXED); }

private:
    size_t index(uintptr_t frame) const { return (frame - m_base) / 4096; }
    uint32_t extra(uintptr_t frame) const {
        return m_extra ? __atomic_load_n(&m_extra[index(frame)], __ATOMIC_RELAXED) : 0;
    }

    uintptr_t m_base = 0, m_end = 0;
    uint32_t* m_extra = nullptr;
    size_t m_shared = 0;
};

}  // namespace xos::mm
