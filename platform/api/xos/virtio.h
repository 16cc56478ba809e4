// Virtio devices as the platform finds them: one transport interface behind which the
// platform hides how a device's registers are reached (platform/kvm: virtio-mmio on microvm,
// announced on the kernel command line; virtio-pci on q35/pc, found by PCI enumeration).
// Drivers in libos (libos/virtio: the handshake and the virtqueue; 9p, net, blk on top) speak
// only to VirtioTransport.
//
// Modern (virtio 1.x) devices only: the platform refuses legacy ones at discovery with a log
// line, so every transport returned here negotiates VIRTIO_F_VERSION_1.
//
// Memory handed to a device (rings, buffers) must be kernel memory from mm::alloc_pages or
// kmalloc (the direct map); dma_address() gives the (physical) address the device uses for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "xos/platform.h"

namespace xos::platform {

class VirtioTransport {
public:
    VirtioTransport() = default;
    VirtioTransport(const VirtioTransport&) = delete;
    VirtioTransport& operator=(const VirtioTransport&) = delete;

    // Virtio device type (1 net, 2 block, 9 9p...).
    virtual uint32_t device_id() const = 0;
    // "virtio-mmio@0xfeb00e00", for log lines.
    virtual const char* name() const = 0;

    // Device status register (ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK, FAILED); writing 0
    // resets the device.
    virtual uint8_t status() = 0;
    virtual void set_status(uint8_t status) = 0;

    // The 64 feature bits the device offers / the driver accepts.
    virtual uint64_t device_features() = 0;
    virtual void set_driver_features(uint64_t features) = 0;

    // Device-specific configuration space, byte-wise (little-endian fields; the caller uses
    // config_generation() to read multi-byte fields consistently).
    virtual uint8_t config_read8(uint32_t offset) = 0;
    virtual void config_write8(uint32_t offset, uint8_t value) = 0;
    virtual uint32_t config_generation() = 0;

    // Queues: the largest size the device supports (0: no such queue), then the ring
    // addresses (device addresses, see dma_address) and the size chosen. False on failure.
    virtual uint16_t queue_max_size(uint16_t queue) = 0;
    virtual bool queue_enable(uint16_t queue, uint16_t size, uint64_t descriptors, uint64_t driver_ring,
                              uint64_t device_ring) = 0;
    // Tells the device that `queue` has new available buffers.
    virtual void notify(uint16_t queue) = 0;

    // Calls handler(context) in interrupt context (interrupts off) each time the device
    // interrupts, after acknowledging the interrupt at the device. False if the platform cannot
    // deliver this device's interrupts; the driver must then poll its used rings. `locking`: under
    // the big lock or not (xos/platform.h).
    virtual bool set_interrupt_handler(void (*handler)(void* context), void* context, InterruptLocking locking) = 0;

protected:
    ~VirtioTransport() = default;
};

// Finds the machine's virtio devices, once; later calls return the same list. `platform_tokens`
// are the kernel command line's tokens that are not xos.* (boot::CommandLine::other): on
// microvm, QEMU describes each virtio-mmio device there as virtio_mmio.device=<size>@<addr>:<irq>.
// On kvm the list holds those virtio-mmio devices first, then the PCI ones.
std::span<VirtioTransport* const> virtio_devices(std::span<const std::string_view> platform_tokens);

// The address a device uses for kernel memory at `pointer`.
inline uint64_t dma_address(const void* pointer) { return virt_to_phys(pointer); }

}  // namespace xos::platform
