// Differential conformance of sockets: AF_UNIX stream and datagram sockets (socketpair, bound
// paths, abstract names), nonblocking connect/accept, shutdown and peer close, socket options,
// and the errno values for misuse. Prints results and errno names only.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int signal) {
    (void)signal;
    sigpipes++;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, on_sigpipe);
    char dir[] = "/tmp/xos-sockets-XXXXXX";
    if (!mkdtemp(dir) || chdir(dir) != 0) return 2;
    char buf[256];
    int sv[2];
    struct stat st;

    // socketpair stream: data, FIONREAD, poll, shutdown, peer close.
    SHOW("socketpair(STREAM)", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    SHOW("fstat is socket", (fstat(sv[0], &st), S_ISSOCK(st.st_mode)));
    SHOW("poll fresh pair", revents(sv[0], POLLIN | POLLOUT | POLLRDHUP));
    SHOW("write(hello)", write(sv[0], "hello", 5));
    SHOW("send(world)", send(sv[0], "world", 5, 0));
    int avail = -1;
    SHOW("ioctl(FIONREAD)", (ioctl(sv[1], FIONREAD, &avail), avail));
    SHOW("poll readable", revents(sv[1], POLLIN | POLLOUT | POLLRDHUP));
    SHOW("recv(MSG_PEEK, 3)", recv(sv[1], buf, 3, MSG_PEEK));
    SHOW("recv(100) merges writes", recv(sv[1], buf, 100, 0));
    SHOW("recv(MSG_DONTWAIT) empty", recv(sv[1], buf, 100, MSG_DONTWAIT));
    SHOW("fcntl(O_NONBLOCK)", fcntl(sv[1], F_SETFL, O_NONBLOCK));
    SHOW("read nonblocking empty", read(sv[1], buf, 100));
    SHOW("shutdown(0, SHUT_WR)", shutdown(sv[0], SHUT_WR));
    SHOW("poll peer after SHUT_WR", revents(sv[1], POLLIN | POLLOUT | POLLRDHUP));
    SHOW("read at EOF", read(sv[1], buf, 100));
    SHOW("send after SHUT_WR (NOSIGNAL)", send(sv[0], "x", 1, MSG_NOSIGNAL));
    SHOW("shutdown(bad how)", shutdown(sv[0], 7));
    SHOW("close(0)", close(sv[0]));
    SHOW("poll after peer close", revents(sv[1], POLLIN | POLLOUT | POLLRDHUP));
    SHOW("send to closed peer (NOSIGNAL)", send(sv[1], "x", 1, MSG_NOSIGNAL));
    SHOW("sigpipes so far", sigpipes);
    SHOW("write to closed peer", write(sv[1], "x", 1));
    SHOW("sigpipes after write", sigpipes);
    close(sv[1]);

    // Peer closes with unread data: ECONNRESET.
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "abc", 3);
    close(sv[1]);
    SHOW("read after reset", read(sv[0], buf, 10));
    close(sv[0]);

    // socketpair datagram: boundaries, truncation, peek.
    SHOW("socketpair(DGRAM)", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    SHOW("send(dgram 5)", send(sv[0], "12345", 5, 0));
    SHOW("send(dgram 3)", send(sv[0], "678", 3, 0));
    SHOW("recv(MSG_PEEK, 2)", recv(sv[1], buf, 2, MSG_PEEK));
    SHOW("recv(2) truncates", recv(sv[1], buf, 2, 0));
    SHOW("recv(MSG_TRUNC, 1) real size", recv(sv[1], buf, 1, MSG_TRUNC));
    SHOW("recv(DONTWAIT) empty", recv(sv[1], buf, 10, MSG_DONTWAIT));
    struct iovec iov = {buf, 2};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    send(sv[0], "abcdef", 6, 0);
    SHOW("recvmsg(2 of 6)", recvmsg(sv[1], &mh, 0));
    SHOW("msg_flags has MSG_TRUNC", !!(mh.msg_flags & MSG_TRUNC));
    close(sv[0]);
    close(sv[1]);

    // Named stream sockets: bind, listen, connect, accept.
    struct sockaddr_un addr, peer;
    socklen_t len = unix_address(&addr, "srv.sock"), plen;
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("listen(unbound)", listen(srv, 4));
    SHOW("bind(srv.sock)", bind(srv, (struct sockaddr*)&addr, len));
    SHOW("stat is socket", (stat("srv.sock", &st), S_ISSOCK(st.st_mode)));
    SHOW("bind again", bind(srv, (struct sockaddr*)&addr, len));
    int other = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("bind(same path)", bind(other, (struct sockaddr*)&addr, len));
    SHOW("connect(not listening)", connect(other, (struct sockaddr*)&addr, len));
    SHOW("listen", listen(srv, 4));
    plen = sizeof peer;
    SHOW("getsockname length", (getsockname(srv, (struct sockaddr*)&peer, &plen), (long)plen));
    SHOW("getsockname path", !strcmp(peer.sun_path, "srv.sock"));
    SHOW("accept4(NONBLOCK) on empty", (fcntl(srv, F_SETFL, O_NONBLOCK), accept(srv, NULL, NULL)));
    SHOW("poll listener empty", revents(srv, POLLIN | POLLOUT));
    int cli = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    SHOW("getpeername(unconnected)", getpeername(cli, (struct sockaddr*)&peer, &plen));
    SHOW("poll unconnected", revents(cli, POLLIN | POLLOUT));
    SHOW("send unconnected", send(cli, "x", 1, MSG_NOSIGNAL));
    SHOW("connect(nonblocking)", connect(cli, (struct sockaddr*)&addr, len));
    SHOW("connect again", connect(cli, (struct sockaddr*)&addr, len));
    SHOW("poll listener pending", revents(srv, POLLIN | POLLOUT));
    SHOW("send before accept", send(cli, "early", 5, 0));
    plen = sizeof peer;
    SHOW("getpeername(client) path",
         (getpeername(cli, (struct sockaddr*)&peer, &plen), !strcmp(peer.sun_path, "srv.sock")));
    int so_error = -1;
    socklen_t olen = sizeof so_error;
    SHOW("SO_ERROR", (getsockopt(cli, SOL_SOCKET, SO_ERROR, &so_error, &olen), so_error));
    plen = sizeof peer;
    int acc = accept4(srv, (struct sockaddr*)&peer, &plen, SOCK_CLOEXEC);
    SHOW("accept4 ok", acc >= 0);
    SHOW("accepted peer addrlen (unbound client)", (long)plen);
    SHOW("accepted FD_CLOEXEC", fcntl(acc, F_GETFD));
    SHOW("recv on accepted", recv(acc, buf, sizeof buf, 0));
    plen = sizeof peer;
    SHOW("getsockname(accepted)",
         (getsockname(acc, (struct sockaddr*)&peer, &plen), !strcmp(peer.sun_path, "srv.sock")));
    close(acc);
    close(cli);
    close(other);

    // A pending, never-accepted connection is reset when the listener closes.
    cli = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("connect (pending)", connect(cli, (struct sockaddr*)&addr, len));
    close(srv);
    SHOW("read after listener close", read(cli, buf, 10));
    close(cli);
    cli = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("connect(path of closed socket)", connect(cli, (struct sockaddr*)&addr, len));
    unix_address(&addr, "missing.sock");
    SHOW("connect(missing path)", connect(cli, (struct sockaddr*)&addr, len));
    int fd = open("plain", O_CREAT | O_RDWR, 0600);
    unix_address(&addr, "plain");
    SHOW("connect(regular file)", connect(cli, (struct sockaddr*)&addr, len));
    close(cli);

    // Datagram sockets with names, and the abstract namespace.
    int d1 = socket(AF_UNIX, SOCK_DGRAM, 0), d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    socklen_t l1 = unix_address(&addr, "d1.sock");
    SHOW("bind(d1)", bind(d1, (struct sockaddr*)&addr, l1));
    SHOW("listen(dgram)", listen(d1, 1));
    SHOW("send unconnected dgram", send(d2, "x", 1, 0));
    SHOW("sendto(d1)", sendto(d2, "ping", 4, 0, (struct sockaddr*)&addr, l1));
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    SHOW("recvfrom(unnamed sender)", recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr*)&from, &flen));
    SHOW("from length", (long)flen);
    struct sockaddr_un abs = {.sun_family = AF_UNIX};
    memcpy(abs.sun_path, "\0xos-abstract-test", 18);
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 18;
    SHOW("bind(d2, abstract)", bind(d2, (struct sockaddr*)&abs, alen));
    SHOW("sendto(d1) from abstract", sendto(d2, "pong", 4, 0, (struct sockaddr*)&addr, l1));
    flen = sizeof from;
    SHOW("recvfrom(abstract sender)", recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr*)&from, &flen));
    SHOW("from length", (long)flen);
    SHOW("from name", !memcmp(from.sun_path, abs.sun_path, 18));
    SHOW("connect(d1 -> abstract)", connect(d1, (struct sockaddr*)&abs, alen));
    SHOW("send(d1 connected)", send(d1, "back", 4, 0));
    SHOW("recv(d2)", recv(d2, buf, sizeof buf, 0));
    int stream = socket(AF_UNIX, SOCK_STREAM, 0);
    SHOW("connect(stream -> dgram)", connect(stream, (struct sockaddr*)&addr, l1));
    close(stream);
    close(d1);
    SHOW("send to closed connected peer", send(d2, "x", 1, 0) == -1 ? -1 : 0);
    close(d2);

    // Options.
    int s = socket(AF_UNIX, SOCK_STREAM, 0), v;
    olen = sizeof v;
    SHOW("SO_TYPE", (getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &olen), v));
    SHOW("SO_DOMAIN", (getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &olen), v));
    SHOW("SO_ACCEPTCONN", (getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v, &olen), v));
    v = 1;
    SHOW("setsockopt(SO_REUSEADDR)", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
    SHOW("SO_REUSEADDR", (getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &olen), v));
    v = 1;
    SHOW("setsockopt(SO_KEEPALIVE)", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v));
    v = 65536;
    SHOW("setsockopt(SO_SNDBUF)", setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
    SHOW("SO_SNDBUF doubled", (getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &olen), v));
    v = 1;
    SHOW("setsockopt(short optlen)", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2));
    SHOW("setsockopt(unknown)", setsockopt(s, SOL_SOCKET, 9999, &v, sizeof v));
    SHOW("setsockopt(TCP_NODELAY on unix)", setsockopt(s, IPPROTO_TCP, 1, &v, sizeof v));
    struct linger lg = {1, 5};
    SHOW("setsockopt(SO_LINGER)", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    olen = sizeof lg;
    SHOW("SO_LINGER l_linger", (getsockopt(s, SOL_SOCKET, SO_LINGER, &lg, &olen), lg.l_linger));
    close(s);

    // Errors.
    SHOW("socket(AF_UNIX, bad type)", socket(AF_UNIX, 99, 0));
    SHOW("socket(AF_UNIX, proto 5)", socket(AF_UNIX, SOCK_STREAM, 5));
    SHOW("socket(12345)", socket(12345, SOCK_STREAM, 0));
    SHOW("socketpair(AF_UNIX, bad flags)", socketpair(AF_UNIX, SOCK_STREAM | 0x100000, 0, sv));
    SHOW("send(bad fd)", send(99, "x", 1, 0));
    SHOW("send(regular file)", send(fd, "x", 1, 0));
    SHOW("bind(regular file)", bind(fd, (struct sockaddr*)&addr, l1));
    SHOW("getsockopt(regular file)", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &olen));
    SHOW("accept(bad fd)", accept(-1, NULL, NULL));
    close(fd);

    unlink("srv.sock");
    unlink("d1.sock");
    unlink("plain");
    chdir("/");
    SHOW("rmdir", rmdir(dir));
    return 0;
}
