#include "net/socket.h"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <sys/time.h>

#include "base/no_destroy.h"
#include "base/user_ptr.h"
#include "mm/heap.h"
#include "net/inet.h"
#include "net/unix.h"
#include "sched/thread.h"
#include "sys/handlers.h"

namespace xos::net {

namespace {

class SockFs final : public vfs::Filesystem {
public:
    SockFs() : Filesystem("sockfs", 0x534F434B) {}
    RefPtr<vfs::Vnode> root() override { return nullptr; }
};

constinit NoDestroy<SockFs> g_sockfs;

constexpr int MAX_FAMILIES = 4;
SocketFamily g_families[MAX_FAMILIES];
int g_family_count = 0;

constexpr uint32_t SYSCTL_BUFFER_MAX = 212992;  // net.core.wmem_max / rmem_max
constexpr uint32_t MIN_SEND_BUFFER = 4608, MIN_RECEIVE_BUFFER = 2304;

ErrorOr<int> int_value(std::span<const std::byte> value) {
    if (value.size() < sizeof(int)) return error(EINVAL);
    int v;
    memcpy(&v, value.data(), sizeof v);
    return v;
}

size_t put(std::span<std::byte> out, const void* value, size_t size) {
    size_t n = out.size() < size ? out.size() : size;
    memcpy(out.data(), value, n);
    return n;
}

size_t put_int(std::span<std::byte> out, int value) { return put(out, &value, sizeof value); }

bool is_bool_option(int name) {
    switch (name) {
    case SO_REUSEADDR:
    case SO_REUSEPORT:
    case SO_KEEPALIVE:
    case SO_BROADCAST:
    case SO_OOBINLINE:
    case SO_DONTROUTE:
    case SO_PASSCRED:
    case SO_TIMESTAMP:
    case SO_NO_CHECK: return true;
    default: return false;
    }
}

}  // namespace

IoCursor::IoCursor(const iovec* iov, size_t count) : m_iov(iov), m_count(count) {
    for (size_t i = 0; i < count; ++i) m_remaining += iov[i].iov_len;
}

size_t IoCursor::gather(std::byte* to, size_t size) {
    size_t done = 0;
    while (done < size && m_index < m_count) {
        const iovec& v = m_iov[m_index];
        size_t n = v.iov_len - m_offset;
        if (n > size - done) n = size - done;
        if (size_t left = user_copy(to + done, static_cast<const std::byte*>(v.iov_base) + m_offset, n)) {
            memset(to + done + (n - left), 0, size - done - (n - left));
            done += n - left;
            m_faulted = true;
            m_remaining = 0;
            return done;
        }
        done += n;
        m_offset += n;
        if (m_offset == v.iov_len) ++m_index, m_offset = 0;
    }
    m_remaining -= done;
    return done;
}

size_t IoCursor::scatter(const std::byte* from, size_t size) {
    size_t done = 0;
    while (done < size && m_index < m_count) {
        const iovec& v = m_iov[m_index];
        size_t n = v.iov_len - m_offset;
        if (n > size - done) n = size - done;
        if (size_t left = user_copy(static_cast<std::byte*>(v.iov_base) + m_offset, from + done, n)) {
            done += n - left;
            m_faulted = true;
            m_remaining = 0;
            return done;
        }
        done += n;
        m_offset += n;
        if (m_offset == v.iov_len) ++m_index, m_offset = 0;
    }
    m_remaining -= done;
    return done;
}

ErrorOr<void> Ancillary::add_file(RefPtr<vfs::File> file) {
    if (!m_files) {
        m_files = mm::kcreate<Files>();
        if (!m_files) return error(ENOMEM);
    }
    if (m_files->count == MAX_FILES) return error(EINVAL);
    m_files->list[m_files->count++] = static_cast<RefPtr<vfs::File>&&>(file);
    return {};
}

void Ancillary::clear_files() {
    free_files(m_files);
    m_files = nullptr;
}

void Ancillary::free_files(Files* files) {
    if (files) mm::kdestroy(files);
}

Socket::Socket(RefPtr<vfs::Vnode> vnode, int flags, int family, int type, int protocol)
    : File(static_cast<RefPtr<vfs::Vnode>&&>(vnode), O_RDWR | (flags & O_NONBLOCK)), m_family(family), m_type(type),
      m_protocol(protocol) {}

ErrorOr<size_t> Socket::read(std::span<std::byte> buffer, std::optional<uint64_t> offset) {
    if (offset) return error(ESPIPE);
    iovec v{buffer.data(), buffer.size()};
    IoCursor cursor(&v, 1);
    Message message{&cursor};
    size_t n = TRY(receive(message, 0));
    if (n == 0 && cursor.faulted()) return error(EFAULT);
    return n;
}

ErrorOr<size_t> Socket::write(std::span<const std::byte> data, std::optional<uint64_t> offset) {
    if (offset) return error(ESPIPE);
    iovec v{const_cast<std::byte*>(data.data()), data.size()};
    IoCursor cursor(&v, 1);
    Message message{&cursor};
    size_t n = TRY(send(message, 0));
    if (n == 0 && cursor.faulted()) return error(EFAULT);
    return n;
}

ErrorOr<KString> Socket::anonymous_name() {
    char text[40];
    snprintf(text, sizeof text, "socket:[%llu]", static_cast<unsigned long long>(vnode()->ino()));
    return KString::from(text);
}

sched::Deadline Socket::receive_deadline() const {
    return m_receive_timeout_ns ? sched::Deadline::after_ns(m_receive_timeout_ns) : sched::Deadline::never();
}

sched::Deadline Socket::send_deadline() const {
    return m_send_timeout_ns ? sched::Deadline::after_ns(m_send_timeout_ns) : sched::Deadline::never();
}

ErrorOr<size_t> Socket::broken_pipe(int flags) {
    if (!(flags & MSG_NOSIGNAL)) {
        sched::BigLockScope big_lock;  // signal state is the big lock's (a send may run without it)
        (void)sys::sys_tkill(sched::current().tid, SIGPIPE);
    }
    return error(EPIPE);
}

ErrorOr<void> Socket::set_family_option(int level, int, std::span<const std::byte>) {
    return error(level == SOL_SOCKET ? ENOPROTOOPT : EOPNOTSUPP);
}

ErrorOr<size_t> Socket::get_family_option(int level, int, std::span<std::byte>) {
    return error(level == SOL_SOCKET ? ENOPROTOOPT : EOPNOTSUPP);
}

ErrorOr<void> Socket::set_option(int level, int name, std::span<const std::byte> value) {
    if (level != SOL_SOCKET) return set_family_option(level, name, value);
    if (is_bool_option(name)) {
        int v = TRY(int_value(value));
        if (v)
            m_bool_options |= 1u << name;
        else
            m_bool_options &= ~(1u << name);
        return set_family_option(level, name, value).or_else([](Error e) -> ErrorOr<void> {
            if (e.code == ENOPROTOOPT) return {};  // the family keeps no state for it
            return std::unexpected(e);
        });
    }
    switch (name) {
    case SO_SNDBUF:
    case SO_RCVBUF:
    case SO_SNDBUFFORCE:
    case SO_RCVBUFFORCE: {
        int v = TRY(int_value(value));
        uint32_t size = uint32_t(v < 0 ? 0 : v);
        if (name == SO_SNDBUF || name == SO_RCVBUF) size = size > SYSCTL_BUFFER_MAX ? SYSCTL_BUFFER_MAX : size;
        size = size > UINT32_MAX / 2 ? UINT32_MAX : size * 2;  // Linux doubles it for bookkeeping
        if (name == SO_SNDBUF || name == SO_SNDBUFFORCE)
            m_send_buffer = size < MIN_SEND_BUFFER ? MIN_SEND_BUFFER : size;
        else
            m_receive_buffer = size < MIN_RECEIVE_BUFFER ? MIN_RECEIVE_BUFFER : size;
        buffer_sizes_changed();
        changed();
        return {};
    }
    case SO_LINGER:
        if (value.size() < sizeof(linger)) return error(EINVAL);
        memcpy(&m_linger, value.data(), sizeof m_linger);
        m_linger.l_onoff = m_linger.l_onoff ? 1 : 0;
        return {};
    case SO_RCVTIMEO:
    case SO_SNDTIMEO: {
        if (value.size() < sizeof(timeval)) return error(EINVAL);
        timeval tv;
        memcpy(&tv, value.data(), sizeof tv);
        if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) return error(EDOM);
        uint64_t ns = tv.tv_sec < 0 ? 0 : uint64_t(tv.tv_sec) * 1000000000ull + uint64_t(tv.tv_usec) * 1000ull;
        (name == SO_RCVTIMEO ? m_receive_timeout_ns : m_send_timeout_ns) = ns;
        return {};
    }
    case SO_PRIORITY:
    case SO_RCVLOWAT:
    case SO_SNDLOWAT:
    case SO_MARK: TRY(int_value(value)); return {};
    default: return set_family_option(level, name, value);
    }
}

