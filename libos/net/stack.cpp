#include "net/stack.h"

#include <fcntl.h>

#include <cstring>

extern "C" {
#include "lwip/dhcp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/tcpip.h"
}

#include "base/klog.h"
#include "base/spinlock.h"
#include "base/thread_safety.h"
#include "boot/command_line.h"
#include "net/echo.h"
#include "net/frame_device.h"
#include "net/host_net.h"
#include "net/netif_glue.h"
#include "net/virtio_net.h"
#include "vfs/file.h"
#include "vfs/operations.h"
#include "vfs/process.h"
#include "xos/nic.h"
#include "xos/platform.h"
#include "xos/virtio.h"

namespace xos::net {

namespace {

bool g_started;
struct netif* g_netif;
// Whether the NIC has an address: set by status_changed (lwIP's netif callback, core lock held:
// the tcpip thread's DHCP, or start()), read by wait_configured without the core lock (a socket
// syscall that may hold nothing). g_configured_lock orders the two: the waiter checks and queues
// itself under it, the setter changes the flag under it and wakes after letting it go.
SpinLock g_configured_lock;
bool g_configured GUARDED_BY(g_configured_lock);
sched::WaitQueue g_configured_waiters;

void status_changed(struct netif* netif) {
    bool configured = netif_is_up(netif) && !ip4_addr_isany_val(*netif_ip4_addr(netif));
    bool was_configured, waiting;
    {
        SpinLockGuard guard(g_configured_lock);
        was_configured = g_configured;
        g_configured = configured;
        waiting = !g_configured_waiters.empty();  // waiters queue themselves under the lock
    }
    if (configured && !was_configured) {
        char address[IP4ADDR_STRLEN_MAX], gateway[IP4ADDR_STRLEN_MAX];
        ip4addr_ntoa_r(netif_ip4_addr(netif), address, sizeof address);
        ip4addr_ntoa_r(netif_ip4_gw(netif), gateway, sizeof gateway);
        klog("xos: net: %c%c%u %s gateway %s", netif->name[0], netif->name[1], netif->num, address, gateway);
    }
    if (waiting) sched::wake_all(g_configured_waiters);
}

void start_lwip() {
    if (g_started) return;
    tcpip_init(nullptr, nullptr);  // creates the tcpip thread; does not wait for it
    g_started = true;
}

int prefix_length(const char* text) {
    int value = 0;
    if (!*text) return -1;
    for (; *text; ++text) {
        if (*text < '0' || *text > '9') return -1;
        value = value * 10 + (*text - '0');
        if (value > 32) return -1;
    }
    return value;
}

// xos.ip=ADDR/PREFIX, xos.gw=ADDR: a static IPv4 address. False (and a log line) if malformed.
bool configure_static(struct netif* netif, const boot::NetworkOptions& options) {
    char text[64];
    size_t length = strlen(options.ip);
    if (length >= sizeof text) return false;
    memcpy(text, options.ip, length + 1);
    char* slash = strchr(text, '/');
    int prefix = 24;
    if (slash) {
        *slash = '\0';
        prefix = prefix_length(slash + 1);
    }
    ip4_addr_t address, mask, gateway;
    ip4_addr_set_zero(&gateway);
    if (prefix < 0 || !ip4addr_aton(text, &address)) {
        klog("xos: net: bad xos.ip=%s (expected ADDR/PREFIX): using DHCP", options.ip);
        return false;
    }
    if (options.gateway && !ip4addr_aton(options.gateway, &gateway)) {
        klog("xos: net: bad xos.gw=%s: using DHCP", options.gateway);
        return false;
    }
    ip4_addr_set_u32(&mask, prefix == 0 ? 0 : lwip_htonl(~uint32_t(0) << (32 - prefix)));
    netif_set_addr(netif, &address, &mask, &gateway);
    return true;
}

// xos.dns=ADDR replaces /etc/resolv.conf (musl's resolver reads it).
void write_resolv_conf(const char* server) {
    char text[96];
    int length = snprintf(text, sizeof text, "nameserver %s\n", server);
    if (length <= 0 || size_t(length) >= sizeof text) return;
    vfs::Process& process = vfs::process();
    auto file = vfs::open(process.context(), "/etc/resolv.conf", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!file || !(*file)->write({reinterpret_cast<const std::byte*>(text), size_t(length)}, uint64_t(0)))
        klog("xos: net: cannot write /etc/resolv.conf");
}

platform::VirtioTransport* find_nic(const boot::CommandLine& command_line) {
    for (platform::VirtioTransport* transport :
         platform::virtio_devices({command_line.other, command_line.other_count}))
        if (transport->device_id() == virtio::DEVICE_NET) return transport;
    return nullptr;
}

// The NIC: a virtio-net device (VMs), else the platform's host NIC (hosted), else none.
FrameDevice* find_device(const boot::CommandLine& command_line) {
    if (platform::VirtioTransport* transport = find_nic(command_line)) {
        auto* device = mm::kcreate<VirtioNet>(*transport);
        if (!device) panic("net: no memory for the NIC");
        if (auto up = device->initialize(); !up) {
            klog("xos: %s: virtio-net device not usable (errno %d): no network", transport->name(), up.error().code);
            return nullptr;
        }
        return device;
    }
    if (platform::HostNic* nic = platform::host_nic()) {
        auto* device = mm::kcreate<HostNet>(*nic);
        if (!device) panic("net: no memory for the NIC");
        if (auto up = device->initialize(); !up) {
            klog("xos: %s: not usable (errno %d): no network", nic->name(), up.error().code);
            return nullptr;
        }
        return device;
    }
    return nullptr;
}

}  // namespace

CoreLock::CoreLock() { LOCK_TCPIP_CORE(); }
CoreLock::~CoreLock() { UNLOCK_TCPIP_CORE(); }

void start(const boot::CommandLine& command_line) {
    const boot::NetworkOptions& options = command_line.network;
    if (options.dns) write_resolv_conf(options.dns);
    FrameDevice* device = find_device(command_line);
    if (!device && !options.echo_port) return;  // no network: no tcpip thread either
    start_lwip();
    if (device) {
        CoreLock lock;
        auto added = add_netif(*device, status_changed);
        if (!added) {
            klog("xos: %s: cannot add the network interface (errno %d)", device->name(), added.error().code);
        } else {
            g_netif = *added;
            if (!options.ip || !configure_static(g_netif, options)) dhcp_start(g_netif);
        }
    }
    if (options.echo_port) start_echo_service(options.echo_port);
}

void drain_before_exit() {
    if (!g_netif) return;
    // Under the core lock, as every other caller of the device's TX side (a thread of the exiting
    // process may still be sending on another CPU). Its holders never wait long: at most a
    // sender's 20 ms wait for a TX buffer.
    CoreLock lock;
    FrameDevice& device = device_of(g_netif);
    if (device.transmit_idle()) return;  // the usual case: no clock read (it may calibrate)
    uint64_t deadline = platform::monotonic_ns() + 50'000'000;
    while (!device.transmit_idle() && platform::monotonic_ns() < deadline) __builtin_ia32_pause();
}

ErrorOr<void> ensure_started() {
    start_lwip();
    return {};
}

bool wait_configured(sched::Deadline deadline) {
    if (!g_netif) return false;
    SpinLockGuard guard(g_configured_lock);
    for (;;) {
        if (g_configured) return true;
        if (sched::signal_interrupts_current()) return false;
        if (!deadline.is_never() && platform::monotonic_ns() >= deadline.monotonic_ns) return false;
        auto slept = sched::block_current_unlocking(&g_configured_waiters, g_configured_lock, deadline,
                                                    sched::Interruptible::Yes);
        g_configured_lock.lock();
        if (!slept && slept.error().code == EINTR) return false;
    }
}

}  // namespace xos::net
