// The parts of Xen's public ABI (xen/include/public/, Xen 4.17) that xos uses, x86_64 layout.
// Names follow Xen's headers so they can be looked up there.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xos::xen {

using domid_t = uint16_t;
using evtchn_port_t = uint32_t;
constexpr domid_t DOMID_SELF = 0x7ff0;

// Hypercall numbers (xen.h).
enum Hypercall : uint32_t {
    HYPERVISOR_memory_op = 12,
    HYPERVISOR_xen_version = 17,
    HYPERVISOR_grant_table_op = 20,
    HYPERVISOR_vcpu_op = 24,
    HYPERVISOR_sched_op = 29,
    HYPERVISOR_event_channel_op = 32,
    HYPERVISOR_hvm_op = 34,
};

// sched_op (sched.h).
constexpr int SCHEDOP_yield = 0, SCHEDOP_block = 1, SCHEDOP_shutdown = 2, SCHEDOP_poll = 3;
constexpr uint32_t SHUTDOWN_poweroff = 0, SHUTDOWN_crash = 3;
struct sched_shutdown {
    uint32_t reason;
};
struct sched_poll {
    uint64_t ports;  // guest pointer to evtchn_port_t[nr_ports]
    uint32_t nr_ports;
    uint64_t timeout;  // Xen system time; 0: none
};

// memory_op (memory.h).
constexpr int XENMEM_add_to_physmap = 7;
constexpr uint32_t XENMAPSPACE_shared_info = 0, XENMAPSPACE_grant_table = 1;
struct xen_add_to_physmap {
    domid_t domid;
    uint16_t size;
    uint32_t space;
    uint64_t idx;
    uint64_t gpfn;
};

// hvm_op (hvm/hvm_op.h, hvm/params.h).
constexpr int HVMOP_set_param = 0, HVMOP_get_param = 1;
struct xen_hvm_param {
    domid_t domid;
    uint32_t index;
    uint64_t value;
};
constexpr uint32_t HVM_PARAM_CALLBACK_IRQ = 0, HVM_PARAM_STORE_PFN = 1, HVM_PARAM_STORE_EVTCHN = 2,
                   HVM_PARAM_CONSOLE_PFN = 17, HVM_PARAM_CONSOLE_EVTCHN = 18;
constexpr uint64_t HVM_PARAM_CALLBACK_TYPE_VECTOR = 2ull << 56;

// vcpu_op (vcpu.h).
constexpr int VCPUOP_set_periodic_timer = 6, VCPUOP_stop_periodic_timer = 7, VCPUOP_set_singleshot_timer = 8,
              VCPUOP_stop_singleshot_timer = 9;
struct vcpu_set_periodic_timer {
    uint64_t period_ns;
};
struct vcpu_set_singleshot_timer {
    uint64_t timeout_abs_ns;  // Xen system time
    uint32_t flags;
};

// event_channel_op (event_channel.h).
constexpr int EVTCHNOP_bind_virq = 1, EVTCHNOP_close = 3, EVTCHNOP_send = 4, EVTCHNOP_alloc_unbound = 6,
              EVTCHNOP_unmask = 9;
constexpr uint32_t VIRQ_TIMER = 0;
struct evtchn_bind_virq {
    uint32_t virq;
    uint32_t vcpu;
    evtchn_port_t port;  // out
};
struct evtchn_send {
    evtchn_port_t port;
};
struct evtchn_unmask {
    evtchn_port_t port;
};
struct evtchn_alloc_unbound {
    domid_t dom, remote_dom;
    evtchn_port_t port;  // out
};
struct evtchn_close {
    evtchn_port_t port;
};

// shared_info (xen.h, arch-x86/xen.h).
struct vcpu_time_info {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad1[2];
};
static_assert(sizeof(vcpu_time_info) == 32);
struct vcpu_info {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;
    uint64_t evtchn_pending_sel;
    uint64_t arch_cr2;
    uint64_t arch_pad;
    vcpu_time_info time;
};
static_assert(sizeof(vcpu_info) == 64);
constexpr size_t XEN_LEGACY_MAX_VCPUS = 32;
struct shared_info {
    vcpu_info vcpu[XEN_LEGACY_MAX_VCPUS];
    uint64_t evtchn_pending[64];
    uint64_t evtchn_mask[64];
    uint32_t wc_version;
    uint32_t wc_sec;
    uint32_t wc_nsec;
    uint32_t wc_sec_hi;
    // struct arch_shared_info follows; unused.
};
static_assert(offsetof(shared_info, evtchn_pending) == 2048 && offsetof(shared_info, wc_version) == 3072);
constexpr size_t EVTCHN_2L_NR_CHANNELS = 64 * 64;

// The PV console ring (io/console.h).
struct xencons_interface {
    char in[1024];
    char out[2048];
    uint32_t in_cons, in_prod;
    uint32_t out_cons, out_prod;
};

