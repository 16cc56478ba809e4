// Block devices: disks of fixed size addressed in 512-byte sectors. One interface for both
// kinds libos sees, so that the device files on top (/dev/vda..., libos/fs/devfs/block_devices)
// do not care which it is:
//   - the platform's own, host_block_devices(): on hosted, host files or block devices given as
//     XOS_DISK_<n>=PATH[:ro] (platform/hosted/block.cpp, docs/hosted.md); none on kvm;
//   - libos's virtio-blk driver (libos/blk/virtio_blk.h) on a VM, over xos/virtio.h.
// libos/blk/registry.h lists both.
//
// Requests are synchronous: a call returns when the device has completed it (and may block the
// calling thread until then; a VM driver sleeps on a wait queue for the device's interrupt). The
// caller serializes calls on one device. Buffers are kernel memory (mm::kmalloc/alloc_pages:
// in the direct map, so a VM device can reach them), never app memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace xos::platform {

class BlockDevice {
public:
    static constexpr size_t SECTOR_SIZE = 512;

    BlockDevice() = default;
    BlockDevice(const BlockDevice&) = delete;
    BlockDevice& operator=(const BlockDevice&) = delete;

    // "virtio-blk (virtio-mmio@0xfeb00e00)", "host file /tmp/disk.img": for log lines.
    virtual const char* name() const = 0;
    // Capacity in 512-byte sectors.
    virtual uint64_t sector_count() const = 0;
    // Logical block size in bytes: 512, or a larger power of two the device asks requests to be
    // aligned to (virtio-blk's blk_size). `sector` and `count` of every request are multiples of
    // block_size() / 512.
    virtual uint32_t block_size() const { return SECTOR_SIZE; }
    // Writes fail with -EROFS (flushes succeed: there is nothing to make durable).
    virtual bool read_only() const = 0;

    // Transfers `count` sectors from `sector` on. 0, or -errno (EIO for a device error; EINVAL
    // for a range beyond the end or misaligned; EROFS).
    virtual long read(uint64_t sector, void* buffer, size_t count) = 0;
    virtual long write(uint64_t sector, const void* data, size_t count) = 0;
    // Makes completed writes durable (a no-op on a device without a volatile cache).
    virtual long flush() = 0;

protected:
    ~BlockDevice() = default;
};

// The platform's own block devices, in the order given (empty on kvm, where disks are virtio-blk
// devices that libos drives itself). The list and the devices live for the whole run.
std::span<BlockDevice* const> host_block_devices();

}  // namespace xos::platform
