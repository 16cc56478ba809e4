// When TCP sends what an application wrote (a differential test: the same output on Linux and
// on xos, over loopback). What a socket holds back is read from TCP_INFO's tcpi_notsent_bytes,
// so no check depends on timing except "corked data leaves within the 10 s receive timeout"
// (Linux and xos send it after 200 ms).
//
// The bug it is named after: nginx (sendfile on, tcp_nopush on) clears TCP_NODELAY, sets
// TCP_CORK, writes the header, sendfile()s the body, clears TCP_CORK and sets TCP_NODELAY. xos
// ignored TCP_CORK and setting TCP_NODELAY sent nothing, so lwIP's Nagle held the body until the
// header was acknowledged: 48 ms per request behind passt (its ACK_INTERVAL is 50 ms).
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) ++failures;
}

static int set_int(int fd, int level, int name, int value) { return setsockopt(fd, level, name, &value, sizeof value); }

static long notsent(int fd) {
    struct tcp_info info;
    socklen_t length = sizeof info;
    memset(&info, 0, sizeof info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
    return info.tcpi_notsent_bytes;
}

// Reads exactly n bytes (the socket has a 10 s receive timeout).
static int receive_exactly(int fd, size_t n) {
    char buffer[4096];
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buffer, n - got < sizeof buffer ? n - got : sizeof buffer, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        got += (size_t)r;
    }
    return 1;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (listener < 0 || bind(listener, (struct sockaddr*)&address, sizeof address) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, (struct sockaddr*)&address, &length) != 0) {
        perror("listener");
        return 2;
    }
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (struct sockaddr*)&address, sizeof address) != 0) {
        perror("connect");
        return 2;
    }
    int server = accept(listener, NULL, NULL);
    if (server < 0) {
        perror("accept");
        return 2;
    }
    struct timeval timeout = {10, 0};
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char data[200];
    memset(data, 'x', sizeof data);

    // TCP_INFO on a connected socket.
    struct tcp_info info;
    length = sizeof info;
    check(getsockopt(server, IPPROTO_TCP, TCP_INFO, &info, &length) == 0 && info.tcpi_state == 1,
          "TCP_INFO: state ESTABLISHED");
    check(notsent(server) == 0, "TCP_INFO: nothing unsent at first");

    // nginx's sequence: no TCP_NODELAY, TCP_CORK, header, body, uncork, TCP_NODELAY.
    check(set_int(server, IPPROTO_TCP, TCP_NODELAY, 0) == 0, "TCP_NODELAY 0");
    check(set_int(server, IPPROTO_TCP, TCP_CORK, 1) == 0, "TCP_CORK 1");
    int value = 0;
    length = sizeof value;
    check(getsockopt(server, IPPROTO_TCP, TCP_CORK, &value, &length) == 0 && value == 1, "TCP_CORK reads back 1");
    check(send(server, data, 120, 0) == 120, "corked: the header written");
    check(notsent(server) == 120, "corked: the header is held");
    check(send(server, data, 48, 0) == 48, "corked: the body written");
    check(notsent(server) == 168, "corked: header and body are held");
    // Setting TCP_NODELAY sends what is held, even while corked (tcp(7)).
    check(set_int(server, IPPROTO_TCP, TCP_NODELAY, 1) == 0, "TCP_NODELAY 1 while corked");
    check(notsent(server) == 0, "TCP_NODELAY sent what TCP_CORK held");
    check(receive_exactly(client, 168), "the peer received header and body");

    // Corked with TCP_NODELAY set: still held; uncorking sends it.
    check(send(server, data, 50, 0) == 50, "corked with TCP_NODELAY: 50 bytes written");
    check(notsent(server) == 50, "corked with TCP_NODELAY: held");
    check(set_int(server, IPPROTO_TCP, TCP_CORK, 0) == 0, "TCP_CORK 0");
    check(notsent(server) == 0, "uncorking sent what was held");
    check(receive_exactly(client, 50), "the peer received it");

    // Uncorked with TCP_NODELAY: every write leaves at once.
    check(send(server, data, 10, 0) == 10 && notsent(server) == 0, "TCP_NODELAY: a small write leaves at once");
    check(receive_exactly(client, 10), "the peer received it");

    // Corked data nobody uncorks leaves anyway (Linux: after 200 ms).
    check(set_int(server, IPPROTO_TCP, TCP_CORK, 1) == 0, "TCP_CORK 1 again");
    check(send(server, data, 30, 0) == 30 && notsent(server) == 30, "corked: 30 bytes held");
    check(receive_exactly(client, 30), "corked data left within the receive timeout");
    check(notsent(server) == 0, "nothing held after that");
    check(set_int(server, IPPROTO_TCP, TCP_CORK, 0) == 0, "TCP_CORK 0 again");

    // A full segment's worth leaves while corked: corking does not block a large write.
    size_t big = 256 * 1024;
    char* bulk = calloc(1, big);
    check(set_int(server, IPPROTO_TCP, TCP_CORK, 1) == 0, "TCP_CORK 1 for a large write");
    size_t sent = 0;
    while (bulk && sent < big) {
        ssize_t n = send(server, bulk + sent, big - sent, MSG_DONTWAIT);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    check(sent > 0 && receive_exactly(client, sent), "corked: a large write reached the peer");
    check(set_int(server, IPPROTO_TCP, TCP_CORK, 0) == 0, "TCP_CORK 0 after the large write");
    free(bulk);

    close(client);
    close(server);
    close(listener);
    printf("%d failures\n", failures);
    return failures ? 1 : 0;
}
