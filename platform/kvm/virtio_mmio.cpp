// The virtio-mmio transport (virtio 1.x, section 4.2) and device discovery from the kernel
// command line: QEMU's microvm announces each device as virtio_mmio.device=<size>@<addr>:<irq>
// (Linux's syntax: size with an optional K/M suffix, address in hex, the interrupt's GSI).
// Legacy devices (register layout version 1) are refused with a log line. virtio_devices() also
// returns the PCI devices that virtio_pci.cpp finds.
#include <cstring>

#include "xos/log.h"
#include "kvm/irq.h"
#include "kvm/pci.h"
#include "xos/virtio.h"

namespace xos::kvm {

namespace {

constexpr uint32_t MAGIC = 0x74726976;  // "virt"

enum Register : uint32_t {
    MagicValue = 0x000,
    Version = 0x004,
    DeviceId = 0x008,
    DeviceFeatures = 0x010,
    DeviceFeaturesSel = 0x014,
    DriverFeatures = 0x020,
    DriverFeaturesSel = 0x024,
    QueueSel = 0x030,
    QueueNumMax = 0x034,
    QueueNum = 0x038,
    QueueReady = 0x044,
    QueueNotify = 0x050,
    InterruptStatus = 0x060,
    InterruptAck = 0x064,
    Status = 0x070,
    QueueDescLow = 0x080,
    QueueDescHigh = 0x084,
    QueueDriverLow = 0x090,
    QueueDriverHigh = 0x094,
    QueueDeviceLow = 0x0a0,
    QueueDeviceHigh = 0x0a4,
    ConfigGeneration = 0x0fc,
    Config = 0x100,
};

class MmioTransport final : public platform::VirtioTransport {
public:
    // `base`: the registers' physical address.
    MmioTransport(uintptr_t base, uint32_t gsi)
        : m_base(reinterpret_cast<uintptr_t>(platform::phys_to_virt(base))), m_gsi(gsi) {
        static constexpr char HEX[] = "0123456789abcdef";
        char* out = m_name;
        for (const char* p = "virtio-mmio@0x"; *p;) *out++ = *p++;
        for (int shift = 28; shift >= 0; shift -= 4) *out++ = HEX[(base >> shift) & 0xf];
        *out = '\0';
    }

    uint32_t read(uint32_t reg) const { return *reinterpret_cast<volatile uint32_t*>(m_base + reg); }
    void write(uint32_t reg, uint32_t value) { *reinterpret_cast<volatile uint32_t*>(m_base + reg) = value; }

    uint32_t device_id() const override { return read(DeviceId); }
    const char* name() const override { return m_name; }
    uint8_t status() override { return uint8_t(read(Status)); }
    void set_status(uint8_t status) override { write(Status, status); }

    uint64_t device_features() override {
        write(DeviceFeaturesSel, 0);
        uint64_t low = read(DeviceFeatures);
        write(DeviceFeaturesSel, 1);
        return low | uint64_t(read(DeviceFeatures)) << 32;
    }
    void set_driver_features(uint64_t features) override {
        write(DriverFeaturesSel, 0);
        write(DriverFeatures, uint32_t(features));
        write(DriverFeaturesSel, 1);
        write(DriverFeatures, uint32_t(features >> 32));
    }

    uint8_t config_read8(uint32_t offset) override {
        return *reinterpret_cast<volatile uint8_t*>(m_base + Config + offset);
    }
    void config_write8(uint32_t offset, uint8_t value) override {
        *reinterpret_cast<volatile uint8_t*>(m_base + Config + offset) = value;
    }
    uint32_t config_generation() override { return read(ConfigGeneration); }

    uint16_t queue_max_size(uint16_t queue) override {
        write(QueueSel, queue);
        if (read(QueueReady)) return 0;  // already in use
        uint32_t max = read(QueueNumMax);
        return uint16_t(max > 32768 ? 32768 : max);
    }
    bool queue_enable(uint16_t queue, uint16_t size, uint64_t descriptors, uint64_t driver_ring,
                      uint64_t device_ring) override {
        write(QueueSel, queue);
        write(QueueNum, size);
        write(QueueDescLow, uint32_t(descriptors));
        write(QueueDescHigh, uint32_t(descriptors >> 32));
        write(QueueDriverLow, uint32_t(driver_ring));
        write(QueueDriverHigh, uint32_t(driver_ring >> 32));
        write(QueueDeviceLow, uint32_t(device_ring));
        write(QueueDeviceHigh, uint32_t(device_ring >> 32));
        write(QueueReady, 1);
        return read(QueueReady) == 1;
    }
    void notify(uint16_t queue) override {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        write(QueueNotify, queue);
    }

