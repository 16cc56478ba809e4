// AF_UNIX sockets, with Linux's semantics (net/af_unix.c) for what apps observe: a stream
// connection is complete as soon as connect() returns (the listener's accept queue holds the
// server end), a closed peer hangs the survivor up (EOF, EPIPE, POLLHUP|POLLRDHUP; ECONNRESET
// if the closer left unread data), datagrams keep their boundaries and their sender's name.
// SOCK_SEQPACKET is a connection as a stream is (listen, connect, accept, socketpair, hang-up)
// whose sends are records, received one at a time as datagrams are (MSG_TRUNC cuts one).
//
// Queues are lists of segments on the kernel heap (one per write or datagram), so an idle
// connection costs no buffer memory. Flow control: a stream sender may have SO_SNDBUF bytes
// unread at its peer; a datagram receiver takes at most 10 queued datagrams from senders it is
// not connected to (net.unix.max_dgram_qlen) and SO_SNDBUF bytes of the sender.
//
// Descriptors in flight (SCM_RIGHTS) can form cycles no descriptor reaches: a socket queued in
// its own receive queue, or sockets queued in each other's. Like Linux's unix_gc, a socket
// released, or a send with descriptors, while AF_UNIX sockets are in flight runs a collection
// ("Garbage collection" below).
//
// Locking (docs/locking.md "AF_UNIX sockets"): one sched::Mutex, g_unix_lock, guards the state
// of every AF_UNIX socket (queues, peers, connection state, shutdown bits, backlogs, names, the
// credentials, the in-flight counts and the collection), not the big lock. One lock for the
// family, not one per socket or per pair: a send touches two sockets (its own state and the
// peer's queue), a connect three (the client, the listener, the new server end), the collection
// any number, and a peer pointer may be cut by the peer's end on another CPU; under one lock
// none of that needs an order between sockets. Blocking calls are condition waits on it
// (Mutex::wait on the socket's m_wait); changed() wakes with it held. Nothing under it drops
// the last reference of a file or socket (that end takes the lock again): passed files and
// sockets to let go are put in a Graveyard, released once the lock is.
#include "net/unix.h"

#include <sys/stat.h>
#include <sys/un.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <optional>

#include "base/intrusive_list.h"
#include "base/thread_safety.h"
#include "mm/heap.h"
#include "sched/mutex.h"
#include "sched/process.h"
#include "sys/file_helpers.h"
#include "vfs/mount.h"
#include "vfs/path_walk.h"
#include "vfs/process.h"

namespace xos::net {

namespace {

using namespace vfs::poll_bits;

constexpr int RCV_SHUTDOWN = 1, SEND_SHUTDOWN = 2, SHUTDOWN_MASK = 3;
constexpr socklen_t NAME_OFFSET = offsetof(sockaddr_un, sun_path);
constexpr size_t MAX_DGRAM_QUEUE = 10;
constexpr int MAX_BACKLOG = 4096;  // net.core.somaxconn
constexpr size_t SEGMENT_MAX = 65536;

// The family's lock (above).
sched::Mutex g_unix_lock;

struct Segment {
    IntrusiveListNode node;
    size_t size = 0;
    size_t consumed = 0;
    SocketAddress from;  // datagrams: the sender's name (length 0: unnamed)
    // The sender's credentials (always) and passed files (SCM_RIGHTS: a stream's first segment
    // of the send). The files are references held in flight: freeing the segment closes them.
    Ancillary ancillary;
    std::byte* data() { return reinterpret_cast<std::byte*>(this + 1); }
};

// Counters of /proc/xos/unix: changed under g_unix_lock (sockets: atomically, a socket is made
// without it), read without it.
UnixStats g_unix_stats;

class UnixSocket;
class Graveyard;

void note_in_flight(Ancillary& ancillary) REQUIRES(g_unix_lock);
void forget_in_flight(Ancillary& ancillary) REQUIRES(g_unix_lock);
void collect_garbage() EXCLUDES(g_unix_lock);

// A segment without passed files (nothing in it may end a socket): freed under the lock.
void free_segment(Segment* segment) {
    VERIFY(segment->ancillary.file_count() == 0);
    segment->~Segment();
    mm::kfree(segment);
}

// The caller's process and effective ids, as SO_PEERCRED reports them.
ucred peer_credentials_now() {
    sched::Process& process = sched::current_process();
    return ucred{process.pid, __atomic_load_n(&process.credentials.euid, __ATOMIC_RELAXED),
                 __atomic_load_n(&process.credentials.egid, __ATOMIC_RELAXED)};
}

bool same_credentials(const ucred& a, const ucred& b) { return a.pid == b.pid && a.uid == b.uid && a.gid == b.gid; }

// Fills a segment's ancillary data from a send: the credentials on every segment, the files
// (moved) on the first one only.
void attach(Segment& segment, Ancillary* from, bool first) REQUIRES(g_unix_lock) {
    if (!from) return;
    segment.ancillary.has_credentials = from->has_credentials;
    segment.ancillary.credentials = from->credentials;
    if (first) {
        segment.ancillary.take_files(*from);
        note_in_flight(segment.ancillary);
    }
}

// What a receive takes of a segment's ancillary data: its files (moved, or for a peek new
// references to the same open files, as Linux's scm_fp_dup) and, when the receiver asked for
// them (SO_PASSCRED), the sender's credentials.
void deliver(Segment& segment, Ancillary* to, bool peek, bool pass_credentials) REQUIRES(g_unix_lock) {
    if (!to) return;
    if (pass_credentials && segment.ancillary.has_credentials) {
        to->has_credentials = true;
        to->credentials = segment.ancillary.credentials;
    }
    if (!segment.ancillary.file_count()) return;
    if (!peek) {
        forget_in_flight(segment.ancillary);
        to->take_files(segment.ancillary);
        return;
    }
    to->clear_files();  // none: a receive stops after a segment with files
    for (uint32_t i = 0; i < segment.ancillary.file_count(); ++i)
        if (!to->add_file(segment.ancillary.files()[i])) break;  // no memory: fewer files
}

Segment* new_segment(size_t size) {
    void* memory = mm::kmalloc(sizeof(Segment) + size);
    if (!memory) return nullptr;
    Segment* segment = new (memory) Segment;
    segment->size = size;
    return segment;
}

SocketAddress unnamed() {
    SocketAddress address;
    address.storage.ss_family = AF_UNIX;
    address.length = NAME_OFFSET;
    return address;
}

// A parsed AF_UNIX address: a path, an abstract name, or nothing (autobind).
struct UnixName {
    enum Kind { None, Path, Abstract } kind;
    std::string_view name;
};

// A path name as the path walk takes it: a NUL-terminated copy (sun_path need not end in one).
struct PathText {
    explicit PathText(const UnixName& name) : text(bytes, name.name.size()) {
        memcpy(bytes, name.name.data(), name.name.size());
        bytes[name.name.size()] = '\0';
    }
    PathText(const PathText&) = delete;
    PathText& operator=(const PathText&) = delete;
    char bytes[sizeof(sockaddr_un::sun_path) + 1];
    std::string_view text;
};

ErrorOr<UnixName> parse(const SocketAddress& address) {
    if (address.length < NAME_OFFSET || address.length > sizeof(sockaddr_un)) return error(EINVAL);
    if (address.storage.ss_family != AF_UNIX) return error(EINVAL);
    const auto& un = reinterpret_cast<const sockaddr_un&>(address.storage);
    size_t size = address.length - NAME_OFFSET;
    if (size == 0) return UnixName{UnixName::None, {}};
    if (un.sun_path[0] == '\0') return UnixName{UnixName::Abstract, {un.sun_path + 1, size - 1}};
    return UnixName{UnixName::Path, {un.sun_path, strnlen(un.sun_path, size)}};
}

class UnixSocket final : public Socket {
public:
    enum class State { Unconnected, Listening, Connected };

