// Block device files: byte-granular read/write/pread/pwrite on a disk (xos/block.h), through a
// per-disk bounce buffer in kernel memory (the devices only take whole logical blocks of kernel
// memory): reads and whole-block writes go straight through it, a partial block at either end
// of a write is read, patched and written back. Semantics are Linux's for a block device opened
// without O_DIRECT:
//   - reads at or past the end return 0; reads and writes crossing it are cut short there;
//   - a write at or past the end fails with ENOSPC, a write to a read-only disk with EPERM (open
//     for writing succeeds, as on Linux: blkdev_write_iter refuses the write);
//   - lseek: SEEK_END is relative to the capacity, positions past it are EINVAL;
//   - fstat: S_IFBLK, st_size 0, st_rdev (the device node's); fsync flushes the disk's cache;
//   - ioctl: BLKGETSIZE64, BLKGETSIZE, BLKSSZGET, BLKPBSZGET, BLKBSZGET, BLKROGET, BLKFLSBUF.
// One request at a time per disk (a per-disk lock held across the device calls), which also
// makes the read-modify-write of a shared block atomic between threads. Nothing is cached.
#include "fs/devfs/block_devices.h"

#include <linux/fs.h>
#include <sys/sysmacros.h>

#include <cstring>

#include "base/user_ptr.h"
#include "blk/registry.h"
#include "mm/heap.h"
#include "sched/wait_queue.h"
#include "vfs/devices.h"
#include "vfs/operations.h"
#include "vfs/process.h"

namespace xos::fs {

namespace {

constexpr unsigned BLOCK_MAJOR = 254;
constexpr unsigned MINORS_PER_DISK = 16;
constexpr size_t MAX_DISKS = 16;
constexpr size_t BOUNCE_BYTES = 128 * 1024;  // a multiple of every block size (<= 64 KiB)
constexpr size_t SECTOR = platform::BlockDevice::SECTOR_SIZE;

struct Disk {
    platform::BlockDevice* device = nullptr;
    std::byte* bounce = nullptr;  // BOUNCE_BYTES, allocated on first use
    bool busy = false;
    sched::WaitQueue waiters;

