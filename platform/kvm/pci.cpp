// PCI configuration mechanism #1: write bus/device/function/register to 0xcf8, then access the
// dword at 0xcfc (+ the byte offset for narrower accesses). Present on pc and q35 (and real
// chipsets); microvm has no PCI and reads all-ones there.
#include "kvm/pci.h"

namespace xos::kvm::pci {

namespace {

constexpr uint16_t CONFIG_ADDRESS = 0xcf8, CONFIG_DATA = 0xcfc;
constexpr uint8_t HEADER_TYPE = 0x0e, CLASS = 0x0b, SUBCLASS = 0x0a, BAR0 = 0x10, SECONDARY_BUS = 0x19,
                  CAPABILITIES = 0x34;
constexpr uint16_t STATUS_CAPABILITIES = 1u << 4;
constexpr uint16_t COMMAND_IO = 1u << 0;

inline void outl(uint16_t port, uint32_t value) { asm volatile("outl %0, %1" ::"a"(value), "Nd"(port)); }
inline uint32_t inl(uint16_t port) {
    uint32_t v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline void outw(uint16_t port, uint16_t value) { asm volatile("outw %0, %1" ::"a"(value), "Nd"(port)); }
inline uint16_t inw(uint16_t port) {
    uint16_t v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void select(Address at, uint8_t offset) {
    outl(CONFIG_ADDRESS,
         0x80000000u | uint32_t(at.bus) << 16 | uint32_t(at.device & 31) << 11 | uint32_t(at.function & 7) << 8 |
             (offset & 0xfc));
}

struct Walk {
    void (*visit)(const Function&, void*);
    void* context;
    size_t seen;
    uint32_t buses_seen[8];  // bitmap of 256 buses: never walk one twice (a bad bridge setup)
};

void scan_bus(Walk& walk, uint8_t bus, int depth);

void scan_function(Walk& walk, Address at, int depth) {
    Function f;
    f.address = at;
    f.vendor_id = read16(at, VENDOR_ID);
    f.device_id = read16(at, DEVICE_ID);
    f.class_code = read8(at, CLASS);
    f.subclass = read8(at, SUBCLASS);
    f.header_type = read8(at, HEADER_TYPE);
    ++walk.seen;
    walk.visit(f, walk.context);
    // A PCI-to-PCI bridge (class 6/4, header type 1): its secondary bus as the firmware set it.
    if ((f.header_type & 0x7f) == 1 && f.class_code == 0x06 && f.subclass == 0x04 && depth < 8) {
        uint8_t secondary = read8(at, SECONDARY_BUS);
        if (secondary != 0) scan_bus(walk, secondary, depth + 1);
    }
}

void scan_bus(Walk& walk, uint8_t bus, int depth) {
    if (walk.buses_seen[bus / 32] & (1u << (bus % 32))) return;
    walk.buses_seen[bus / 32] |= 1u << (bus % 32);
    for (uint8_t device = 0; device < 32; ++device) {
        Address at{bus, device, 0};
        if (read16(at, VENDOR_ID) == 0xffff) continue;
        bool multifunction = read8(at, HEADER_TYPE) & 0x80;
        for (uint8_t function = 0; function < (multifunction ? 8 : 1); ++function) {
            at.function = function;
            if (read16(at, VENDOR_ID) != 0xffff) scan_function(walk, at, depth);
        }
    }
}

}  // namespace

uint32_t read32(Address at, uint8_t offset) {
    select(at, offset);
    return inl(CONFIG_DATA);
}
uint16_t read16(Address at, uint8_t offset) {
    select(at, offset);
    return inw(uint16_t(CONFIG_DATA + (offset & 2)));
}
uint8_t read8(Address at, uint8_t offset) {
    select(at, offset);
    return inb(uint16_t(CONFIG_DATA + (offset & 3)));
}
void write32(Address at, uint8_t offset, uint32_t value) {
    select(at, offset);
    outl(CONFIG_DATA, value);
}
void write16(Address at, uint8_t offset, uint16_t value) {
    select(at, offset);
    outw(uint16_t(CONFIG_DATA + (offset & 2)), value);
}

bool present() {
    // The address register reads back what was written only where mechanism #1 exists.
    uint32_t saved = inl(CONFIG_ADDRESS);
    outl(CONFIG_ADDRESS, 0x80000000u);
    bool ok = inl(CONFIG_ADDRESS) == 0x80000000u;
    outl(CONFIG_ADDRESS, saved);
    return ok;
}

size_t enumerate(void (*visit)(const Function& function, void* context), void* context) {
    if (!present()) return 0;
    Walk walk{visit, context, 0, {}};
    scan_bus(walk, 0, 0);
    return walk.seen;
}

bool decode_bar(Address at, unsigned index, Bar& out) {
    out = {};
    if (index > 5) return false;
    uint8_t reg = uint8_t(BAR0 + 4 * index);
    uint16_t command = read16(at, COMMAND);
    write16(at, COMMAND, uint16_t(command & ~(COMMAND_IO | COMMAND_MEMORY)));  // no decoding while sizing
    uint32_t low = read32(at, reg);
    write32(at, reg, 0xffffffff);
    uint32_t low_mask = read32(at, reg);
    write32(at, reg, low);
    out.memory = (low & 1) == 0;
    out.is64 = out.memory && (low & 6) == 4 && index < 5;
    if (!out.memory) {
        out.address = low & ~3u;
        uint32_t mask = low_mask & ~3u;
        if (mask) out.size = (~(mask | 0xffff0000u) + 1) & 0xffff;  // I/O BARs may decode 16 bits only
    } else if (out.is64) {
        uint8_t high_reg = uint8_t(reg + 4);
        uint32_t high = read32(at, high_reg);
        write32(at, high_reg, 0xffffffff);
        uint32_t high_mask = read32(at, high_reg);
        write32(at, high_reg, high);
        out.address = (uint64_t(high) << 32) | (low & ~0xfu);
        uint64_t mask = (uint64_t(high_mask) << 32) | (low_mask & ~0xfu);
        if (mask) out.size = ~mask + 1;
    } else {
        out.address = low & ~0xfu;
        uint32_t mask = low_mask & ~0xfu;
        if (mask) out.size = uint32_t(~mask + 1);
    }
    write16(at, COMMAND, command);
    return true;
}

uint8_t find_capability(Address at, uint8_t id, uint8_t after) {
    if (!(read16(at, STATUS) & STATUS_CAPABILITIES)) return 0;
    uint8_t offset = after ? read8(at, uint8_t(after + 1)) : read8(at, CAPABILITIES);
    for (int guard = 0; guard < 48 && offset >= 0x40; ++guard) {
        offset &= 0xfc;
        if (read8(at, offset) == id) return offset;
        offset = read8(at, uint8_t(offset + 1));
    }
    return 0;
}

void enable_memory_and_bus_master(Address at) {
    uint16_t command = read16(at, COMMAND);
    write16(at, COMMAND, uint16_t(command | COMMAND_MEMORY | COMMAND_BUS_MASTER));
}

bool intx_gsi(Address at, uint32_t& gsi) {
    uint8_t pin = read8(at, INTERRUPT_PIN);  // 1..4: INTA..INTD; 0: none
    if (pin < 1 || pin > 4 || at.bus != 0) return false;
    Address host{0, 0, 0};
    uint32_t host_id = read32(host, VENDOR_ID);
    if (host_id == 0x12378086) {  // i440FX (pc): the IOAPIC sees PIRQs on their ISA IRQ
        uint8_t line = read8(at, INTERRUPT_LINE);
        if (line == 0 || line >= 16) return false;
        gsi = line;
        return true;
    }
    if (host_id == 0x29c08086) {  // q35 MCH + ICH9 (QEMU's default chipset routing)
        unsigned intx = pin - 1u;
        unsigned pirq = at.device >= 25 ? intx : 4 + (at.device + intx) % 4;
        gsi = 16 + pirq;
        return true;
    }
    return false;
}

}  // namespace xos::kvm::pci
