// /dev/null, /dev/zero, /dev/full, /dev/random and /dev/urandom.
#include "fs/devfs/memory_devices.h"

#include <cstring>

#include "base/user_ptr.h"
#include "mm/heap.h"
#include "xos/platform.h"

namespace xos::fs {

namespace {

enum class Kind { Null, Zero, Full, Random };

class MemoryDeviceFile final : public vfs::File {
public:
    MemoryDeviceFile(RefPtr<vfs::Vnode> vnode, int flags, Kind kind)
        : File(static_cast<RefPtr<vfs::Vnode>&&>(vnode), flags), m_kind(kind) {}

    // No state: read and write run without the big lock (docs/locking.md). Another CPU may
    // unmap the app's buffer after the syscall's range check, so the stores into it are the
    // fault-safe user copy (EFAULT if nothing was stored).
    bool io_without_big_lock() const override { return true; }

    ErrorOr<size_t> read(std::span<std::byte> buffer, std::optional<uint64_t>) override {
        static const std::byte zeros[4096] = {};
        if (m_kind == Kind::Null) return 0;
        // Through a libos buffer, as getrandom(2) does: the platform's entropy source may be a
        // host syscall (hosted), which fails with EFAULT on an app page not yet faulted in
        // (redis-server reads /dev/urandom into a fresh page at start-up).
        std::byte chunk[256];
        size_t step = m_kind == Kind::Random ? sizeof chunk : sizeof zeros;
        for (size_t done = 0; done < buffer.size(); done += step) {
            size_t n = buffer.size() - done < step ? buffer.size() - done : step;
            if (m_kind == Kind::Random) platform::entropy(chunk, n);
            if (size_t left = user_copy(buffer.data() + done, m_kind == Kind::Random ? chunk : zeros, n)) {
                done += n - left;
                if (done) return done;
                return error(EFAULT);
            }
        }
        return buffer.size();
    }
    ErrorOr<size_t> write(std::span<const std::byte> data, std::optional<uint64_t>) override {
        if (m_kind == Kind::Full) return error(ENOSPC);
        return data.size();
    }
    ErrorOr<uint64_t> seek(int64_t, int) override { return 0; }  // Linux: always succeeds, position 0

private:
    Kind m_kind;
};

template <Kind kind>
ErrorOr<RefPtr<vfs::File>> open_memory_device(RefPtr<vfs::Vnode> vnode, int flags) {
    vfs::File* file =
        mm::kcreate<MemoryDeviceFile>(vnode, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC), kind);
    if (!file) return error(ENOMEM);
    return RefPtr<vfs::File>(file);
}

}  // namespace

vfs::DeviceOpen memory_device_open(MemoryDevice device) {
    switch (device) {
    case MemoryDevice::Null: return &open_memory_device<Kind::Null>;
    case MemoryDevice::Zero: return &open_memory_device<Kind::Zero>;
    case MemoryDevice::Full: return &open_memory_device<Kind::Full>;
    case MemoryDevice::Random: return &open_memory_device<Kind::Random>;
    }
    return nullptr;
}

}  // namespace xos::fs