    bool set_interrupt_handler(void (*handler)(void*), void* context, platform::InterruptLocking locking) override {
        m_handler = handler;
        m_context = context;
        return route_gsi(m_gsi, &MmioTransport::on_interrupt, this, locking);
    }

private:
    static void on_interrupt(void* self) {
        auto* t = static_cast<MmioTransport*>(self);
        uint32_t pending = t->read(InterruptStatus);
        if (!pending) return;
        t->write(InterruptAck, pending);
        if (t->m_handler) t->m_handler(t->m_context);
    }

    uintptr_t m_base;  // in the direct map
    uint32_t m_gsi;
    void (*m_handler)(void*) = nullptr;
    void* m_context = nullptr;
    char m_name[32];
};

constexpr size_t MAX_DEVICES = 32;
alignas(MmioTransport) unsigned char g_storage[MAX_DEVICES][sizeof(MmioTransport)];
platform::VirtioTransport* g_devices[MAX_DEVICES];
size_t g_device_count;
bool g_discovered;

// Parses a number in Linux's memparse/simple_strtoul style: 0x hex or decimal, then an
// optional K/M/G suffix when `suffix` is allowed.
bool parse_number(std::string_view& text, uint64_t& out, bool suffix) {
    unsigned base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    }
    uint64_t value = 0;
    size_t digits = 0;
    while (digits < text.size()) {
        char c = text[digits];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = unsigned(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = unsigned(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = unsigned(c - 'A' + 10);
        else
            break;
        value = value * base + d;
        ++digits;
    }
    if (digits == 0) return false;
    text.remove_prefix(digits);
    if (suffix && !text.empty()) {
        switch (text[0]) {
        case 'K':
        case 'k':
            value <<= 10;
            text.remove_prefix(1);
            break;
        case 'M':
        case 'm':
            value <<= 20;
            text.remove_prefix(1);
            break;
        case 'G':
        case 'g':
            value <<= 30;
            text.remove_prefix(1);
            break;
        default: break;
        }
    }
    out = value;
    return true;
}

void probe(std::string_view token) {
    std::string_view spec = token.substr(strlen("virtio_mmio.device="));
    uint64_t size, base, gsi;
    if (!parse_number(spec, size, true) || spec.empty() || spec[0] != '@') goto malformed;
    spec.remove_prefix(1);
    if (!parse_number(spec, base, false) || spec.empty() || spec[0] != ':') goto malformed;
    spec.remove_prefix(1);
    if (!parse_number(spec, gsi, false)) goto malformed;
    if (size < Config || base < 0x100000 || base >= (1ull << 32)) goto malformed;
    {
        auto* regs = static_cast<volatile uint32_t*>(platform::phys_to_virt(base));
        if (regs[MagicValue / 4] != MAGIC) {
            klog("xos: virtio-mmio at %#llx: no device (bad magic)", (unsigned long long)base);
            return;
        }
        uint32_t version = regs[Version / 4];
        if (regs[DeviceId / 4] == 0) return;  // an empty slot
        if (version != 2) {
            klog("xos: virtio-mmio at %#llx: legacy (version %u) device refused; xos drives virtio 1.x "
                 "devices only (QEMU: -global virtio-mmio.force-legacy=false)",
                 (unsigned long long)base, version);
            return;
        }
        if (g_device_count == MAX_DEVICES) return;
        g_devices[g_device_count] = new (g_storage[g_device_count]) MmioTransport(uintptr_t(base), uint32_t(gsi));
        ++g_device_count;
        return;
    }
malformed:
    klog("xos: ignoring malformed %.*s", int(token.size()), token.data());
}

}  // namespace

}  // namespace xos::kvm

namespace xos::platform {

std::span<VirtioTransport* const> virtio_devices(std::span<const std::string_view> platform_tokens) {
    using namespace kvm;
    if (!g_discovered) {
        g_discovered = true;
        for (std::string_view token : platform_tokens)
            if (token.starts_with("virtio_mmio.device=")) probe(token);
        // Then the PCI ones (q35, pc; virtio_pci.cpp), after the mmio ones.
        g_device_count += discover_virtio_pci(g_devices + g_device_count, MAX_DEVICES - g_device_count);
    }
    return {g_devices, g_device_count};
}

}  // namespace xos::platform
