// The xenstore client (xenstore.h). Wire format (io/xs_wire.h): a struct xsd_sockmsg header and
// `len` payload bytes, in the req ring (guest to xenstored) and the rsp ring (answers, and
// XS_WATCH_EVENT messages at any time). Watch events that arrive while waiting for an answer are
// kept in a small queue for wait_watch.
#include "xen/xenstore.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "xos/log.h"
#include "xen/hypercall.h"
#include "xen/xen.h"
#include "xos/platform.h"

namespace xos::xen::xenstore {

namespace {

xenstore_domain_interface* g_ring;
evtchn_port_t g_port;
uint32_t g_next_request = 1;

struct Message {
    xsd_sockmsg header;
    char payload[XENSTORE_PAYLOAD_MAX + 1];  // NUL-terminated for convenience
};

// Watch events that arrived while a request was waiting (path\0token\0).
constexpr size_t MAX_QUEUED_EVENTS = 8;
struct QueuedEvent {
    char data[256];
    uint32_t length;
};
QueuedEvent g_events[MAX_QUEUED_EVENTS];
size_t g_event_count;

Message g_reply;  // one request at a time (interrupts off)

struct ErrorName {
    const char* name;
    int number;
};
constexpr ErrorName ERRORS[] = {
    {"EINVAL", EINVAL}, {"EACCES", EACCES}, {"EEXIST", EEXIST}, {"EISDIR", EISDIR},       {"ENOENT", ENOENT},
    {"ENOMEM", ENOMEM}, {"ENOSPC", ENOSPC}, {"EIO", EIO},       {"ENOTEMPTY", ENOTEMPTY}, {"ENOSYS", ENOSYS},
    {"EROFS", EROFS},   {"EBUSY", EBUSY},   {"EAGAIN", EAGAIN}, {"EISCONN", EISCONN},     {"E2BIG", E2BIG},
    {"EPERM", EPERM},   {"EQUOTA", EDQUOT},
};

int error_number(const char* name) {
    for (const ErrorName& e : ERRORS)
        if (strcmp(e.name, name) == 0) return e.number;
    return EIO;
}

// Copies `count` bytes into the request ring, waiting for room. False on timeout.
bool put(const void* data, size_t count, uint64_t deadline) {
    auto* bytes = static_cast<const char*>(data);
    while (count) {
        uint32_t consumer = __atomic_load_n(&g_ring->req_cons, __ATOMIC_ACQUIRE);
        uint32_t producer = g_ring->req_prod;
        if (producer - consumer > XENSTORE_RING_SIZE) return false;  // a corrupt index: give up
        uint32_t space = XENSTORE_RING_SIZE - (producer - consumer);
        if (!space) {
            notify(g_port);
            if (system_time_ns() > deadline) return false;
            wait_on_port(g_port);
            continue;
        }
        uint32_t n = space < count ? space : uint32_t(count);
        for (uint32_t i = 0; i < n; ++i) g_ring->req[(producer + i) % XENSTORE_RING_SIZE] = bytes[i];
        __atomic_store_n(&g_ring->req_prod, producer + n, __ATOMIC_RELEASE);
        bytes += n;
        count -= n;
    }
    notify(g_port);
    return true;
}

// Copies `count` bytes out of the response ring, waiting for them. 0, -ETIMEDOUT or -EIO (a
// producer index that cannot be right).
long get(void* data, size_t count, uint64_t deadline) {
    auto* bytes = static_cast<char*>(data);
    while (count) {
        uint32_t producer = __atomic_load_n(&g_ring->rsp_prod, __ATOMIC_ACQUIRE);
        uint32_t consumer = g_ring->rsp_cons;
        uint32_t available = producer - consumer;
        if (available > XENSTORE_RING_SIZE) {
            klog("xen: xenstore: bad response ring indices (producer %u, consumer %u)", producer, consumer);
            return -EIO;
        }
        if (!available) {
            if (system_time_ns() > deadline) return -ETIMEDOUT;
            wait_on_port(g_port);
            continue;
        }
        uint32_t n = available < count ? available : uint32_t(count);
        for (uint32_t i = 0; i < n; ++i) bytes[i] = g_ring->rsp[(consumer + i) % XENSTORE_RING_SIZE];
        __atomic_store_n(&g_ring->rsp_cons, consumer + n, __ATOMIC_RELEASE);
        bytes += n;
        count -= n;
        notify(g_port);
    }
    return 0;
}

// Reads one message into `message`.
long receive(Message& message, uint64_t deadline) {
    if (long rc = get(&message.header, sizeof message.header, deadline)) return rc;
    if (message.header.len > XENSTORE_PAYLOAD_MAX) {
        klog("xen: xenstore: message of %u bytes is longer than the protocol allows", message.header.len);
        return -EIO;
    }
    if (long rc = get(message.payload, message.header.len, deadline)) return rc;
    message.payload[message.header.len] = 0;
    return 0;
}

void queue_event(const Message& message) {
    if (g_event_count == MAX_QUEUED_EVENTS || message.header.len > sizeof g_events[0].data) {
        klog("xen: xenstore: watch event dropped (queue full or too long)");
        return;
    }
    memcpy(g_events[g_event_count].data, message.payload, message.header.len);
    g_events[g_event_count++].length = message.header.len;
}

const char* operation_name(uint32_t type) {
    switch (type) {
    case XS_DIRECTORY: return "directory";
    case XS_READ: return "read";
    case XS_WATCH: return "watch";
    case XS_UNWATCH: return "unwatch";
    case XS_TRANSACTION_START: return "transaction start";
    case XS_TRANSACTION_END: return "transaction end";
    case XS_WRITE: return "write";
    case XS_RM: return "rm";
    default: return "request";
    }
}

// Sends one request made of `parts` and waits for its answer in g_reply. 0 or -errno.
long request(uint32_t type, uint32_t transaction, const char* const* parts, const size_t* sizes, size_t count) {
    if (!g_ring) return -ENODEV;
    platform::InterruptGuard no_interrupts;
    uint32_t length = 0;
    for (size_t i = 0; i < count; ++i) length += uint32_t(sizes[i]);
    if (length > XENSTORE_PAYLOAD_MAX) return -E2BIG;
    xsd_sockmsg header{type, g_next_request++, transaction, length};
    uint64_t deadline = system_time_ns() + TIMEOUT_NS;
    bool sent = put(&header, sizeof header, deadline);
    for (size_t i = 0; sent && i < count; ++i) sent = put(parts[i], sizes[i], deadline);
    if (!sent) {
        klog("xen: xenstore: %s of %s: the request ring stays full (xenstored does not answer)", operation_name(type),
             count ? parts[0] : "");
        return -ETIMEDOUT;
    }
    for (;;) {
        if (long rc = receive(g_reply, deadline)) {
            if (rc == -ETIMEDOUT)
                klog("xen: xenstore: %s of %s: no answer from xenstored in %llu s", operation_name(type),
                     count ? parts[0] : "", (unsigned long long)(TIMEOUT_NS / 1000000000));
            return rc;
        }
        if (g_reply.header.type == XS_WATCH_EVENT) {
            queue_event(g_reply);
            continue;
        }
        if (g_reply.header.req_id != header.req_id) continue;  // a stale answer
        if (g_reply.header.type == XS_ERROR) return -error_number(g_reply.payload);
        return 0;
    }
}

long request_path(uint32_t type, const char* path, uint32_t transaction) {
    const char* parts[] = {path};
    size_t sizes[] = {strlen(path) + 1};
    return request(type, transaction, parts, sizes, 1);
}

}  // namespace

bool init() {
    uint64_t pfn = 0, port = 0;
    if (hvm_get_param(HVM_PARAM_STORE_PFN, pfn) || hvm_get_param(HVM_PARAM_STORE_EVTCHN, port) || !pfn) {
        klog("xen: xenstore: the domain has no xenstore ring (HVM_PARAM_STORE_PFN)");
        return false;
    }
    g_ring = static_cast<xenstore_domain_interface*>(platform::phys_to_virt(pfn << 12));
    g_port = evtchn_port_t(port);
    return true;
}

bool available() { return g_ring != nullptr; }

long read(const char* path, char* out, size_t capacity, uint32_t transaction) {
    if (long rc = request_path(XS_READ, path, transaction)) return rc;
    if (g_reply.header.len + 1 > capacity) return -E2BIG;
    memcpy(out, g_reply.payload, g_reply.header.len + 1);
    return g_reply.header.len;
}

long write(const char* path, const char* value, uint32_t transaction) {
    const char* parts[] = {path, value};
    size_t sizes[] = {strlen(path) + 1, strlen(value)};
    return request(XS_WRITE, transaction, parts, sizes, 2);
}

long remove(const char* path, uint32_t transaction) { return request_path(XS_RM, path, transaction); }

long directory(const char* path, char* out, size_t capacity, uint32_t transaction) {
    if (long rc = request_path(XS_DIRECTORY, path, transaction)) return rc;
    if (g_reply.header.len > capacity) return -E2BIG;
    memcpy(out, g_reply.payload, g_reply.header.len);
    return g_reply.header.len;
}

long transaction_start() {
    const char* parts[] = {""};
    size_t sizes[] = {1};
    if (long rc = request(XS_TRANSACTION_START, 0, parts, sizes, 1)) return rc;
    long id = 0;
    for (const char* c = g_reply.payload; *c >= '0' && *c <= '9'; ++c) id = id * 10 + (*c - '0');
    return id > 0 ? id : -EIO;
}

long transaction_end(uint32_t transaction, bool commit) {
    const char* parts[] = {commit ? "T" : "F"};
    size_t sizes[] = {2};
    return request(XS_TRANSACTION_END, transaction, parts, sizes, 1);
}

long watch(const char* path, const char* token) {
    const char* parts[] = {path, token};
    size_t sizes[] = {strlen(path) + 1, strlen(token) + 1};
    return request(XS_WATCH, 0, parts, sizes, 2);
}

long unwatch(const char* path, const char* token) {
    const char* parts[] = {path, token};
    size_t sizes[] = {strlen(path) + 1, strlen(token) + 1};
    return request(XS_UNWATCH, 0, parts, sizes, 2);
}

long wait_watch(const char* token, uint64_t timeout_ns, char* path_out, size_t path_capacity) {
    if (!g_ring) return -ENODEV;
    platform::InterruptGuard no_interrupts;
    auto take = [&](const char* data, uint32_t length) {
        const char* path = data;
        size_t path_length = strnlen(path, length);
        if (path_length + 1 >= length || strcmp(path + path_length + 1, token) != 0) return false;
        if (path_out && path_capacity) {
            size_t n = path_length < path_capacity - 1 ? path_length : path_capacity - 1;
            memcpy(path_out, path, n);
            path_out[n] = 0;
        }
        return true;
    };
    for (size_t i = 0; i < g_event_count; ++i) {
        if (!take(g_events[i].data, g_events[i].length)) continue;
        memmove(&g_events[i], &g_events[i + 1], (g_event_count - i - 1) * sizeof g_events[0]);
        --g_event_count;
        return 0;
    }
    uint64_t deadline = system_time_ns() + timeout_ns;
    for (;;) {
        if (long rc = receive(g_reply, deadline)) return rc;
        if (g_reply.header.type != XS_WATCH_EVENT) continue;  // a late answer to a timed-out request
        if (take(g_reply.payload, g_reply.header.len)) return 0;
        queue_event(g_reply);
    }
}

long read_integer(const char* path) {
    char value[32];
    long length = read(path, value, sizeof value);
    if (length < 0) return length;
    if (length == 0) return -EINVAL;
    long number = 0;
    for (long i = 0; i < length; ++i) {
        if (value[i] < '0' || value[i] > '9') return -EINVAL;
        number = number * 10 + (value[i] - '0');
    }
    return number;
}

}  // namespace xos::xen::xenstore
