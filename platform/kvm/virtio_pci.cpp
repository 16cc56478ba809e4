// The virtio 1.x PCI transport (virtio spec 4.1, "modern" devices) for QEMU's q35 and pc
// machines. A device's registers are found through vendor-specific capabilities, each naming a
// BAR and a range in it: common configuration (features, status, queues), notifications (one
// address per queue: offset + queue_notify_off * notify_off_multiplier), the ISR byte and the
// device-specific configuration.
//
// Accepted: vendor 0x1af4, device 0x1040 + type (modern) and transitional 0x1000..0x103f (type
// from the subsystem id) when they have the modern capabilities; legacy-only devices are
// refused with a log line (xos-run passes disable-legacy=on).
//
// Interrupts: MSI-X when the device has it (one table entry, shared by the configuration-change
// interrupt and every queue, delivered to the boot CPU on a vector of its own); else INTx
// through the I/O APIC on the GSI pci::intx_gsi derives from the chipset, acknowledged by
// reading the ISR byte; else none, and the drivers poll.
#include <new>

#include "xos/log.h"
#include "kvm/irq.h"
#include "kvm/pci.h"
#include "x86_64/boot_info.h"
#include "xos/virtio.h"

namespace xos::kvm {

namespace {

constexpr uint16_t VIRTIO_VENDOR = 0x1af4;
constexpr uint16_t NO_VECTOR = 0xffff;

enum CapType : uint8_t { CommonCfg = 1, NotifyCfg = 2, IsrCfg = 3, DeviceCfg = 4 };

// struct virtio_pci_common_cfg
enum Common : uint32_t {
    DeviceFeatureSelect = 0,
    DeviceFeature = 4,
    DriverFeatureSelect = 8,
    DriverFeature = 12,
    ConfigMsixVector = 16,
    NumQueues = 18,
    DeviceStatus = 20,
    ConfigGeneration = 21,
    QueueSelect = 22,
    QueueSize = 24,
    QueueMsixVector = 26,
    QueueEnable = 28,
    QueueNotifyOff = 30,
    QueueDesc = 32,
    QueueDriver = 40,
    QueueDevice = 48,
};

// MSI-X capability and table entries (PCI 3.0, 6.8.2).
constexpr uint8_t MSIX_CONTROL = 2, MSIX_TABLE = 4;
constexpr uint16_t MSIX_ENABLE = 1u << 15, MSIX_FUNCTION_MASK = 1u << 14;
constexpr uint32_t MSIX_ENTRY_ADDRESS_LOW = 0, MSIX_ENTRY_ADDRESS_HIGH = 4, MSIX_ENTRY_DATA = 8,
                   MSIX_ENTRY_CONTROL = 12, MSIX_ENTRY_MASKED = 1;

struct Region {
    uintptr_t base = 0;  // in the direct map; 0: absent
    uint32_t length = 0;
};

template <typename T>
T mmio_read(uintptr_t address) {
    return *reinterpret_cast<volatile T*>(address);
}
template <typename T>
void mmio_write(uintptr_t address, T value) {
    *reinterpret_cast<volatile T*>(address) = value;
}

class PciTransport final : public platform::VirtioTransport {
public:
    PciTransport(pci::Address at, uint32_t type, Region common, Region notify, uint32_t notify_multiplier, Region isr,
                 Region device, uintptr_t msix_table)
        : m_at(at), m_type(type), m_common(common.base), m_notify(notify), m_notify_multiplier(notify_multiplier),
          m_isr(isr.base), m_device(device), m_msix_table(msix_table) {
        static constexpr char HEX[] = "0123456789abcdef";
        char* out = m_name;
        for (const char* p = "virtio-pci@"; *p;) *out++ = *p++;
        *out++ = HEX[at.bus >> 4], *out++ = HEX[at.bus & 15], *out++ = ':';
        *out++ = HEX[at.device >> 4], *out++ = HEX[at.device & 15], *out++ = '.';
        *out++ = HEX[at.function & 7];
        *out = '\0';
    }

    uint32_t device_id() const override { return m_type; }
    const char* name() const override { return m_name; }

