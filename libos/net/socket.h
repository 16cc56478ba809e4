// Sockets as open files. Socket is the File every address family subclasses (net/unix.cpp for
// AF_UNIX; AF_INET/AF_INET6 over lwIP register the same way): the syscalls in sys/net.cpp decode
// arguments and call these virtuals. Generic SOL_SOCKET options, read/write and fstat live here.
//
// Data moves between validated application buffers (IoCursor over iovecs the syscall layer has
// checked, copying with the fault-safe user copy) and the family's queues; blocking follows the file's O_NONBLOCK or MSG_DONTWAIT,
// with SO_RCVTIMEO/SO_SNDTIMEO as deadlines (EAGAIN when they pass).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "base/ref_ptr.h"
#include "sched/wait_queue.h"
#include "vfs/file.h"
#include "vfs/poll.h"

namespace xos::net {

// A socket address as the app passed it or will receive it.
struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
};

// Walks validated application buffers (an iovec array) during one send or receive.
class IoCursor {
public:
    IoCursor(const iovec* iov, size_t count);
    size_t remaining() const { return m_remaining; }
    // Copies from the app's buffers into `to` / from `from` into the app's buffers; advances.
    // The buffers were checked, but a thread can block after the check while another unmaps
    // them: a fault stops the copy, sets faulted() and leaves nothing remaining (gather zeroes
    // what it could not copy; a sender discards it and fails with EFAULT).
    size_t gather(std::byte* to, size_t size);
    size_t scatter(const std::byte* from, size_t size);
    bool faulted() const { return m_faulted; }

private:
    const iovec* m_iov;
    size_t m_count;
    size_t m_index = 0, m_offset = 0, m_remaining = 0;
    bool m_faulted = false;
};

// Ancillary data a message carries (AF_UNIX: SCM_RIGHTS and SCM_CREDENTIALS). Owns its file
// references: a send moves them into the receiver's queue, a receive out of it; whatever is
// dropped (a socket closed with them unread, a receive without room for them) closes them.
class Ancillary {
public:
    static constexpr uint32_t MAX_FILES = 253;  // SCM_MAX_FD
    struct Files {
        uint32_t count = 0;
        Files* next = nullptr;  // a chain of files to close later (release_files)
        RefPtr<vfs::File> list[MAX_FILES];
    };

    Ancillary() = default;
    Ancillary(const Ancillary&) = delete;
    Ancillary& operator=(const Ancillary&) = delete;
    ~Ancillary() { clear_files(); }

    // Adds a file (EINVAL beyond MAX_FILES, ENOMEM).
    ErrorOr<void> add_file(RefPtr<vfs::File> file);
    // Takes `other`'s files (this one must have none).
    void take_files(Ancillary& other) {
        clear_files();
        m_files = other.m_files;
        other.m_files = nullptr;
    }
    void clear_files();
    // Takes the files out, for free_files() later: AF_UNIX closes passed files only once its
    // lock is let go (the last reference to a socket ends it, which takes that lock).
    Files* release_files() {
        Files* files = m_files;
        m_files = nullptr;
        return files;
    }
    static void free_files(Files* files);
    uint32_t file_count() const { return m_files ? m_files->count : 0; }
    RefPtr<vfs::File>* files() { return m_files ? m_files->list : nullptr; }

    // SCM_CREDENTIALS: the sender's (or what it passed, once checked).
    bool has_credentials = false;
    ucred credentials{};

private:
    Files* m_files = nullptr;
};

struct Message {
    IoCursor* data;
    const SocketAddress* to = nullptr;  // sendto/sendmsg destination
    SocketAddress* from = nullptr;  // recvfrom/recvmsg: filled in (length 0: none)
    int flags_out = 0;  // MSG_TRUNC...
    // sendmsg: what to attach (moved out by a family that passes it); receive: what came (the
    // caller installs or drops it). Null: none, and a receive drops what came.
    Ancillary* ancillary = nullptr;
};

class Socket : public vfs::File {
public:
    Socket(RefPtr<vfs::Vnode> vnode, int flags, int family, int type, int protocol);

    int family() const { return m_family; }
    int type() const { return m_type; }
    int protocol() const { return m_protocol; }