    uint64_t capacity() const { return device->sector_count() * SECTOR; }
    // Linux's set_init_blocksize: the largest power of two up to the page size that divides the
    // capacity, at least the logical block size.
    uint32_t soft_block_size() const {
        uint32_t size = device->block_size();
        while (size < 4096 && !(capacity() & size)) size <<= 1;
        return size;
    }
};
Disk* g_disks[MAX_DISKS];

// Holds a disk for one operation.
class DiskLock {
public:
    explicit DiskLock(Disk& disk) : m_disk(disk) {
        // No timeout: the holder is in a device call (a virtio-blk device wait, or a host I/O
        // call on hosted), so a real deadlock is still reported by the scheduler.
        (void)sched::wait_event(
            disk.waiters, [&] { return !disk.busy; }, sched::Deadline::never(), sched::Interruptible::No);
        disk.busy = true;
    }
    ~DiskLock() {
        m_disk.busy = false;
        sched::wake_one(m_disk.waiters);
    }
    DiskLock(const DiskLock&) = delete;
    DiskLock& operator=(const DiskLock&) = delete;

private:
    Disk& m_disk;
};

ErrorOr<void> device_result(long result) {
    if (result < 0) return error(int(-result));
    return {};
}

ErrorOr<std::byte*> bounce_buffer(Disk& disk) {
    if (!disk.bounce) disk.bounce = static_cast<std::byte*>(mm::alloc_pages(BOUNCE_BYTES / 4096));
    if (!disk.bounce) return error(ENOMEM);
    return disk.bounce;
}

// Reads `buffer.size()` bytes at `offset` (already cut to the capacity).
ErrorOr<size_t> read_bytes(Disk& disk, uint64_t offset, std::span<std::byte> buffer) {
    DiskLock lock(disk);
    std::byte* bounce = TRY(bounce_buffer(disk));
    const uint64_t block = disk.device->block_size();
    size_t done = 0;
    while (done < buffer.size()) {
        uint64_t at = offset + done;
        uint64_t first = at / block * block;
        size_t within = size_t(at - first);
        size_t wanted = buffer.size() - done;
        size_t span = within + wanted > BOUNCE_BYTES ? BOUNCE_BYTES : (within + wanted + block - 1) / block * block;
        if (auto r = device_result(disk.device->read(first / SECTOR, bounce, span / SECTOR)); !r) {
            if (done) return done;
            return std::unexpected(r.error());
        }
        size_t n = span - within < wanted ? span - within : wanted;
        // The buffer may be the app's, unmapped by another thread while the device was busy.
        if (size_t left = user_copy(buffer.data() + done, bounce + within, n)) {
            done += n - left;
            if (done) return done;
            return error(EFAULT);
        }
        done += n;
    }
    return done;
}

// Writes `data` at `offset` (already cut to the capacity), reading back partial blocks.
ErrorOr<size_t> write_bytes(Disk& disk, uint64_t offset, std::span<const std::byte> data) {
    DiskLock lock(disk);
    std::byte* bounce = TRY(bounce_buffer(disk));
    const uint64_t block = disk.device->block_size();
    size_t done = 0;
    while (done < data.size()) {
        uint64_t at = offset + done;
        uint64_t first = at / block * block;
        size_t within = size_t(at - first);
        size_t wanted = data.size() - done;
        size_t span = within + wanted > BOUNCE_BYTES ? BOUNCE_BYTES : (within + wanted + block - 1) / block * block;
        size_t n = span - within < wanted ? span - within : wanted;
        // The blocks the data covers only in part keep their other bytes.
        auto fail = [&](long result) -> ErrorOr<size_t> {
            if (done) return done;
            return error(int(-result));
        };
        if (within) {
            if (long r = disk.device->read(first / SECTOR, bounce, block / SECTOR); r < 0) return fail(r);
        }
        if ((within + n) % block && (span > block || !within)) {
            uint64_t last = first + span - block;
            if (long r = disk.device->read(last / SECTOR, bounce + (span - block), block / SECTOR); r < 0)
                return fail(r);
        }
        if (user_copy(bounce + within, data.data() + done, n)) return fail(-EFAULT);  // unmapped meanwhile
        if (long r = disk.device->write(first / SECTOR, bounce, span / SECTOR); r < 0) return fail(r);
        done += n;
    }
    return done;
}

class BlockFile final : public vfs::File {
public:
    BlockFile(RefPtr<vfs::Vnode> vnode, int flags, Disk& disk)
        : File(static_cast<RefPtr<vfs::Vnode>&&>(vnode), flags), m_disk(disk) {}

    // mmap through the page cache (mm/file_cache.h), which reads and writes back through here.
    bool mappable() const override { return true; }
    std::optional<uint64_t> device_size() const override { return m_disk.capacity(); }

    ErrorOr<size_t> read(std::span<std::byte> buffer, std::optional<uint64_t> offset) override {
        uint64_t at = offset.value_or(position());
        if (vnode()->m_file_cache && vfs::g_file_cache_hooks.sync) vfs::g_file_cache_hooks.sync(*vnode());
        uint64_t capacity = m_disk.capacity();
        if (at >= capacity || buffer.empty()) return 0;
        if (buffer.size() > capacity - at) buffer = buffer.first(size_t(capacity - at));
        size_t n = TRY(read_bytes(m_disk, at, buffer));
        if (!offset) set_position(at + n);
        return n;
    }

    ErrorOr<size_t> write(std::span<const std::byte> data, std::optional<uint64_t> offset) override {
        if (m_disk.device->read_only()) return error(EPERM);
        if (data.empty()) return 0;
        uint64_t at = offset.value_or(position());
        uint64_t capacity = m_disk.capacity();
        if (at >= capacity) return error(ENOSPC);
        if (data.size() > capacity - at) data = data.first(size_t(capacity - at));
        size_t n = TRY(write_bytes(m_disk, at, data));
        if (vnode()->m_file_cache && vfs::g_file_cache_hooks.written)
            vfs::g_file_cache_hooks.written(*vnode(), at, data.first(n));
        if (!offset) set_position(at + n);
        return n;
    }