    uint8_t status() override { return mmio_read<uint8_t>(m_common + DeviceStatus); }
    void set_status(uint8_t status) override {
        mmio_write<uint8_t>(m_common + DeviceStatus, status);
        if (status == 0) {
            // A reset completes when the status reads 0 again (spec 4.1.4.3.2).
            for (int spins = 0; spins < 1000000 && mmio_read<uint8_t>(m_common + DeviceStatus) != 0; ++spins) {}
            m_msix_vector = NO_VECTOR;  // the device forgot its vector assignments
        }
    }

    uint64_t device_features() override {
        mmio_write<uint32_t>(m_common + DeviceFeatureSelect, 0);
        uint64_t low = mmio_read<uint32_t>(m_common + DeviceFeature);
        mmio_write<uint32_t>(m_common + DeviceFeatureSelect, 1);
        return low | uint64_t(mmio_read<uint32_t>(m_common + DeviceFeature)) << 32;
    }
    void set_driver_features(uint64_t features) override {
        mmio_write<uint32_t>(m_common + DriverFeatureSelect, 0);
        mmio_write<uint32_t>(m_common + DriverFeature, uint32_t(features));
        mmio_write<uint32_t>(m_common + DriverFeatureSelect, 1);
        mmio_write<uint32_t>(m_common + DriverFeature, uint32_t(features >> 32));
    }

    uint8_t config_read8(uint32_t offset) override {
        if (!m_device.base || offset >= m_device.length) return 0xff;
        return mmio_read<uint8_t>(m_device.base + offset);
    }
    void config_write8(uint32_t offset, uint8_t value) override {
        if (m_device.base && offset < m_device.length) mmio_write<uint8_t>(m_device.base + offset, value);
    }
    uint32_t config_generation() override { return mmio_read<uint8_t>(m_common + ConfigGeneration); }

    uint16_t queue_max_size(uint16_t queue) override {
        if (queue >= mmio_read<uint16_t>(m_common + NumQueues)) return 0;
        mmio_write<uint16_t>(m_common + QueueSelect, queue);
        if (mmio_read<uint16_t>(m_common + QueueEnable)) return 0;  // already in use
        uint16_t max = mmio_read<uint16_t>(m_common + QueueSize);
        return max > 32768 ? 32768 : max;
    }

    bool queue_enable(uint16_t queue, uint16_t size, uint64_t descriptors, uint64_t driver_ring,
                      uint64_t device_ring) override {
        if (queue >= MAX_QUEUES) return false;
        mmio_write<uint16_t>(m_common + QueueSelect, queue);
        mmio_write<uint16_t>(m_common + QueueSize, size);
        write64(QueueDesc, descriptors);
        write64(QueueDriver, driver_ring);
        write64(QueueDevice, device_ring);
        // The queue's interrupt is chosen before it is enabled (spec 4.1.5.1.3).
        if (setup_msix()) {
            mmio_write<uint16_t>(m_common + QueueMsixVector, m_msix_vector);
            if (mmio_read<uint16_t>(m_common + QueueMsixVector) != m_msix_vector) {
                klog("xos: %s: the device refused MSI-X vector %u for queue %u", m_name, m_msix_vector, queue);
                return false;
            }
        }
        uint32_t notify_offset = uint32_t(mmio_read<uint16_t>(m_common + QueueNotifyOff)) * m_notify_multiplier;
        if (notify_offset + 2 > m_notify.length) {
            klog("xos: %s: queue %u notifies outside its region", m_name, queue);
            return false;
        }
        m_queue_notify[queue] = m_notify.base + notify_offset;
        mmio_write<uint16_t>(m_common + QueueEnable, 1);
        return mmio_read<uint16_t>(m_common + QueueEnable) == 1;
    }

    void notify(uint16_t queue) override {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (queue < MAX_QUEUES && m_queue_notify[queue]) mmio_write<uint16_t>(m_queue_notify[queue], queue);
    }

