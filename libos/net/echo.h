// DIAGNOSTIC ONLY: a TCP echo service on lwIP's raw API, started by the kernel command-line
// token xos.echo=PORT (IPv4 and IPv6). It lets a test prove the stack (driver, lwIP, xos-run's
// port forwarding) from the host before the socket syscalls exist; apps never see it.
#pragma once

#include <cstdint>

namespace xos::net {

// Listens on `port`; logs and gives up if it cannot. Takes the core lock itself.
void start_echo_service(uint16_t port);

}  // namespace xos::net