    // Linux's fixed_size_llseek: positions from 0 to the capacity; SEEK_DATA/SEEK_HOLE see one
    // extent of data.
    ErrorOr<uint64_t> seek(int64_t offset, int whence) override {
        int64_t capacity = int64_t(m_disk.capacity());
        int64_t target;
        switch (whence) {
        case SEEK_SET: target = offset; break;
        case SEEK_CUR:
            if (offset == 0) return position();
            target = int64_t(position()) + offset;
            break;
        case SEEK_END: target = capacity + offset; break;
        case SEEK_DATA:
        case SEEK_HOLE:
            if (offset < 0 || offset >= capacity) return error(ENXIO);
            target = whence == SEEK_DATA ? offset : capacity;
            break;
        default: return error(EINVAL);
        }
        if (target < 0 || target > capacity) return error(EINVAL);
        set_position(uint64_t(target));
        return position();
    }

    ErrorOr<long> ioctl(unsigned long request, uintptr_t argument) override {
        platform::BlockDevice& device = *m_disk.device;
        switch (request) {
        case BLKGETSIZE64: TRY(write_user(UserPtr<uint64_t>(argument), m_disk.capacity())); return 0;
        case BLKGETSIZE: TRY(write_user(UserPtr<unsigned long>(argument), device.sector_count())); return 0;
        case BLKSSZGET: TRY(write_user(UserPtr<int>(argument), int(device.block_size()))); return 0;
        case BLKPBSZGET: TRY(write_user(UserPtr<unsigned>(argument), unsigned(device.block_size()))); return 0;
        case BLKBSZGET: TRY(write_user(UserPtr<int>(argument), int(m_disk.soft_block_size()))); return 0;
        case BLKROGET: TRY(write_user(UserPtr<int>(argument), device.read_only() ? 1 : 0)); return 0;
        case BLKFLSBUF: TRY(sync()); return 0;  // nothing is cached: flush the device only
        default: return error(ENOTTY);
        }
    }

    ErrorOr<void> sync() override {
        if (vnode()->m_file_cache && vfs::g_file_cache_hooks.sync) vfs::g_file_cache_hooks.sync(*vnode());
        DiskLock lock(m_disk);
        return device_result(m_disk.device->flush());
    }

private:
    Disk& m_disk;
};

ErrorOr<RefPtr<vfs::File>> open_block_device(RefPtr<vfs::Vnode> vnode, int flags) {
    unsigned index = minor(vnode->m_attr.rdev) / MINORS_PER_DISK;
    if (major(vnode->m_attr.rdev) != BLOCK_MAJOR || minor(vnode->m_attr.rdev) % MINORS_PER_DISK || index >= MAX_DISKS ||
        !g_disks[index])
        return error(ENXIO);
    vfs::File* file =
        mm::kcreate<BlockFile>(vnode, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC), *g_disks[index]);
    if (!file) return error(ENOMEM);
    return RefPtr<vfs::File>(file);
}

}  // namespace

ErrorOr<void> add_block_devices(std::span<const std::string_view> platform_tokens) {
    std::span<platform::BlockDevice* const> devices = blk::devices(platform_tokens);
    vfs::Process& process = vfs::process();
    for (size_t i = 0; i < devices.size() && i < MAX_DISKS; ++i) {
        Disk* disk = mm::kcreate<Disk>();
        if (!disk) return error(ENOMEM);
        disk->device = devices[i];
        g_disks[i] = disk;
        char path[] = "/dev/vda";
        path[sizeof path - 2] = char('a' + i);
        dev_t number = makedev(BLOCK_MAJOR, unsigned(i) * MINORS_PER_DISK);
        if (!vfs::register_device(number, &open_block_device)) return error(ENOMEM);
        TRY(vfs::make_node(process.context(process.root.get()), path, S_IFBLK | 0660, number));
    }
    return {};
}

}  // namespace xos::fs
