// xenbus: split-driver devices as xenstore describes them (platform/xen internal). A frontend
// of kind K (vbd, vif) with id N lives at device/K/N (relative to the domain's home) and names
// its backend (`backend`, a dom0 path, and `backend-id`); both sides publish a `state`
// (XenbusState) and move through Initialising -> InitWait (backend) -> Initialised (frontend:
// rings published) -> Connected.
#pragma once

#include <cstddef>
#include <cstdint>

#include "xen/xen_abi.h"

namespace xos::xen::xenbus {

constexpr size_t PATH_MAX_LENGTH = 128;
// How long a frontend waits for its backend to reach a state: 30 s, or the command line's
// xos.xenbus_timeout=SECONDS (1..3600).
uint64_t connect_timeout_ns();

struct Device {
    char frontend[PATH_MAX_LENGTH];  // "device/vbd/51712"
    char backend[PATH_MAX_LENGTH];  // "/local/domain/0/backend/vbd/1/51712"
    domid_t backend_id;
    uint32_t id;
};

// Lists the frontends of `kind` ("vbd", "vif"): calls found(device, context) for each (at most
// `limit`). Returns how many, or -errno (0 when the domain has none).
long discover(const char* kind, void (*found)(const Device& device, void* context), void* context, size_t limit);

// Writes the frontend's state.
long set_state(const Device& device, XenbusState state);
// Waits (watching the backend's `state`) until the backend's state is at least `wanted`; the
// state reached, or -ETIMEDOUT (with a log line naming the device) after `timeout_ns`.
long wait_backend_state(const Device& device, XenbusState wanted, uint64_t timeout_ns, const char* what);

// Reads an integer under the backend's directory: the number or -errno.
long backend_integer(const Device& device, const char* key);

}  // namespace xos::xen::xenbus