    UnixSocket(RefPtr<vfs::Vnode> vnode, int flags, int type) : Socket(vnode, flags, AF_UNIX, type, 0) {
        __atomic_fetch_add(&g_unix_stats.sockets, 1, __ATOMIC_RELAXED);
    }
    ~UnixSocket() override;

    ErrorOr<void> bind(const SocketAddress& address) override;
    ErrorOr<void> listen(int backlog) override;
    ErrorOr<RefPtr<Socket>> accept(SocketAddress& peer, int flags) override;
    ErrorOr<void> connect(const SocketAddress& address) override;
    ErrorOr<size_t> send(Message& message, int flags) override;
    ErrorOr<size_t> receive(Message& message, int flags) override;
    ErrorOr<void> shutdown(int how) override;
    ErrorOr<SocketAddress> local_address() override;
    ErrorOr<SocketAddress> peer_address() override;
    bool is_listening() const override;
    ErrorOr<size_t> get_family_option(int level, int name, std::span<std::byte> out) override;
    ErrorOr<size_t> bytes_readable() override;
    vfs::PollMask poll_mask() override;
    // Every path takes g_unix_lock (or the big lock where it reaches the VFS: bind and connect
    // by path, SIGPIPE, a description's end).
    bool io_without_big_lock() const override { return true; }

    static ErrorOr<RefPtr<UnixSocket>> make(int type, int flags);
    static void pair(UnixSocket& a, UnixSocket& b) REQUIRES(g_unix_lock);

    IntrusiveListNode m_peer_node;  // in m_peer->m_peered_by
    IntrusiveListNode m_pending_node;  // in a listener's m_pending, or in a Graveyard
    IntrusiveListNode m_bound_node;  // in the list of named sockets

    // Garbage collection. References to this socket held by queued messages (SCM_RIGHTS in any
    // AF_UNIX socket's queue), and while there are some, its place in the in-flight list.
    size_t m_in_flight GUARDED_BY(g_unix_lock) = 0;
    IntrusiveListNode m_in_flight_node;
    // During a collection: a candidate's references from other candidates' queues not yet
    // subtracted, and its place in the collection's lists.
    size_t m_gc_references GUARDED_BY(g_unix_lock) = 0;
    bool m_gc_candidate GUARDED_BY(g_unix_lock) = false;
    IntrusiveListNode m_gc_node;

    // Calls fn(UnixSocket&) for each AF_UNIX socket queued in this one (for a listener, also in
    // the queues of its connections not yet accepted, as Linux's scan_children).
    template <typename Fn>
    void for_each_queued_socket(Fn&& fn) REQUIRES(g_unix_lock);
    // Takes the passed files queued in this socket (and in its pending connections) out, to
    // be closed once the lock is let go.
    void drop_queued_files(Graveyard& graveyard) REQUIRES(g_unix_lock);

private:
    bool is_stream_type() const { return type() == SOCK_STREAM; }
    // SOCK_STREAM and SOCK_SEQPACKET: listen/connect/accept, a peer whose end hangs this one up.
    bool is_connection_type() const { return type() != SOCK_DGRAM; }
    void set_peer(UnixSocket* peer) REQUIRES(g_unix_lock);
    ErrorOr<RefPtr<UnixSocket>> find_target(const SocketAddress& address) EXCLUDES(g_unix_lock);
    template <typename Ready>
    ErrorOr<void> wait(sched::WaitQueue& queue, Ready&& ready, sched::Deadline deadline) REQUIRES(g_unix_lock);
    ErrorOr<size_t> send_stream(Message& message, int flags) REQUIRES(g_unix_lock);
    ErrorOr<size_t> send_datagram(Message& message, int flags, RefPtr<UnixSocket>& target) REQUIRES(g_unix_lock);
    ErrorOr<size_t> receive_stream(Message& message, int flags, Graveyard& graveyard) REQUIRES(g_unix_lock);
    ErrorOr<size_t> receive_datagram(Message& message, int flags, Graveyard& graveyard) REQUIRES(g_unix_lock);
    bool datagram_queue_full(const UnixSocket& sender, size_t size) const REQUIRES(g_unix_lock);
    bool blocks(int flags) const { return !nonblocking() && !(flags & MSG_DONTWAIT); }
    bool local_address_unbound() EXCLUDES(g_unix_lock);
    // Takes a segment off the queue and frees it, its passed files to the graveyard.
    void retire(Segment& segment, Graveyard& graveyard) REQUIRES(g_unix_lock);

