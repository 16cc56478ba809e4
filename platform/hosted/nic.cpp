// The hosted platform's NIC (platform/api/xos/nic.h): a host fd that carries Ethernet frames,
// inherited from xos-run and announced in XOS_NIC_FD / XOS_NIC_FRAMING (start.cpp):
//   stream  a connected UNIX stream socket to passt: QEMU's "stream" netdev protocol, each frame
//           preceded by its length as a 4-byte big-endian number;
//   tap     a tap device (IFF_TAP | IFF_NO_PI): one frame per read or write.
// The fd is nonblocking and O_ASYNC: the host raises SIGIO when it becomes readable (or writable
// after a full send buffer), which signals.cpp turns into a device interrupt. Reads and writes use
// readv/writev, which the seccomp filter allows on this fd only (docs/hosted.md).
#include <cstdio>
#include <cstring>

#include "xos/log.h"
#include "hosted/host.h"
#include "xos/nic.h"

namespace xos::hosted {

namespace {

struct Iovec {
    const void* base;
    size_t length;
};

constexpr size_t MAX_FRAME = 65535;  // largest frame taken either way (lwIP's pbuf limit)
constexpr size_t RX_BUFFER = 256 * 1024;  // stream reassembly buffer (several frames per read)
constexpr size_t RX_BATCH_BYTES = 1024 * 1024;  // receive() returns after this much, with `more`
constexpr size_t RX_BATCH_FRAMES = 256;
constexpr size_t MAX_PIECES = 16;

long readv(int fd, void* buffer, size_t length) {
    Iovec iov{buffer, length};
    return host::call(host::READV, fd, long(&iov), 1);
}

class FdNic final : public platform::HostNic {
public:
    void init(int fd, bool tap) {
        m_fd = fd;
        m_tap = tap;
        m_connected = true;
        snprintf(m_name, sizeof m_name, "host-nic (%s, fd %d)", tap ? "tap" : "passt stream", fd);
    }

    const char* name() const override { return m_name; }
    size_t max_frame() const override { return MAX_FRAME; }
    bool connected() const override { return m_connected; }

    size_t receive(void (*on_frame)(void*, const uint8_t*, size_t), void* context, bool& more) override {
        more = false;
        flush_tx();
        size_t frames = 0, bytes = 0;
        while (m_connected) {
            if (frames >= RX_BATCH_FRAMES || bytes >= RX_BATCH_BYTES) {
                more = true;
                break;
            }
            size_t room = m_tap ? RX_BUFFER : RX_BUFFER - m_rx_used;
            long n = readv(m_fd, m_tap ? m_rx : m_rx + m_rx_used, room);
            if (n == -host::EINTR) continue;
            if (n == -host::EAGAIN) break;
            if (n <= 0) {
                disconnect(n == 0 ? "the host closed the connection" : "read failed", n);
                break;
            }
            bytes += size_t(n);
            if (m_tap) {
                if (size_t(n) <= MAX_FRAME) on_frame(context, m_rx, size_t(n)), ++frames;
                continue;
            }
            m_rx_used += size_t(n);
            frames += parse_stream(on_frame, context);
        }
        return frames;
    }

    SendResult send(const uint8_t* const* pieces, const size_t* lengths, size_t count) override {
        if (!m_connected) return SendResult::Gone;
        if (count > MAX_PIECES) return SendResult::TooBig;
        size_t total = 0;
        for (size_t i = 0; i < count; ++i) total += lengths[i];
        if (total > MAX_FRAME) return SendResult::TooBig;
        Iovec iov[MAX_PIECES + 1];
        size_t used = 0;
        uint8_t prefix[4] = {uint8_t(total >> 24), uint8_t(total >> 16), uint8_t(total >> 8), uint8_t(total)};
        if (!m_tap) {
            if (!flush_tx()) return m_connected ? SendResult::Busy : SendResult::Gone;
            iov[used++] = {prefix, 4};
        }
        for (size_t i = 0; i < count; ++i) iov[used++] = {pieces[i], lengths[i]};
        size_t wanted = total + (m_tap ? 0 : 4);
        long n;
        do n = host::call(host::WRITEV, m_fd, long(iov), long(used));
        while (n == -host::EINTR);
        if (n == -host::EAGAIN) return SendResult::Busy;
        if (n < 0) {
            // A tap device that is down refuses frames (EIO): they are lost, as on a cable-less NIC.
            if (m_tap && n != -EBADF) return SendResult::Sent;
            disconnect("write failed", n);
            return SendResult::Gone;
        }
        if (size_t(n) < wanted) keep_unsent(iov, used, size_t(n));
        return SendResult::Sent;
    }

