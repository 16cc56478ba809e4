#include "fs/9p/share.h"

#include "base/klog.h"
#include "fs/9p/p9fs.h"
#include "fs/9p/virtio_channel.h"
#include "mm/heap.h"
#include "vfs/mount.h"
#include "vfs/operations.h"
#include "vfs/process.h"

namespace xos::p9 {

namespace {

// One per virtio-9p device, brought up on first use and kept for the whole run.
struct Share {
    VirtioChannel* channel = nullptr;
    bool mounted = false;
};
constexpr size_t MAX_SHARES = 16;
Share g_shares[MAX_SHARES];
size_t g_share_count;
bool g_probed;

void probe(std::span<const std::string_view> platform_tokens) {
    if (g_probed) return;
    g_probed = true;
    for (platform::VirtioTransport* transport : platform::virtio_devices(platform_tokens)) {
        if (transport->device_id() != virtio::DEVICE_9P || g_share_count == MAX_SHARES) continue;
        auto* channel = mm::kcreate<VirtioChannel>(*transport);
        if (!channel) return;
        if (auto ready = channel->initialize(); !ready) {
            klog("xos: %s: virtio-9p device not usable: %s", transport->name(),
                 describe_share_error(ready.error().code));
            continue;  // the channel stays allocated: the device may still hold its memory
        }
        g_shares[g_share_count++].channel = channel;
    }
}

}  // namespace

const char* describe_share_error(int code) {
    switch (code) {
    case ENODEV: return "ENODEV (no usable virtio-9p device with that mount tag)";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES (the host refused access)";
    case ENOMEM: return "ENOMEM";
    case ENOTDIR: return "ENOTDIR";
    case EBUSY: return "EBUSY (already mounted)";
    case EIO: return "EIO (the device refused its queue)";
    case EPROTO: return "EPROTO (malformed 9P reply)";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT (the server does not speak 9P2000.L)";
    default: return "error";
    }
}

ErrorOr<void> mount_share(std::span<const std::string_view> platform_tokens, std::string_view tag, const char* path,
                          bool read_only) {
    probe(platform_tokens);
    Share* share = nullptr;
    for (size_t i = 0; i < g_share_count; ++i)
        if (g_shares[i].channel->mount_tag() == tag) share = &g_shares[i];
    if (!share) return error(ENODEV);
    if (share->mounted) return error(EBUSY);

    auto* client = mm::kcreate<Client>(*share->channel);
    auto* fs = client ? mm::kcreate<P9Fs>(*client) : nullptr;
    if (!fs) return error(ENOMEM);
    uint32_t root_fid = TRY(client->connect("", 0));
    TRY(fs->initialize(root_fid));

    vfs::Process& process = vfs::process();
    auto start = process.context();
    TRY(vfs::make_directories(start, path));
    RefPtr<vfs::Vnode> on = TRY(vfs::resolve(start, path, vfs::Follow::Yes));
    TRY(vfs::mount(*fs, on, path));
    if (read_only) fs->set_mount_flags(vfs::MOUNT_READ_ONLY);
    share->mounted = true;
    return {};
}

}  // namespace xos::p9
