#include "fs/devfs/console.h"

#include <sys/ioctl.h>
#include <termios.h>

#include <cstddef>

#include "base/user_ptr.h"
#include "mm/heap.h"

namespace xos::fs {

namespace {

class ConsoleFile final : public vfs::File {
public:
    ConsoleFile(RefPtr<vfs::Vnode> vnode, int flags, platform::ConsoleStream stream)
        : File(static_cast<RefPtr<vfs::Vnode>&&>(vnode), flags), m_stream(stream) {}

    ErrorOr<size_t> read(std::span<std::byte>, std::optional<uint64_t>) override { return 0; }
    ErrorOr<size_t> write(std::span<const std::byte> data, std::optional<uint64_t>) override {
        platform::console_write(m_stream, reinterpret_cast<const char*>(data.data()), data.size());
        return data.size();
    }
    ErrorOr<uint64_t> seek(int64_t, int whence) override {
        if (whence < SEEK_SET || whence > SEEK_END) return error(EINVAL);
        return error(ESPIPE);
    }
    bool is_stream() const override { return true; }
    ErrorOr<size_t> bytes_readable() override { return 0; }

    // TCGETS/TCSETS move the kernel's struct termios (c_cc[19]: 36 bytes), which begins like
    // musl's (c_cc[32] and two speeds: 60 bytes). glibc's tcgetattr passes a 36-byte buffer.
    static constexpr size_t KERNEL_TERMIOS_BYTES = 4 * sizeof(tcflag_t) + 1 + 19;
    static_assert(offsetof(termios, c_cc) == 17);

    ErrorOr<long> ioctl(unsigned long request, uintptr_t argument) override {
        switch (request) {
        case TIOCGWINSZ: {
            winsize size{.ws_row = 24, .ws_col = 80, .ws_xpixel = 0, .ws_ypixel = 0};
            TRY(write_user(UserPtr<winsize>(argument), size));
            return 0;
        }
        case TCGETS: {
            termios t{};
            t.c_iflag = ICRNL | IXON;
            t.c_oflag = OPOST | ONLCR;
            t.c_cflag = B38400 | CS8 | CREAD | CLOCAL;
            t.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | IEXTEN;
            TRY(copy_to_user(UserPtr<void>(argument), &t, KERNEL_TERMIOS_BYTES));
            return 0;
        }
        case TCSETS:
        case TCSETSW:
        case TCSETSF:
            if (!user_range_ok(argument, KERNEL_TERMIOS_BYTES)) return error(EFAULT);
            return 0;
        default: return error(ENOTTY);
        }
    }

private:
    platform::ConsoleStream m_stream;
};

}  // namespace

ErrorOr<RefPtr<vfs::File>> open_console(RefPtr<vfs::Vnode> vnode, int flags, platform::ConsoleStream stream) {
    vfs::File* file =
        mm::kcreate<ConsoleFile>(vnode, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC), stream);
    if (!file) return error(ENOMEM);
    return RefPtr<vfs::File>(file);
}

}  // namespace xos::fs
