// PCI for QEMU's pc and q35 machines (platform/kvm internal): configuration space through the
// legacy 0xcf8/0xcfc port mechanism, bus enumeration, BAR decoding and the capability list.
// Nothing is assigned here: the firmware (SeaBIOS) has placed every BAR already; we only read
// where, and turn memory decoding and bus mastering on for the devices we drive.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xos::platform {
class VirtioTransport;
}

namespace xos::kvm::pci {

struct Address {
    uint8_t bus, device, function;
};

// Configuration space of `at` (registers 0..255; `offset` aligned to the access size).
uint32_t read32(Address at, uint8_t offset);
uint16_t read16(Address at, uint8_t offset);
uint8_t read8(Address at, uint8_t offset);
void write32(Address at, uint8_t offset, uint32_t value);
void write16(Address at, uint8_t offset, uint16_t value);

// Standard header registers and bits used outside pci.cpp.
constexpr uint8_t VENDOR_ID = 0x00, DEVICE_ID = 0x02, COMMAND = 0x04, STATUS = 0x06, SUBSYSTEM_ID = 0x2e,
                  INTERRUPT_LINE = 0x3c, INTERRUPT_PIN = 0x3d;
constexpr uint16_t COMMAND_MEMORY = 1u << 1, COMMAND_BUS_MASTER = 1u << 2, COMMAND_INTX_DISABLE = 1u << 10;
constexpr uint8_t CAP_MSIX = 0x11, CAP_VENDOR = 0x09;

struct Function {
    Address address;
    uint16_t vendor_id, device_id;
    uint8_t class_code, subclass, header_type;
};

// True if the machine has the 0xcf8/0xcfc mechanism (pc, q35; not microvm). PCI Express's
// memory-mapped configuration space (ECAM) would also reach registers 256..4095, but its
// address comes from ACPI's MCFG table, which xos does not parse: the port mechanism reaches
// the first 256 bytes of every function, which is all that virtio needs.
bool present();

// Calls visit(function, context) for every function on bus 0 and on the buses behind
// PCI-to-PCI bridges (as the firmware numbered them). Returns the number of functions seen.
size_t enumerate(void (*visit)(const Function& function, void* context), void* context);

// A base address register as the firmware programmed it. `size` 0: not implemented.
struct Bar {
    uint64_t address;
    uint64_t size;
    bool memory;  // false: I/O ports
    bool is64;  // a 64-bit memory BAR (it uses the next register too)
};
// Decodes BAR `index` (0..5) of a type-0 header, sizing it by the all-ones probe with decoding
// turned off meanwhile. `index` must be where a BAR starts (not the upper half of a 64-bit
// one), as in a virtio capability. False for an index out of range.
bool decode_bar(Address at, unsigned index, Bar& out);

// Offset of the first capability with `id` after the one at `after` (0: from the list head);
// 0 when there is none (or no capability list).
uint8_t find_capability(Address at, uint8_t id, uint8_t after = 0);

// Memory space decoding and bus mastering (the device reads and writes our rings) on.
void enable_memory_and_bus_master(Address at);

// The IOAPIC input (GSI) for the function's INTx pin, from what the chipset does with it (no
// ACPI _PRT here): pc (i440FX/PIIX) wires PIRQs to ISA IRQs, which the firmware wrote into the
// interrupt-line register; q35 (ICH9) wires bus 0's slot s pin p (0-based) to PIRQ E..H as
// 4 + (s + p) % 4, GSI 16 + PIRQ. False when not known (no pin, another bus, another chipset).
bool intx_gsi(Address at, uint32_t& gsi);

}  // namespace xos::kvm::pci

namespace xos::kvm {

// virtio_pci.cpp: finds the virtio 1.x PCI devices (once) and stores up to `capacity`
// transports in `out`; returns how many.
size_t discover_virtio_pci(platform::VirtioTransport** out, size_t capacity);

}  // namespace xos::kvm
