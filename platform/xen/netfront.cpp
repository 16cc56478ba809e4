// netfront: the frontend of Xen's split network driver as the platform NIC (xos/nic.h). Frames
// are copied: RX_BUFFERS pages stay posted on the RX ring and granted to the backend, which
// copies each received frame into one (request-rx-copy); each TX slot has its own granted page
// that send() copies the frame into. No scatter-gather, no offloads, one vif. The ring's event
// channel raises libos's interrupt handler. A response producer index that cannot be right
// takes the link down for good, with a log line naming the device.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "xos/log.h"
#include "xen/gnttab.h"
#include "xen/hypercall.h"
#include "xen/netfront.h"
#include "xen/xen.h"
#include "xen/xenbus.h"
#include "xen/xenstore.h"
#include "xos/libos.h"

namespace xos::xen {

namespace {

constexpr size_t PAGE = 4096;
constexpr uint32_t RX_BUFFERS = 64;  // posted receive pages (at most NET_RX_RING_SIZE)
constexpr uint32_t TX_SLOTS = 32;  // frames in flight (at most NET_TX_RING_SIZE)
constexpr size_t MAX_FRAME = 1514;

class Netfront final : public platform::HostNic {
public:
    explicit Netfront(const xenbus::Device& device) : m_device(device) {
        snprintf(m_name, sizeof m_name, "xen-netfront (%s)", device.frontend);
    }

    bool connect();

    const char* name() const override { return m_name; }
    size_t max_frame() const override { return MAX_FRAME; }
    bool connected() const override { return !m_broken; }
    size_t receive(void (*on_frame)(void* context, const uint8_t* frame, size_t length), void* context,
                   bool& more) override;
    SendResult send(const uint8_t* const* pieces, const size_t* lengths, size_t count) override;
    bool set_interrupt_handler(void (*handler)(void* context), void* context, platform::InterruptLocking) override {
        m_handler = handler;
        m_handler_context = context;
        return true;
    }

private:
    static bool on_event(evtchn_port_t, void* self);
    bool publish(const char* key, const char* value);
    bool grant_page(uintptr_t& page, grant_ref_t& ref);
    void post_rx(uint16_t id);
    void reap_tx();
    void broken(const char* ring, uint32_t producer, uint32_t consumer);

