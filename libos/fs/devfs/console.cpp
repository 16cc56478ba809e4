#include "fs/devfs/console.h"

#include <cstddef>

#include "fs/devfs/terminal.h"
#include "mm/heap.h"
#include "sched/process.h"

namespace xos::fs {

namespace {

class ConsoleFile final : public vfs::File {
public:
    ConsoleFile(RefPtr<vfs::Vnode> vnode, int flags, platform::ConsoleStream stream, ConsoleRole role)
        : File(static_cast<RefPtr<vfs::Vnode>&&>(vnode), flags), m_stream(stream),
          m_terminal(role == ConsoleRole::Terminal) {}

    ErrorOr<size_t> read(std::span<std::byte> buffer, std::optional<uint64_t> offset) override {
        if (offset) return error(ESPIPE);
        return terminal::read(buffer, nonblocking(), m_terminal);
    }
    ErrorOr<size_t> write(std::span<const std::byte> data, std::optional<uint64_t> offset) override {
        if (offset) return error(ESPIPE);
        return terminal::write(m_stream, data, m_terminal);
    }
    ErrorOr<uint64_t> seek(int64_t, int whence) override {
        if (whence < SEEK_SET || whence > SEEK_END) return error(EINVAL);
        return error(ESPIPE);
    }
    bool is_stream() const override { return true; }
    // Writes and isatty's ioctls run without the big lock; reads, the line discipline's input
    // side and the other ioctls keep it (docs/locking.md "The console").
    bool write_without_big_lock() const override { return !m_terminal || !terminal::stops_background_writes(); }
    sched::Mutex* write_lock() override { return &terminal::write_lock(); }
    bool ioctl_without_big_lock(unsigned long request) const override {
        return !m_terminal || terminal::ioctl_without_big_lock(request);
    }
    ErrorOr<size_t> bytes_readable() override { return terminal::bytes_readable(); }
    ErrorOr<long> ioctl(unsigned long request, uintptr_t argument) override {
        return terminal::ioctl(request, argument, m_terminal);
    }
    vfs::PollMask poll_mask() override {
        if (!readable()) return vfs::poll_bits::WRITABLE;
        return terminal::poll_mask(m_terminal);
    }
    vfs::PollWaiters* poll_waiters() override { return readable() ? &terminal::poll_waiters() : nullptr; }

private:
    platform::ConsoleStream m_stream;
    bool m_terminal;
};

}  // namespace

ErrorOr<RefPtr<vfs::File>> open_console(RefPtr<vfs::Vnode> vnode, int flags, platform::ConsoleStream stream,
                                        ConsoleRole role) {
    vfs::File* file =
        mm::kcreate<ConsoleFile>(vnode, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC), stream, role);
    if (!file) return error(ENOMEM);
    return RefPtr<vfs::File>(file);
}

ErrorOr<RefPtr<vfs::File>> open_console_device(RefPtr<vfs::Vnode> vnode, int flags, platform::ConsoleStream stream) {
    return open_console(vnode, flags, stream, terminal::exists() ? ConsoleRole::Terminal : ConsoleRole::Stream);
}

ErrorOr<RefPtr<vfs::File>> open_controlling_terminal(RefPtr<vfs::Vnode> vnode, int flags) {
    if (!terminal::exists() || !terminal::controls_session(sched::current_process().sid)) return error(ENXIO);
    return open_console(vnode, flags, platform::ConsoleStream::Out, ConsoleRole::Terminal);
}

}  // namespace xos::fs