    virtual ErrorOr<void> bind(const SocketAddress& address) = 0;
    virtual ErrorOr<void> listen(int backlog) = 0;
    // accept4: the new socket, its peer's address in `peer`. `flags` are SOCK_NONBLOCK.
    virtual ErrorOr<RefPtr<Socket>> accept(SocketAddress& peer, int flags) = 0;
    virtual ErrorOr<void> connect(const SocketAddress& address) = 0;
    virtual ErrorOr<size_t> send(Message& message, int flags) = 0;
    virtual ErrorOr<size_t> receive(Message& message, int flags) = 0;
    virtual ErrorOr<void> shutdown(int how) = 0;
    virtual ErrorOr<SocketAddress> local_address() = 0;
    virtual ErrorOr<SocketAddress> peer_address() = 0;
    virtual bool is_listening() const = 0;
    // Family-level options (levels other than SOL_SOCKET, and SOL_SOCKET names the base does not
    // know). Defaults: EOPNOTSUPP for other levels, ENOPROTOOPT for unknown SOL_SOCKET names.
    virtual ErrorOr<void> set_family_option(int level, int name, std::span<const std::byte> value);
    virtual ErrorOr<size_t> get_family_option(int level, int name, std::span<std::byte> out);
    // A buffer size was set (SO_SNDBUF/SO_RCVBUF): families may resize their queues.
    virtual void buffer_sizes_changed() {}

    ErrorOr<void> set_option(int level, int name, std::span<const std::byte> value);
    // A boolean SOL_SOCKET option (SO_PASSCRED...) as set by setsockopt.
    bool bool_option(int name) const { return m_bool_options & (1u << name); }
    ErrorOr<size_t> get_option(int level, int name, std::span<std::byte> out);

    // read/write are recv/send without flags.
    ErrorOr<size_t> read(std::span<std::byte> buffer, std::optional<uint64_t> offset) override;
    ErrorOr<size_t> write(std::span<const std::byte> data, std::optional<uint64_t> offset) override;
    ErrorOr<uint64_t> seek(int64_t, int) override { return error(ESPIPE); }
    bool is_stream() const override { return true; }
    ErrorOr<KString> anonymous_name() override;
    vfs::PollWaiters* poll_waiters() override { return &m_poll; }

    // Pending error (SO_ERROR), taken by getsockopt. One exchange: inet sockets set m_error under
    // the core lock, while getsockopt takes it without that lock, on any CPU.
    int take_error() { return __atomic_exchange_n(&m_error, 0, __ATOMIC_RELAXED); }

protected:
    // Wakes blocked threads and pollers (the `key` bits may have appeared).
    void changed(vfs::PollMask key = 0) {
        sched::wake_all(m_wait);
        m_poll.notify(key);
    }
    // How long a blocking receive / send may wait (SO_RCVTIMEO / SO_SNDTIMEO).
    sched::Deadline receive_deadline() const;
    sched::Deadline send_deadline() const;
    // Raises SIGPIPE for an EPIPE unless MSG_NOSIGNAL, as Linux's socket sends do.
    static ErrorOr<size_t> broken_pipe(int flags);

    sched::WaitQueue m_wait;
    vfs::PollWaiters m_poll;
    int m_error = 0;
    uint32_t m_send_buffer = 212992;  // SO_SNDBUF (Linux's wmem_default)
    uint32_t m_receive_buffer = 212992;  // SO_RCVBUF

private:
    int m_family, m_type, m_protocol;
    uint32_t m_bool_options = 0;  // SO_REUSEADDR... as bits (1 << optname)
    linger m_linger{};
    uint64_t m_receive_timeout_ns = 0, m_send_timeout_ns = 0;  // 0: none
};

// The vnode (in a "sockfs") behind every socket: fstat shows S_IFSOCK.
ErrorOr<RefPtr<vfs::Vnode>> create_socket_vnode();
// The socket behind an open file, or nullptr.
Socket* as_socket(vfs::File& file);

// An address family: socket(2) and socketpair(2) for it. INET registers at boot.
struct SocketFamily {
    int family;
    ErrorOr<RefPtr<Socket>> (*create)(int type, int protocol, int flags);
    // Null: EOPNOTSUPP (as AF_INET does).
    ErrorOr<void> (*create_pair)(int type, int protocol, int flags, RefPtr<Socket>& first, RefPtr<Socket>& second);
};
void register_family(const SocketFamily& family);
const SocketFamily* find_family(int family);

}  // namespace xos::net
