// Device interrupts through the I/O APIC (platform/kvm internal). The timer keeps the 8259 PIC
// (vectors 32-47, see timer.cpp); devices such as virtio-mmio, whose lines go to I/O APIC pins
// (GSIs) on microvm, get vectors from DEVICE_VECTOR_BASE up.
#pragma once

#include <cstdint>

namespace xos::kvm {

constexpr uint64_t DEVICE_VECTOR_BASE = 0x30;
constexpr uint64_t DEVICE_VECTORS = 32;

// Routes `gsi` (level-triggered, active high: virtio-mmio, PCI INTx) to a vector of its own on
// the boot CPU and calls handler(context) on each interrupt, before the local APIC EOI. The
// handler must silence the device (acknowledge its interrupt status). False if there is no I/O
// APIC pin for that GSI or no vector left.
bool route_gsi(uint32_t gsi, void (*handler)(void*), void* context);

// For timer.cpp's handle_irq: true if `vector` is a routed device vector (handled and EOId).
bool dispatch_device_irq(uint64_t vector);

}  // namespace xos::kvm
