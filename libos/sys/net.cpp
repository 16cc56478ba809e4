// Socket syscalls: socket, socketpair, bind, listen, accept/accept4, connect, the send and
// receive family, shutdown, getsockopt/setsockopt, getsockname/getpeername. Each decodes its
// arguments and calls the net::Socket the descriptor names (net/socket.h).
#include <sys/socket.h>
#include <sys/uio.h>

#include <climits>
#include <cstring>

#include "net/socket.h"
#include "sys/file_helpers.h"
#include "sys/handlers.h"
#include "vfs/process.h"

namespace xos::sys {

namespace {

constexpr int TYPE_FLAGS = SOCK_NONBLOCK | SOCK_CLOEXEC;

struct HeldSocket {
    RefPtr<vfs::File> file;
    net::Socket* socket;
    net::Socket* operator->() const { return socket; }
};

ErrorOr<HeldSocket> socket_for(int fd) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    net::Socket* socket = net::as_socket(*file);
    if (!socket) return error(ENOTSOCK);
    return HeldSocket{file, socket};
}

ErrorOr<net::SocketAddress> read_address(UserPtr<const void> address, socklen_t length) {
    if (int(length) < 0 || length > sizeof(sockaddr_storage)) return error(EINVAL);
    net::SocketAddress result;
    TRY(copy_from_user(&result.storage, address, length));
    result.length = length;
    return result;
}

// Writes an address back as Linux does: truncated to the caller's buffer, the full length in
// *length_pointer.
ErrorOr<void> write_address(const net::SocketAddress& address, UserPtr<void> out, UserPtr<socklen_t> length_pointer) {
    if (out.is_null() || length_pointer.is_null()) return {};
    int room = int(TRY(read_user(UserPtr<const socklen_t>(length_pointer.address()))));
    if (room < 0) return error(EINVAL);
    size_t n = size_t(room) < address.length ? size_t(room) : address.length;
    if (n) TRY(copy_to_user(out, &address.storage, n));
    return write_user(length_pointer, address.length);
}

ErrorOr<long> install(RefPtr<vfs::File> file, bool cloexec) {
    return long(TRY(vfs::process().fds.allocate(static_cast<RefPtr<vfs::File>&&>(file), cloexec)));
}

// Validates the buffers of one send or receive: readable for sends, writable for receives.
enum class Direction { Send, Receive };
ErrorOr<void> check_buffers(const iovec* iov, size_t count, Direction direction) {
    for (size_t i = 0; i < count; ++i) {
        if (!iov[i].iov_len) continue;
        uintptr_t base = uintptr_t(iov[i].iov_base);
        bool ok = direction == Direction::Send ? user_range_ok(base, iov[i].iov_len)
                                               : user_range_writable(base, iov[i].iov_len);
        if (!ok) return error(EFAULT);
    }
    return {};
}

ErrorOr<long> send_common(int fd, const iovec* iov, size_t count, int flags, const net::SocketAddress* to) {
    HeldSocket socket = TRY(socket_for(fd));
    TRY(check_buffers(iov, count, Direction::Send));
    net::IoCursor cursor(iov, count);
    if (cursor.remaining() > size_t(INT_MAX)) return error(EINVAL);
    net::Message message{&cursor, to};
    long n = long(TRY(socket->send(message, flags)));
    if (n == 0 && cursor.faulted()) return error(EFAULT);
    return n;
}

ErrorOr<long> receive_common(int fd, const iovec* iov, size_t count, int& flags, net::SocketAddress* from) {
    HeldSocket socket = TRY(socket_for(fd));
    TRY(check_buffers(iov, count, Direction::Receive));
    net::IoCursor cursor(iov, count);
    net::Message message{&cursor, nullptr, from};
    long n = long(TRY(socket->receive(message, flags)));
    if (n == 0 && cursor.faulted()) return error(EFAULT);
    flags = message.flags_out;
    return n;
}

}  // namespace

// Implements socket(2).
ErrorOr<long> sys_socket(int family, int type, int protocol) {
    if (type & ~(TYPE_FLAGS | 0xf)) return error(EINVAL);
    const net::SocketFamily* ops = net::find_family(family);
    if (!ops) return error(EAFNOSUPPORT);
    RefPtr<net::Socket> socket = TRY(ops->create(type & 0xf, protocol, type & SOCK_NONBLOCK));
    return install(socket, type & SOCK_CLOEXEC);
}