    using Queue = IntrusiveList<Segment, &Segment::node>;
    using Peers = IntrusiveList<UnixSocket, &UnixSocket::m_peer_node>;
    using Pending = IntrusiveList<UnixSocket, &UnixSocket::m_pending_node>;

    State m_state GUARDED_BY(g_unix_lock) = State::Unconnected;
    int m_shutdown GUARDED_BY(g_unix_lock) = 0;
    // stream: the other end; datagram: the default destination. No reference: the peer's end
    // clears it (under the lock); a wait that lets the lock go holds one (try_ref).
    UnixSocket* m_peer GUARDED_BY(g_unix_lock) = nullptr;
    bool m_was_connected GUARDED_BY(g_unix_lock) = false;
    Peers m_peered_by GUARDED_BY(g_unix_lock);  // sockets whose m_peer is this one
    Pending m_pending GUARDED_BY(g_unix_lock);  // listener: connections not yet accepted (each holds a reference)
    size_t m_pending_count GUARDED_BY(g_unix_lock) = 0;
    int m_backlog GUARDED_BY(g_unix_lock) = 0;
    bool m_embryo GUARDED_BY(g_unix_lock) = false;  // a server end not yet accepted
    Queue m_queue GUARDED_BY(g_unix_lock);
    size_t m_queued_bytes GUARDED_BY(g_unix_lock) = 0, m_queued_count GUARDED_BY(g_unix_lock) = 0;
    SocketAddress m_name GUARDED_BY(g_unix_lock);  // bound name (length 0: unbound)
    SocketAddress m_peer_name GUARDED_BY(g_unix_lock);  // the peer's name, once connected
    // SO_PEERCRED: the peer's process and effective ids when the connection was made
    // (socketpair, connect), or the listener's when it called listen(); none: pid 0, ids -1.
    ucred m_peer_credentials GUARDED_BY(g_unix_lock){0, uid_t(-1), gid_t(-1)};
    ucred m_listen_credentials GUARDED_BY(g_unix_lock){0, uid_t(-1), gid_t(-1)};
    // The socket node a path name created: set by bind under the lock, read by lookups under
    // it, dropped by the destructor (the big lock's: a description's end holds it).
    RefPtr<vfs::Vnode> m_bound_vnode;

    friend UnixSocket* find_bound(const UnixName& name, vfs::Vnode* vnode);
    friend class Graveyard;
};

// What a section under g_unix_lock lets go of: passed files (the last reference to an AF_UNIX
// socket ends it, and its destructor takes the lock) and sockets. Declared before the
// MutexLocker of the section, so that it is destroyed (and lets them go) after the lock is.
class Graveyard {
public:
    Graveyard() = default;
    Graveyard(const Graveyard&) = delete;
    Graveyard& operator=(const Graveyard&) = delete;
    ~Graveyard() { release(); }