ErrorOr<size_t> Socket::get_option(int level, int name, std::span<std::byte> out) {
    if (level != SOL_SOCKET) return get_family_option(level, name, out);
    if (is_bool_option(name)) return put_int(out, (m_bool_options >> name) & 1);
    switch (name) {
    case SO_TYPE: return put_int(out, m_type);
    case SO_DOMAIN: return put_int(out, m_family);
    case SO_PROTOCOL: return put_int(out, m_protocol);
    case SO_ERROR: return put_int(out, take_error());
    case SO_ACCEPTCONN: return put_int(out, is_listening() ? 1 : 0);
    case SO_SNDBUF: return put_int(out, int(m_send_buffer));
    case SO_RCVBUF: return put_int(out, int(m_receive_buffer));
    case SO_LINGER: return put(out, &m_linger, sizeof m_linger);
    case SO_RCVTIMEO:
    case SO_SNDTIMEO: {
        uint64_t ns = name == SO_RCVTIMEO ? m_receive_timeout_ns : m_send_timeout_ns;
        timeval tv{time_t(ns / 1000000000), suseconds_t(ns % 1000000000 / 1000)};
        return put(out, &tv, sizeof tv);
    }
    case SO_PRIORITY:
    case SO_MARK: return put_int(out, 0);
    case SO_RCVLOWAT:
    case SO_SNDLOWAT: return put_int(out, 1);
    default: return get_family_option(level, name, out);
    }
}

