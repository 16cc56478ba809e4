#include "console.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <pty.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace xos::oci {

namespace {

std::runtime_error system_error(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

int open_console(const std::string& socket_path) {
    int master = -1, slave = -1;
    char name[128] = {};
    if (::openpty(&master, &slave, name, nullptr, nullptr) != 0) throw system_error("openpty");
    ::fcntl(master, F_SETFD, FD_CLOEXEC);
    int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof address.sun_path) {
        ::close(master), ::close(slave), ::close(sock);
        throw std::runtime_error("--console-socket: path too long");
    }
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size());
    if (sock < 0 || ::connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        auto error = system_error("--console-socket " + socket_path);
        ::close(master), ::close(slave), ::close(sock);
        throw error;
    }
    // The pty's name as the message (runc's utils.SendFd), its master as the descriptor.
    struct iovec iov{name, std::strlen(name)};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    struct cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &master, sizeof(int));
    ssize_t sent = ::sendmsg(sock, &message, MSG_NOSIGNAL);
    int saved = errno;
    ::close(sock);
    ::close(master);
    if (sent < 0) {
        ::close(slave);
        errno = saved;
        throw system_error("--console-socket: sendmsg");
    }
    return slave;
}

}  // namespace xos::oci
