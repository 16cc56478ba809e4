#include "blk/registry.h"

#include "base/klog.h"
#include "blk/virtio_blk.h"
#include "mm/heap.h"
#include "virtio/device.h"

namespace xos::blk {

namespace {

constexpr size_t MAX_DEVICES = 16;
platform::BlockDevice* g_devices[MAX_DEVICES];
size_t g_count;
bool g_probed;

void add(platform::BlockDevice* device) {
    if (g_count == MAX_DEVICES) {
        klog("xos: %s: more than %zu disks; ignored", device->name(), MAX_DEVICES);
        return;
    }
    g_devices[g_count++] = device;
}

}  // namespace

std::span<platform::BlockDevice* const> devices(std::span<const std::string_view> platform_tokens) {
    if (g_probed) return {g_devices, g_count};
    g_probed = true;
    for (platform::VirtioTransport* transport : platform::virtio_devices(platform_tokens)) {
        if (transport->device_id() != virtio::DEVICE_BLOCK) continue;
        auto* disk = mm::kcreate<VirtioBlk>(*transport);
        if (!disk) break;
        if (auto ready = disk->initialize(); !ready) {
            klog("xos: %s: virtio-blk device not usable (errno %d)", transport->name(), ready.error().code);
            continue;  // the driver stays allocated: the device may still hold its memory
        }
        add(disk);
    }
    for (platform::BlockDevice* device : platform::host_block_devices()) add(device);
    return {g_devices, g_count};
}

}  // namespace xos::blk