    xenbus::Device m_device;
    char m_name[xenbus::PATH_MAX_LENGTH + 32];
    netif_tx_sring* m_tx = nullptr;
    netif_rx_sring* m_rx = nullptr;
    uint32_t m_tx_producer = 0, m_tx_consumer = 0, m_rx_producer = 0, m_rx_consumer = 0;
    evtchn_port_t m_port = 0;
    uintptr_t m_rx_pages[RX_BUFFERS] = {};
    grant_ref_t m_rx_grants[RX_BUFFERS] = {};
    uintptr_t m_tx_pages[TX_SLOTS] = {};
    grant_ref_t m_tx_grants[TX_SLOTS] = {};
    uint16_t m_tx_free[TX_SLOTS] = {};
    uint32_t m_tx_free_count = 0;
    void (*m_handler)(void*) = nullptr;
    void* m_handler_context = nullptr;
    bool m_broken = false;
};

bool Netfront::on_event(evtchn_port_t, void* self) {
    auto* nic = static_cast<Netfront*>(self);
    if (nic->m_handler) nic->m_handler(nic->m_handler_context);
    return true;
}

bool Netfront::publish(const char* key, const char* value) {
    char path[xenbus::PATH_MAX_LENGTH + 32];
    snprintf(path, sizeof path, "%s/%s", m_device.frontend, key);
    if (long rc = xenstore::write(path, value)) {
        klog("xen: %s: cannot write %s to xenstore: %ld", m_name, key, rc);
        return false;
    }
    return true;
}

bool Netfront::grant_page(uintptr_t& page, grant_ref_t& ref) {
    page = mm::allocate_page_table_page();
    long granted = page ? gnttab::grant_access(m_device.backend_id, page, gnttab::Access::ReadWrite) : -ENOMEM;
    if (granted < 0) {
        klog("xen: %s: cannot grant a page to the backend: %ld", m_name, granted);
        return false;
    }
    ref = grant_ref_t(granted);
    return true;
}

void Netfront::post_rx(uint16_t id) {
    netif_rx_request& request = m_rx->ring[m_rx_producer % NET_RX_RING_SIZE].req;
    request.id = id;
    request.gref = m_rx_grants[id];
    ++m_rx_producer;
}

bool Netfront::connect() {
    uintptr_t tx_page, rx_page;
    grant_ref_t tx_ref, rx_ref;
    if (!grant_page(tx_page, tx_ref) || !grant_page(rx_page, rx_ref)) return false;
    m_tx = static_cast<netif_tx_sring*>(platform::phys_to_virt(tx_page));
    m_rx = static_cast<netif_rx_sring*>(platform::phys_to_virt(rx_page));
    for (uint32_t i = 0; i < RX_BUFFERS; ++i)
        if (!grant_page(m_rx_pages[i], m_rx_grants[i])) return false;
    for (uint32_t i = 0; i < TX_SLOTS; ++i) {
        if (!grant_page(m_tx_pages[i], m_tx_grants[i])) return false;
        m_tx_free[m_tx_free_count++] = uint16_t(i);
    }
    evtchn_alloc_unbound unbound{DOMID_SELF, m_device.backend_id, 0};
    if (long rc = event_channel_op(EVTCHNOP_alloc_unbound, &unbound)) {
        klog("xen: %s: cannot allocate an event channel: %ld", m_name, rc);
        return false;
    }
    m_port = unbound.port;

    if (xenbus::wait_backend_state(m_device, XenbusStateInitWait, xenbus::connect_timeout_ns(), m_name) < 0)
        return false;
    char value[24];
    snprintf(value, sizeof value, "%u", tx_ref);
    if (!publish("tx-ring-ref", value)) return false;
    snprintf(value, sizeof value, "%u", rx_ref);
    if (!publish("rx-ring-ref", value)) return false;
    snprintf(value, sizeof value, "%u", m_port);
    if (!publish("event-channel", value) || !publish("request-rx-copy", "1") || !publish("feature-rx-notify", "1") ||
        !publish("feature-sg", "0") || !publish("feature-gso-tcpv4", "0") ||
        // Without it netback passes dom0's frames on with their checksums left blank for the
        // receiver to fill in (NETRXF_csum_blank), which lwIP would drop as corrupt.
        !publish("feature-no-csum-offload", "1"))
        return false;
    for (uint32_t i = 0; i < RX_BUFFERS; ++i) post_rx(uint16_t(i));
    __atomic_store_n(&m_rx->header.req_prod, m_rx_producer, __ATOMIC_RELEASE);
    __atomic_store_n(&m_rx->header.rsp_event, 1u, __ATOMIC_RELEASE);
    __atomic_store_n(&m_tx->header.rsp_event, 1u, __ATOMIC_RELEASE);
    xenbus::set_state(m_device, XenbusStateConnected);
    long state = xenbus::wait_backend_state(m_device, XenbusStateConnected, xenbus::connect_timeout_ns(), m_name);
    if (state != XenbusStateConnected) {
        if (state >= 0) klog("xen: %s: the backend went to state %ld instead of connecting", m_name, state);
        return false;
    }
    bind_port(m_port, on_event, this);
    notify(m_port);
    char mac[32] = "?";
    char key[xenbus::PATH_MAX_LENGTH + 8];
    snprintf(key, sizeof key, "%s/mac", m_device.frontend);
    xenstore::read(key, mac, sizeof mac);
    klog("xen: %s: connected (backend mac %s)", m_name, mac);
    return true;
}

void Netfront::broken(const char* ring, uint32_t producer, uint32_t consumer) {
    klog("xen: %s: bad %s response producer index %u (consumer %u); the link is down", m_name, ring, producer,
         consumer);
    m_broken = true;
}

void Netfront::reap_tx() {
    uint32_t producer = __atomic_load_n(&m_tx->header.rsp_prod, __ATOMIC_ACQUIRE);
    if (producer - m_tx_consumer > NET_TX_RING_SIZE) return broken("TX", producer, m_tx_consumer);
    while (m_tx_consumer != producer) {
        netif_tx_response response = m_tx->ring[m_tx_consumer % NET_TX_RING_SIZE].rsp;
        ++m_tx_consumer;
        if (response.id < TX_SLOTS && m_tx_free_count < TX_SLOTS) m_tx_free[m_tx_free_count++] = response.id;
    }
    __atomic_store_n(&m_tx->header.rsp_event, m_tx_consumer + 1, __ATOMIC_RELEASE);
}

size_t Netfront::receive(void (*on_frame)(void*, const uint8_t*, size_t), void* context, bool& more) {
    more = false;
    if (m_broken) return 0;
    platform::InterruptGuard no_interrupts;
    reap_tx();
    uint32_t producer = __atomic_load_n(&m_rx->header.rsp_prod, __ATOMIC_ACQUIRE);
    if (producer - m_rx_consumer > NET_RX_RING_SIZE) {
        broken("RX", producer, m_rx_consumer);
        return 0;
    }
    size_t frames = 0;
    while (m_rx_consumer != producer) {
        netif_rx_response response = m_rx->ring[m_rx_consumer % NET_RX_RING_SIZE].rsp;
        ++m_rx_consumer;
        if (response.id >= RX_BUFFERS) continue;
        if (response.status > 0 && !(response.flags & (NETRXF_more_data | NETRXF_extra_info)) &&
            response.offset + size_t(response.status) <= PAGE) {
            auto* page = static_cast<const uint8_t*>(platform::phys_to_virt(m_rx_pages[response.id]));
            on_frame(context, page + response.offset, size_t(response.status));
            ++frames;
        }
        post_rx(response.id);  // the page goes back to the backend
    }
    __atomic_store_n(&m_rx->header.req_prod, m_rx_producer, __ATOMIC_RELEASE);
    __atomic_store_n(&m_rx->header.rsp_event, m_rx_consumer + 1, __ATOMIC_RELEASE);
    notify(m_port);
    // A response that arrived after the last read of the producer raises an event: no `more`.
    return frames;
}

platform::HostNic::SendResult Netfront::send(const uint8_t* const* pieces, const size_t* lengths, size_t count) {
    if (m_broken) return SendResult::Gone;
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) total += lengths[i];
    if (total > MAX_FRAME) return SendResult::TooBig;
    platform::InterruptGuard no_interrupts;
    reap_tx();
    if (m_broken) return SendResult::Gone;
    if (!m_tx_free_count) return SendResult::Busy;
    uint16_t slot = m_tx_free[--m_tx_free_count];
    auto* page = static_cast<uint8_t*>(platform::phys_to_virt(m_tx_pages[slot]));
    size_t at = 0;
    for (size_t i = 0; i < count; ++i) {
        memcpy(page + at, pieces[i], lengths[i]);
        at += lengths[i];
    }
    netif_tx_request& request = m_tx->ring[m_tx_producer % NET_TX_RING_SIZE].req;
    request = {m_tx_grants[slot], 0, 0, slot, uint16_t(total)};
    ++m_tx_producer;
    __atomic_store_n(&m_tx->header.req_prod, m_tx_producer, __ATOMIC_RELEASE);
    notify(m_port);
    return SendResult::Sent;
}

alignas(Netfront) char g_storage[sizeof(Netfront)];
Netfront* g_nic;

void found_vif(const xenbus::Device& device, void*) {
    if (g_nic) return;
    auto* nic = new (g_storage) Netfront(device);
    if (nic->connect())
        g_nic = nic;
    else
        klog("xen: %s: not connected; the domain has no network", nic->name());
}

bool g_discovered;

}  // namespace

// Found and connected on the first call, from libos's network stack (not at machine::init: the
// rings' pages come from libos's frame allocator, as for blkfront).
platform::HostNic* netfront_nic() {
    if (!g_discovered && xenstore::available()) {
        g_discovered = true;
        long found = xenbus::discover("vif", found_vif, nullptr, 1);
        if (found < 0) klog("xen: cannot list the domain's network interfaces (device/vif): %ld", found);
    }
    return g_nic;
}

}  // namespace xos::xen
