// Socket syscalls: socket, socketpair, bind, listen, accept/accept4, connect, the send and
// receive family, shutdown, getsockopt/setsockopt, getsockname/getpeername. Each decodes its
// arguments and calls the net::Socket the descriptor names (net/socket.h).
//
// Dispatched without the big lock (sys/lock_free_syscalls.h): a socket whose state has locks of
// its own (inet sockets: lwIP's core lock; AF_UNIX: its family lock;
// File::io_without_big_lock()) runs without it; others would take it here for the whole call
// (HeldSocket's big_lock), as sys/fs.cpp does for files. socket and socketpair take it for
// the families other than AF_UNIX.
#include <sys/socket.h>
#include <sys/uio.h>

#include <climits>
#include <cstring>
#include <optional>

#include "mm/heap.h"
#include "net/socket.h"
#include "sched/process.h"
#include "sys/file_helpers.h"
#include "sys/handlers.h"
#include "vfs/process.h"
#include "vfs/vnode.h"

namespace xos::sys {

namespace {

constexpr int TYPE_FLAGS = SOCK_NONBLOCK | SOCK_CLOEXEC;

// The socket behind a descriptor, held for the call, with the big lock held as long as this is
// alive if the socket's family needs it.
struct HeldSocket {
    RefPtr<vfs::File> file;
    net::Socket* socket = nullptr;
    std::optional<sched::BigLockScope> big_lock;
    net::Socket* operator->() const { return socket; }
};

ErrorOr<void> socket_for(int fd, HeldSocket& held) {
    RefPtr<vfs::File> file = TRY(file_for(fd));
    net::Socket* socket = net::as_socket(*file);
    if (!socket) return error(ENOTSOCK);
    if (!socket->io_without_big_lock()) held.big_lock.emplace();
    held.file = static_cast<RefPtr<vfs::File>&&>(file);
    held.socket = socket;
    return {};
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

// The kernel's struct cmsghdr (musl's splits the size_t cmsg_len into two ints).
struct ControlHeader {
    uint64_t length;
    int level;
    int type;
};
constexpr size_t CONTROL_ALIGN = sizeof(uint64_t);
constexpr size_t align_control(size_t n) { return (n + CONTROL_ALIGN - 1) & ~(CONTROL_ALIGN - 1); }
constexpr size_t CONTROL_HEADER = align_control(sizeof(ControlHeader));
constexpr size_t CONTROL_MAX = 20480;  // net.core.optmem_max: more is ENOBUFS

// msghdr's size_t fields, which musl declares as an int or socklen_t and padding.
size_t control_length(const msghdr& message) { return message.msg_controllen | (uint64_t(message.__pad2) << 32); }

// The caller's process and real ids: what SCM_CREDENTIALS carries unless the sender passes its own.
ucred own_credentials() {
    sched::Process& process = sched::current_process();
    return ucred{process.pid, process.credentials.uid, process.credentials.gid};
}

// Linux's scm_check_creds and the pid lookup of __scm_send: a caller with an effective uid of 0
// may claim anything (CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID); others their own pid and ids.
ErrorOr<void> check_credentials(const ucred& claimed) {
    if (claimed.uid == uid_t(-1) || claimed.gid == gid_t(-1)) return error(EINVAL);
    sched::Process& process = sched::current_process();
    const sched::Credentials& own = process.credentials;
    bool privileged = own.euid == 0;
    if (!privileged && claimed.pid != process.pid) return error(EPERM);
    if (!privileged && claimed.uid != own.uid && claimed.uid != own.euid && claimed.uid != own.suid)
        return error(EPERM);
    if (!privileged && claimed.gid != own.gid && claimed.gid != own.egid && claimed.gid != own.sgid)
        return error(EPERM);
    sched::BigLockScope big_lock;  // the process table (sendmsg runs without the big lock)
    sched::Process* target = sched::find_process(claimed.pid);
    if (!target || target->state == sched::ProcessState::Reaped) return error(ESRCH);
    return {};
}

// Parses sendmsg's control buffer as Linux's __scm_send does: SCM_RIGHTS (the descriptors'
// open files, at most SCM_MAX_FD in all), SCM_CREDENTIALS; other SOL_SOCKET types and malformed
// headers are EINVAL, other levels are skipped.
ErrorOr<void> parse_control(const msghdr& message, net::Ancillary& out) {
    size_t length = control_length(message);
    if (length > size_t(INT_MAX)) return error(ENOBUFS);
    if (length > CONTROL_MAX) return error(ENOBUFS);
    out.has_credentials = true;
    out.credentials = own_credentials();
    if (length < sizeof(ControlHeader)) return {};
    std::byte* buffer = static_cast<std::byte*>(mm::kmalloc(length));
    if (!buffer) return error(ENOBUFS);
    struct Free {
        std::byte* p;
        ~Free() { mm::kfree(p); }
    } free_buffer{buffer};
    TRY(copy_from_user(buffer, UserPtr<const void>(uintptr_t(message.msg_control)), length));
    for (size_t offset = 0; offset + sizeof(ControlHeader) <= length;) {
        ControlHeader header;
        memcpy(&header, buffer + offset, sizeof header);
        if (header.length < sizeof(ControlHeader) || header.length > length - offset) return error(EINVAL);
        const std::byte* data = buffer + offset + CONTROL_HEADER;
        size_t data_length = header.length - CONTROL_HEADER;
        if (header.level == SOL_SOCKET) {
            switch (header.type) {
            case SCM_RIGHTS: {
                size_t count = data_length / sizeof(int);
                if (out.file_count() + count > net::Ancillary::MAX_FILES) return error(EINVAL);
                for (size_t i = 0; i < count; ++i) {
                    int fd;
                    memcpy(&fd, data + i * sizeof fd, sizeof fd);
                    TRY(out.add_file(TRY(file_for(fd, true))));
                }
                break;
            }
            case SCM_CREDENTIALS: {
                if (header.length != CONTROL_HEADER + sizeof(ucred)) return error(EINVAL);
                ucred claimed;
                memcpy(&claimed, data, sizeof claimed);
                TRY(check_credentials(claimed));
                out.credentials = claimed;
                break;
            }
            default: return error(EINVAL);
            }
        }
        offset += align_control(size_t(header.length));
    }
    return {};
}

// Writes one control message into recvmsg's buffer as Linux's put_cmsg: a header that does not
// fit sets MSG_CTRUNC and writes nothing; data that does not fit is cut (MSG_CTRUNC).
struct ControlWriter {
    uintptr_t next;
    size_t room;
    size_t used = 0;
    int flags = 0;

    ErrorOr<void> put(int type, const void* data, size_t size) {
        if (room < sizeof(ControlHeader)) {
            flags |= MSG_CTRUNC;
            return {};
        }
        size_t full = CONTROL_HEADER + size;
        size_t length = full;
        if (room < full) {
            flags |= MSG_CTRUNC;
            length = room;
        }
        ControlHeader header{full, SOL_SOCKET, type};
        TRY(copy_to_user(UserPtr<void>(next), &header, sizeof header));
        if (length > CONTROL_HEADER)
            TRY(copy_to_user(UserPtr<void>(next + CONTROL_HEADER), data, length - CONTROL_HEADER));
        size_t step = align_control(full) < room ? align_control(full) : room;
        next += step;
        room -= step;
        used += step;
        return {};
    }
};

// Delivers what a receive brought: SCM_CREDENTIALS, then the passed files installed as new
// descriptors (O_CLOEXEC with MSG_CMSG_CLOEXEC) as far as the buffer has room, as Linux's
// scm_recv and scm_detach_fds; files without room are closed (MSG_CTRUNC).
ErrorOr<void> deliver_control(msghdr& message, net::Ancillary& received, int flags, int& flags_out) {
    bool anything = received.has_credentials || received.file_count();
    size_t room = control_length(message);
    if (!message.msg_control || !anything) {
        if (anything && !message.msg_control) flags_out |= MSG_CTRUNC;
        message.msg_controllen = 0;
        message.__pad2 = 0;
        return {};
    }
    if (!user_range_writable(uintptr_t(message.msg_control), room)) return error(EFAULT);
    ControlWriter writer{uintptr_t(message.msg_control), room};
    if (received.has_credentials) TRY(writer.put(SCM_CREDENTIALS, &received.credentials, sizeof(ucred)));
    if (uint32_t count = received.file_count()) {
        size_t fit = writer.room > CONTROL_HEADER ? (writer.room - CONTROL_HEADER) / sizeof(int) : 0;
        if (fit > count) fit = count;
        int fds[net::Ancillary::MAX_FILES];
        size_t installed = 0;
        vfs::FdTable& table = vfs::process().fds;
        for (; installed < fit; ++installed) {
            auto fd = table.allocate(received.files()[installed], flags & MSG_CMSG_CLOEXEC);
            if (!fd) break;
            fds[installed] = *fd;
        }
        if (installed < count) writer.flags |= MSG_CTRUNC;
        if (installed) TRY(writer.put(SCM_RIGHTS, fds, installed * sizeof(int)));
        received.clear_files();  // the rest are closed
    }
    flags_out |= writer.flags;
    message.msg_controllen = socklen_t(writer.used);
    message.__pad2 = socklen_t(uint64_t(writer.used) >> 32);
    return {};
}

ErrorOr<long> send_common(int fd, const iovec* iov, size_t count, int flags, const net::SocketAddress* to,
                          net::Ancillary* ancillary = nullptr) {
    HeldSocket socket;
    TRY(socket_for(fd, socket));
    TRY(check_buffers(iov, count, Direction::Send));
    net::IoCursor cursor(iov, count);
    if (cursor.remaining() > size_t(INT_MAX)) return error(EINVAL);
    net::Message message{&cursor, to};
    message.ancillary = ancillary;
    long n = long(TRY(socket->send(message, flags)));
    if (n == 0 && cursor.faulted()) return error(EFAULT);
    return n;
}

ErrorOr<long> receive_common(int fd, const iovec* iov, size_t count, int& flags, net::SocketAddress* from,
                             net::Ancillary* ancillary = nullptr) {
    HeldSocket socket;
    TRY(socket_for(fd, socket));
    TRY(check_buffers(iov, count, Direction::Receive));
    net::IoCursor cursor(iov, count);
    net::Message message{&cursor, nullptr, from};
    message.ancillary = ancillary;
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
    RefPtr<net::Socket> socket;
    {
        // Dispatched without the big lock: AF_UNIX makes its socket without it; the others'
        // creation (lwIP's pcbs) keeps it.
        vfs::BigLockUnlessSafe big_lock(family == AF_UNIX);
        socket = TRY(ops->create(type & 0xf, protocol, type & SOCK_NONBLOCK));
    }
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
    {
        vfs::BigLockUnlessSafe big_lock(family == AF_UNIX);  // as socket(2)
        TRY(ops->create_pair(type & 0xf, protocol, type & SOCK_NONBLOCK, first, second));
    }
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
    HeldSocket socket;
    TRY(socket_for(fd, socket));
    net::SocketAddress parsed = TRY(read_address(address, length));
    TRY(socket->bind(parsed));
    return 0;
}

// Implements listen(2).
ErrorOr<long> sys_listen(int fd, int backlog) {
    HeldSocket socket;
    TRY(socket_for(fd, socket));
    TRY(socket->listen(backlog));
    return 0;
}

// Implements accept4(2).
ErrorOr<long> sys_accept4(int fd, UserPtr<void> address, UserPtr<socklen_t> length, int flags) {
    if (flags & ~TYPE_FLAGS) return error(EINVAL);
    HeldSocket socket;
    TRY(socket_for(fd, socket));
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
    HeldSocket socket;
    TRY(socket_for(fd, socket));
    net::SocketAddress parsed = TRY(read_address(address, length));
    TRY(socket->connect(parsed));
    return 0;
}

// Implements shutdown(2).
ErrorOr<long> sys_shutdown(int fd, int how) {
    HeldSocket socket;
    TRY(socket_for(fd, socket));
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

// Implements sendmsg(2). Ancillary data: SCM_RIGHTS and SCM_CREDENTIALS on AF_UNIX sockets;
// other families refuse any (EOPNOTSUPP).
ErrorOr<long> sys_sendmsg(int fd, UserPtr<const msghdr> message_pointer, int flags) {
    msghdr message = TRY(read_user(message_pointer));
    IovecArray iov;
    TRY(iov.copy_in(UserPtr<const iovec>(uintptr_t(message.msg_iov)), int(message.msg_iovlen)));
    net::Ancillary* ancillary = nullptr;
    struct Owner {
        net::Ancillary* p = nullptr;
        ~Owner() {
            if (p) mm::kdestroy(p);
        }
    } owner;
    {
        HeldSocket socket;
        TRY(socket_for(fd, socket));
        if (socket->family() == AF_UNIX) {
            ancillary = owner.p = mm::kcreate<net::Ancillary>();
            if (!ancillary) return error(ENOBUFS);
            TRY(parse_control(message, *ancillary));
        } else if (control_length(message)) {
            return error(EOPNOTSUPP);
        }
    }
    if (!message.msg_name) return send_common(fd, iov.data(), iov.size(), flags, nullptr, ancillary);
    net::SocketAddress to = TRY(read_address(UserPtr<const void>(uintptr_t(message.msg_name)), message.msg_namelen));
    return send_common(fd, iov.data(), iov.size(), flags, &to, ancillary);
}

// Implements recvmsg(2).
ErrorOr<long> sys_recvmsg(int fd, UserPtr<msghdr> message_pointer, int flags) {
    msghdr message = TRY(read_user(UserPtr<const msghdr>(message_pointer.address())));
    IovecArray iov;
    TRY(iov.copy_in(UserPtr<const iovec>(uintptr_t(message.msg_iov)), int(message.msg_iovlen)));
    net::SocketAddress from;
    int flags_out = flags;
    net::Ancillary received;
    long n = TRY(receive_common(fd, iov.data(), iov.size(), flags_out, message.msg_name ? &from : nullptr, &received));
    if (message.msg_name) {
        socklen_t length = from.length;
        size_t copy = message.msg_namelen < length ? message.msg_namelen : length;
        if (copy) TRY(copy_to_user(UserPtr<void>(uintptr_t(message.msg_name)), &from.storage, copy));
        message.msg_namelen = length;
    }
    // glibc's msghdr has a size_t msg_controllen where musl's has socklen_t and padding: all 8
    // bytes are written, as the kernel writes its size_t.
    TRY(deliver_control(message, received, flags, flags_out));
    message.msg_flags = flags_out;
    TRY(write_user(message_pointer, message));
    return n;
}

// Implements setsockopt(2).
ErrorOr<long> sys_setsockopt(int fd, int level, int name, UserPtr<const void> value, socklen_t length) {
    HeldSocket socket;
    TRY(socket_for(fd, socket));
    if (int(length) < 0) return error(EINVAL);
    std::byte buffer[64];
    size_t n = length < sizeof buffer ? length : sizeof buffer;
    TRY(copy_from_user(buffer, value, n));
    TRY(socket->set_option(level, name, {buffer, n}));
    return 0;
}

// Implements getsockopt(2).
ErrorOr<long> sys_getsockopt(int fd, int level, int name, UserPtr<void> value, UserPtr<socklen_t> length) {
    HeldSocket socket;
    TRY(socket_for(fd, socket));
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
    HeldSocket socket;
    TRY(socket_for(fd, socket));
    net::SocketAddress local = TRY(socket->local_address());
    if (length.is_null()) return error(EFAULT);
    TRY(write_address(local, address, length));
    return 0;
}

// Implements getpeername(2).
ErrorOr<long> sys_getpeername(int fd, UserPtr<void> address, UserPtr<socklen_t> length) {
    HeldSocket socket;
    TRY(socket_for(fd, socket));
    net::SocketAddress peer = TRY(socket->peer_address());
    if (length.is_null()) return error(EFAULT);
    TRY(write_address(peer, address, length));
    return 0;
}

}  // namespace xos::sys
