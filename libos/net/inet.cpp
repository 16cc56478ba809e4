// AF_INET and AF_INET6 sockets over lwIP's raw API (see net/README.md for the rules): every
// lwIP call runs under net::CoreLock; lwIP's callbacks (tcp_recv, tcp_sent, tcp_err,
// tcp_accept, tcp_connect, udp_recv) only update the socket's fields and call changed(), and
// blocking calls wait on m_wait with predicates that read those fields only, under the core
// lock (Mutex::wait: the waiter is queued before the lock is free, so a callback on another
// CPU cannot slip in between its check and its sleep). The socket's state is the core lock's:
// the socket syscalls on inet sockets run without the big lock (docs/locking.md, "Sockets").
//
// TCP: the receive queue is a list of pbufs (linked through pbuf->next, each freed on its own
// once consumed; tcp_recved reopens the window as the app reads, so lwIP's window bounds it).
// A listener's pending connections are sockets created in the accept callback (they collect
// data before accept()); lwIP's own backlog (tcp_listen_with_backlog, tcp_backlog_accepted)
// drops SYNs while the queue is full. Sends copy into lwIP's send buffer (tcp_write with
// TCP_WRITE_FLAG_COPY) and wait for tcp_sent while it is full; what they queue is transmitted as
// Linux's tcp_push does (InetSocket::push: TCP_CORK and MSG_MORE hold a partial segment for at most
// 200 ms, Nagle holds one only while an earlier partial segment is unacknowledged, and setting
// TCP_NODELAY or clearing TCP_CORK sends what was held).
// UDP: a queue of received datagrams with their sender.
#include "net/inet.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>
#include <new>

#undef BYTE_ORDER  // <endian.h>'s; lwIP's arch/cc.h defines its own
extern "C" {
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
}

#include "base/intrusive_list.h"
#include "mm/heap.h"
#include "net/stack.h"

namespace xos::net {

namespace {

using namespace vfs::poll_bits;

constexpr int RCV_SHUTDOWN = 1, SEND_SHUTDOWN = 2, SHUTDOWN_MASK = 3;
constexpr size_t SEND_CHUNK = 65536;
constexpr size_t MAX_DGRAM_QUEUE_BYTES = 212992;
constexpr uint64_t CONFIGURE_WAIT_NS = 2000000000ull;
constexpr u32_t CORK_FLUSH_MS = 200;  // Linux's ceiling on TCP_CORK (and MSG_MORE) holding data

// Linux's TCP states (include/net/tcp_states.h), for TCP_INFO.
int linux_tcp_state(enum tcp_state state) {
    switch (state) {
    case CLOSED: return 7;
    case LISTEN: return 10;
    case SYN_SENT: return 2;
    case SYN_RCVD: return 3;
    case ESTABLISHED: return 1;
    case FIN_WAIT_1: return 4;
    case FIN_WAIT_2: return 5;
    case CLOSE_WAIT: return 8;
    case CLOSING: return 11;
    case LAST_ACK: return 9;
    case TIME_WAIT: return 6;
    }
    return 7;
}

// Bytes written to the pcb and not yet transmitted (SYN and FIN count one each).
size_t unsent_bytes(const tcp_pcb* pcb) { return u32_t(pcb->snd_lbb - pcb->snd_nxt); }

// Minshall's rule, as Linux applies Nagle: a partial segment is held only while an earlier
// partial segment is unacknowledged (lwIP holds it while anything is unacknowledged, so the
// tail of a response larger than one segment waited for the peer's delayed ACK).
bool partial_segment_unacked(const tcp_pcb* pcb) {
    for (const tcp_seg* seg = pcb->unacked; seg; seg = seg->next)
        if (seg->len < pcb->mss) return true;
    return false;
}

// A new connection's retransmission timeout: 1 s (RFC 6298 2.1), not lwIP's 3 s. For an accepted
// connection the handshake has given a first RTT sample (sa): the deviation restarts from 1 s.
void start_rto(tcp_pcb* pcb) {
    constexpr s16_t INITIAL_RTO_TICKS = 1000 / TCP_SLOW_INTERVAL;
    if (pcb->state == LISTEN) return;
    pcb->sv = INITIAL_RTO_TICKS;
    pcb->rto = s16_t((pcb->sa >> 3) + pcb->sv);
}

// Before an outgoing connect or send to a non-loopback address: waits (at most 2 s) until the NIC
// has an address. No big lock: the address configuration has a lock of its own (stack.cpp,
// g_configured_lock), under which the wait checks and queues itself.
void wait_until_configured() { (void)wait_configured(sched::Deadline::after_ns(CONFIGURE_WAIT_NS)); }

// tcp_output with Nagle off for this once.
void output_now(tcp_pcb* pcb) {
    if (tcp_nagle_disabled(pcb)) {
        tcp_output(pcb);
        return;
    }
    tcp_nagle_disable(pcb);
    tcp_output(pcb);
    tcp_nagle_enable(pcb);
}

int lwip_to_errno(err_t e) {
    switch (e) {
    case ERR_OK: return 0;
    case ERR_MEM: return ENOMEM;
    case ERR_BUF: return ENOBUFS;
    case ERR_TIMEOUT: return ETIMEDOUT;
    case ERR_RTE: return ENETUNREACH;
    case ERR_INPROGRESS: return EINPROGRESS;
    case ERR_VAL: return EINVAL;
    case ERR_WOULDBLOCK: return EWOULDBLOCK;
    case ERR_USE: return EADDRINUSE;
    case ERR_ALREADY: return EALREADY;
    case ERR_ISCONN: return EISCONN;
    case ERR_CONN: return ENOTCONN;
    case ERR_IF: return ENETDOWN;
    case ERR_ABRT: return ECONNABORTED;
    case ERR_RST: return ECONNRESET;
    case ERR_CLSD: return ENOTCONN;
    case ERR_ARG: return EINVAL;
    default: return EIO;
    }
}

// A received datagram and who sent it.
struct Datagram {
    IntrusiveListNode node;
    SocketAddress from;
    size_t size = 0;
    std::byte* data() { return reinterpret_cast<std::byte*>(this + 1); }
};

class InetSocket final : public Socket {
public:
    enum class State { Unconnected, Listening, Connecting, Connected, Closed };

    InetSocket(RefPtr<vfs::Vnode> vnode, int flags, int family, int type, int protocol)
        : Socket(vnode, flags, family, type, protocol) {}
    ~InetSocket() override;

    static ErrorOr<RefPtr<InetSocket>> make(int family, int type, int protocol, int flags);

