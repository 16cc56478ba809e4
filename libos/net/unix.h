// AF_UNIX sockets (net/unix.cpp): SOCK_STREAM and SOCK_DGRAM, socketpair, names in the file
// system (a socket node in ramfs) and in the abstract namespace (a leading NUL byte).
#pragma once

#include <cstdint>

#include "net/socket.h"

namespace xos::net {

const SocketFamily& unix_family();

// /proc/xos/unix: AF_UNIX sockets alive, references to them in flight (SCM_RIGHTS in queues),
// garbage collections run and sockets they freed (unreachable cycles in flight).
struct UnixStats {
    uint64_t sockets = 0;
    uint64_t in_flight = 0;
    uint64_t collections = 0;
    uint64_t collected = 0;
};
const UnixStats& unix_stats();

}  // namespace xos::net