    bool set_interrupt_handler(void (*handler)(void*), void* context, platform::InterruptLocking locking) override {
        m_handler = handler;
        m_context = context;
        if (m_msix_vector != NO_VECTOR) {
            set_msi_locking(m_msi, locking);
            // Unmask the one table entry now that there is someone to call.
            uintptr_t entry = m_msix_table;
            mmio_write<uint32_t>(entry + MSIX_ENTRY_CONTROL, 0);
            return true;
        }
        uint32_t gsi;
        if (!m_isr || !pci::intx_gsi(m_at, gsi)) return false;
        pci::write16(m_at, pci::COMMAND, uint16_t(pci::read16(m_at, pci::COMMAND) & ~pci::COMMAND_INTX_DISABLE));
        return route_gsi(gsi, &PciTransport::on_intx, this, locking);
    }

private:
    static constexpr uint16_t MAX_QUEUES = 16;

    void write64(uint32_t reg, uint64_t value) {
        mmio_write<uint32_t>(m_common + reg, uint32_t(value));
        mmio_write<uint32_t>(m_common + reg + 4, uint32_t(value >> 32));
    }

    // Enables MSI-X with table entry 0 (masked until set_interrupt_handler) pointing at a vector
    // of ours, and uses it for configuration changes. False without MSI-X (INTx is used then).
    bool setup_msix() {
        if (m_msix_vector != NO_VECTOR) return true;
        if (!m_msix_table || m_msix_failed) return false;
        uint8_t cap = pci::find_capability(m_at, pci::CAP_MSIX);
        if (!m_msi_allocated) {
            if (!allocate_msi(&PciTransport::on_msi, this, m_msi)) {
                m_msix_failed = true;
                return false;
            }
            m_msi_allocated = true;
        }
        uintptr_t entry = m_msix_table;
        mmio_write<uint32_t>(entry + MSIX_ENTRY_CONTROL, MSIX_ENTRY_MASKED);  // while we change it
        mmio_write<uint32_t>(entry + MSIX_ENTRY_ADDRESS_LOW, uint32_t(m_msi.address));
        mmio_write<uint32_t>(entry + MSIX_ENTRY_ADDRESS_HIGH, uint32_t(m_msi.address >> 32));
        mmio_write<uint32_t>(entry + MSIX_ENTRY_DATA, m_msi.data);
        if (m_handler) mmio_write<uint32_t>(entry + MSIX_ENTRY_CONTROL, 0);  // after a reset: still wanted
        uint16_t control = pci::read16(m_at, uint8_t(cap + MSIX_CONTROL));
        pci::write16(m_at, uint8_t(cap + MSIX_CONTROL), uint16_t((control | MSIX_ENABLE) & ~MSIX_FUNCTION_MASK));
        mmio_write<uint16_t>(m_common + ConfigMsixVector, 0);
        if (mmio_read<uint16_t>(m_common + ConfigMsixVector) != 0) {
            klog("xos: %s: MSI-X vector not accepted; using INTx", m_name);
            pci::write16(m_at, uint8_t(cap + MSIX_CONTROL), control);
            m_msix_failed = true;
            return false;
        }
        m_msix_vector = 0;
        return true;
    }

    static void on_msi(void* self) {
        auto* t = static_cast<PciTransport*>(self);
        if (t->m_handler) t->m_handler(t->m_context);
    }

    static void on_intx(void* self) {
        auto* t = static_cast<PciTransport*>(self);
        if (!mmio_read<uint8_t>(t->m_isr)) return;  // reading acknowledges; 0: another device's
        if (t->m_handler) t->m_handler(t->m_context);
    }

