#include "net/netif_glue.h"

extern "C" {
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcpip.h"
#include "netif/ethernet.h"
}

#include "base/klog.h"
#include "mm/heap.h"
#include "net/stack.h"
#include "net/frame_device.h"
#include "sched/thread.h"

namespace xos::net {

namespace {

constexpr size_t RX_STACK_PAGES = 16;

struct Glue {
    struct netif netif;
    FrameDevice* device;
    bool link;
};

err_t link_output(struct netif* netif, struct pbuf* p) {
    auto* glue = static_cast<Glue*>(netif->state);
    auto sent = glue->device->transmit(p->tot_len,
                                       [&](uint8_t* destination) { pbuf_copy_partial(p, destination, p->tot_len, 0); });
    if (!sent) return sent.error().code == EMSGSIZE ? ERR_BUF : ERR_MEM;
    return ERR_OK;
}

err_t netif_setup(struct netif* netif) {
    auto* glue = static_cast<Glue*>(netif->state);
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = link_output;
    netif->mtu = 1500;
    netif->mtu6 = 1500;
    netif->hwaddr_len = ETH_HWADDR_LEN;
    for (int i = 0; i < ETH_HWADDR_LEN; ++i) netif->hwaddr[i] = glue->device->mac()[i];
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
    // Checksum offload: the device completes TCP checksums (the driver marks the segments).
    if (glue->device->capabilities() & FrameDevice::TX_CHECKSUM_PARTIAL)
        NETIF_SET_CHECKSUM_CTRL(netif, NETIF_CHECKSUM_ENABLE_ALL & ~NETIF_CHECKSUM_GEN_TCP);
    return ERR_OK;
}

void deliver(struct netif* netif, std::span<const FrameDevice::Segment> segments, size_t total, uint32_t flags) {
    if (total > 0xffff) return;  // larger than a pbuf chain can hold: drop
    struct pbuf* p = pbuf_alloc(PBUF_RAW, uint16_t(total), PBUF_POOL);
    if (!p) return;  // out of memory: drop (the peer retransmits)
    uint16_t offset = 0;
    for (const auto& segment : segments) {
        pbuf_take_at(p, segment.data, uint16_t(segment.length), offset);
        offset = uint16_t(offset + segment.length);
    }
    // A frame whose TCP/UDP checksum the device vouches for (or left partial, from the host)
    // skips lwIP's check; input runs to completion under the core lock, so the netif's check
    // flags can be switched around it. Generation flags are left alone (replies sent meanwhile).
    u16_t checks = netif->chksum_flags;
    if (flags & FrameDevice::FRAME_CHECKSUM_VALID)
        netif->chksum_flags = u16_t(checks & ~(NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP));
    if (netif->input(p, netif) != ERR_OK) pbuf_free(p);
    netif->chksum_flags = checks;
}

// The RX thread: sleeps until the device interrupts with frames or a link change (a device
// wait, no timeout: the device's interrupts end wait_for_rx, configuration changes included),
// then hands every frame to lwIP and follows the link state. A device whose interrupts the
// platform cannot deliver is polled every 10 ms instead. Runs without the big lock
// (docs/locking.md, "Network RX and TX"): the device's lock for the wait, lwIP's core lock for
// the rest.
[[noreturn]] void rx_thread(uintptr_t glue_pointer, uintptr_t) {
    sched::big_lock_leave();  // thread_start took it for libos functions: this one needs none
    auto* glue = reinterpret_cast<Glue*>(glue_pointer);
    FrameDevice& device = *glue->device;
    bool polled = !device.rx_interrupts();
    for (;;) {
        auto deadline = polled ? sched::Deadline::after_ns(10'000'000) : sched::Deadline::never();
        device.wait_for_rx(glue->link, deadline);
        ASSERT(!sched::big_lock_held());
        CoreLock lock;
        device.receive([&](std::span<const FrameDevice::Segment> segments, size_t total, uint32_t flags) {
            deliver(&glue->netif, segments, total, flags);
        });
        bool link = device.link_up();
        if (link != glue->link) {
            glue->link = link;
            klog("xos: %s: link %s", device.name(), link ? "up" : "down");
            if (link)
                netif_set_link_up(&glue->netif);
            else
                netif_set_link_down(&glue->netif);
        }
    }
}

}  // namespace

FrameDevice& device_of(struct netif* netif) { return *static_cast<Glue*>(netif->state)->device; }

ErrorOr<struct netif*> add_netif(FrameDevice& device, void (*status_changed)(struct netif*)) {
    LWIP_ASSERT_CORE_LOCKED();  // the documented precondition (netif_glue.h); panics if not held
    auto* glue = mm::kcreate<Glue>();
    void* stack = mm::alloc_pages(RX_STACK_PAGES);
    if (!glue || !stack) return error(ENOMEM);
    glue->device = &device;
    if (!netif_add(&glue->netif, nullptr, nullptr, nullptr, glue, netif_setup, ethernet_input)) return error(EIO);
    netif_set_status_callback(&glue->netif, status_changed);
    netif_set_link_callback(&glue->netif, status_changed);
    netif_create_ip6_linklocal_address(&glue->netif, 1);
    netif_set_ip6_autoconfig_enabled(&glue->netif, 1);
    netif_set_default(&glue->netif);
    netif_set_up(&glue->netif);
    glue->link = device.link_up();
    if (glue->link) netif_set_link_up(&glue->netif);
    TRY(sched::create_kernel_thread(rx_thread, reinterpret_cast<uintptr_t>(glue), 0,
                                    reinterpret_cast<uintptr_t>(stack) + RX_STACK_PAGES * 4096));
    return &glue->netif;
}

}  // namespace xos::net