// Implements socketpair(2).
ErrorOr<long> sys_socketpair(int family, int type, int protocol, UserPtr<int> fds) {
    if (type & ~(TYPE_FLAGS | 0xf)) return error(EINVAL);
    const net::SocketFamily* ops = net::find_family(family);
    if (!ops) return error(EAFNOSUPPORT);
    if (!ops->create_pair) return error(EOPNOTSUPP);
    if (!user_range_writable(fds.address(), 2 * sizeof(int))) return error(EFAULT);
    RefPtr<net::Socket> first, second;
    TRY(ops->create_pair(type & 0xf, protocol, type & SOCK_NONBLOCK, first, second));
    vfs::FdTable& table = vfs::process().fds;
    int a = TRY(table.allocate(first, type & SOCK_CLOEXEC));
    auto b = table.allocate(second, type & SOCK_CLOEXEC);
    if (!b) {
        (void)table.close(a);
        return std::unexpected(b.error());
    }
    int pair[2] = {a, *b};
    TRY(copy_to_user(UserPtr<void>(fds.address()), pair, sizeof pair));
    return 0;
}

// Implements bind(2).
ErrorOr<long> sys_bind(int fd, UserPtr<const void> address, socklen_t length) {
    HeldSocket socket = TRY(socket_for(fd));
    net::SocketAddress parsed = TRY(read_address(address, length));
    TRY(socket->bind(parsed));
    return 0;
}

// Implements listen(2).
ErrorOr<long> sys_listen(int fd, int backlog) {
    HeldSocket socket = TRY(socket_for(fd));
    TRY(socket->listen(backlog));
    return 0;
}

// Implements accept4(2).
ErrorOr<long> sys_accept4(int fd, UserPtr<void> address, UserPtr<socklen_t> length, int flags) {
    if (flags & ~TYPE_FLAGS) return error(EINVAL);
    HeldSocket socket = TRY(socket_for(fd));
    if (!length.is_null()) {
        int room = int(TRY(read_user(UserPtr<const socklen_t>(length.address()))));
        if (room < 0) return error(EINVAL);
    }
    net::SocketAddress peer;
    RefPtr<net::Socket> accepted = TRY(socket->accept(peer, flags & SOCK_NONBLOCK));
    TRY(write_address(peer, address, length));
    return install(accepted, flags & SOCK_CLOEXEC);
}

// Implements accept(2).
ErrorOr<long> sys_accept(int fd, UserPtr<void> address, UserPtr<socklen_t> length) {
    return sys_accept4(fd, address, length, 0);
}

// Implements connect(2).
ErrorOr<long> sys_connect(int fd, UserPtr<const void> address, socklen_t length) {
    HeldSocket socket = TRY(socket_for(fd));
    net::SocketAddress parsed = TRY(read_address(address, length));
    TRY(socket->connect(parsed));
    return 0;
}

// Implements shutdown(2).
ErrorOr<long> sys_shutdown(int fd, int how) {
    HeldSocket socket = TRY(socket_for(fd));
    TRY(socket->shutdown(how));
    return 0;
}

// Implements sendto(2) (and send(2), which musl turns into sendto).
ErrorOr<long> sys_sendto(int fd, UserPtr<const void> buffer, size_t size, int flags, UserPtr<const void> address,
                         socklen_t length) {
    iovec v{const_cast<void*>(buffer.unchecked()), size};
    if (address.is_null()) return send_common(fd, &v, 1, flags, nullptr);
    net::SocketAddress to = TRY(read_address(address, length));
    return send_common(fd, &v, 1, flags, &to);
}

// Implements recvfrom(2) (and recv(2)).
ErrorOr<long> sys_recvfrom(int fd, UserPtr<void> buffer, size_t size, int flags, UserPtr<void> address,
                           UserPtr<socklen_t> length) {
    iovec v{buffer.unchecked(), size};
    net::SocketAddress from;
    long n = TRY(receive_common(fd, &v, 1, flags, address.is_null() ? nullptr : &from));
    if (!address.is_null()) TRY(write_address(from, address, length));
    return n;
}

