// blkfront: the frontend of Xen's split block driver, behind the platform's block-device
// interface (xos/block.h: libos lists host_block_devices() as /dev/vda...). One request in
// flight per disk: the data goes through BLKIF_MAX_SEGMENTS_PER_REQUEST pages granted to the
// backend once at connection (a bounce buffer: the caller's buffer need not be page- or
// sector-aligned), so a transfer of up to 44 KiB is one request. The caller waits for the
// response on the ring: with interrupts on it halts until the next event (the ring's event
// channel or a timer tick), otherwise it yields to Xen. A backend that does not answer in
// REQUEST_TIMEOUT_NS, or a ring whose producer index cannot be right, fails the request with
// -EIO and a log line naming the disk.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "xos/log.h"
#include "xen/blkfront.h"
#include "xen/gnttab.h"
#include "xen/hypercall.h"
#include "xen/xen.h"
#include "xen/xenbus.h"
#include "xen/xenstore.h"
#include "xos/libos.h"

namespace xos::xen {

namespace {

constexpr uint64_t REQUEST_TIMEOUT_NS = 30'000'000'000;
constexpr size_t MAX_DISKS = 8;
constexpr size_t PAGE = 4096;
constexpr size_t SECTORS_PER_PAGE = PAGE / platform::BlockDevice::SECTOR_SIZE;

class Blkfront final : public platform::BlockDevice {
public:
    explicit Blkfront(const xenbus::Device& device) : m_device(device) {
        snprintf(m_name, sizeof m_name, "xen-blkfront (%s)", device.frontend);
    }

    bool connect();

    const char* name() const override { return m_name; }
    uint64_t sector_count() const override { return m_sectors; }
    uint32_t block_size() const override { return m_sector_size; }
    bool read_only() const override { return m_read_only; }
    long read(uint64_t sector, void* buffer, size_t count) override;
    long write(uint64_t sector, const void* data, size_t count) override;
    long flush() override;

private:
    long transfer(uint8_t operation, uint64_t sector, void* buffer, size_t count);
    long submit(uint8_t operation, uint64_t sector, size_t count);
    bool publish(const char* key, const char* value);

