#include "vfs/devices.h"

#include "vfs/operations.h"

namespace xos::vfs {

namespace {

struct Registration {
    dev_t device;
    DeviceOpen open;
};
Registration g_devices[32];
size_t g_device_count;

}  // namespace

bool register_device(dev_t device, DeviceOpen open) {
    if (g_device_count == sizeof g_devices / sizeof g_devices[0]) return false;
    g_devices[g_device_count++] = {device, open};
    return true;
}

ErrorOr<RefPtr<File>> open_device(RefPtr<Vnode> vnode, int flags) {
    if (!S_ISCHR(vnode->mode()) && !S_ISBLK(vnode->mode())) return error(ENXIO);
    for (size_t i = 0; i < g_device_count; ++i)
        if (g_devices[i].device == vnode->m_attr.rdev) return g_devices[i].open(vnode, flags);
    return error(ENXIO);
}

}  // namespace xos::vfs