    void bury(Ancillary& ancillary) {
        if (Ancillary::Files* files = ancillary.release_files()) {
            files->next = m_files;
            m_files = files;
        }
    }
    // Takes over a reference to `socket` (out of any pending list).
    void bury(UnixSocket& socket) { m_sockets.push_back(socket); }
    void release() EXCLUDES(g_unix_lock) {
        while (Ancillary::Files* files = m_files) {
            m_files = files->next;
            Ancillary::free_files(files);
        }
        while (UnixSocket* socket = m_sockets.pop_front()) socket->unref();
    }

private:
    Ancillary::Files* m_files = nullptr;
    UnixSocket::Pending m_sockets;
};

void UnixSocket::retire(Segment& segment, Graveyard& graveyard) {
    Queue::remove(segment);
    m_queued_bytes -= segment.size - segment.consumed;
    --m_queued_count;
    forget_in_flight(segment.ancillary);
    graveyard.bury(segment.ancillary);
    free_segment(&segment);
}

using BoundList = IntrusiveList<UnixSocket, &UnixSocket::m_bound_node>;
BoundList* g_bound GUARDED_BY(g_unix_lock) = nullptr;  // created on first bind (kernel heap)

BoundList& bound_sockets() REQUIRES(g_unix_lock) {
    if (!g_bound) g_bound = mm::kcreate<BoundList>();
    return *g_bound;
}

// The socket bound to a path's vnode or to an abstract name (maybe one whose end has begun:
// its last reference gone, its destructor waiting for the lock; try_ref says).
UnixSocket* find_bound(const UnixName& name, vfs::Vnode* vnode) REQUIRES(g_unix_lock) {
    UnixSocket* found = nullptr;
    bound_sockets().for_each([&](UnixSocket& s) {
        VERIFY_HELD(g_unix_lock);
        if (found) return;
        if (name.kind == UnixName::Path && s.m_bound_vnode.get() == vnode) found = &s;
        if (name.kind == UnixName::Abstract && !s.m_bound_vnode) {
            const auto& un = reinterpret_cast<const sockaddr_un&>(s.m_name.storage);
            std::string_view mine(un.sun_path + 1, s.m_name.length - NAME_OFFSET - 1);
            if (mine == name.name) found = &s;
        }
    });
    return found;
}

ErrorOr<RefPtr<UnixSocket>> UnixSocket::make(int type, int flags) {
    RefPtr<vfs::Vnode> vnode = TRY(create_socket_vnode());
    UnixSocket* socket = mm::kcreate<UnixSocket>(vnode, flags, type);
    if (!socket) return error(ENOMEM);
    return RefPtr<UnixSocket>(socket);
}

void UnixSocket::set_peer(UnixSocket* peer) {
    Peers::remove(*this);
    m_peer = peer;
    if (peer) {
        peer->m_peered_by.push_back(*this);
        m_peer_name = peer->m_name.length ? peer->m_name : unnamed();
        m_was_connected = true;
    }
}

void UnixSocket::pair(UnixSocket& a, UnixSocket& b) {
    a.set_peer(&b);
    b.set_peer(&a);
    a.m_peer_credentials = b.m_peer_credentials = peer_credentials_now();
    if (a.is_connection_type()) a.m_state = b.m_state = State::Connected;
}

UnixSocket::~UnixSocket() {
    {
        Graveyard graveyard;
        sched::MutexLocker lock(g_unix_lock);
        BoundList::remove(*this);
        while (UnixSocket* embryo = m_pending.pop_front()) graveyard.bury(*embryo);
        bool reset = !m_queue.empty() || m_embryo;
        m_peered_by.for_each([&](UnixSocket& other) {
            VERIFY_HELD(g_unix_lock);
            Peers::remove(other);
            other.m_peer = nullptr;
            if (other.is_connection_type()) {
                other.m_shutdown = SHUTDOWN_MASK;
                if (reset) other.m_error = ECONNRESET;
            }
            other.changed();
        });
        Peers::remove(*this);
        while (Segment* segment = m_queue.front()) retire(*segment, graveyard);
        VERIFY(m_in_flight == 0);  // a queued reference would have kept it
        __atomic_fetch_sub(&g_unix_stats.sockets, 1, __ATOMIC_RELAXED);
    }
    collect_garbage();  // as Linux's unix_release_sock
}

// --- Garbage collection ---------------------------------------------------------------------
//
// Linux's algorithm (net/unix/garbage.c before 6.10). Candidates are the in-flight sockets whose
// every reference is a queued one (no descriptor, no syscall holds them). Subtracting, for each
// candidate, the references from candidates' queues leaves the ones some other holder's queue
// reaches; those and everything queued in them, transitively, are reachable. The rest are
// garbage: only their own queues reference them, so closing the files queued in them frees them
// all (and whatever else only they held: a pipe end's reader sees end of file). The collection
// runs under g_unix_lock: queues change only under it, and a socket whose every reference is a
// queued one gains another only by a receive, also under it (a reference from a descriptor or a
// syscall only comes from another such reference). It closes the files after letting the lock
// go (Graveyard), holding each garbage socket until then, and one collection runs at a time.

using InFlightList = IntrusiveList<UnixSocket, &UnixSocket::m_in_flight_node>;
using GcList = IntrusiveList<UnixSocket, &UnixSocket::m_gc_node>;
InFlightList* g_in_flight GUARDED_BY(g_unix_lock) = nullptr;  // kernel heap: no static constructors
bool g_collecting GUARDED_BY(g_unix_lock) = false;

InFlightList& in_flight_sockets() REQUIRES(g_unix_lock) {
    if (!g_in_flight) g_in_flight = mm::kcreate<InFlightList>();
    return *g_in_flight;
}

UnixSocket* as_unix_socket(vfs::File& file) {
    Socket* socket = as_socket(file);
    return socket && socket->family() == AF_UNIX ? static_cast<UnixSocket*>(socket) : nullptr;
}

// The files of a message that was just queued / leaves its queue (received, closed unread).
void note_in_flight(Ancillary& ancillary) {
    for (uint32_t i = 0; i < ancillary.file_count(); ++i) {
        UnixSocket* socket = as_unix_socket(*ancillary.files()[i]);
        if (!socket) continue;
        if (socket->m_in_flight++ == 0) in_flight_sockets().push_back(*socket);
        ++g_unix_stats.in_flight;
    }
}

void forget_in_flight(Ancillary& ancillary) {
    for (uint32_t i = 0; i < ancillary.file_count(); ++i) {
        UnixSocket* socket = as_unix_socket(*ancillary.files()[i]);
        if (!socket) continue;
        VERIFY(socket->m_in_flight > 0);
        if (--socket->m_in_flight == 0) InFlightList::remove(*socket);
        --g_unix_stats.in_flight;
    }
}

template <typename Fn>
void UnixSocket::for_each_queued_socket(Fn&& fn) {
    auto scan = [&](UnixSocket& socket) {
        VERIFY_HELD(g_unix_lock);
        socket.m_queue.for_each([&](Segment& segment) {
            for (uint32_t i = 0; i < segment.ancillary.file_count(); ++i)
                if (UnixSocket* queued = as_unix_socket(*segment.ancillary.files()[i])) fn(*queued);
        });
    };
    scan(*this);
    m_pending.for_each([&](UnixSocket& embryo) { scan(embryo); });
}

void UnixSocket::drop_queued_files(Graveyard& graveyard) {
    auto drop = [&](UnixSocket& socket) {
        VERIFY_HELD(g_unix_lock);
        socket.m_queue.for_each([&](Segment& segment) {
            VERIFY_HELD(g_unix_lock);
            forget_in_flight(segment.ancillary);
            graveyard.bury(segment.ancillary);
        });
    };
    drop(*this);
    m_pending.for_each([&](UnixSocket& embryo) { drop(embryo); });
}

void collect_garbage() {
    Graveyard graveyard;
    GcList garbage;
    {
        sched::MutexLocker lock(g_unix_lock);
        if (g_collecting || !g_in_flight || g_in_flight->empty()) return;
        g_collecting = true;
        ++g_unix_stats.collections;
        GcList candidates, reachable;
        g_in_flight->for_each([&](UnixSocket& socket) {
            VERIFY_HELD(g_unix_lock);
            if (socket.ref_count() != socket.m_in_flight) return;
            socket.m_gc_candidate = true;
            socket.m_gc_references = socket.m_in_flight;
            candidates.push_back(socket);
        });
        candidates.for_each([](UnixSocket& candidate) {
            VERIFY_HELD(g_unix_lock);
            candidate.for_each_queued_socket([](UnixSocket& queued) {
                VERIFY_HELD(g_unix_lock);
                if (queued.m_gc_candidate) --queued.m_gc_references;
            });
        });
        // Referenced from outside the candidates: reachable, and so is what is queued in them.
        while (UnixSocket* socket = candidates.pop_front()) {
            if (socket->m_gc_references == 0) {
                garbage.push_back(*socket);
                continue;
            }
            socket->m_gc_candidate = false;
            reachable.push_back(*socket);
        }
        while (UnixSocket* socket = reachable.pop_front()) {
            socket->for_each_queued_socket([&](UnixSocket& queued) {
                VERIFY_HELD(g_unix_lock);
                if (!queued.m_gc_candidate) return;
                queued.m_gc_candidate = false;
                GcList::remove(queued);  // from `garbage`
                reachable.push_back(queued);
            });
        }
        // Hold each garbage socket while the files queued in all of them are closed (those
        // include the garbage sockets' own last references), then let them go.
        garbage.for_each([](UnixSocket& socket) {
            VERIFY_HELD(g_unix_lock);
            socket.ref();
            socket.m_gc_candidate = false;
        });
        garbage.for_each([&](UnixSocket& socket) {
            VERIFY_HELD(g_unix_lock);
            socket.drop_queued_files(graveyard);
        });
    }
    // Nothing reaches the garbage sockets now but `garbage` (and g_collecting keeps another
    // collection off their m_gc_node): their ends, which run collections, come after the lock.
    graveyard.release();
    while (UnixSocket* socket = garbage.pop_front()) {
        __atomic_fetch_add(&g_unix_stats.collected, 1, __ATOMIC_RELAXED);
        socket->unref();
    }
    sched::MutexLocker lock(g_unix_lock);
    g_collecting = false;
}

// Waits until ready() (run under g_unix_lock) holds: the waiter is on `queue` before the lock
// is free, and every change wakes the queue with the lock held (changed()), so no wake-up is
// lost between the check and the sleep, on any CPU.
template <typename Ready>
ErrorOr<void> UnixSocket::wait(sched::WaitQueue& queue, Ready&& ready, sched::Deadline deadline) {
    auto result = g_unix_lock.wait(queue, ready, deadline, sched::Interruptible::Yes);
    if (!result && result.error().code == ETIMEDOUT) return error(EAGAIN);
    return result;
}

ErrorOr<void> UnixSocket::bind(const SocketAddress& address) {
    UnixName name = TRY(parse(address));
    SocketAddress bound_name = address;
    // A path: the walk, the node's creation and the drops of the vnodes they hold take the big
    // lock where the file systems need it (before g_unix_lock: the lock order).
    vfs::BigLockUnlessSafe walk_lock(name.kind != UnixName::Path || vfs::path_walks_without_big_lock());
    std::optional<sched::BigLockScope> create_lock;
    RefPtr<vfs::Vnode> node;
    if (name.kind == UnixName::Path) {
        // Linux creates the node first (EADDRINUSE if the path exists), then refuses a second
        // name.
        PathText path(name);
        sys::StartDir start = TRY(sys::start_at(AT_FDCWD, path.text));
        vfs::ParentLookup lookup = TRY(vfs::resolve_parent(start.context, path.text));
        if (!lookup.parent->thread_safe()) create_lock.emplace();
        if (lookup.name.empty() || lookup.name == "." || lookup.name == ".." || lookup.parent->lookup(lookup.name))
            return error(EADDRINUSE);
        if (!local_address_unbound()) return error(EINVAL);
        TRY(vfs::check_writable(*lookup.parent));  // the socket file on a read-only mount: EROFS
        mode_t mode = S_IFSOCK | (0777 & ~vfs::umask());
        node = TRY(lookup.parent->create(lookup.name, mode, 0, 0, 0));
        bound_name.length = socklen_t(NAME_OFFSET + name.name.size() + 1);
        auto& un = reinterpret_cast<sockaddr_un&>(bound_name.storage);
        un.sun_path[name.name.size()] = '\0';
    }
    sched::MutexLocker lock(g_unix_lock);
    if (m_name.length) return error(EINVAL);  // a path's node stays, as on Linux
    if (name.kind == UnixName::None) {
        // Autobind: an abstract name of five hex digits, as Linux picks.
        static unsigned next = 0;  // under g_unix_lock
        auto& un = reinterpret_cast<sockaddr_un&>(bound_name.storage);
        char text[8];
        do {
            snprintf(text, sizeof text, "%05x", next++ & 0xfffff);
            un.sun_path[0] = '\0';
            memcpy(un.sun_path + 1, text, 5);
            bound_name.length = NAME_OFFSET + 6;
            name = UnixName{UnixName::Abstract, {un.sun_path + 1, 5}};
        } while (find_bound(name, nullptr));
    } else if (name.kind == UnixName::Abstract) {
        if (find_bound(name, nullptr)) return error(EADDRINUSE);
    } else {
        m_bound_vnode = node;
    }
    m_name = bound_name;
    bound_sockets().push_back(*this);
    return {};
}

bool UnixSocket::local_address_unbound() {
    sched::MutexLocker lock(g_unix_lock);
    return m_name.length == 0;
}

ErrorOr<SocketAddress> UnixSocket::local_address() {
    sched::MutexLocker lock(g_unix_lock);
    return m_name.length ? m_name : unnamed();
}

bool UnixSocket::is_listening() const {
    sched::MutexLocker lock(g_unix_lock);
    return m_state == State::Listening;
}

// The socket bound to `address`, held (a reference taken under the lock, never on one whose
// end has begun). A path is walked without g_unix_lock (the walk may take the big lock).
ErrorOr<RefPtr<UnixSocket>> UnixSocket::find_target(const SocketAddress& address) {
    UnixName name = TRY(parse(address));
    if (name.kind == UnixName::None) return error(EINVAL);
    vfs::BigLockUnlessSafe walk_lock(name.kind != UnixName::Path || vfs::path_walks_without_big_lock());
    RefPtr<vfs::Vnode> vnode;  // dropped before walk_lock
    if (name.kind == UnixName::Path) {
        PathText path(name);
        sys::StartDir start = TRY(sys::start_at(AT_FDCWD, path.text));
        vnode = TRY(vfs::resolve(start.context, path.text, vfs::Follow::Yes));
        if (vnode->type() != S_IFSOCK) return error(ECONNREFUSED);
    }
    UnixSocket* target;
    {
        sched::MutexLocker lock(g_unix_lock);
        target = find_bound(name, vnode.get());
        if (!target || !target->try_ref()) return error(ECONNREFUSED);
    }
    RefPtr<UnixSocket> held(target);
    target->unref();  // try_ref's reference now lives in `held` (not the last: `held` has one)
    if (target->type() != type()) return error(EPROTOTYPE);
    return held;
}

ErrorOr<void> UnixSocket::listen(int backlog) {
    if (!is_connection_type()) return error(EOPNOTSUPP);
    sched::MutexLocker lock(g_unix_lock);
    if (!m_name.length || m_state == State::Connected) return error(EINVAL);
    if (unsigned(backlog) > unsigned(MAX_BACKLOG)) backlog = MAX_BACKLOG;
    m_backlog = backlog;
    m_state = State::Listening;
    m_listen_credentials = peer_credentials_now();
    changed();
    return {};
}

ErrorOr<void> UnixSocket::connect(const SocketAddress& address) {
    if (!is_connection_type()) {
        if (address.length >= sizeof(sa_family_t) && address.storage.ss_family == AF_UNSPEC) {
            sched::MutexLocker lock(g_unix_lock);
            set_peer(nullptr);  // dissolve the association
            return {};
        }
        RefPtr<UnixSocket> target = TRY(find_target(address));
        sched::MutexLocker lock(g_unix_lock);
        set_peer(target.get());
        changed();
        return {};
    }
    {
        sched::MutexLocker lock(g_unix_lock);
        if (m_state == State::Listening) return error(EINVAL);
        if (m_state == State::Connected) return error(EISCONN);
    }
    RefPtr<UnixSocket> target = TRY(find_target(address));
    RefPtr<UnixSocket> embryo = TRY(make(type(), 0));
    sched::MutexLocker lock(g_unix_lock);
    if (target->m_state != State::Listening) return error(ECONNREFUSED);
    while (target->m_pending_count > size_t(target->m_backlog)) {
        if (nonblocking()) return error(EAGAIN);
        TRY(wait(
            target->m_wait,
            [&] {
                VERIFY_HELD(g_unix_lock);
                return target->m_state != State::Listening || target->m_pending_count <= size_t(target->m_backlog);
            },
            send_deadline()));
        if (target->m_state != State::Listening) return error(ECONNREFUSED);
    }
    if (m_state != State::Unconnected) return error(EISCONN);
    embryo->m_name = target->m_name;
    embryo->m_embryo = true;
    pair(*this, *embryo);
    m_peer_credentials = target->m_listen_credentials;
    embryo->m_peer_name = m_name.length ? m_name : unnamed();
    target->m_pending.push_back(*embryo.leak());  // the queue's reference
    ++target->m_pending_count;
    target->changed(READABLE);
    changed(WRITABLE);
    return {};
}

ErrorOr<RefPtr<Socket>> UnixSocket::accept(SocketAddress& peer, int flags) {
    sched::MutexLocker lock(g_unix_lock);
    if (m_state != State::Listening) return error(EINVAL);
    while (m_pending.empty()) {
        if (nonblocking()) return error(EAGAIN);
        TRY(wait(
            m_wait,
            [&] {
                VERIFY_HELD(g_unix_lock);
                return !m_pending.empty() || m_state != State::Listening;
            },
            receive_deadline()));
        if (m_state != State::Listening) return error(EINVAL);
    }
    UnixSocket* embryo = m_pending.pop_front();
    --m_pending_count;
    RefPtr<Socket> accepted(embryo);
    embryo->unref();  // the queue's reference now lives in `accepted`
    embryo->m_embryo = false;
    embryo->set_status_flags(flags & O_NONBLOCK);
    peer = embryo->m_peer_name;
    changed(WRITABLE);  // connect()s waiting for room in the backlog
    return accepted;
}

ErrorOr<SocketAddress> UnixSocket::peer_address() {
    sched::MutexLocker lock(g_unix_lock);
    if (is_connection_type() ? m_state != State::Connected : !m_peer) return error(ENOTCONN);
    return m_peer_name;
}

ErrorOr<void> UnixSocket::shutdown(int how) {
    if (how < SHUT_RD || how > SHUT_RDWR) return error(EINVAL);
    sched::MutexLocker lock(g_unix_lock);
    int mode = how + 1;  // SHUT_RD -> RCV_SHUTDOWN, SHUT_WR -> SEND_SHUTDOWN, SHUT_RDWR -> both
    m_shutdown |= mode;
    if (is_connection_type() && m_peer) {
        int peer_mode = ((mode & RCV_SHUTDOWN) ? SEND_SHUTDOWN : 0) | ((mode & SEND_SHUTDOWN) ? RCV_SHUTDOWN : 0);
        m_peer->m_shutdown |= peer_mode;
        m_peer->changed();
    }
    changed();
    return {};
}

ErrorOr<size_t> UnixSocket::send(Message& message, int flags) {
    if (flags & MSG_OOB) return error(EOPNOTSUPP);
    // Cycles whose descriptors were closed without releasing a socket (each close dropped a
    // reference a queue still doubles) are collected here too, as Linux 6.10+ does on a send
    // with descriptors. The message's own files are not queued yet: they count as held.
    if (message.ancillary && message.ancillary->file_count()) collect_garbage();
    // Every message carries its sender's credentials (for a receiver with SO_PASSCRED), also
    // one sent by write/send/sendto, which have no ancillary data of their own.
    Ancillary implicit;
    bool own = !message.ancillary;
    if (own) {
        sched::Process& process = sched::current_process();
        implicit.has_credentials = true;
        implicit.credentials = ucred{process.pid, __atomic_load_n(&process.credentials.uid, __ATOMIC_RELAXED),
                                     __atomic_load_n(&process.credentials.gid, __ATOMIC_RELAXED)};
        message.ancillary = &implicit;
    }
    // A datagram's destination, held until after the lock (its last reference may go here).
    RefPtr<UnixSocket> target;
    ErrorOr<size_t> sent = size_t(0);
    if (type() == SOCK_DGRAM && message.to) {  // SOCK_SEQPACKET ignores the address, as Linux
        auto found = find_target(*message.to);
        if (found)
            target = static_cast<RefPtr<UnixSocket>&&>(*found);
        else
            sent = std::unexpected(found.error());
    }
    if (sent) {
        sched::MutexLocker lock(g_unix_lock);
        sent = is_stream_type() ? send_stream(message, flags) : send_datagram(message, flags, target);
    }
    if (own) message.ancillary = nullptr;
    // SIGPIPE takes the big lock (signal state): after g_unix_lock is let go.
    if (!sent && sent.error().code == EPIPE) return broken_pipe(flags);
    return sent;
}

ErrorOr<size_t> UnixSocket::receive(Message& message, int flags) {
    if (flags & MSG_OOB) return error(EOPNOTSUPP);
    if (message.from) message.from->length = 0;
    Graveyard graveyard;  // files a read closes, after the lock
    sched::MutexLocker lock(g_unix_lock);
    if (is_stream_type()) return receive_stream(message, flags, graveyard);
    // SOCK_SEQPACKET: records of a connection (Linux's unix_seqpacket_recvmsg).
    if (type() == SOCK_SEQPACKET && m_state != State::Connected) return error(ENOTCONN);
    return receive_datagram(message, flags, graveyard);
}

ErrorOr<size_t> UnixSocket::send_stream(Message& message, int flags) {
    if (message.to) return error(m_state == State::Connected ? EISCONN : EOPNOTSUPP);
    if (m_state != State::Connected) return error(ENOTCONN);
    IoCursor& data = *message.data;
    size_t done = 0;
    auto partial = [&](Error e) -> ErrorOr<size_t> {
        if (done) return done;
        return std::unexpected(e);
    };
    while (data.remaining() > 0 || done == 0) {
        if ((m_shutdown & SEND_SHUTDOWN) || !m_peer || (m_peer->m_shutdown & RCV_SHUTDOWN)) {
            if (done) return done;
            return error(EPIPE);  // send() raises SIGPIPE
        }
        if (data.remaining() == 0) return 0;
        size_t queued = m_peer->m_queued_bytes;
        if (queued >= m_send_buffer) {
            if (!blocks(flags)) return partial(Error{EAGAIN});
            auto waited = wait(
                m_wait,
                [&] {
                    VERIFY_HELD(g_unix_lock);
                    return !m_peer || m_peer->m_queued_bytes < m_send_buffer || (m_shutdown & SEND_SHUTDOWN) ||
                        (m_peer->m_shutdown & RCV_SHUTDOWN);
                },
                send_deadline());
            if (!waited) return partial(waited.error());
            continue;
        }
        size_t n = data.remaining();
        if (n > m_send_buffer - queued) n = m_send_buffer - queued;
        if (n > SEGMENT_MAX) n = SEGMENT_MAX;
        Segment* segment = new_segment(n);
        if (!segment) return partial(Error{ENOBUFS});
        data.gather(segment->data(), n);
        if (data.faulted()) {  // the buffer went away while we waited
            free_segment(segment);
            return partial(Error{EFAULT});
        }
        // The copy may have faulted and slept for the big lock, never with g_unix_lock let go:
        // the peer checked above is still the peer.
        attach(*segment, message.ancillary, done == 0);
        m_peer->m_queue.push_back(*segment);
        m_peer->m_queued_bytes += n;
        ++m_peer->m_queued_count;
        m_peer->changed(READABLE);
        done += n;
    }
    return done;
}

bool UnixSocket::datagram_queue_full(const UnixSocket& sender, size_t size) const {
    if (m_queue.empty()) return false;
    if (m_peer != &sender && m_queued_count > MAX_DGRAM_QUEUE) return true;
    return m_queued_bytes + size > sender.m_send_buffer;
}

ErrorOr<size_t> UnixSocket::send_datagram(Message& message, int flags, RefPtr<UnixSocket>& target) {
    bool seqpacket = type() == SOCK_SEQPACKET;
    // A SOCK_SEQPACKET record goes to the connected peer, as Linux's unix_seqpacket_sendmsg.
    auto peer_gone = [&] {
        VERIFY_HELD(g_unix_lock);
        return (m_shutdown & SEND_SHUTDOWN) || !m_peer || (m_peer->m_shutdown & RCV_SHUTDOWN);
    };
    if (seqpacket) {
        if (m_state != State::Connected) return error(ENOTCONN);
        if (peer_gone()) return error(EPIPE);  // send() raises SIGPIPE
    }
    if (!target) {
        if (!m_peer || !m_peer->try_ref()) {
            if (seqpacket) return error(EPIPE);  // its end has begun
            return error(m_was_connected ? ECONNREFUSED : ENOTCONN);
        }
        target = m_peer;
        m_peer->unref();  // try_ref's reference now lives in `target`
    }
    if (m_shutdown & SEND_SHUTDOWN) return error(EPIPE);  // send() raises SIGPIPE
    size_t size = message.data->remaining();
    if (size > m_send_buffer - 32) return error(EMSGSIZE);
    while (target->datagram_queue_full(*this, size)) {
        if (!blocks(flags)) return error(EAGAIN);
        if (seqpacket) {
            // On this socket's own queue: the peer's receives wake the sockets peered to it,
            // and its end wakes this one.
            TRY(wait(
                m_wait,
                [&] {
                    VERIFY_HELD(g_unix_lock);
                    return peer_gone() || !target->datagram_queue_full(*this, size);
                },
                send_deadline()));
            if (peer_gone()) return error(EPIPE);
            continue;
        }
        TRY(wait(
            target->m_wait,
            [&] {
                VERIFY_HELD(g_unix_lock);
                return !target->datagram_queue_full(*this, size);
            },
            send_deadline()));
    }
    Segment* segment = new_segment(size);
    if (!segment) return error(ENOBUFS);
    message.data->gather(segment->data(), size);
    if (message.data->faulted()) {  // the buffer went away while we waited
        free_segment(segment);
        return error(EFAULT);
    }
    if (m_name.length) segment->from = m_name;
    attach(*segment, message.ancillary, true);
    target->m_queue.push_back(*segment);
    target->m_queued_bytes += size;
    ++target->m_queued_count;
    target->changed(READABLE);
    return size;
}

ErrorOr<size_t> UnixSocket::receive_stream(Message& message, int flags, Graveyard& graveyard) {
    if (m_state == State::Listening) return error(EINVAL);
    IoCursor& data = *message.data;
    if (data.remaining() == 0) return 0;
    size_t target = (flags & MSG_WAITALL) ? data.remaining() : 1;
    bool peek = flags & MSG_PEEK;
    bool pass_credentials = bool_option(SO_PASSCRED);
    size_t copied = 0;
    // As Linux's unix_stream_read_generic: with SO_PASSCRED a read never glues data from
    // senders with different credentials; a read that takes passed files stops after their
    // segment.
    bool have_credentials = false, stop = false;
    ucred credentials{};
    for (;;) {
        // Copy what is queued (past what a peek already copied).
        size_t skip = peek ? copied : 0;
        m_queue.for_each([&](Segment& segment) {
            VERIFY_HELD(g_unix_lock);
            if (data.remaining() == 0 || stop) return;
            size_t available = segment.size - segment.consumed;
            if (skip >= available) {
                skip -= available;
                return;
            }
            if (pass_credentials) {
                if (have_credentials && !same_credentials(credentials, segment.ancillary.credentials)) {
                    stop = true;
                    return;
                }
                have_credentials = true;
                credentials = segment.ancillary.credentials;
            }
            size_t n = data.scatter(segment.data() + segment.consumed + skip, available - skip);
            skip = 0;
            copied += n;
            bool had_files = segment.ancillary.file_count() != 0;
            deliver(segment, message.ancillary, peek, pass_credentials);
            if (!message.ancillary && !peek) {  // read/recv: closed (after the lock)
                forget_in_flight(segment.ancillary);
                graveyard.bury(segment.ancillary);
            }
            if (had_files) stop = true;
            if (peek) return;
            segment.consumed += n;
            m_queued_bytes -= n;
            if (segment.consumed == segment.size) retire(segment, graveyard);
        });
        if (!peek && copied && m_peer) m_peer->changed(WRITABLE);
        if (copied >= target || data.remaining() == 0 || stop) return copied;
        if (m_error) {
            if (copied) return copied;
            return error(take_error());
        }
        if (m_shutdown & RCV_SHUTDOWN) return copied;
        if (!blocks(flags)) {
            if (copied) return copied;
            return error(EAGAIN);
        }
        size_t seen = peek ? copied : 0;
        auto waited = wait(
            m_wait,
            [&] {
                VERIFY_HELD(g_unix_lock);
                return m_queued_bytes > seen || m_error || (m_shutdown & RCV_SHUTDOWN);
            },
            receive_deadline());
        if (!waited) {
            if (copied) return copied;
            return std::unexpected(waited.error());
        }
    }
}

ErrorOr<size_t> UnixSocket::receive_datagram(Message& message, int flags, Graveyard& graveyard) {
    for (;;) {
        if (Segment* segment = m_queue.front()) {
            size_t n = message.data->scatter(segment->data(), segment->size);
            if (n < segment->size) message.flags_out |= MSG_TRUNC;
            if (message.from) *message.from = segment->from;
            deliver(*segment, message.ancillary, flags & MSG_PEEK, bool_option(SO_PASSCRED));
            size_t size = segment->size;
            if (!(flags & MSG_PEEK)) {
                retire(*segment, graveyard);
                changed(WRITABLE);  // senders waiting for room in this queue
                m_peered_by.for_each([](UnixSocket& sender) { sender.changed(WRITABLE); });
            }
            return (flags & MSG_TRUNC) ? size : n;
        }
        if (m_error) return error(take_error());
        if (m_shutdown & RCV_SHUTDOWN) return 0;
        if (!blocks(flags)) return error(EAGAIN);
        TRY(wait(
            m_wait,
            [&] {
                VERIFY_HELD(g_unix_lock);
                return !m_queue.empty() || m_error || (m_shutdown & RCV_SHUTDOWN);
            },
            receive_deadline()));
    }
}

ErrorOr<size_t> UnixSocket::get_family_option(int level, int name, std::span<std::byte> out) {
    if (level == SOL_SOCKET && name == SO_PEERCRED) {
        sched::MutexLocker lock(g_unix_lock);
        size_t n = out.size() < sizeof m_peer_credentials ? out.size() : sizeof m_peer_credentials;
        memcpy(out.data(), &m_peer_credentials, n);
        return n;
    }
    return Socket::get_family_option(level, name, out);
}

ErrorOr<size_t> UnixSocket::bytes_readable() {
    sched::MutexLocker lock(g_unix_lock);
    if (m_state == State::Listening) return error(EINVAL);
    if (is_connection_type()) return m_queued_bytes;  // SOCK_SEQPACKET too (Linux's unix_inq_len)
    return m_queue.empty() ? 0 : m_queue.front()->size;
}

// As Linux's unix_poll / unix_dgram_poll.
vfs::PollMask UnixSocket::poll_mask() {
    sched::MutexLocker lock(g_unix_lock);
    vfs::PollMask mask = 0;
    if (m_error) mask |= ERR;
    if (m_shutdown == SHUTDOWN_MASK) mask |= HUP;
    if (m_shutdown & RCV_SHUTDOWN) mask |= RDHUP | READABLE;
    if (!m_queue.empty() || !m_pending.empty()) mask |= READABLE;
    bool writable;
    if (is_connection_type()) {  // SOCK_SEQPACKET: unix_dgram_poll's, the same here
        if (m_state == State::Unconnected) mask |= HUP;
        writable = m_state != State::Listening && (m_peer ? m_peer->m_queued_bytes * 4 <= m_send_buffer : true);
    } else {
        writable = !(m_peer && m_peer->m_peer != this && m_peer->datagram_queue_full(*this, 1));
    }
    if (writable) mask |= WRITABLE | WRBAND;
    return mask;
}

ErrorOr<RefPtr<Socket>> create(int type, int protocol, int flags) {
    if (protocol != 0 && protocol != AF_UNIX) return error(EPROTONOSUPPORT);
    if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) return error(ESOCKTNOSUPPORT);
    return RefPtr<Socket>(TRY(UnixSocket::make(type, flags)));
}

ErrorOr<void> create_pair(int type, int protocol, int flags, RefPtr<Socket>& first, RefPtr<Socket>& second) {
    if (protocol != 0 && protocol != AF_UNIX) return error(EPROTONOSUPPORT);
    if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) return error(ESOCKTNOSUPPORT);
    RefPtr<UnixSocket> a = TRY(UnixSocket::make(type, flags));
    RefPtr<UnixSocket> b = TRY(UnixSocket::make(type, flags));
    {
        sched::MutexLocker lock(g_unix_lock);
        UnixSocket::pair(*a, *b);
    }
    first = a;
    second = b;
    return {};
}

constexpr SocketFamily UNIX_FAMILY{AF_UNIX, create, create_pair};

}  // namespace

const SocketFamily& unix_family() { return UNIX_FAMILY; }

const UnixStats& unix_stats() { return g_unix_stats; }

}  // namespace xos::net