// The xenstore ring (io/xs_wire.h).
constexpr size_t XENSTORE_RING_SIZE = 1024;
struct xenstore_domain_interface {
    char req[XENSTORE_RING_SIZE];
    char rsp[XENSTORE_RING_SIZE];
    uint32_t req_cons, req_prod;
    uint32_t rsp_cons, rsp_prod;
    uint32_t server_features;
    uint32_t connection;
    int32_t error;
};
enum xsd_sockmsg_type : uint32_t {
    XS_DIRECTORY = 1,
    XS_READ = 2,
    XS_WATCH = 4,
    XS_UNWATCH = 5,
    XS_TRANSACTION_START = 6,
    XS_TRANSACTION_END = 7,
    XS_GET_DOMAIN_PATH = 10,
    XS_WRITE = 11,
    XS_MKDIR = 12,
    XS_RM = 13,
    XS_WATCH_EVENT = 15,
    XS_ERROR = 16,
};
struct xsd_sockmsg {
    uint32_t type;
    uint32_t req_id;
    uint32_t tx_id;
    uint32_t len;
};
constexpr uint32_t XENSTORE_PAYLOAD_MAX = 4096;

}  // namespace xos::xen

namespace xos::xen {

// grant_table_op (grant_table.h), v1 entries.
using grant_ref_t = uint32_t;
constexpr int GNTTABOP_query_size = 6, GNTTABOP_set_version = 8;
struct gnttab_query_size {
    domid_t dom;
    uint32_t nr_frames;  // out
    uint32_t max_nr_frames;  // out
    int16_t status;  // out
};
struct grant_entry_v1 {
    uint16_t flags;
    domid_t domid;
    uint32_t frame;
};
constexpr uint16_t GTF_permit_access = 1, GTF_readonly = 1 << 2, GTF_reading = 1 << 3, GTF_writing = 1 << 4;
constexpr grant_ref_t GNTTAB_NR_RESERVED_ENTRIES = 8;

// xenbus states (io/xenbus.h).
enum XenbusState : int {
    XenbusStateUnknown = 0,
    XenbusStateInitialising = 1,
    XenbusStateInitWait = 2,
    XenbusStateInitialised = 3,
    XenbusStateConnected = 4,
    XenbusStateClosing = 5,
    XenbusStateClosed = 6,
    XenbusStateReconfiguring = 7,
    XenbusStateReconfigured = 8,
};

}  // namespace xos::xen

namespace xos::xen {

// The block ring (io/blkif.h, io/ring.h).
constexpr uint8_t BLKIF_OP_READ = 0, BLKIF_OP_WRITE = 1, BLKIF_OP_FLUSH_DISKCACHE = 3;
constexpr size_t BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
constexpr int16_t BLKIF_RSP_OKAY = 0, BLKIF_RSP_EOPNOTSUPP = -2;
constexpr uint32_t VDISK_READONLY = 4;
struct blkif_request_segment {
    grant_ref_t gref;
    uint8_t first_sect, last_sect;
    uint16_t pad;
};
struct blkif_request {
    uint8_t operation;
    uint8_t nr_segments;
    uint16_t handle;
    uint64_t id;
    uint64_t sector_number;
    blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
static_assert(sizeof(blkif_request) == 112);
struct blkif_response {
    uint64_t id;
    uint8_t operation;
    int16_t status;
};
union blkif_sring_entry {
    blkif_request req;
    blkif_response rsp;
};
// The shared ring header of io/ring.h's DEFINE_RING_TYPES (64 bytes), then the entries.
struct sring_header {
    uint32_t req_prod, req_event;
    uint32_t rsp_prod, rsp_event;
    uint8_t pad[48];
};
static_assert(sizeof(sring_header) == 64);
constexpr uint32_t BLK_RING_SIZE = 32;  // (4096 - 64) / 112 rounded down to a power of two
struct blkif_sring {
    sring_header header;
    blkif_sring_entry ring[BLK_RING_SIZE];
};
static_assert(sizeof(blkif_sring) <= 4096);

}  // namespace xos::xen

namespace xos::xen {

// The network rings (io/netif.h). No scatter-gather, no offloads: one page per frame.
struct netif_tx_request {
    grant_ref_t gref;
    uint16_t offset;
    uint16_t flags;
    uint16_t id;
    uint16_t size;
};
struct netif_tx_response {
    uint16_t id;
    int16_t status;
};
union netif_tx_sring_entry {
    netif_tx_request req;
    netif_tx_response rsp;
};
struct netif_rx_request {
    uint16_t id;
    uint16_t pad;
    grant_ref_t gref;
};
struct netif_rx_response {
    uint16_t id;
    uint16_t offset;
    uint16_t flags;
    int16_t status;
};
union netif_rx_sring_entry {
    netif_rx_request req;
    netif_rx_response rsp;
};
constexpr uint32_t NET_TX_RING_SIZE = 256, NET_RX_RING_SIZE = 256;
struct netif_tx_sring {
    sring_header header;
    netif_tx_sring_entry ring[NET_TX_RING_SIZE];
};
struct netif_rx_sring {
    sring_header header;
    netif_rx_sring_entry ring[NET_RX_RING_SIZE];
};
static_assert(sizeof(netif_tx_sring) <= 4096 && sizeof(netif_rx_sring) <= 4096);
constexpr uint16_t NETRXF_more_data = 1 << 2, NETRXF_extra_info = 1 << 3;
constexpr int16_t NETIF_RSP_OKAY = 0;

}  // namespace xos::xen
