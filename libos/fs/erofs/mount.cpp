#include "fs/erofs/mount.h"

#include <fcntl.h>

#include "base/klog.h"
#include "fs/erofs/erofs.h"
#include "mm/heap.h"
#include "sched/thread.h"
#include "vfs/file.h"
#include "vfs/operations.h"
#include "vfs/process.h"

namespace xos::erofs {

namespace {

// The image through the device file's pread: devfs holds the disk for each request (so the
// file system and an app reading /dev/vda never interleave on the device) and copies from its
// bounce buffer with the fault-safe user copy.
class DeviceFile final : public ErofsDevice {
public:
    DeviceFile(RefPtr<vfs::File> file, uint64_t size, KString name)
        : m_file(static_cast<RefPtr<vfs::File>&&>(file)), m_size(size), m_name(static_cast<KString&&>(name)) {}

    uint64_t size() const override { return m_size; }
    const char* name() const override { return m_name.c_str(); }
    ErrorOr<void> read(uint64_t offset, std::span<std::byte> buffer) override {
        // The disk's driver is the big lock's (the file system holds its own m_lock here).
        sched::BigLockScope big_lock;
        size_t done = 0;
        while (done < buffer.size()) {
            size_t n = TRY(m_file->read(buffer.subspan(done), offset + done));
            if (n == 0) return error(EIO);  // the device ended early
            done += n;
        }
        return {};
    }

private:
    RefPtr<vfs::File> m_file;
    uint64_t m_size;
    KString m_name;
};

}  // namespace

ErrorOr<vfs::Filesystem*> mount_device(std::string_view device_path) {
    auto context = vfs::process().context();
    RefPtr<vfs::File> file = TRY(vfs::open(context, device_path, O_RDONLY, 0));
    std::optional<uint64_t> size = file->device_size();
    if (!size) {
        klog("erofs: %.*s is not a block device", int(device_path.size()), device_path.data());
        return error(ENOTBLK);
    }
    auto* device = mm::kcreate<DeviceFile>(file, *size, TRY(KString::from(device_path)));
    if (!device) return error(ENOMEM);
    auto* fs = mm::kcreate<ErofsFs>(*device);
    if (!fs) return error(ENOMEM);
    if (auto mounted = fs->initialize(); !mounted) {
        mm::kdestroy(fs);
        mm::kdestroy(device);
        return std::unexpected(mounted.error());
    }
    return static_cast<vfs::Filesystem*>(fs);
}

}  // namespace xos::erofs
