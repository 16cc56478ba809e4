#include "mm/frame_refs.h"

namespace xos::mm {

void FrameRefs::init(uintptr_t base, uintptr_t end, uint32_t* table) {
    m_base = base;
    m_end = end;
    m_extra = table;
    m_shared = 0;
}

bool FrameRefs::ref(uintptr_t frame) {
    if (!covers(frame) || !m_extra) return false;
    uint32_t& extra = m_extra[index(frame)];
    if (extra == UINT32_MAX) return false;
    if (extra++ == 0) ++m_shared;
    return true;
}

bool FrameRefs::unref(uintptr_t frame) {
    if (!covers(frame) || !m_extra) return true;
    uint32_t& extra = m_extra[index(frame)];
    if (extra == 0) return true;
    if (--extra == 0) --m_shared;
    return false;
}

}  // namespace xos::mm
