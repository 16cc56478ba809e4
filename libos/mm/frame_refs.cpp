#include "mm/frame_refs.h"

namespace xos::mm {

void FrameRefs::init(uintptr_t base, uintptr_t end, uint32_t* table) {
    m_base = base;
    m_end = end;
    m_extra = table;
    m_shared = 0;
}

// The counters change with atomic operations: several CPUs may share and drop the same frame at
// once (fork's copy on write: one process copies a page while another exits).
bool FrameRefs::ref(uintptr_t frame) {
    if (!covers(frame) || !m_extra) return false;
    uint32_t* extra = &m_extra[index(frame)];
    uint32_t value = __atomic_load_n(extra, __ATOMIC_RELAXED);
    do {
        if (value == UINT32_MAX) return false;
    } while (!__atomic_compare_exchange_n(extra, &value, value + 1, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    if (value == 0) __atomic_fetch_add(&m_shared, 1, __ATOMIC_RELAXED);
    return true;
}

bool FrameRefs::unref(uintptr_t frame) {
    if (!covers(frame) || !m_extra) return true;
    uint32_t* extra = &m_extra[index(frame)];
    uint32_t value = __atomic_load_n(extra, __ATOMIC_RELAXED);
    do {
        if (value == 0) return true;
    } while (!__atomic_compare_exchange_n(extra, &value, value - 1, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    if (value == 1) __atomic_fetch_sub(&m_shared, 1, __ATOMIC_RELAXED);
    return false;
}

}  // namespace xos::mm
