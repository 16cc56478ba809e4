// A signal for the first process that came with the console's input: xos-run --forward-signals
// (xos-oci's kill) frames it on COM1 (platform/kvm/console.cpp; docs/host-guest-interface.md).
#pragma once

namespace xos::platform {

// The signal number console_read() stopped at (it reads no further until this is called), or 0.
int console_take_signal();

}  // namespace xos::platform