// Implements sendmsg(2). Ancillary data (SCM_RIGHTS, SCM_CREDENTIALS) is not supported.
ErrorOr<long> sys_sendmsg(int fd, UserPtr<const msghdr> message_pointer, int flags) {
    msghdr message = TRY(read_user(message_pointer));
    IovecArray iov;
    TRY(iov.copy_in(UserPtr<const iovec>(uintptr_t(message.msg_iov)), int(message.msg_iovlen)));
    if (message.msg_controllen) return error(EOPNOTSUPP);
    if (!message.msg_name) return send_common(fd, iov.data(), iov.size(), flags, nullptr);
    net::SocketAddress to = TRY(read_address(UserPtr<const void>(uintptr_t(message.msg_name)), message.msg_namelen));
    return send_common(fd, iov.data(), iov.size(), flags, &to);
}

// Implements recvmsg(2).
ErrorOr<long> sys_recvmsg(int fd, UserPtr<msghdr> message_pointer, int flags) {
    msghdr message = TRY(read_user(UserPtr<const msghdr>(message_pointer.address())));
    IovecArray iov;
    TRY(iov.copy_in(UserPtr<const iovec>(uintptr_t(message.msg_iov)), int(message.msg_iovlen)));
    net::SocketAddress from;
    int flags_out = flags;
    long n = TRY(receive_common(fd, iov.data(), iov.size(), flags_out, message.msg_name ? &from : nullptr));
    if (message.msg_name) {
        socklen_t length = from.length;
        size_t copy = message.msg_namelen < length ? message.msg_namelen : length;
        if (copy) TRY(copy_to_user(UserPtr<void>(uintptr_t(message.msg_name)), &from.storage, copy));
        message.msg_namelen = length;
    }
    // glibc's msghdr has a size_t msg_controllen where musl's has socklen_t and padding:
    // clear all 8 bytes, as the kernel writes its size_t.
    message.msg_controllen = 0;
    message.__pad2 = 0;
    message.msg_flags = flags_out;
    TRY(write_user(message_pointer, message));
    return n;
}

// Implements setsockopt(2).
ErrorOr<long> sys_setsockopt(int fd, int level, int name, UserPtr<const void> value, socklen_t length) {
    HeldSocket socket = TRY(socket_for(fd));
    if (int(length) < 0) return error(EINVAL);
    std::byte buffer[64];
    size_t n = length < sizeof buffer ? length : sizeof buffer;
    TRY(copy_from_user(buffer, value, n));
    TRY(socket->set_option(level, name, {buffer, n}));
    return 0;
}

// Implements getsockopt(2).
ErrorOr<long> sys_getsockopt(int fd, int level, int name, UserPtr<void> value, UserPtr<socklen_t> length) {
    HeldSocket socket = TRY(socket_for(fd));
    int room = int(TRY(read_user(UserPtr<const socklen_t>(length.address()))));
    if (room < 0) return error(EINVAL);
    std::byte buffer[256];  // the largest option: TCP_INFO (struct tcp_info, 232 bytes)
    size_t n = size_t(room) < sizeof buffer ? size_t(room) : sizeof buffer;
    size_t written = TRY(socket->get_option(level, name, {buffer, n}));
    TRY(copy_to_user(value, buffer, written));
    TRY(write_user(length, socklen_t(written)));
    return 0;
}

// Implements getsockname(2).
ErrorOr<long> sys_getsockname(int fd, UserPtr<void> address, UserPtr<socklen_t> length) {
    HeldSocket socket = TRY(socket_for(fd));
    net::SocketAddress local = TRY(socket->local_address());
    if (length.is_null()) return error(EFAULT);
    TRY(write_address(local, address, length));
    return 0;
}

// Implements getpeername(2).
ErrorOr<long> sys_getpeername(int fd, UserPtr<void> address, UserPtr<socklen_t> length) {
    HeldSocket socket = TRY(socket_for(fd));
    net::SocketAddress peer = TRY(socket->peer_address());
    if (length.is_null()) return error(EFAULT);
    TRY(write_address(peer, address, length));
    return 0;
}

}  // namespace xos::sys
