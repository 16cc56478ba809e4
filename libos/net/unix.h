// AF_UNIX sockets (net/unix.cpp): SOCK_STREAM and SOCK_DGRAM, socketpair, names in the file
// system (a socket node in ramfs) and in the abstract namespace (a leading NUL byte).
#pragma once

#include "net/socket.h"

namespace xos::net {

const SocketFamily& unix_family();

}  // namespace xos::net
