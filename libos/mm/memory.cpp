#include "mm/memory.h"

#include "base/klog.h"
#include "base/user_ptr.h"
#include "xos/platform.h"

namespace xos::mm {

namespace {
AddressSpace g_address_space;
}

AddressSpace& address_space() { return g_address_space; }

void init_memory() {
    for (const platform::MemoryRange& range : platform::free_memory()) {
        if (!g_address_space.add_free_memory(range.base, range.size))
            klog("xos: warning: memory %#lx-%#lx dropped (too many ranges)", range.base, range.end());
    }
    g_address_space.place_break();
    platform::MemoryRange all = platform::addressable_memory();
    set_user_range({all.base, all.end()});
}

}  // namespace xos::mm

namespace xos::mm {

void for_each_app_mapping(void (*visit)(const MappingView&, void* context), void* context) {
    g_address_space.for_each_mapping([&](uintptr_t base, size_t size) {
        visit(MappingView{base, base + size, 3 /* PROT_READ | PROT_WRITE */, ""}, context);
    });
}

}  // namespace xos::mm
