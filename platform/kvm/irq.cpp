// I/O APIC routing for device interrupts. QEMU's microvm has an I/O APIC at 0xfec00000 (GSIs
// 0-23) and, with ioapic2=on, a second one at 0xfec10000 (GSIs 24-47) for virtio-mmio; q35/pc
// have the first. Redirection entries start masked; we unmask only the pins we route, as
// fixed-delivery, physical-destination (the boot CPU), level-triggered, active-high
// interrupts. PCI devices with MSI-X skip the I/O APIC: allocate_msi gives them a vector and
// the message to program into their MSI-X table. The local APIC is enabled by timer.cpp
// (virtual-wire mode for the PIC), which also lets it accept I/O APIC and MSI messages.
#include "kvm/irq.h"

#include "xos/platform.h"

namespace xos::kvm {

namespace {

constexpr uintptr_t LAPIC_BASE = 0xfee00000;
constexpr uint32_t LAPIC_ID = 0x20, LAPIC_EOI = 0xb0;

struct IoApic {
    uintptr_t base;
    uint32_t first_gsi;
};
constexpr IoApic IOAPICS[] = {{0xfec00000, 0}, {0xfec10000, 24}};

struct Route {
    void (*handler)(void*);
    void* context;
    platform::InterruptLocking locking;
};
Route g_routes[DEVICE_VECTORS];
uint32_t g_routes_used;

// A device register at physical `address`, through the direct map.
volatile uint32_t& reg32(uintptr_t address) {
    return *static_cast<volatile uint32_t*>(platform::phys_to_virt(address));
}

uint32_t ioapic_read(uintptr_t base, uint32_t reg) {
    reg32(base) = reg;
    return reg32(base + 0x10);
}

void ioapic_write(uintptr_t base, uint32_t reg, uint32_t value) {
    reg32(base) = reg;
    reg32(base + 0x10) = value;
}

uint32_t lapic_read(uint32_t reg) { return reg32(LAPIC_BASE + reg); }
void lapic_write(uint32_t reg, uint32_t value) { reg32(LAPIC_BASE + reg) = value; }

// A free device vector for handler(context), or 0.
uint32_t allocate_vector(void (*handler)(void*), void* context) {
    if (g_routes_used == DEVICE_VECTORS) return 0;
    uint32_t index = g_routes_used++;
    g_routes[index] = {handler, context, platform::InterruptLocking::BigLock};
    return uint32_t(DEVICE_VECTOR_BASE + index);
}

}  // namespace

bool route_gsi(uint32_t gsi, void (*handler)(void*), void* context, platform::InterruptLocking locking) {
    const IoApic* ioapic = nullptr;
    for (const IoApic& candidate : IOAPICS)
        if (gsi >= candidate.first_gsi) ioapic = &candidate;
    if (!ioapic) return false;
    uint32_t version = ioapic_read(ioapic->base, 1);
    if (version == 0xffffffff) return false;  // no I/O APIC there
    uint32_t pins = ((version >> 16) & 0xff) + 1;
    uint32_t pin = gsi - ioapic->first_gsi;
    if (pin >= pins) return false;

    uint32_t vector = allocate_vector(handler, context);
    if (!vector) return false;
    g_routes[vector - DEVICE_VECTOR_BASE].locking = locking;  // before the pin is unmasked
    uint32_t apic_id = lapic_read(LAPIC_ID) >> 24;
    constexpr uint32_t LEVEL = 1u << 15;
    ioapic_write(ioapic->base, 0x11 + 2 * pin, apic_id << 24);
    ioapic_write(ioapic->base, 0x10 + 2 * pin, vector | LEVEL);  // fixed, physical, active high, unmasked
    return true;
}

bool allocate_msi(void (*handler)(void*), void* context, MsiMessage& message) {
    uint32_t vector = allocate_vector(handler, context);
    if (!vector) return false;
    uint32_t apic_id = lapic_read(LAPIC_ID) >> 24;
    message.address = LAPIC_BASE | uint64_t(apic_id) << 12;  // physical destination, no redirection hint
    message.data = vector;  // fixed delivery, edge-triggered
    return true;
}

void set_msi_locking(const MsiMessage& message, platform::InterruptLocking locking) {
    uint32_t vector = message.data & 0xff;
    if (vector >= DEVICE_VECTOR_BASE && vector < DEVICE_VECTOR_BASE + g_routes_used)
        g_routes[vector - DEVICE_VECTOR_BASE].locking = locking;
}

bool device_irq_needs_big_lock(uint64_t vector) {
    if (vector < DEVICE_VECTOR_BASE || vector >= DEVICE_VECTOR_BASE + g_routes_used) return true;
    return g_routes[vector - DEVICE_VECTOR_BASE].locking == platform::InterruptLocking::BigLock;
}

bool dispatch_device_irq(uint64_t vector) {
    if (vector < DEVICE_VECTOR_BASE || vector >= DEVICE_VECTOR_BASE + g_routes_used) return false;
    const Route& route = g_routes[vector - DEVICE_VECTOR_BASE];
    route.handler(route.context);
    lapic_write(LAPIC_EOI, 0);  // level-triggered: the EOI also clears the I/O APIC's remote IRR
    return true;
}

}  // namespace xos::kvm
