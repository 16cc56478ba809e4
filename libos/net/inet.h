// AF_INET / AF_INET6 sockets (net/inet.cpp) over lwIP's raw API: SOCK_STREAM (TCP) and
// SOCK_DGRAM (UDP). An AF_INET6 socket is dual-stack (IPv4 peers appear as ::ffff:a.b.c.d).
#pragma once

#include "net/socket.h"

namespace xos::net {

const SocketFamily& inet_family();
const SocketFamily& inet6_family();

}  // namespace xos::net
