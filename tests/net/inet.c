// Differential test of AF_INET/AF_INET6 sockets over loopback (tests/net/meson.build): the same
// output natively on Linux and on xos (libos/net/inet.cpp). Prints results, never ports.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int port;
static char client_report[100];
#define SHOW(label, expr)                                                                                              \
    do {                                                                                                               \
        long r_ = (long)(expr);                                                                                        \
        printf("%-28s %ld %s\n", label, r_, r_ < 0 ? strerror(errno) : "");                                            \
    } while (0)

static struct sockaddr_in loopback(int p) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static short revents(int fd, short events) {
    struct pollfd p = {fd, events, 0};
    poll(&p, 1, 5000);
    return p.revents;
}

static void* client(void* arg) {
    (void)arg;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    if (connect(c, (void*)&a, sizeof a) != 0) perror("client connect");
    static char big[300000];
    memset(big, 'x', sizeof big);
    size_t total = 0;
    while (total < sizeof big) {
        ssize_t n = send(c, big + total, sizeof big - total, 0);
        if (n <= 0) break;
        total += n;
    }
    shutdown(c, SHUT_WR);
    char buf[16];
    ssize_t n = recv(c, buf, sizeof buf, 0);
    ssize_t eof = recv(c, buf + 8, 8, 0);
    snprintf(client_report, sizeof client_report, "client got %zd %.*s, then %zd", n, n > 0 ? (int)n : 0, buf, eof);
    close(c);
    return 0;
}

int main(void) {
    int one = 1;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    SHOW("socket", s >= 0);
    SHOW("SO_REUSEADDR", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    int v = -1;
    socklen_t len = sizeof v;
    getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len);
    printf("SO_TYPE %d\n", v);
    printf("fresh poll %#x\n", revents(s, POLLIN | POLLOUT));
    struct sockaddr_in a = {.sin_family = AF_INET};
    SHOW("bind any:0", bind(s, (void*)&a, sizeof a));
    len = sizeof a;
    SHOW("getsockname", getsockname(s, (void*)&a, &len));
    port = ntohs(a.sin_port);
    printf("ephemeral port nonzero %d\n", port != 0);
    SHOW("bind again", bind(s, (void*)&a, sizeof a));
    SHOW("listen", listen(s, 5));
    int s2 = socket(AF_INET, SOCK_STREAM, 0);
    SHOW("bind in use", bind(s2, (void*)&a, sizeof a));
    close(s2);
    fcntl(s, F_SETFL, O_NONBLOCK);
    SHOW("accept empty", accept(s, 0, 0));
    SHOW("recv on listener", recv(s, &v, 1, 0));
    pthread_t t;
    pthread_create(&t, 0, client, 0);
    printf("listener poll %#x\n", revents(s, POLLIN));
    struct sockaddr_in peer;
    len = sizeof peer;
    int c = accept4(s, (void*)&peer, &len, SOCK_CLOEXEC);
    SHOW("accept4", c >= 0);
    printf("peer is loopback %d\n", peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    SHOW("TCP_NODELAY", setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    len = sizeof v;
    getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &len);
    printf("TCP_NODELAY now %d\n", v != 0);
    char buf[4096];
    SHOW("peek", recv(c, buf, 10, MSG_PEEK));
    size_t total = 0;
    ssize_t n;
    while ((n = recv(c, buf, sizeof buf, 0)) > 0) total += n;
    SHOW("recv at eof", n);
    printf("received %zu\n", total);
    printf("after peer FIN poll %#x\n", revents(c, POLLIN | POLLOUT | POLLRDHUP));
    SHOW("send", send(c, "ok", 2, 0));
    close(c);
    pthread_join(t, 0);
    printf("%s\n", client_report);

    int r = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in closed = loopback(port);
    close(s);  // nothing listens on the port now
    SHOW("connect refused", connect(r, (void*)&closed, sizeof closed));
    close(r);

    s = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_port = 0;
    bind(s, (void*)&a, sizeof a);
    len = sizeof a;
    getsockname(s, (void*)&a, &len);
    listen(s, 5);
    struct sockaddr_in to = loopback(ntohs(a.sin_port));
    r = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    SHOW("nonblocking connect", connect(r, (void*)&to, sizeof to));
    printf("connected poll %#x\n", revents(r, POLLOUT));
    int err = -1;
    len = sizeof err;
    getsockopt(r, SOL_SOCKET, SO_ERROR, &err, &len);
    printf("SO_ERROR %d\n", err);
    SHOW("connect again", connect(r, (void*)&to, sizeof to));
    len = sizeof peer;
    SHOW("getpeername", getpeername(r, (void*)&peer, &len));
    c = accept(s, 0, 0);
    SHOW("recv nothing", recv(r, buf, 1, 0));
    SHOW("send small", send(c, "abc", 3, 0));
    revents(r, POLLIN);
    int avail = -1;
    ioctl(r, FIONREAD, &avail);
    printf("FIONREAD %d\n", avail);
    struct linger lg = {1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c);
    printf("after reset poll %#x\n", revents(r, 0) & ~POLLOUT);  // waits for the reset
    SHOW("recv queued", recv(r, buf, sizeof buf, 0));
    SHOW("send after reset", send(r, "x", 1, MSG_NOSIGNAL));
    close(r);
    close(s);

    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ua = loopback(0);
    SHOW("udp bind", bind(u1, (void*)&ua, sizeof ua));
    len = sizeof ua;
    getsockname(u1, (void*)&ua, &len);
    SHOW("udp recv empty", recv(u1, buf, sizeof buf, MSG_DONTWAIT));
    SHOW("udp send no address", send(u2, "x", 1, 0));
    SHOW("sendto", sendto(u2, "hello", 5, 0, (void*)&ua, sizeof ua));
    struct sockaddr_in from;
    len = sizeof from;
    SHOW("recvfrom peek", recvfrom(u1, buf, 3, MSG_PEEK, (void*)&from, &len));
    SHOW("recvfrom", recvfrom(u1, buf, sizeof buf, 0, (void*)&from, &len));
    printf("udp from loopback %d\n", from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    SHOW("connect udp", connect(u1, (void*)&from, sizeof from));
    SHOW("udp send connected", send(u1, "back", 4, 0));
    SHOW("udp recv", recv(u2, buf, sizeof buf, 0));
    close(u1);
    close(u2);

    int v6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    SHOW("v6 bind ::", bind(v6, (void*)&a6, sizeof a6));
    SHOW("v6 listen", listen(v6, 1));
    len = sizeof a6;
    getsockname(v6, (void*)&a6, &len);
    int v4 = socket(AF_INET, SOCK_STREAM, 0);
    to = loopback(ntohs(a6.sin6_port));
    SHOW("v4 to dual-stack", connect(v4, (void*)&to, sizeof to));
    len = sizeof a6;
    c = accept(v6, (void*)&a6, &len);
    printf("v4-mapped peer %d\n", IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr));
    close(c);
    close(v4);
    close(v6);
    return 0;
}
