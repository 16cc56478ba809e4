// Differential conformance of AF_UNIX SOCK_SEQPACKET: a connection (socketpair, a bound path:
// listen, connect, accept) whose sends are records, received one at a time (boundaries kept,
// MSG_TRUNC cuts one, MSG_PEEK keeps it), shutdown and peer close (end of file, EPIPE), poll,
// FIONREAD, SCM_RIGHTS, and the errno values for misuse. Prints results and errno names only.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "show.h"

static int revents(int fd, short events) {
    struct pollfd p = {fd, events, 0};
    if (poll(&p, 1, 0) < 0) return -1;
    return p.revents;
}

static socklen_t unix_address(struct sockaddr_un* a, const char* path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, path);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

// recvmsg into `size` bytes: the length, or -1; *flags gets msg_flags.
static ssize_t receive(int fd, char* buffer, size_t size, int in_flags, int* flags) {
    struct iovec v = {buffer, size};
    struct msghdr message = {.msg_iov = &v, .msg_iovlen = 1};
    ssize_t n = recvmsg(fd, &message, in_flags);
    *flags = message.msg_flags & (MSG_TRUNC | MSG_CTRUNC | MSG_EOR);
    return n;
}

static int send_fd(int over, int fd) {
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct iovec v = {"F", 1};
    struct msghdr message = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
    struct cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof fd);
    return (int)sendmsg(over, &message, 0);
}