    bool set_interrupt_handler(void (*handler)(void*), void* context, platform::InterruptLocking locking) override {
        set_io_interrupt_handler(handler, context, locking);
        return true;
    }

private:
    static constexpr long EBADF = 9;

    // Hands every whole frame in the reassembly buffer to on_frame; keeps the partial one.
    size_t parse_stream(void (*on_frame)(void*, const uint8_t*, size_t), void* context) {
        size_t at = 0, frames = 0;
        for (;;) {
            if (m_rx_skip) {  // the rest of a frame too large to deliver
                size_t skipped = m_rx_skip < m_rx_used - at ? m_rx_skip : m_rx_used - at;
                at += skipped;
                m_rx_skip -= skipped;
                if (m_rx_skip) break;
            }
            if (m_rx_used - at < 4) break;
            const uint8_t* p = m_rx + at;
            size_t length = size_t(p[0]) << 24 | size_t(p[1]) << 16 | size_t(p[2]) << 8 | p[3];
            if (length > MAX_FRAME) {
                m_rx_skip = length;
                at += 4;
                continue;
            }
            if (m_rx_used - at - 4 < length) break;
            on_frame(context, p + 4, length);
            ++frames;
            at += 4 + length;
        }
        memmove(m_rx, m_rx + at, m_rx_used - at);
        m_rx_used -= at;
        return frames;
    }

    // The stream took only part of a frame: the rest must follow before anything else.
    void keep_unsent(const Iovec* iov, size_t count, size_t sent) {
        m_tx_rest_length = 0;
        m_tx_rest_offset = 0;
        for (size_t i = 0; i < count; ++i) {
            size_t length = iov[i].length;
            size_t skip = sent < length ? sent : length;
            sent -= skip;
            memcpy(m_tx_rest + m_tx_rest_length, static_cast<const uint8_t*>(iov[i].base) + skip, length - skip);
            m_tx_rest_length += length - skip;
        }
    }

    // Sends what keep_unsent() kept. True when nothing is left.
    bool flush_tx() {
        while (m_connected && m_tx_rest_offset < m_tx_rest_length) {
            Iovec iov{m_tx_rest + m_tx_rest_offset, m_tx_rest_length - m_tx_rest_offset};
            long n = host::call(host::WRITEV, m_fd, long(&iov), 1);
            if (n == -host::EINTR) continue;
            if (n == -host::EAGAIN) return false;
            if (n <= 0) {
                disconnect("write failed", n);
                return false;
            }
            m_tx_rest_offset += size_t(n);
        }
        m_tx_rest_offset = m_tx_rest_length = 0;
        return m_connected;
    }

    void disconnect(const char* what, long error) {
        if (!m_connected) return;
        m_connected = false;
        klog("xos: %s: %s (errno %ld): link down", m_name, what, -error);
    }

    int m_fd = -1;
    bool m_tap = false;
    bool m_connected = false;
    char m_name[48] = {};
    uint8_t m_rx[RX_BUFFER];
    size_t m_rx_used = 0;
    size_t m_rx_skip = 0;
    uint8_t m_tx_rest[4 + MAX_FRAME];
    size_t m_tx_rest_offset = 0, m_tx_rest_length = 0;
};

FdNic g_nic;
bool g_nic_present;

}  // namespace

int g_nic_fd = -1;

void init_nic(int fd, bool tap) {
    constexpr long F_SETFL = 4, F_GETFL = 3, F_SETOWN = 8, O_NONBLOCK = 04000, O_ASYNC = 020000;
    long flags = host::call(host::FCNTL, fd, F_GETFL);
    if (flags < 0) setup_failed("XOS_NIC_FD is not an open file descriptor", flags);
    // SIGIO (signals.cpp) to this process whenever the fd becomes readable or writable again.
    long r = host::call(host::FCNTL, fd, F_SETOWN, host::call(host::GETPID));
    if (r >= 0) r = host::call(host::FCNTL, fd, F_SETFL, flags | O_NONBLOCK | O_ASYNC);
    if (r < 0) setup_failed("cannot make XOS_NIC_FD nonblocking and signal-driven (fcntl)", r);
    g_nic_fd = fd;
    g_nic.init(fd, tap);
    g_nic_present = true;
}

}  // namespace xos::hosted

namespace xos::platform {

HostNic* host_nic() { return hosted::g_nic_present ? &hosted::g_nic : nullptr; }

}  // namespace xos::platform
