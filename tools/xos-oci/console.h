// process.terminal: a pseudo-terminal whose master goes to the engine over --console-socket
// (a unix stream socket; SCM_RIGHTS, as runc sends it) and whose slave is the container's
// stdin, stdout and stderr (xos-run then gives the guest a terminal).
#pragma once

#include <string>

namespace xos::oci {

// Opens a pty, sends its master to the socket at SOCKET_PATH and returns the slave's fd.
// Throws std::runtime_error.
int open_console(const std::string& socket_path);

}  // namespace xos::oci