ErrorOr<RefPtr<vfs::Vnode>> create_socket_vnode() {
    SockFs& fs = g_sockfs.get();
    vfs::Vnode* vnode = mm::kcreate<vfs::Vnode>(fs, fs.allocate_ino(), mode_t(S_IFSOCK | 0777));
    if (!vnode) return error(ENOMEM);
    return RefPtr<vfs::Vnode>(vnode);
}

Socket* as_socket(vfs::File& file) {
    if (&file.vnode()->fs() != &g_sockfs.get()) return nullptr;
    return static_cast<Socket*>(&file);
}

void register_family(const SocketFamily& family) {
    for (int i = 0; i < g_family_count; ++i)
        if (g_families[i].family == family.family) {
            g_families[i] = family;
            return;
        }
    if (g_family_count < MAX_FAMILIES) g_families[g_family_count++] = family;
}

const SocketFamily* find_family(int family) {
    if (family == AF_UNIX) return &unix_family();
    for (int i = 0; i < g_family_count; ++i)
        if (g_families[i].family == family) return &g_families[i];
    // AF_INET/AF_INET6 (net/inet.cpp) are built in like AF_UNIX: nothing registers them at boot.
    if (family == AF_INET) return &inet_family();
    if (family == AF_INET6) return &inet6_family();
    return nullptr;
}

}  // namespace xos::net