    pci::Address m_at;
    uint32_t m_type;
    uintptr_t m_common;
    Region m_notify;
    uint32_t m_notify_multiplier;
    uintptr_t m_isr;
    Region m_device;
    uintptr_t m_msix_table;  // entry 0; 0: no MSI-X
    MsiMessage m_msi{};
    bool m_msi_allocated = false;
    bool m_msix_failed = false;
    uint16_t m_msix_vector = NO_VECTOR;
    uintptr_t m_queue_notify[MAX_QUEUES] = {};
    void (*m_handler)(void*) = nullptr;
    void* m_context = nullptr;
    char m_name[24];
};

constexpr size_t MAX_DEVICES = 16;
alignas(PciTransport) unsigned char g_storage[MAX_DEVICES][sizeof(PciTransport)];
platform::VirtioTransport* g_devices[MAX_DEVICES];
size_t g_device_count;
bool g_discovered;

// Maps the BAR a capability points into (once per BAR) and returns the region, or an absent one.
struct Bars {
    pci::Bar bar[6];
    bool decoded[6] = {};
    bool mapped[6] = {};
};

Region region_in_bar(pci::Address at, Bars& bars, uint8_t index, uint32_t offset, uint32_t length) {
    if (index > 5) return {};
    if (!bars.decoded[index]) {
        pci::decode_bar(at, index, bars.bar[index]);
        bars.decoded[index] = true;
    }
    const pci::Bar& bar = bars.bar[index];
    if (!bar.memory || bar.size == 0 || bar.address == 0 || uint64_t(offset) + length > bar.size) return {};
    if (!bars.mapped[index]) {
        if (!x86::map_device_memory(uintptr_t(bar.address), size_t(bar.size))) return {};
        bars.mapped[index] = true;
    }
    return {reinterpret_cast<uintptr_t>(platform::phys_to_virt(bar.address + offset)), length};
}

void log_address(const char* what, pci::Address at, uint16_t device_id) {
    klog("xos: virtio-pci %02x:%02x.%x (device %#x): %s", at.bus, at.device, at.function, device_id, what);
}

void probe(const pci::Function& function, void*) {
    if (function.vendor_id != VIRTIO_VENDOR) return;
    pci::Address at = function.address;
    uint32_t type;
    bool transitional = false;
    if (function.device_id >= 0x1040 && function.device_id <= 0x107f) {
        type = function.device_id - 0x1040u;
    } else if (function.device_id >= 0x1000 && function.device_id <= 0x103f) {
        type = pci::read16(at, pci::SUBSYSTEM_ID);
        transitional = true;
    } else {
        return;
    }

    Bars bars;
    Region common, notify, isr, device;
    uint32_t notify_multiplier = 0;
    for (uint8_t cap = pci::find_capability(at, pci::CAP_VENDOR); cap;
         cap = pci::find_capability(at, pci::CAP_VENDOR, cap)) {
        uint8_t cfg_type = pci::read8(at, uint8_t(cap + 3));
        uint8_t bar = pci::read8(at, uint8_t(cap + 4));
        uint32_t offset = pci::read32(at, uint8_t(cap + 8));
        uint32_t length = pci::read32(at, uint8_t(cap + 12));
        Region* slot = cfg_type == CommonCfg ? &common
            : cfg_type == NotifyCfg          ? &notify
            : cfg_type == IsrCfg             ? &isr
            : cfg_type == DeviceCfg          ? &device
                                             : nullptr;
        if (!slot || slot->base) continue;  // the first of each kind is the one to use
        *slot = region_in_bar(at, bars, bar, offset, length);
        if (cfg_type == NotifyCfg && slot->base) notify_multiplier = pci::read32(at, uint8_t(cap + 16));
    }
    if (!common.base || !notify.base || !isr.base) {
        log_address(transitional ? "legacy-only (transitional without the virtio 1.x capabilities) device refused; "
                                   "xos drives virtio 1.x devices only (QEMU: disable-legacy=on)"
                                 : "no usable virtio 1.x capabilities: ignored",
                    at, function.device_id);
        return;
    }
    if (common.length < QueueDevice + 8) {
        log_address("common configuration too short: ignored", at, function.device_id);
        return;
    }

    uintptr_t msix_table = 0;
    if (uint8_t cap = pci::find_capability(at, pci::CAP_MSIX)) {
        uint32_t table = pci::read32(at, uint8_t(cap + MSIX_TABLE));
        Region entry0 = region_in_bar(at, bars, uint8_t(table & 7), table & ~7u, 16);
        msix_table = entry0.base;
    }
    if (g_device_count == MAX_DEVICES) return;
    pci::enable_memory_and_bus_master(at);
    g_devices[g_device_count] = new (g_storage[g_device_count])
        PciTransport(at, type, common, notify, notify_multiplier, isr, device, msix_table);
    ++g_device_count;
}

}  // namespace

size_t discover_virtio_pci(platform::VirtioTransport** out, size_t capacity) {
    if (!g_discovered) {
        g_discovered = true;
        pci::enumerate(&probe, nullptr);
    }
    size_t n = g_device_count < capacity ? g_device_count : capacity;
    for (size_t i = 0; i < n; ++i) out[i] = g_devices[i];
    return n;
}

}  // namespace xos::kvm