    ErrorOr<void> bind(const SocketAddress& address) override;
    ErrorOr<void> listen(int backlog) override;
    ErrorOr<RefPtr<Socket>> accept(SocketAddress& peer, int flags) override;
    ErrorOr<void> connect(const SocketAddress& address) override;
    ErrorOr<size_t> send(Message& message, int flags) override;
    ErrorOr<size_t> receive(Message& message, int flags) override;
    ErrorOr<void> shutdown(int how) override;
    ErrorOr<SocketAddress> local_address() override;
    ErrorOr<SocketAddress> peer_address() override;
    bool is_listening() const override { return m_state == State::Listening; }
    ErrorOr<void> set_family_option(int level, int name, std::span<const std::byte> value) override;
    ErrorOr<size_t> get_family_option(int level, int name, std::span<std::byte> out) override;
    ErrorOr<size_t> bytes_readable() override;
    vfs::PollMask poll_mask() override;
    // The socket's state is under the core lock: read/write need no big lock (sys/fs.cpp).
    bool io_without_big_lock() const override { return true; }

    IntrusiveListNode m_pending_node;  // in a listener's m_pending
    IntrusiveListNode m_group_node;  // in a ReusePortGroup's members

    // The socket's pcb (tcp_new / udp_new), right after creation.
    ErrorOr<void> create_pcb() {
        CoreLock lock;
        u8_t ip_type = family() == AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY;
        if (is_tcp()) {
            tcp_pcb* pcb = tcp_new_ip_type(ip_type);
            if (!pcb) return error(ENOMEM);
            attach_tcp(pcb);
        } else {
            m_udp = udp_new_ip_type(ip_type);
            if (!m_udp) return error(ENOMEM);
            udp_recv(m_udp, on_udp_receive, this);
        }
        return {};
    }

private:
    bool is_tcp() const { return type() == SOCK_STREAM; }
    bool blocks(int flags) const { return !nonblocking() && !(flags & MSG_DONTWAIT); }
    template <typename Ready>
    ErrorOr<void> wait(Ready&& ready, sched::Deadline deadline);

    ErrorOr<void> parse(const SocketAddress& address, ip_addr_t& ip, uint16_t& port) const;
    SocketAddress make_address(const ip_addr_t& ip, uint16_t port) const;
    void apply_options();  // to a new pcb (REUSEADDR, KEEPALIVE, NODELAY)
    void attach_tcp(tcp_pcb* pcb);
    void detach_tcp(bool abort);
    void release_if_time_wait(tcp_pcb* pcb);
    ErrorOr<void> join_reuseport_group();
    void leave_reuseport_group();
    void free_receive_queue();
    bool tcp_writable() const;
    enum class Push { Normal, Corked, Now };
    void push(Push how);
    static void on_cork_timer(void* arg);

    ErrorOr<size_t> send_tcp(Message& message, int flags);
    ErrorOr<size_t> receive_tcp(Message& message, int flags);
    ErrorOr<size_t> send_udp(Message& message, int flags);
    ErrorOr<size_t> receive_udp(Message& message, int flags);

    static err_t on_tcp_receive(void* arg, tcp_pcb* pcb, pbuf* p, err_t err);
    static err_t on_tcp_sent(void* arg, tcp_pcb* pcb, u16_t length);
    static void on_tcp_error(void* arg, err_t err);
    static err_t on_tcp_connected(void* arg, tcp_pcb* pcb, err_t err);
    static err_t on_tcp_accept(void* arg, tcp_pcb* pcb, err_t err);
    static void on_udp_receive(void* arg, udp_pcb* pcb, pbuf* p, const ip_addr_t* address, u16_t port);

    using Pending = IntrusiveList<InetSocket, &InetSocket::m_pending_node>;
    using Datagrams = IntrusiveList<Datagram, &Datagram::node>;

