// Device interrupts through the I/O APIC (platform/kvm internal). The timer keeps the 8259 PIC
// (vectors 32-47, see timer.cpp); devices such as virtio-mmio, whose lines go to I/O APIC pins
// (GSIs) on microvm, and PCI devices with MSI-X get vectors from DEVICE_VECTOR_BASE up.
#pragma once

#include <cstdint>

#include "xos/platform.h"

namespace xos::kvm {

constexpr uint64_t DEVICE_VECTOR_BASE = 0x30;
constexpr uint64_t DEVICE_VECTORS = 32;

// Routes `gsi` (level-triggered, active high: virtio-mmio, PCI INTx) to a vector of its own on
// the boot CPU and calls handler(context) on each interrupt, before the local APIC EOI. The
// handler must silence the device (acknowledge its interrupt status). False if there is no I/O
// APIC pin for that GSI or no vector left.
// `locking`: whether traps take the big lock around the handler (device_irq_needs_big_lock).
bool route_gsi(uint32_t gsi, void (*handler)(void*), void* context, platform::InterruptLocking locking);

// A message-signalled interrupt (PCI MSI/MSI-X): the device writes `data` to `address`.
struct MsiMessage {
    uint64_t address;
    uint32_t data;
};

// Gives handler(context) a vector of its own on the boot CPU for an edge-triggered MSI/MSI-X
// and returns the message that raises it (fixed delivery, physical destination: the boot
// CPU's local APIC). The handler runs like a routed GSI's, before the local APIC EOI. False if
// no vector is left.
bool allocate_msi(void (*handler)(void*), void* context, MsiMessage& message);
// Whether the MSI's handler runs under the big lock (BigLock until set).
void set_msi_locking(const MsiMessage& message, platform::InterruptLocking locking);

// ISA interrupts through the 8259 PIC (timer.cpp): unmasks IRQ `irq` (0-7). COM1's (IRQ 4)
// calls on_com1_interrupt() (console.cpp).
void unmask_isa_irq(unsigned irq);
void on_com1_interrupt();

// For timer.cpp's handle_irq: true if `vector` is a routed device vector (handled and EOId).
bool dispatch_device_irq(uint64_t vector);
// For traps (machine.h irq_needs_big_lock): false only for a device vector routed with
// InterruptLocking::OwnLocks.
bool device_irq_needs_big_lock(uint64_t vector);

}  // namespace xos::kvm