    xenbus::Device m_device;
    char m_name[xenbus::PATH_MAX_LENGTH + 32];
    blkif_sring* m_ring = nullptr;
    uint32_t m_request_producer = 0, m_response_consumer = 0;
    evtchn_port_t m_port = 0;
    uintptr_t m_pages[BLKIF_MAX_SEGMENTS_PER_REQUEST] = {};  // physical
    grant_ref_t m_page_grants[BLKIF_MAX_SEGMENTS_PER_REQUEST] = {};
    uint64_t m_next_id = 1;
    uint64_t m_sectors = 0;
    uint32_t m_sector_size = SECTOR_SIZE;
    bool m_read_only = false;
    bool m_flush = false;
    bool m_broken = false;
};

bool on_ring_event(evtchn_port_t, void*) { return true; }

bool Blkfront::publish(const char* key, const char* value) {
    char path[xenbus::PATH_MAX_LENGTH + 32];
    snprintf(path, sizeof path, "%s/%s", m_device.frontend, key);
    if (long rc = xenstore::write(path, value)) {
        klog("xen: %s: cannot write %s to xenstore: %ld", m_name, key, rc);
        return false;
    }
    return true;
}

bool Blkfront::connect() {
    // The ring page and the data pages, granted to the backend for as long as we run.
    uintptr_t ring = mm::allocate_page_table_page();
    if (!ring) {
        klog("xen: %s: no memory for the ring", m_name);
        return false;
    }
    m_ring = static_cast<blkif_sring*>(platform::phys_to_virt(ring));
    memset(m_ring, 0, PAGE);  // SHARED_RING_INIT: indices 0, events 1
    m_ring->header.req_event = m_ring->header.rsp_event = 1;
    long ring_ref = gnttab::grant_access(m_device.backend_id, ring, gnttab::Access::ReadWrite);
    if (ring_ref < 0) {
        klog("xen: %s: cannot grant the ring page: %ld", m_name, ring_ref);
        return false;
    }
    for (size_t i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; ++i) {
        m_pages[i] = mm::allocate_page_table_page();
        long ref =
            m_pages[i] ? gnttab::grant_access(m_device.backend_id, m_pages[i], gnttab::Access::ReadWrite) : -ENOMEM;
        if (ref < 0) {
            klog("xen: %s: cannot grant data page %zu: %ld", m_name, i, ref);
            return false;
        }
        m_page_grants[i] = grant_ref_t(ref);
    }
    evtchn_alloc_unbound unbound{DOMID_SELF, m_device.backend_id, 0};
    if (long rc = event_channel_op(EVTCHNOP_alloc_unbound, &unbound)) {
        klog("xen: %s: cannot allocate an event channel: %ld", m_name, rc);
        return false;
    }
    m_port = unbound.port;
    bind_port(m_port, on_ring_event, this);

    if (xenbus::wait_backend_state(m_device, XenbusStateInitWait, xenbus::connect_timeout_ns(), m_name) < 0)
        return false;
    char value[24];
    snprintf(value, sizeof value, "%ld", ring_ref);
    if (!publish("ring-ref", value)) return false;
    snprintf(value, sizeof value, "%u", m_port);
    if (!publish("event-channel", value) || !publish("protocol", "x86_64-abi")) return false;
    xenbus::set_state(m_device, XenbusStateInitialised);
    long state = xenbus::wait_backend_state(m_device, XenbusStateConnected, xenbus::connect_timeout_ns(), m_name);
    if (state < 0) return false;
    if (state != XenbusStateConnected) {
        klog("xen: %s: the backend went to state %ld instead of connecting", m_name, state);
        return false;
    }
    long sectors = xenbus::backend_integer(m_device, "sectors");
    long sector_size = xenbus::backend_integer(m_device, "sector-size");
    long info = xenbus::backend_integer(m_device, "info");
    if (sectors < 0 || sector_size < long(SECTOR_SIZE) || sector_size > long(PAGE) ||
        (sector_size & (sector_size - 1))) {
        klog("xen: %s: the backend gives no usable size (sectors %ld, sector-size %ld)", m_name, sectors, sector_size);
        return false;
    }
    m_sectors = uint64_t(sectors);  // xenstore's "sectors" are 512-byte units
    m_sector_size = uint32_t(sector_size);
    m_read_only = info > 0 && (info & VDISK_READONLY);
    m_flush = xenbus::backend_integer(m_device, "feature-flush-cache") > 0;
    xenbus::set_state(m_device, XenbusStateConnected);
    klog("xen: %s: %llu sectors of 512 bytes%s", m_name, (unsigned long long)m_sectors,
         m_read_only ? ", read-only" : "");
    return true;
}

// Sends one request for the data pages and waits for its response: 0 or -errno.
long Blkfront::submit(uint8_t operation, uint64_t sector, size_t count) {
    if (m_broken) return -EIO;
    blkif_request& request = m_ring->ring[m_request_producer % BLK_RING_SIZE].req;
    memset(&request, 0, sizeof request);
    request.operation = operation;
    request.handle = uint16_t(m_device.id);
    // The backend writes its response over this slot: keep the id here, not in the ring.
    const uint64_t id = m_next_id++;
    request.id = id;
    request.sector_number = sector;
    size_t segments = (count + SECTORS_PER_PAGE - 1) / SECTORS_PER_PAGE;
    request.nr_segments = uint8_t(segments);
    for (size_t i = 0; i < segments; ++i) {
        size_t in_page = count - i * SECTORS_PER_PAGE;
        if (in_page > SECTORS_PER_PAGE) in_page = SECTORS_PER_PAGE;
        request.seg[i] = {m_page_grants[i], 0, uint8_t(in_page - 1), 0};
    }
    ++m_request_producer;
    __atomic_store_n(&m_ring->header.req_prod, m_request_producer, __ATOMIC_RELEASE);
    __atomic_store_n(&m_ring->header.rsp_event, m_response_consumer + 1, __ATOMIC_RELEASE);
    notify(m_port);

    uint64_t deadline = system_time_ns() + REQUEST_TIMEOUT_NS;
    for (;;) {
        uint32_t producer = __atomic_load_n(&m_ring->header.rsp_prod, __ATOMIC_ACQUIRE);
        if (producer - m_response_consumer > BLK_RING_SIZE) {
            klog("xen: %s: bad response producer index %u (consumer %u); the disk is unusable", m_name, producer,
                 m_response_consumer);
            m_broken = true;
            return -EIO;
        }
        while (m_response_consumer != producer) {
            blkif_response response = m_ring->ring[m_response_consumer % BLK_RING_SIZE].rsp;
            ++m_response_consumer;
            if (response.id != id) continue;
            if (response.status == BLKIF_RSP_OKAY) return 0;
            if (response.status == BLKIF_RSP_EOPNOTSUPP) return -EOPNOTSUPP;
            klog("xen: %s: the backend failed a request (operation %u, sector %llu, %zu sectors): status %d", m_name,
                 operation, (unsigned long long)sector, count, int(response.status));
            return -EIO;
        }
        if (system_time_ns() > deadline) {
            klog("xen: %s: no response from the backend in %llu s; the disk is unusable (ring: requests %u, "
                 "responses %u, backend's request event %u)",
                 m_name, (unsigned long long)(REQUEST_TIMEOUT_NS / 1000000000), m_request_producer,
                 __atomic_load_n(&m_ring->header.rsp_prod, __ATOMIC_ACQUIRE),
                 __atomic_load_n(&m_ring->header.req_event, __ATOMIC_ACQUIRE));
            m_broken = true;
            return -EIO;
        }
        if (platform::interrupts_enabled())
            platform::wait_for_interrupt();
        else
            wait_on_port(m_port);
    }
}

long Blkfront::transfer(uint8_t operation, uint64_t sector, void* buffer, size_t count) {
    if (sector > m_sectors || count > m_sectors - sector) return -EINVAL;
    auto* bytes = static_cast<char*>(buffer);
    constexpr size_t chunk = BLKIF_MAX_SEGMENTS_PER_REQUEST * SECTORS_PER_PAGE;
    while (count) {
        size_t n = count < chunk ? count : chunk;
        if (operation == BLKIF_OP_WRITE)
            for (size_t done = 0; done < n; done += SECTORS_PER_PAGE)
                memcpy(platform::phys_to_virt(m_pages[done / SECTORS_PER_PAGE]), bytes + done * SECTOR_SIZE,
                       (n - done < SECTORS_PER_PAGE ? n - done : SECTORS_PER_PAGE) * SECTOR_SIZE);
        if (long rc = submit(operation, sector, n)) return rc;
        if (operation == BLKIF_OP_READ)
            for (size_t done = 0; done < n; done += SECTORS_PER_PAGE)
                memcpy(bytes + done * SECTOR_SIZE, platform::phys_to_virt(m_pages[done / SECTORS_PER_PAGE]),
                       (n - done < SECTORS_PER_PAGE ? n - done : SECTORS_PER_PAGE) * SECTOR_SIZE);
        sector += n;
        bytes += n * SECTOR_SIZE;
        count -= n;
    }
    return 0;
}

long Blkfront::read(uint64_t sector, void* buffer, size_t count) {
    return transfer(BLKIF_OP_READ, sector, buffer, count);
}

long Blkfront::write(uint64_t sector, const void* data, size_t count) {
    if (m_read_only) return -EROFS;
    return transfer(BLKIF_OP_WRITE, sector, const_cast<void*>(data), count);
}

long Blkfront::flush() {
    if (!m_flush) return 0;
    long rc = submit(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    return rc == -EOPNOTSUPP ? 0 : rc;
}

alignas(Blkfront) char g_storage[MAX_DISKS][sizeof(Blkfront)];
platform::BlockDevice* g_disks[MAX_DISKS];
size_t g_disk_count;

void found_disk(const xenbus::Device& device, void*) {
    auto* disk = new (g_storage[g_disk_count]) Blkfront(device);
    if (disk->connect())
        g_disks[g_disk_count++] = disk;
    else
        klog("xen: %s: not connected; the disk is left out", disk->name());
}

bool g_discovered;

}  // namespace

// The disks are found and connected on the first call, from libos (its block registry), not at
// machine::init: connecting takes pages from libos's frame allocator, which exists only once
// kernel_main has set up memory (before that, allocate_page_table_page has nothing to give:
// the first blkfront guests spun there with nothing on their console).
std::span<platform::BlockDevice* const> blkfront_devices() {
    if (!g_discovered && xenstore::available()) {
        g_discovered = true;
        long found = xenbus::discover("vbd", found_disk, nullptr, MAX_DISKS);
        if (found < 0) klog("xen: cannot list the domain's disks (device/vbd): %ld", found);
    }
    return {g_disks, g_disk_count};
}

}  // namespace xos::xen