    State m_state = State::Unconnected;
    int m_shutdown = 0;
    tcp_pcb* m_tcp = nullptr;
    udp_pcb* m_udp = nullptr;
    bool m_bound = false;
    bool m_reuse_address = false, m_reuse_port = false, m_keepalive = false, m_nodelay = false, m_v6only = false;
    bool m_cork = false;  // TCP_CORK
    bool m_cork_timer = false;  // on_cork_timer is scheduled
    struct ReusePortGroup* m_group = nullptr;  // listeners sharing a port (SO_REUSEPORT)
    uint64_t m_sent_events = 0;  // tcp_sent callbacks so far (waiters compare)
    // TCP receive queue.
    pbuf* m_head = nullptr;
    pbuf* m_tail = nullptr;
    size_t m_head_offset = 0;
    size_t m_queued_bytes = 0;
    bool m_eof = false;  // the peer sent FIN
    // Listener.
    Pending m_pending;
    size_t m_pending_count = 0;
    // UDP.
    Datagrams m_datagrams;
    size_t m_datagram_bytes = 0;
    bool m_udp_connected = false;
    bool m_connect_report = false;  // a nonblocking connect's outcome not yet reported by connect()
    // Addresses kept for getsockname/getpeername after the pcb is gone.
    ip_addr_t m_local_ip{};
    uint16_t m_local_port = 0;
    ip_addr_t m_peer_ip{};
    uint16_t m_peer_port = 0;
};

// SO_REUSEPORT listeners on one address and port. lwIP allows one listening pcb per port, so
// the group shares it: one member holds it (m_tcp, and the pcb's arg), and its accept
// callback queues each new connection on the member with the fewest pending ones (the next in
// turn among equals), as Linux spreads connections over a reuseport group. When the holder
// closes, another member takes the pcb over; the last one closes it.
struct ReusePortGroup {
    IntrusiveListNode node;  // in g_reuseport_groups
    IntrusiveList<InetSocket, &InetSocket::m_group_node> members;
    size_t next = 0;
};
IntrusiveList<ReusePortGroup, &ReusePortGroup::node> g_reuseport_groups;

ErrorOr<RefPtr<InetSocket>> InetSocket::make(int family, int type, int protocol, int flags) {
    RefPtr<vfs::Vnode> vnode = TRY(create_socket_vnode());
    InetSocket* socket = mm::kcreate<InetSocket>(vnode, flags, family, type, protocol);
    if (!socket) return error(ENOMEM);
    return RefPtr<InetSocket>(socket);
}

InetSocket::~InetSocket() {
    Pending pending;
    {
        CoreLock lock;
        if (m_group) leave_reuseport_group();
        if (m_cork_timer) sys_untimeout(on_cork_timer, this);
        if (m_tcp) {
            // Linux resets a connection closed with unread data.
            // SO_LINGER with a zero timeout resets too.
            linger lg{};
            std::byte* raw = reinterpret_cast<std::byte*>(&lg);
            bool zero_linger = get_option(SOL_SOCKET, SO_LINGER, std::span<std::byte>(raw, sizeof lg)).has_value() &&
                lg.l_onoff && lg.l_linger == 0;
            detach_tcp(m_head != nullptr || zero_linger);
        }
        free_receive_queue();
        if (m_udp) {
            udp_recv(m_udp, nullptr, nullptr);
            udp_remove(m_udp);
            m_udp = nullptr;
        }
        while (InetSocket* s = m_pending.pop_front()) pending.push_back(*s);
    }
    while (Datagram* d = m_datagrams.pop_front()) mm::kfree(d);
    while (InetSocket* s = pending.pop_front()) s->unref();  // their destructors take the lock
}

void InetSocket::free_receive_queue() {
    while (m_head) {
        pbuf* next = m_head->next;
        m_head->next = nullptr;
        pbuf_free(m_head);
        m_head = next;
    }
    m_tail = nullptr;
    m_head_offset = 0;
    m_queued_bytes = 0;
}

// Under the lock: lets go of the pcb (close, or abort).
void InetSocket::detach_tcp(bool abort) {
    tcp_pcb* pcb = m_tcp;
    m_tcp = nullptr;
    tcp_arg(pcb, nullptr);
    if (pcb->state == LISTEN) {
        tcp_accept(pcb, nullptr);
        tcp_close(pcb);
        return;
    }
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
    if (abort || tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
}

// Under the lock, in a callback: once both directions are closed lwIP moves the pcb to
// TIME_WAIT and frees it 2 MSL later on its own, without telling anybody (and a new connection
// on the same four-tuple may end it sooner: tcp_timewait.cpp). The socket lets go of it then,
// so a socket kept open longer never touches a freed pcb (or one reused by a new connection).
void InetSocket::release_if_time_wait(tcp_pcb* pcb) {
    if (pcb->state != TIME_WAIT || m_tcp != pcb) return;
    m_tcp = nullptr;
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
}

void InetSocket::attach_tcp(tcp_pcb* pcb) {
    start_rto(pcb);
    m_tcp = pcb;
    tcp_arg(pcb, this);
    tcp_recv(pcb, on_tcp_receive);
    tcp_sent(pcb, on_tcp_sent);
    tcp_err(pcb, on_tcp_error);
}

void InetSocket::apply_options() {
    if (m_tcp) {
        // lwIP lets two pcbs bind one port only if both carry SOF_REUSEADDR; for SO_REUSEPORT
        // the listeners then share one pcb (ReusePortGroup): listen() decides.
        if (m_reuse_address || m_reuse_port)
            ip_set_option(m_tcp, SOF_REUSEADDR);
        else
            ip_reset_option(m_tcp, SOF_REUSEADDR);
        if (m_keepalive)
            ip_set_option(m_tcp, SOF_KEEPALIVE);
        else
            ip_reset_option(m_tcp, SOF_KEEPALIVE);
        if (m_tcp->state != LISTEN) {
            if (m_nodelay)
                tcp_nagle_disable(m_tcp);
            else
                tcp_nagle_enable(m_tcp);
        }
    }
    if (m_udp) {
        // UDP with SO_REUSEPORT: several sockets bind the port; lwIP delivers unicast datagrams
        // to the first of them (no spreading).
        if (m_reuse_address || m_reuse_port)
            ip_set_option(m_udp, SOF_REUSEADDR);
        else
            ip_reset_option(m_udp, SOF_REUSEADDR);
    }
}

// Waits until ready() (run under the core lock) holds. The callbacks change what it reads and
// wake m_wait (changed()) with the core lock held, so a wake-up is never lost between the check
// and the sleep, on any CPU.
template <typename Ready>
ErrorOr<void> InetSocket::wait(Ready&& ready, sched::Deadline deadline) {
    CoreLock lock;
    sched::Mutex& core = core_mutex();
    VERIFY_HELD(core);
    auto result = core.wait(m_wait, ready, deadline, sched::Interruptible::Yes);
    if (!result && result.error().code == ETIMEDOUT) return error(EAGAIN);
    return result;
}

ErrorOr<void> InetSocket::parse(const SocketAddress& address, ip_addr_t& ip, uint16_t& port) const {
    if (family() == AF_INET) {
        if (address.length < sizeof(sockaddr_in)) return error(EINVAL);
        if (address.storage.ss_family != AF_INET) return error(EAFNOSUPPORT);
        const auto& in = reinterpret_cast<const sockaddr_in&>(address.storage);
        ip_addr_set_ip4_u32(&ip, in.sin_addr.s_addr);
        port = ntohs(in.sin_port);
        return {};
    }
    if (address.length < sizeof(sockaddr_in6)) return error(EINVAL);
    if (address.storage.ss_family != AF_INET6) return error(EAFNOSUPPORT);
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address.storage);
    port = ntohs(in6.sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
        if (m_v6only) return error(ENETUNREACH);
        uint32_t v4;
        memcpy(&v4, in6.sin6_addr.s6_addr + 12, 4);
        ip_addr_set_ip4_u32(&ip, v4);
        return {};
    }
    if (IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr) && !m_v6only) {
        ip_addr_copy(ip, *IP_ANY_TYPE);
        return {};
    }
    memset(&ip, 0, sizeof ip);
    memcpy(ip_2_ip6(&ip)->addr, in6.sin6_addr.s6_addr, 16);
    IP_SET_TYPE(&ip, IPADDR_TYPE_V6);
    ip6_addr_clear_zone(ip_2_ip6(&ip));
    return {};
}

SocketAddress InetSocket::make_address(const ip_addr_t& ip, uint16_t port) const {
    SocketAddress address;
    if (family() == AF_INET) {
        auto& in = reinterpret_cast<sockaddr_in&>(address.storage);
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        in.sin_addr.s_addr = IP_IS_V4(&ip) ? ip4_addr_get_u32(ip_2_ip4(&ip)) : 0;
        address.length = sizeof(sockaddr_in);
        return address;
    }
    auto& in6 = reinterpret_cast<sockaddr_in6&>(address.storage);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    if (IP_IS_ANY_TYPE_VAL(ip)) {
        // :: (all zero)
    } else if (IP_IS_V4(&ip)) {
        uint32_t v4 = ip4_addr_get_u32(ip_2_ip4(&ip));
        if (v4 != 0) {
            in6.sin6_addr.s6_addr[10] = 0xff;
            in6.sin6_addr.s6_addr[11] = 0xff;
            memcpy(in6.sin6_addr.s6_addr + 12, &v4, 4);
        }
    } else {
        memcpy(in6.sin6_addr.s6_addr, ip_2_ip6(&ip)->addr, 16);
    }
    address.length = sizeof(sockaddr_in6);
    return address;
}

// ---- lwIP callbacks (core lock held; must not block) ----

err_t InetSocket::on_tcp_receive(void* arg, tcp_pcb* pcb, pbuf* p, err_t err) {
    auto* self = static_cast<InetSocket*>(arg);
    if (!self) {
        if (p) {
            tcp_recved(pcb, p->tot_len);
            pbuf_free(p);
        }
        return ERR_OK;
    }
    if (!p) {
        self->m_eof = true;
        self->release_if_time_wait(pcb);  // the peer's FIN after ours
        self->changed(READABLE | RDHUP);
        return ERR_OK;
    }
    if (err != ERR_OK) {
        pbuf_free(p);
        return ERR_OK;
    }
    size_t total = 0;
    pbuf* last = p;
    for (pbuf* q = p; q; q = q->next) {
        total += q->len;
        last = q;
    }
    if (self->m_tail)
        self->m_tail->next = p;
    else
        self->m_head = p;
    self->m_tail = last;
    self->m_queued_bytes += total;
    self->changed(READABLE);
    return ERR_OK;
}

err_t InetSocket::on_tcp_sent(void* arg, tcp_pcb* pcb, u16_t) {
    auto* self = static_cast<InetSocket*>(arg);
    if (self) {
        self->release_if_time_wait(pcb);  // our FIN acknowledged after theirs
        ++self->m_sent_events;
        self->changed(WRITABLE);
    }
    return ERR_OK;
}

void InetSocket::on_tcp_error(void* arg, err_t err) {
    auto* self = static_cast<InetSocket*>(arg);
    if (!self) return;
    self->m_tcp = nullptr;  // lwIP freed it
    if (self->m_state == State::Connecting)
        self->m_error = err == ERR_RST ? ECONNREFUSED : err == ERR_ABRT ? ETIMEDOUT : lwip_to_errno(err);
    else if (err != ERR_CLSD)  // ERR_CLSD: closed in order after shutdown(SHUT_WR) (LAST_ACK), no error
        self->m_error = err == ERR_ABRT ? ETIMEDOUT : ECONNRESET;  // ERR_ABRT: retransmissions/keepalive gave up
    self->m_state = State::Closed;
    self->m_shutdown = SHUTDOWN_MASK;
    ++self->m_sent_events;
    self->changed();
}

err_t InetSocket::on_tcp_connected(void* arg, tcp_pcb* pcb, err_t) {
    auto* self = static_cast<InetSocket*>(arg);
    if (!self) return ERR_OK;
    self->m_state = State::Connected;
    ip_addr_copy(self->m_local_ip, pcb->local_ip);
    self->m_local_port = pcb->local_port;
    ++self->m_sent_events;
    self->changed(WRITABLE);
    return ERR_OK;
}

err_t InetSocket::on_tcp_accept(void* arg, tcp_pcb* pcb, err_t err) {
    auto* self = static_cast<InetSocket*>(arg);
    if (err != ERR_OK || !pcb) return ERR_VAL;
    if (!self) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    if (ReusePortGroup* group = self->m_group) {
        // The member with the fewest pending connections; among equals, the next in turn.
        size_t count = group->members.size(), index = 0, start = group->next % count;
        InetSocket* chosen = nullptr;
        size_t chosen_turn = 0;
        group->members.for_each([&](InetSocket& member) {
            size_t turn = (index++ + count - start) % count;  // 0 for the next in turn
            if (!chosen || member.m_pending_count < chosen->m_pending_count ||
                (member.m_pending_count == chosen->m_pending_count && turn < chosen_turn)) {
                chosen = &member;
                chosen_turn = turn;
            }
        });
        group->next = (start + 1) % count;
        self = chosen;
    }
    auto made = make(self->family(), self->type(), self->protocol(), 0);
    if (!made) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    InetSocket* embryo = made->leak();  // the pending queue's reference
    embryo->m_state = State::Connected;
    embryo->m_reuse_address = self->m_reuse_address;
    embryo->m_keepalive = self->m_keepalive;
    embryo->m_nodelay = self->m_nodelay;
    embryo->m_v6only = self->m_v6only;
    embryo->m_bound = true;
    ip_addr_copy(embryo->m_local_ip, pcb->local_ip);
    embryo->m_local_port = pcb->local_port;
    ip_addr_copy(embryo->m_peer_ip, pcb->remote_ip);
    embryo->m_peer_port = pcb->remote_port;
    embryo->attach_tcp(pcb);
    embryo->apply_options();
    self->m_pending.push_back(*embryo);
    ++self->m_pending_count;
    self->changed(READABLE);
    return ERR_OK;
}

void InetSocket::on_udp_receive(void* arg, udp_pcb*, pbuf* p, const ip_addr_t* address, u16_t port) {
    auto* self = static_cast<InetSocket*>(arg);
    if (!self || !p) {
        if (p) pbuf_free(p);
        return;
    }
    size_t size = p->tot_len;
    if (self->m_datagram_bytes + size >
            (self->m_receive_buffer < MAX_DGRAM_QUEUE_BYTES ? self->m_receive_buffer : MAX_DGRAM_QUEUE_BYTES) &&
        !self->m_datagrams.empty()) {
        pbuf_free(p);  // full: dropped, as Linux drops
        return;
    }
    void* memory = mm::kmalloc(sizeof(Datagram) + size);
    if (!memory) {
        pbuf_free(p);
        return;
    }
    Datagram* d = new (memory) Datagram;
    d->size = size;
    pbuf_copy_partial(p, d->data(), u16_t(size), 0);
    pbuf_free(p);
    d->from = self->make_address(*address, port);
    self->m_datagrams.push_back(*d);
    self->m_datagram_bytes += size;
    self->changed(READABLE);
}

// ---- operations ----

ErrorOr<void> InetSocket::bind(const SocketAddress& address) {
    ip_addr_t ip;
    uint16_t port;
    TRY(parse(address, ip, port));
    CoreLock lock;
    if (m_bound) return error(EINVAL);
    if (is_tcp()) {
        if (!m_tcp || m_state != State::Unconnected) return error(EINVAL);
        err_t e = tcp_bind(m_tcp, &ip, port);
        if (e != ERR_OK) return error(e == ERR_USE ? EADDRINUSE : e == ERR_VAL ? EADDRNOTAVAIL : lwip_to_errno(e));
        ip_addr_copy(m_local_ip, m_tcp->local_ip);
        m_local_port = m_tcp->local_port;
    } else {
        err_t e = udp_bind(m_udp, &ip, port);
        if (e != ERR_OK) return error(e == ERR_USE ? EADDRINUSE : e == ERR_VAL ? EADDRNOTAVAIL : lwip_to_errno(e));
        ip_addr_copy(m_local_ip, m_udp->local_ip);
        m_local_port = m_udp->local_port;
    }
    m_bound = true;
    return {};
}

ErrorOr<void> InetSocket::listen(int backlog) {
    if (!is_tcp()) return error(EOPNOTSUPP);
    CoreLock lock;
    if (m_state == State::Listening) return {};  // Linux adjusts the backlog; keep it
    if (m_state != State::Unconnected || !m_tcp) return error(EINVAL);
    if (!m_bound) {
        err_t e = tcp_bind(m_tcp, family() == AF_INET ? IP4_ADDR_ANY : IP_ANY_TYPE, 0);
        if (e != ERR_OK) return error(lwip_to_errno(e));
        m_bound = true;
    }
    if (backlog < 0) backlog = 0;
    int lwip_backlog = backlog + 1 > 255 ? 255 : backlog + 1;
    err_t e = ERR_OK;
    tcp_pcb* listener = tcp_listen_with_backlog_and_err(m_tcp, u8_t(lwip_backlog), &e);
    if (!listener && e == ERR_USE && m_reuse_port) return join_reuseport_group();
    if (!listener) return error(e == ERR_USE ? EADDRINUSE : lwip_to_errno(e));
    m_tcp = listener;  // the old pcb is freed
    tcp_arg(listener, this);
    tcp_accept(listener, on_tcp_accept);
    ip_addr_copy(m_local_ip, listener->local_ip);
    m_local_port = listener->local_port;
    m_state = State::Listening;
    if (m_reuse_port) {
        if (auto* group = mm::kcreate<ReusePortGroup>()) {  // without memory: a lone listener
            group->members.push_back(*this);
            g_reuseport_groups.push_back(*group);
            m_group = group;
        }
    }
    changed();
    return {};
}

// Under the lock, from listen(): another listener holds the port. Joins its group if it is
// a SO_REUSEPORT group on the same address; EADDRINUSE otherwise (as Linux).
ErrorOr<void> InetSocket::join_reuseport_group() {
    ip_addr_t ip;
    ip_addr_copy(ip, m_tcp->local_ip);
    uint16_t port = m_tcp->local_port;
    ReusePortGroup* found = nullptr;
    g_reuseport_groups.for_each([&](ReusePortGroup& group) {
        InetSocket* holder = group.members.front();
        if (!found && holder && holder->family() == family() && holder->m_local_port == port &&
            ip_addr_cmp(&holder->m_local_ip, &ip))
            found = &group;
    });
    if (found) {
        detach_tcp(false);  // the bound pcb: the group's listener serves this socket
        found->members.push_back(*this);
        m_group = found;
        ip_addr_copy(m_local_ip, ip);
        m_local_port = port;
        m_state = State::Listening;
        changed();
        return {};
    }
    return error(EADDRINUSE);
}

// Under the lock: this listener stops taking connections from its group. If it holds the
// group's pcb, another member takes it over; the last member keeps it (and closes it).
void InetSocket::leave_reuseport_group() {
    ReusePortGroup* group = m_group;
    m_group = nullptr;
    group->members.remove(*this);
    InetSocket* heir = group->members.front();
    if (!heir) {
        g_reuseport_groups.remove(*group);
        mm::kdestroy(group);
        return;
    }
    if (m_tcp) {
        heir->m_tcp = m_tcp;
        tcp_arg(m_tcp, heir);
        m_tcp = nullptr;
    }
}

ErrorOr<RefPtr<Socket>> InetSocket::accept(SocketAddress& peer, int flags) {
    if (!is_tcp()) return error(EOPNOTSUPP);
    for (;;) {
        {
            CoreLock lock;
            if (m_state != State::Listening) return error(EINVAL);
            if (InetSocket* embryo = m_pending.pop_front()) {
                --m_pending_count;
                RefPtr<Socket> accepted(embryo);
                embryo->unref();  // the queue's reference now lives in `accepted`
                if (embryo->m_tcp) tcp_backlog_accepted(embryo->m_tcp);
                embryo->set_status_flags(flags & O_NONBLOCK);
                peer = embryo->make_address(embryo->m_peer_ip, embryo->m_peer_port);
                return accepted;
            }
        }
        if (nonblocking()) return error(EAGAIN);
        TRY(wait([&] { return !m_pending.empty() || m_state != State::Listening; }, receive_deadline()));
    }
}

ErrorOr<void> InetSocket::connect(const SocketAddress& address) {
    if (!is_tcp()) {
        if (address.length >= sizeof(sa_family_t) && address.storage.ss_family == AF_UNSPEC) {
            CoreLock lock;
            udp_disconnect(m_udp);
            m_udp_connected = false;
            return {};
        }
        ip_addr_t ip;
        uint16_t port;
        TRY(parse(address, ip, port));
        if (!(IP_IS_V4(&ip) && ip4_addr_isloopback(ip_2_ip4(&ip)))) wait_until_configured();
        CoreLock lock;
        err_t e = udp_connect(m_udp, &ip, port);
        if (e != ERR_OK) return error(lwip_to_errno(e));
        m_udp_connected = true;
        m_bound = true;
        ip_addr_copy(m_local_ip, m_udp->local_ip);
        m_local_port = m_udp->local_port;
        ip_addr_copy(m_peer_ip, ip);
        m_peer_port = port;
        return {};
    }
    ip_addr_t ip;
    uint16_t port;
    TRY(parse(address, ip, port));
    {
        CoreLock lock;
        if (m_state == State::Listening) return error(EISCONN);
        if (m_connect_report) {
            // A nonblocking connect's outcome, once (Linux: 0 or the error, then EISCONN).
            if (m_state == State::Connected) {
                m_connect_report = false;
                return {};
            }
            if (m_state == State::Closed) {
                m_connect_report = false;
                if (int e = take_error()) return error(e);
            }
        }
        if (m_state == State::Connected) return error(EISCONN);
        if (m_state == State::Connecting) return error(EALREADY);
    }
    bool loopback = IP_IS_V4(&ip) ? ip4_addr_isloopback(ip_2_ip4(&ip)) || ip4_addr_isany_val(*ip_2_ip4(&ip))
                                  : ip6_addr_isloopback(ip_2_ip6(&ip));
    if (!loopback) wait_until_configured();
    {
        CoreLock lock;
        if (m_state == State::Closed || !m_tcp) {
            // A failed connection: start over with a new pcb (Linux allows connecting again).
            if (m_tcp) detach_tcp(true);
            tcp_pcb* pcb = tcp_new_ip_type(family() == AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY);
            if (!pcb) return error(ENOMEM);
            attach_tcp(pcb);
            apply_options();
            m_bound = false;
            m_state = State::Unconnected;
            m_shutdown = 0;
            m_eof = false;
        }
        if (IP_IS_V4(&ip) && ip4_addr_isany_val(*ip_2_ip4(&ip))) ip_addr_set_ip4_u32(&ip, PP_HTONL(INADDR_LOOPBACK));
        err_t e = tcp_connect(m_tcp, &ip, port, on_tcp_connected);
        if (e != ERR_OK) return error(e == ERR_RTE ? ENETUNREACH : e == ERR_USE ? EADDRNOTAVAIL : lwip_to_errno(e));
        m_state = State::Connecting;
        m_bound = true;
        ip_addr_copy(m_peer_ip, ip);
        m_peer_port = port;
        ip_addr_copy(m_local_ip, m_tcp->local_ip);
        m_local_port = m_tcp->local_port;
        m_error = 0;
    }
    if (nonblocking()) {
        CoreLock lock;
        m_connect_report = true;
        return error(EINPROGRESS);
    }
    auto waited = wait([&] { return m_state != State::Connecting; }, send_deadline());
    if (!waited) return error(waited.error().code == EAGAIN ? EINPROGRESS : waited.error().code);
    CoreLock lock;
    if (m_state != State::Connected) {
        int e = take_error();
        return error(e ? e : ECONNREFUSED);
    }
    return {};
}

bool InetSocket::tcp_writable() const {
    return m_tcp && tcp_sndbuf(m_tcp) > 0 && tcp_sndqueuelen(m_tcp) < TCP_SND_QUEUELEN;
}

// Under the lock: transmits what the socket's writes queued, as Linux's tcp_push.
// - Corked (TCP_CORK, or a send with MSG_MORE): less than a full segment waits, at most
//   CORK_FLUSH_MS (then on_cork_timer sends it); a full segment or more goes now.
// - Normal: with TCP_NODELAY everything goes; without, Nagle as Linux applies it (Minshall's
//   rule, partial_segment_unacked), not lwIP's stricter one.
// - Now: everything goes, whatever Nagle says (setting TCP_NODELAY; clearing TCP_CORK with it set).
void InetSocket::push(Push how) {
    if (!m_tcp || m_state != State::Connected) return;
    if (how == Push::Corked) {
        if (unsent_bytes(m_tcp) < m_tcp->mss) {
            if (!m_cork_timer) {
                m_cork_timer = true;
                sys_timeout(CORK_FLUSH_MS, on_cork_timer, this);
            }
            return;
        }
        how = Push::Normal;
    }
    if (how == Push::Now || m_nodelay || !partial_segment_unacked(m_tcp))
        output_now(m_tcp);
    else
        tcp_output(m_tcp);
}

// The tcpip thread, core lock held: corked data has waited CORK_FLUSH_MS.
void InetSocket::on_cork_timer(void* arg) {
    auto* self = static_cast<InetSocket*>(arg);
    self->m_cork_timer = false;
    if (self->m_tcp && unsent_bytes(self->m_tcp) > 0) self->push(Push::Normal);
}

ErrorOr<size_t> InetSocket::send(Message& message, int flags) {
    if (flags & MSG_OOB) return error(EOPNOTSUPP);
    return is_tcp() ? send_tcp(message, flags) : send_udp(message, flags);
}

ErrorOr<size_t> InetSocket::receive(Message& message, int flags) {
    if (flags & MSG_OOB) return error(is_tcp() ? EINVAL : EOPNOTSUPP);
    if (message.from) message.from->length = 0;
    return is_tcp() ? receive_tcp(message, flags) : receive_udp(message, flags);
}

ErrorOr<size_t> InetSocket::send_tcp(Message& message, int flags) {
    if (message.to && m_state != State::Connected) return error(m_state == State::Unconnected ? EPIPE : ENOTCONN);
    IoCursor& data = *message.data;
    size_t done = 0;
    std::byte* scratch = nullptr;
    auto finish = [&](ErrorOr<size_t> result) -> ErrorOr<size_t> {
        if (scratch) mm::kfree(scratch);
        if (done) return done;
        return result;
    };
    for (;;) {
        uint64_t seen;
        {
            CoreLock lock;
            if (m_error) {
                if (done) return finish(done);
                int e = take_error();
                return finish(error(e));
            }
            if (m_state == State::Listening || m_state == State::Unconnected) return finish(error(ENOTCONN));
            if (m_state == State::Closed || (m_shutdown & SEND_SHUTDOWN) || !m_tcp) {
                if (done) return finish(done);
                if (scratch) mm::kfree(scratch);
                return broken_pipe(flags);
            }
            if (data.remaining() == 0) return finish(size_t(0));
            if (m_state == State::Connected) {
                bool wrote = false;
                while (data.remaining() > 0 && tcp_writable()) {
                    size_t n = data.remaining();
                    size_t room = tcp_sndbuf(m_tcp);
                    if (n > room) n = room;
                    if (n > SEND_CHUNK) n = SEND_CHUNK;
                    if (n > 0xffff) n = 0xffff;
                    if (!scratch) {
                        scratch = static_cast<std::byte*>(mm::kmalloc(SEND_CHUNK));
                        if (!scratch) return finish(error(ENOBUFS));
                    }
                    IoCursor probe = data;  // copy only what lwIP accepts
                    probe.gather(scratch, n);
                    if (probe.faulted()) return finish(error(EFAULT));  // the buffer went away
                    u8_t write_flags = TCP_WRITE_FLAG_COPY;
                    if ((flags & MSG_MORE) || data.remaining() > n) write_flags |= TCP_WRITE_FLAG_MORE;
                    err_t e = tcp_write(m_tcp, scratch, u16_t(n), write_flags);
                    if (e == ERR_MEM) break;
                    if (e != ERR_OK) {
                        tcp_output(m_tcp);
                        return finish(error(lwip_to_errno(e)));
                    }
                    data = probe;
                    done += n;
                    wrote = true;
                }
                if (wrote) push((m_cork || (flags & MSG_MORE)) ? Push::Corked : Push::Normal);
                if (data.remaining() == 0) return finish(done);
            }
            seen = m_sent_events;
        }
        if (!blocks(flags)) return finish(error(EAGAIN));
        auto waited = wait([&] { return m_sent_events != seen || m_error || !m_tcp || m_state == State::Closed; },
                           send_deadline());
        if (!waited) return finish(std::unexpected(waited.error()));
    }
}

ErrorOr<size_t> InetSocket::receive_tcp(Message& message, int flags) {
    IoCursor& data = *message.data;
    bool peek = flags & MSG_PEEK;
    size_t target = (flags & MSG_WAITALL) && !peek ? data.remaining() : 1;
    size_t copied = 0;
    for (;;) {
        {
            CoreLock lock;
            if (m_state == State::Listening) return error(ENOTCONN);
            if (data.remaining() == 0) return copied;
            // Copy out what is queued.
            size_t offset = m_head_offset;
            size_t consumed = 0;
            for (pbuf* q = m_head; q && data.remaining() > 0; q = q->next) {
                size_t available = q->len - offset;
                size_t n = data.scatter(static_cast<const std::byte*>(q->payload) + offset, available);
                consumed += n;
                offset = 0;
                if (n < available) break;
            }
            if (!peek && consumed) {
                size_t left = consumed;
                while (left > 0) {
                    size_t available = m_head->len - m_head_offset;
                    if (left < available) {
                        m_head_offset += left;
                        left = 0;
                        break;
                    }
                    left -= available;
                    pbuf* next = m_head->next;
                    m_head->next = nullptr;
                    pbuf_free(m_head);
                    m_head = next;
                    m_head_offset = 0;
                }
                if (!m_head) m_tail = nullptr;
                m_queued_bytes -= consumed;
                if (m_tcp) {
                    size_t window = consumed;
                    while (window > 0) {
                        u16_t n = u16_t(window > 0xffff ? 0xffff : window);
                        tcp_recved(m_tcp, n);
                        window -= n;
                    }
                }
            }
            copied += consumed;
            if (peek && copied) return copied;
            if (copied >= target || data.remaining() == 0) return copied;
            if (m_error) {
                if (copied) return copied;
                return error(take_error());
            }
            if (m_eof || (m_shutdown & RCV_SHUTDOWN) || m_state == State::Closed) return copied;
            if (m_state == State::Unconnected) return error(ENOTCONN);
        }
        if (!blocks(flags)) {
            if (copied) return copied;
            return error(EAGAIN);
        }
        auto waited = wait(
            [&] {
                return m_queued_bytes > 0 || m_error || m_eof || (m_shutdown & RCV_SHUTDOWN) ||
                    m_state == State::Closed;
            },
            receive_deadline());
        if (!waited) {
            if (copied) return copied;
            return std::unexpected(waited.error());
        }
    }
}

ErrorOr<size_t> InetSocket::send_udp(Message& message, int flags) {
    ip_addr_t ip;
    uint16_t port = 0;
    if (message.to) {
        TRY(parse(*message.to, ip, port));
        if (port == 0) return error(EINVAL);
    } else if (!m_udp_connected) {
        return error(EDESTADDRREQ);
    }
    if (m_shutdown & SEND_SHUTDOWN) return broken_pipe(flags);
    size_t size = message.data->remaining();
    if (size > 65507) return error(EMSGSIZE);
    bool loopback = message.to ? (IP_IS_V4(&ip) && ip4_addr_isloopback(ip_2_ip4(&ip))) : true;
    if (message.to && !loopback) wait_until_configured();
    CoreLock lock;
    pbuf* p = pbuf_alloc(PBUF_TRANSPORT, u16_t(size), PBUF_RAM);
    if (!p) return error(ENOBUFS);
    message.data->gather(static_cast<std::byte*>(p->payload), size);
    if (message.data->faulted()) {  // the buffer went away while we waited
        pbuf_free(p);
        return error(EFAULT);
    }
    err_t e = message.to ? udp_sendto(m_udp, p, &ip, port) : udp_send(m_udp, p);
    pbuf_free(p);
    if (!m_bound && m_udp->local_port) {
        m_bound = true;
        ip_addr_copy(m_local_ip, m_udp->local_ip);
        m_local_port = m_udp->local_port;
    }
    if (e != ERR_OK) return error(e == ERR_RTE ? ENETUNREACH : lwip_to_errno(e));
    return size;
}

ErrorOr<size_t> InetSocket::receive_udp(Message& message, int flags) {
    for (;;) {
        {
            CoreLock lock;
            if (Datagram* d = m_datagrams.front()) {
                size_t n = message.data->scatter(d->data(), d->size);
                if (n < d->size) message.flags_out |= MSG_TRUNC;
                if (message.from) *message.from = d->from;
                size_t size = d->size;
                if (!(flags & MSG_PEEK)) {
                    Datagrams::remove(*d);
                    m_datagram_bytes -= size;
                    mm::kfree(d);
                }
                return (flags & MSG_TRUNC) ? size : n;
            }
            if (m_error) return error(take_error());
            if (m_shutdown & RCV_SHUTDOWN) return 0;
        }
        if (!blocks(flags)) return error(EAGAIN);
        TRY(wait([&] { return !m_datagrams.empty() || m_error || (m_shutdown & RCV_SHUTDOWN); }, receive_deadline()));
    }
}

ErrorOr<void> InetSocket::shutdown(int how) {
    if (how < SHUT_RD || how > SHUT_RDWR) return error(EINVAL);
    int mode = how + 1;
    CoreLock lock;
    if (is_tcp()) {
        if (m_state == State::Listening) {
            // Linux: shutting a listener down stops it (accept fails with EINVAL).
            if (mode & RCV_SHUTDOWN) {
                if (m_group) leave_reuseport_group();
                if (m_tcp) detach_tcp(false);
                m_state = State::Closed;
                changed();
            }
            return {};
        }
        if (m_state != State::Connected && m_state != State::Connecting) return error(ENOTCONN);
        if ((mode & SEND_SHUTDOWN) && !(m_shutdown & SEND_SHUTDOWN) && m_tcp) {
            err_t e = tcp_shutdown(m_tcp, 0, 1);
            if (e != ERR_OK) return error(lwip_to_errno(e));
        }
    } else if (!m_udp_connected) {
        return error(ENOTCONN);
    }
    m_shutdown |= mode;
    changed();
    return {};
}

ErrorOr<SocketAddress> InetSocket::local_address() {
    CoreLock lock;
    if (m_tcp) {
        ip_addr_copy(m_local_ip, m_tcp->local_ip);
        m_local_port = m_tcp->local_port;
    } else if (m_udp) {
        ip_addr_copy(m_local_ip, m_udp->local_ip);
        m_local_port = m_udp->local_port;
    }
    return make_address(m_local_ip, m_local_port);
}

ErrorOr<SocketAddress> InetSocket::peer_address() {
    CoreLock lock;
    if (is_tcp() ? m_state != State::Connected && !(m_state == State::Closed && m_peer_port) : !m_udp_connected)
        return error(ENOTCONN);
    return make_address(m_peer_ip, m_peer_port);
}

ErrorOr<void> InetSocket::set_family_option(int level, int name, std::span<const std::byte> value) {
    CoreLock lock;  // the options are read by callbacks (on_tcp_accept) and sends
    int v = 0;
    if (value.size() >= sizeof(int))
        memcpy(&v, value.data(), sizeof v);
    else if (!(level == SOL_SOCKET && (name == SO_BINDTODEVICE)))
        return error(EINVAL);
    if (level == SOL_SOCKET) {
        switch (name) {
        case SO_REUSEADDR: m_reuse_address = v != 0; break;
        case SO_KEEPALIVE: m_keepalive = v != 0; break;
        case SO_REUSEPORT: m_reuse_port = v != 0; break;
        case SO_BROADCAST:
        case SO_OOBINLINE:
        case SO_DONTROUTE:
        case SO_TIMESTAMP:
        case SO_NO_CHECK:
        case SO_PASSCRED: return {};
        default: return Socket::set_family_option(level, name, value);
        }
        apply_options();
        return {};
    }
    if (level == IPPROTO_TCP) {
        if (!is_tcp()) return error(EOPNOTSUPP);
        switch (name) {
        case TCP_NODELAY: {
            m_nodelay = v != 0;
            apply_options();
            if (m_nodelay) push(Push::Now);  // Linux sends what Nagle or TCP_CORK held
            return {};
        }
        case TCP_CORK: {
            bool was_corked = m_cork;
            m_cork = v != 0;
            if (was_corked && !m_cork) push(m_nodelay ? Push::Now : Push::Normal);  // Linux sends what it held
            return {};
        }
        case TCP_KEEPIDLE:
        case TCP_KEEPINTVL:
        case TCP_KEEPCNT:
            if (v < 1) return error(EINVAL);
            return {};
        case TCP_QUICKACK:
        case TCP_DEFER_ACCEPT:
        case TCP_USER_TIMEOUT:
        case TCP_MAXSEG:
        case TCP_FASTOPEN: return {};
        default: return error(ENOPROTOOPT);
        }
    }
    if (level == IPPROTO_IP) {
        switch (name) {
        case IP_TOS:
        case IP_TTL:
        case IP_RECVERR:
        case IP_MTU_DISCOVER:
        case IP_FREEBIND:
        case IP_PKTINFO:
        case IP_MULTICAST_LOOP:
        case IP_MULTICAST_TTL: return {};
        default: return error(ENOPROTOOPT);
        }
    }
    if (level == IPPROTO_IPV6) {
        if (family() != AF_INET6) return error(ENOPROTOOPT);
        switch (name) {
        case IPV6_V6ONLY:
            if (m_bound) return error(EINVAL);
            m_v6only = v != 0;
            return {};
        case IPV6_TCLASS:
        case IPV6_UNICAST_HOPS:
        case IPV6_RECVERR:
        case IPV6_MTU_DISCOVER:
        case IPV6_RECVPKTINFO: return {};
        default: return error(ENOPROTOOPT);
        }
    }
    return error(ENOPROTOOPT);
}

ErrorOr<size_t> InetSocket::get_family_option(int level, int name, std::span<std::byte> out) {
    CoreLock lock;
    auto put_int = [&](int value) -> size_t {
        size_t n = out.size() < sizeof value ? out.size() : sizeof value;
        memcpy(out.data(), &value, n);
        return n;
    };
    if (level == IPPROTO_TCP) {
        if (!is_tcp()) return error(EOPNOTSUPP);
        switch (name) {
        case TCP_NODELAY: return put_int(m_nodelay);
        case TCP_CORK: return put_int(m_cork);
        case TCP_INFO: {
            tcp_info info{};
            if (tcp_pcb* pcb = m_tcp) {
                info.tcpi_state = uint8_t(linux_tcp_state(pcb->state));
                if (pcb->state != LISTEN) {
                    constexpr uint32_t TICK_US = TCP_SLOW_INTERVAL * 1000;
                    info.tcpi_retransmits = pcb->nrtx;
                    info.tcpi_rto = uint32_t(pcb->rto) * TICK_US;
                    info.tcpi_snd_mss = info.tcpi_rcv_mss = info.tcpi_advmss = pcb->mss;
                    for (const tcp_seg* seg = pcb->unacked; seg; seg = seg->next) ++info.tcpi_unacked;
                    info.tcpi_rtt = uint32_t(pcb->sa >> 3) * TICK_US;
                    info.tcpi_rttvar = uint32_t(pcb->sv >> 2) * TICK_US;
                    info.tcpi_snd_ssthresh = pcb->mss ? uint32_t(pcb->ssthresh / pcb->mss) : 0;
                    info.tcpi_snd_cwnd = pcb->mss ? uint32_t(pcb->cwnd / pcb->mss) : 0;
                    info.tcpi_notsent_bytes = uint32_t(unsent_bytes(pcb));
                }
            } else {
                info.tcpi_state = uint8_t(linux_tcp_state(CLOSED));
            }
            size_t n = out.size() < sizeof info ? out.size() : sizeof info;
            memcpy(out.data(), &info, n);
            return n;
        }
        case TCP_MAXSEG: return put_int(TCP_MSS);
        case TCP_KEEPIDLE: return put_int(7200);
        case TCP_KEEPINTVL: return put_int(75);
        case TCP_KEEPCNT: return put_int(9);
        default: return error(ENOPROTOOPT);
        }
    }
    if (level == IPPROTO_IP) {
        switch (name) {
        case IP_TOS: return put_int(0);
        case IP_TTL: return put_int(64);
        default: return error(ENOPROTOOPT);
        }
    }
    if (level == IPPROTO_IPV6) {
        if (family() != AF_INET6) return error(ENOPROTOOPT);
        if (name == IPV6_V6ONLY) return put_int(m_v6only);
        return error(ENOPROTOOPT);
    }
    return Socket::get_family_option(level, name, out);
}

ErrorOr<size_t> InetSocket::bytes_readable() {
    CoreLock lock;
    if (m_state == State::Listening) return error(EINVAL);
    if (is_tcp()) return m_queued_bytes;
    return m_datagrams.empty() ? 0 : m_datagrams.front()->size;
}

// As Linux's tcp_poll / udp_poll (datagram_poll).
// Under the core lock: m_tcp may be freed by lwIP (on_tcp_error) or replaced (connect) on another
// CPU. Called without spinlocks (poll/select scans, epoll's collect and control operations).
vfs::PollMask InetSocket::poll_mask() {
    CoreLock lock;
    vfs::PollMask mask = 0;
    if (!is_tcp()) {
        if (m_error) mask |= ERR;
        if (!m_datagrams.empty()) mask |= READABLE;
        if (m_shutdown & RCV_SHUTDOWN) mask |= RDHUP | READABLE;
        if (m_shutdown == SHUTDOWN_MASK) mask |= HUP;
        return mask | WRITABLE | WRBAND;
    }
    if (m_state == State::Listening) return m_pending.empty() ? 0 : READABLE;
    int shutdown = m_shutdown | (m_eof ? RCV_SHUTDOWN : 0);
    if (shutdown == SHUTDOWN_MASK || m_state == State::Unconnected || m_state == State::Closed) mask |= HUP;
    if (shutdown & RCV_SHUTDOWN) mask |= READABLE | RDHUP;
    if (m_state != State::Connecting) {
        if (m_queued_bytes > 0) mask |= READABLE;
        if (!(shutdown & SEND_SHUTDOWN) && m_state == State::Connected) {
            if (tcp_writable()) mask |= WRITABLE | WRBAND;
        } else {
            mask |= WRITABLE | WRBAND;
        }
    }
    if (m_error) mask |= ERR;
    return mask;
}

template <int Family>
ErrorOr<RefPtr<Socket>> create(int type, int protocol, int flags) {
    if (type != SOCK_STREAM && type != SOCK_DGRAM) return error(ESOCKTNOSUPPORT);
    if (type == SOCK_STREAM && protocol != 0 && protocol != IPPROTO_TCP) return error(EPROTONOSUPPORT);
    if (type == SOCK_DGRAM && protocol != 0 && protocol != IPPROTO_UDP) return error(EPROTONOSUPPORT);
    TRY(ensure_started());
    RefPtr<InetSocket> socket = TRY(InetSocket::make(Family, type,
                                                     protocol                  ? protocol
                                                         : type == SOCK_STREAM ? IPPROTO_TCP
                                                                               : IPPROTO_UDP,
                                                     flags));
    TRY(socket->create_pcb());
    return RefPtr<Socket>(socket);
}

constexpr SocketFamily INET_FAMILY{AF_INET, create<AF_INET>, nullptr};
constexpr SocketFamily INET6_FAMILY{AF_INET6, create<AF_INET6>, nullptr};

}  // namespace

const SocketFamily& inet_family() { return INET_FAMILY; }
const SocketFamily& inet6_family() { return INET6_FAMILY; }

}  // namespace xos::net