static int receive_fd(int from) {
    char byte;
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec v = {&byte, 1};
    struct msghdr message = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
    if (recvmsg(from, &message, 0) != 1) return -1;
    struct cmsghdr* header = CMSG_FIRSTHDR(&message);
    if (!header || header->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(header), sizeof fd);
    return fd;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/xos-seqpacket-XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0) return 2;
    char buf[512];
    int sv[2], flags = 0, value = 0;
    socklen_t length;

    // socketpair: records keep their boundaries.
    SHOW("socketpair(SEQPACKET)", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    length = sizeof value;
    SHOW("SO_TYPE", (getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &value, &length), value));
    SHOW("poll fresh pair", revents(sv[0], POLLIN | POLLOUT | POLLRDHUP));
    SHOW("send(ab)", send(sv[0], "ab", 2, 0));
    SHOW("write(cde)", write(sv[0], "cde", 3));
    SHOW("send(fghij)", send(sv[0], "fghij", 5, 0));
    SHOW("poll peer readable", revents(sv[1], POLLIN | POLLOUT | POLLRDHUP));
    SHOW("ioctl(FIONREAD) sums records", (ioctl(sv[1], FIONREAD, &value), value));
    SHOW("recv(100) one record", recv(sv[1], buf, 100, 0));
    SHOW("recv(MSG_PEEK, 100)", recv(sv[1], buf, 100, MSG_PEEK));
    SHOW("read(100) the same record", read(sv[1], buf, 100));
    SHOW("recvmsg(2) of 5: cut", receive(sv[1], buf, 2, 0, &flags));
    SHOW("  msg_flags", flags);
    SHOW("  bytes", buf[0] == 'f' && buf[1] == 'g');
    SHOW("rest of the record dropped", recv(sv[1], buf, 100, MSG_DONTWAIT));
    SHOW("send(hello world)", send(sv[0], "hello world", 11, 0));
    SHOW("recv(3, MSG_TRUNC): real length", recv(sv[1], buf, 3, MSG_TRUNC));
    SHOW("send(empty record)", send(sv[0], "", 0, 0));
    SHOW("send(after empty)", send(sv[0], "z", 1, 0));
    SHOW("recv(empty record)", recv(sv[1], buf, 100, 0));
    SHOW("recv(after empty)", recv(sv[1], buf, 100, 0));
    struct sockaddr_un elsewhere;
    socklen_t elsewhere_length = unix_address(&elsewhere, "nowhere");
    SHOW("sendto(address) ignores it", sendto(sv[0], "to", 2, 0, (struct sockaddr*)&elsewhere, elsewhere_length));
    SHOW("recv(sendto's record)", recv(sv[1], buf, 100, 0));
    SHOW("send(too big)", send(sv[0], malloc(300000), 300000, 0));
    SHOW("listen(connected)", listen(sv[0], 1));

    // Descriptors passed with a record.
    int pipe_fds[2];
    SHOW("pipe", pipe(pipe_fds));
    SHOW("write(pipe)", write(pipe_fds[1], "P", 1));
    SHOW("sendmsg(SCM_RIGHTS)", send_fd(sv[0], pipe_fds[0]));
    int passed = receive_fd(sv[1]);
    SHOW("received a descriptor", passed >= 0);
    SHOW("read(passed pipe)", read(passed, buf, 10));
    close(passed);
    close(pipe_fds[0]);
    close(pipe_fds[1]);

    // Shutdown and peer close.
    SHOW("send(x)", send(sv[0], "x", 1, 0));
    SHOW("shutdown(0, SHUT_WR)", shutdown(sv[0], SHUT_WR));
    SHOW("poll peer after SHUT_WR", revents(sv[1], POLLIN | POLLOUT | POLLRDHUP));
    SHOW("recv(queued record)", recv(sv[1], buf, 100, 0));
    SHOW("recv at EOF", recv(sv[1], buf, 100, 0));
    SHOW("recv(MSG_DONTWAIT) at EOF", recv(sv[1], buf, 100, MSG_DONTWAIT));
    SHOW("send after SHUT_WR", send(sv[0], "x", 1, 0));
    SHOW("send(back) after peer's SHUT_WR", send(sv[1], "y", 1, 0));
    SHOW("close(1)", close(sv[1]));
    SHOW("poll after peer close", revents(sv[0], POLLIN | POLLOUT | POLLRDHUP));
    SHOW("recv after peer close", recv(sv[0], buf, 100, 0));
    SHOW("send to closed peer", send(sv[0], "x", 1, 0));
    close(sv[0]);

    // A bound path: listen, connect, accept.
    struct sockaddr_un address;
    socklen_t address_length = unix_address(&address, "seq.sock");
    int listener = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    SHOW("socket(SEQPACKET)", listener >= 0);
    SHOW("poll unconnected", revents(listener, POLLIN | POLLOUT | POLLRDHUP));
    SHOW("send unconnected", send(listener, "x", 1, 0));
    SHOW("recv unconnected", recv(listener, buf, 10, MSG_DONTWAIT));
    SHOW("bind", bind(listener, (struct sockaddr*)&address, address_length));
    SHOW("listen", listen(listener, 4));
    SHOW("poll listening", revents(listener, POLLIN | POLLOUT | POLLRDHUP));
    fcntl(listener, F_SETFL, O_NONBLOCK);
    SHOW("accept(nonblocking) empty", accept(listener, NULL, NULL));
    fcntl(listener, F_SETFL, 0);
    int client = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    SHOW("connect", connect(client, (struct sockaddr*)&address, address_length));
    SHOW("connect again", connect(client, (struct sockaddr*)&address, address_length));
    SHOW("poll listener with a connection", revents(listener, POLLIN | POLLOUT | POLLRDHUP));
    SHOW("send(one)", send(client, "one", 3, 0));
    SHOW("send(two!)", send(client, "two!", 4, 0));
    int server = accept(listener, NULL, NULL);
    SHOW("accept", server >= 0);
    length = sizeof value;
    SHOW("accepted SO_TYPE", (getsockopt(server, SOL_SOCKET, SO_TYPE, &value, &length), value));
    SHOW("recv(one)", recv(server, buf, 100, 0));
    SHOW("recv(two!)", recv(server, buf, 100, 0));
    SHOW("send(reply)", send(server, "reply", 5, 0));
    SHOW("recv(reply)", recv(client, buf, 100, 0));
    struct sockaddr_un peer;
    socklen_t peer_length = sizeof peer;
    SHOW("getpeername(client)", (getpeername(client, (struct sockaddr*)&peer, &peer_length), peer_length));
    int stream = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("connect(STREAM to SEQPACKET)", connect(stream, (struct sockaddr*)&address, address_length));
    SHOW("send(unread)", send(server, "unread", 6, 0));
    SHOW("close(client) with unread", close(client));
    SHOW("recv after peer close with unread", recv(server, buf, 100, 0));
    SHOW("recv again", recv(server, buf, 100, 0));
    close(stream);
    close(server);
    close(listener);
    unlink("seq.sock");
    rmdir(dir);
    return 0;
}
