// tests/net/netcheck.c: the program side of tests/net/net_test.py. One binary, built as an xos
// image and natively (musl-gcc -static), with three roles:
//
//   netcheck serve TCPPORT UDPPORT   TCP echo server (epoll, any number of connections) and UDP
//                                    echo server. Prints "netcheck: serving tcp PORT udp PORT"
//                                    (the bound ports: 0 picks free ones). On a TCP connection whose
//                                    first bytes are a command:
//                                      "STATS\n" -> one line "STATS memfree=KB memavailable=KB
//                                                   open=N accepted=N udp=N errors=N", then close
//                                                   (open excludes the asking connection)
//                                      "QUIT\n"  -> "BYE errors=N", then the server exits:
//                                                   status 0 only if it saw no unexpected error
//                                    anything else is echoed. A UDP datagram "PEER?" is answered
//                                    with "PEER ADDR:PORT" (the sender as recvfrom reported it);
//                                    other datagrams are echoed intact to their sender.
//   netcheck client HOST TCPPORT UDPPORT
//                                    connects out to the script's server (protocol below): echoes
//                                    of several sizes, 1 MiB up and 1 MiB down with CRC-32s, an
//                                    orderly close, then UDP echoes (1, 1400 and 8000 bytes: the
//                                    last is IP-fragmented) on an unconnected and a connected socket.
//   netcheck resolve NAME=EXPECT...  getaddrinfo(NAME) (AF_INET, and AF_UNSPEC) must give the IPv4
//                                    address EXPECT, or fail with EAI_NONAME if EXPECT is NONAME.
//
// Every check prints "ok ..." or "FAIL ..."; client and resolve exit 0 only if all passed.
//
// Client protocol (lines end in \n; the host script implements the server side):
//   "HELLO"         -> "HELLO netcheck-host"
//   "ECHO N" + N bytes -> the N bytes
//   "UP N" + N bytes   -> "SUM crc32-in-hex" of the bytes received
//   "DOWN N"        -> N bytes, then "SUM crc32-in-hex" of them
//   "BYE"           -> "BYE", then the server closes
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define OK(...) (printf("ok   "), printf(__VA_ARGS__), printf("\n"), fflush(stdout))
#define FAIL(...) (failures++, printf("FAIL "), printf(__VA_ARGS__), printf("\n"), fflush(stdout))

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint32_t crc32_update(uint32_t crc, const unsigned char* data, size_t n) {
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void fill_pattern(unsigned char* p, size_t n, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

static const char* addr_string(const struct sockaddr_in* a) {
    static char text[64];
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(text, sizeof text, "%s:%u", ip, ntohs(a->sin_port));
    return text;
}

// ---------------------------------------------------------------------------------------------
// serve

enum { kBufferSize = 16384 };
enum Mode { kUndecided, kEcho, kCloseAfterWrite, kQuitAfterWrite, kQuitDraining };

struct Conn {
    int fd;
    enum Mode mode;
    size_t len, off;  // pending output: buf[off, len)
    unsigned char buf[kBufferSize];
};

static struct {
    int epoll, listener, udp;
    long open, accepted, udp_datagrams, errors;
    int quit;
} srv;

static void unexpected(const char* what, int error) {
    srv.errors++;
    fprintf(stderr, "netcheck: unexpected: %s: %s\n", what, strerror(error));
}

static int benign(int error) {
    return error == ECONNRESET || error == EPIPE || error == ENOTCONN || error == ETIMEDOUT || error == ECONNABORTED;
}

static void read_meminfo(long* memfree, long* memavailable) {
    *memfree = *memavailable = -1;
    FILE* f = fopen("/proc/meminfo", "r");
    if (!f) return;
    char line[128];
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "MemFree: %ld kB", memfree);
        sscanf(line, "MemAvailable: %ld kB", memavailable);
    }
    fclose(f);
}

static void conn_close(struct Conn* c) {
    epoll_ctl(srv.epoll, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
    srv.open--;
}

static void conn_watch(struct Conn* c, unsigned events) {
    // Not EPOLLRDHUP while writing: a half-closed peer that still reads would make it spin.
    struct epoll_event ev = {.events = events == EPOLLIN ? EPOLLIN | EPOLLRDHUP : events, .data.ptr = c};
    if (epoll_ctl(srv.epoll, EPOLL_CTL_MOD, c->fd, &ev) != 0) unexpected("epoll_ctl MOD", errno);
}

// Writes the pending output; returns 0 when the connection is gone (closed here).
static int conn_flush(struct Conn* c) {
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                conn_watch(c, EPOLLOUT);  // stop reading until the peer takes our output
                return 1;
            }
            if (!benign(errno)) unexpected("send", errno);
            conn_close(c);
            return 0;
        }
        c->off += n;
    }
    c->off = c->len = 0;
    if (c->mode == kCloseAfterWrite) {
        conn_close(c);
        return 0;
    }
    if (c->mode == kQuitAfterWrite) {
        // Exit only once the peer has read BYE and closed: on xos the process's exit ends the VM,
        // and data still in lwIP's send queue is lost (seen about once in ten runs).
        shutdown(c->fd, SHUT_WR);
        c->mode = kQuitDraining;
    }
    conn_watch(c, EPOLLIN);
    return 1;
}

// The first bytes of a connection: a command, a prefix of one (wait for more), or echo data.
static void conn_decide(struct Conn* c) {
    static const char* commands[] = {"STATS\n", "QUIT\n"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(commands[i]);
        size_t m = c->len < n ? c->len : n;
        if (memcmp(c->buf, commands[i], m) != 0) continue;
        if (c->len < n) return;  // a prefix so far
        if (c->len > n) break;  // more than the command: plain data
        long memfree, memavailable;
        read_meminfo(&memfree, &memavailable);
        if (i == 0) {
            c->len = snprintf((char*)c->buf, kBufferSize,
                              "STATS memfree=%ld memavailable=%ld open=%ld accepted=%ld udp=%ld errors=%ld\n", memfree,
                              memavailable, srv.open - 1, srv.accepted, srv.udp_datagrams, srv.errors);
            c->mode = kCloseAfterWrite;
        } else {
            c->len = snprintf((char*)c->buf, kBufferSize, "BYE errors=%ld\n", srv.errors);
            c->mode = kQuitAfterWrite;
        }
        return;
    }
    c->mode = kEcho;
}

static void conn_event(struct Conn* c, unsigned events) {
    if (c->mode != kUndecided && c->len > c->off) {  // waiting to write
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) conn_flush(c);
        return;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, kBufferSize - c->len, 0);
    if (c->mode == kQuitDraining) {
        if (n > 0 || (n < 0 && errno == EAGAIN)) return;
        srv.quit = 1;
        conn_close(c);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN) return;
        if (!benign(errno)) unexpected("recv", errno);
        conn_close(c);
        return;
    }
    if (n == 0) {  // the peer closed: everything it sent has been echoed
        conn_close(c);
        return;
    }
    c->len += n;
    if (c->mode == kUndecided) conn_decide(c);
    if (c->mode == kUndecided) return;
    conn_flush(c);
}

static void accept_all(void) {
    for (;;) {
        int fd = accept4(srv.listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && !benign(errno)) unexpected("accept4", errno);
            return;
        }
        struct Conn* c = malloc(sizeof *c);
        if (!c) {
            unexpected("malloc", ENOMEM);
            close(fd);
            continue;
        }
        c->fd = fd, c->mode = kUndecided, c->len = c->off = 0;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(srv.epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
            unexpected("epoll_ctl ADD", errno);
            close(fd);
            free(c);
            continue;
        }
        srv.open++, srv.accepted++;
    }
}

static void udp_all(void) {
    static unsigned char buf[65536];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(srv.udp, buf, sizeof buf, 0, (struct sockaddr*)&peer, &len);
        if (n < 0) {
            if (errno != EAGAIN) unexpected("recvfrom", errno);
            return;
        }
        srv.udp_datagrams++;
        if (len != sizeof peer || peer.sin_family != AF_INET) unexpected("recvfrom peer address", EINVAL);
        if (n == 5 && memcmp(buf, "PEER?", 5) == 0) n = snprintf((char*)buf, sizeof buf, "PEER %s", addr_string(&peer));
        if (sendto(srv.udp, buf, n, 0, (struct sockaddr*)&peer, len) != n) unexpected("sendto", errno);
    }
}

static int bind_any(int type, int port) {
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (fd < 0 || bind(fd, (struct sockaddr*)&a, sizeof a) != 0) {
        fprintf(stderr, "netcheck: bind port %d: %s\n", port, strerror(errno));
        exit(2);
    }
    return fd;
}

static int bound_port(int fd) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr*)&a, &len);
    return ntohs(a.sin_port);
}

static int serve(int tcp_port, int udp_port) {
    srv.listener = bind_any(SOCK_STREAM, tcp_port);
    if (listen(srv.listener, 1024) != 0) return perror("listen"), 2;
    srv.udp = bind_any(SOCK_DGRAM, udp_port);
    srv.epoll = epoll_create1(EPOLL_CLOEXEC);
    static int listener_tag, udp_tag;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listener_tag};
    epoll_ctl(srv.epoll, EPOLL_CTL_ADD, srv.listener, &ev);
    ev.data.ptr = &udp_tag;
    epoll_ctl(srv.epoll, EPOLL_CTL_ADD, srv.udp, &ev);
    printf("netcheck: serving tcp %d udp %d\n", bound_port(srv.listener), bound_port(srv.udp));
    fflush(stdout);

    while (!srv.quit) {
        struct epoll_event events[64];
        int n = epoll_wait(srv.epoll, events, 64, -1);
        if (n < 0) {
            if (errno != EINTR) unexpected("epoll_wait", errno);
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &listener_tag)
                accept_all();
            else if (events[i].data.ptr == &udp_tag)
                udp_all();
            else
                conn_event(events[i].data.ptr, events[i].events);
        }
    }
    printf("netcheck: served %ld connections (%ld still open), %ld datagrams, %ld unexpected errors\n", srv.accepted,
           srv.open, srv.udp_datagrams, srv.errors);
    return srv.errors ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// client

static int send_all(int fd, const void* data, size_t n) {
    const unsigned char* p = data;
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k, n -= k;
    }
    return 0;
}

static int recv_all(int fd, void* data, size_t n) {
    unsigned char* p = data;
    while (n) {
        ssize_t k = recv(fd, p, n, 0);
        if (k <= 0) {
            if (k == 0) errno = 0;
            return -1;
        }
        p += k, n -= k;
    }
    return 0;
}

static int recv_line(int fd, char* line, size_t size) {
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t k = recv(fd, line + n, 1, 0);
        if (k <= 0) {
            if (k == 0) errno = 0;
            return -1;
        }
        if (line[n] == '\n') break;
        n++;
    }
    line[n] = '\0';
    return 0;
}

static const char* err(void) { return errno ? strerror(errno) : "connection closed"; }

static void set_timeouts(int fd, int seconds) {
    struct timeval t = {.tv_sec = seconds};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
}

static int tcp_client(struct sockaddr_in* server) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    set_timeouts(fd, 30);
    double started = now();
    if (connect(fd, (struct sockaddr*)server, sizeof *server) != 0) {
        FAIL("tcp connect to %s: %s", addr_string(server), strerror(errno));
        close(fd);
        return 1;
    }
    struct sockaddr_in local, peer;
    socklen_t len = sizeof local;
    getsockname(fd, (struct sockaddr*)&local, &len);
    len = sizeof peer;
    getpeername(fd, (struct sockaddr*)&peer, &len);
    char local_text[64];
    snprintf(local_text, sizeof local_text, "%s", addr_string(&local));
    if (peer.sin_addr.s_addr == server->sin_addr.s_addr && peer.sin_port == server->sin_port && local.sin_port != 0)
        OK("tcp connect to %s in %.3fs (local address %s)", addr_string(server), now() - started, local_text);
    else
        FAIL("tcp connect: getpeername %s, local %s", addr_string(&peer), local_text);

    char line[128];
    if (send_all(fd, "HELLO\n", 6) || recv_line(fd, line, sizeof line))
        FAIL("HELLO: %s", err());
    else if (strcmp(line, "HELLO netcheck-host") != 0)
        FAIL("HELLO: got %s", line);
    else
        OK("tcp HELLO exchanged");

    static const size_t sizes[] = {1, 100, 1460, 4000, 65536, 200000};
    static unsigned char out[1 << 20], in[1 << 20];
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        fill_pattern(out, n, (uint32_t)i + 1);
        int k = snprintf(line, sizeof line, "ECHO %zu\n", n);
        memset(in, 0, n);
        if (send_all(fd, line, k) || send_all(fd, out, n) || recv_all(fd, in, n))
            FAIL("tcp echo of %zu bytes: %s", n, err());
        else if (memcmp(in, out, n) != 0)
            FAIL("tcp echo of %zu bytes: data differs", n);
        else
            OK("tcp echo of %zu bytes", n);
    }

    size_t big = sizeof out;
    fill_pattern(out, big, 99);
    uint32_t crc = crc32_update(0, out, big);
    started = now();
    int k = snprintf(line, sizeof line, "UP %zu\n", big);
    unsigned got;
    if (send_all(fd, line, k) || send_all(fd, out, big) || recv_line(fd, line, sizeof line))
        FAIL("tcp 1 MiB up: %s", err());
    else if (sscanf(line, "SUM %x", &got) != 1 || got != crc)
        FAIL("tcp 1 MiB up: the host got CRC %s, sent %08x", line, crc);
    else
        OK("tcp 1 MiB up (CRC %08x) in %.2fs", crc, now() - started);

    started = now();
    k = snprintf(line, sizeof line, "DOWN %zu\n", big);
    if (send_all(fd, line, k) || recv_all(fd, in, big) || recv_line(fd, line, sizeof line))
        FAIL("tcp 1 MiB down: %s", err());
    else if (sscanf(line, "SUM %x", &got) != 1 || got != crc32_update(0, in, big))
        FAIL("tcp 1 MiB down: the host sent CRC %s, got %08x", line, crc32_update(0, in, big));
    else
        OK("tcp 1 MiB down (CRC %08x) in %.2fs", got, now() - started);

    // Orderly close: our FIN after BYE, the host's BYE and FIN.
    if (send_all(fd, "BYE\n", 4) || shutdown(fd, SHUT_WR) != 0 || recv_line(fd, line, sizeof line))
        FAIL("tcp BYE: %s", err());
    else if (strcmp(line, "BYE") != 0)
        FAIL("tcp BYE: got %s", line);
    else {
        ssize_t eof = recv(fd, in, 1, 0);
        if (eof == 0)
            OK("tcp orderly close (BYE, shutdown, EOF)");
        else
            FAIL("tcp close: recv after BYE gave %zd (%s)", eof, eof < 0 ? strerror(errno) : "data");
    }
    close(fd);
    return 0;
}

// One UDP exchange: returns 1 if the echo came back intact (retries: UDP may drop).
static void udp_exchange(int fd, struct sockaddr_in* server, int connected, size_t n) {
    static unsigned char out[65536], in[65536];
    fill_pattern(out, n, (uint32_t)n);
    const char* how = connected ? "connected" : "unconnected";
    for (int attempt = 1; attempt <= 3; attempt++) {
        ssize_t sent =
            connected ? send(fd, out, n, 0) : sendto(fd, out, n, 0, (struct sockaddr*)server, sizeof *server);
        if (sent != (ssize_t)n) {
            FAIL("udp %s send of %zu bytes: %zd (%s)", how, n, sent, strerror(errno));
            return;
        }
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) != 1) continue;  // lost: send again
        struct sockaddr_in peer = {0};
        socklen_t len = sizeof peer;
        ssize_t got = recvfrom(fd, in, sizeof in, 0, (struct sockaddr*)&peer, &len);
        if (got != (ssize_t)n || memcmp(in, out, n) != 0)
            FAIL("udp %s echo of %zu bytes: got %zd bytes%s", how, n, got, got == (ssize_t)n ? " that differ" : "");
        else if (len != sizeof peer || peer.sin_addr.s_addr != server->sin_addr.s_addr ||
                 peer.sin_port != server->sin_port)
            FAIL("udp %s echo of %zu bytes: recvfrom reports the sender as %s", how, n, addr_string(&peer));
        else
            OK("udp %s echo of %zu bytes from %s%s", how, n, addr_string(&peer),
               attempt > 1 ? " (after a resend)" : "");
        return;
    }
    FAIL("udp %s echo of %zu bytes: no answer in 3 tries", how, n);
}

static int udp_client(struct sockaddr_in* server) {
    static const size_t sizes[] = {1, 1400, 8000};
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    for (size_t i = 0; i < 3; i++) udp_exchange(fd, server, 0, sizes[i]);
    close(fd);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(fd, (struct sockaddr*)server, sizeof *server) != 0)
        FAIL("udp connect: %s", strerror(errno));
    else
        for (size_t i = 0; i < 3; i++) udp_exchange(fd, server, 1, sizes[i]);
    close(fd);
    return 0;
}

static int client(const char* host, int tcp_port, int udp_port) {
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons(tcp_port)};
    if (inet_pton(AF_INET, host, &server.sin_addr) != 1) {
        fprintf(stderr, "netcheck: bad address %s\n", host);
        return 2;
    }
    tcp_client(&server);
    server.sin_port = htons(udp_port);
    udp_client(&server);
    return failures ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// resolve

static void resolve_one(const char* name, const char* expect, int family) {
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM}, *result = NULL;
    const char* fam = family == AF_INET ? "AF_INET" : "AF_UNSPEC";
    double started = now();
    int rc = getaddrinfo(name, NULL, &hints, &result);
    double took = now() - started;
    if (strcmp(expect, "NONAME") == 0) {
        if (rc == EAI_NONAME)
            OK("resolve %s (%s): EAI_NONAME in %.3fs", name, fam, took);
        else
            FAIL("resolve %s (%s): %s, want EAI_NONAME", name, fam, rc ? gai_strerror(rc) : "an address");
    } else if (rc != 0) {
        FAIL("resolve %s (%s): %s (%d), want %s", name, fam, gai_strerror(rc), rc, expect);
    } else {
        char found[256] = "";
        int match = 0;
        for (struct addrinfo* ai = result; ai; ai = ai->ai_next) {
            if (ai->ai_family != AF_INET) continue;  // AF_UNSPEC may add IPv6 addresses
            const char* text = addr_string((struct sockaddr_in*)ai->ai_addr);
            snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s", *found ? " " : "", text);
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &((struct sockaddr_in*)ai->ai_addr)->sin_addr, ip, sizeof ip);
            if (strcmp(ip, expect) == 0) match = 1;
        }
        if (match)
            OK("resolve %s (%s): %s in %.3fs", name, fam, expect, took);
        else
            FAIL("resolve %s (%s): got [%s], want %s", name, fam, found, expect);
    }
    if (result) freeaddrinfo(result);
}

static int resolve(int count, char** pairs) {
    for (int i = 0; i < count; i++) {
        char name[256];
        const char* eq = strchr(pairs[i], '=');
        if (!eq || (size_t)(eq - pairs[i]) >= sizeof name) {
            fprintf(stderr, "netcheck: resolve wants NAME=ADDRESS or NAME=NONAME, not %s\n", pairs[i]);
            return 2;
        }
        memcpy(name, pairs[i], eq - pairs[i]);
        name[eq - pairs[i]] = '\0';
        resolve_one(name, eq + 1, AF_INET);
        resolve_one(name, eq + 1, AF_UNSPEC);
    }
    return failures ? 1 : 0;
}

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int status = 2;
    if (argc == 4 && strcmp(argv[1], "serve") == 0)
        status = serve(atoi(argv[2]), atoi(argv[3]));
    else if (argc == 5 && strcmp(argv[1], "client") == 0)
        status = client(argv[2], atoi(argv[3]), atoi(argv[4]));
    else if (argc >= 3 && strcmp(argv[1], "resolve") == 0)
        status = resolve(argc - 2, argv + 2);
    else
        fprintf(stderr,
                "usage: netcheck serve TCPPORT UDPPORT | client HOST TCPPORT UDPPORT | resolve NAME=ADDR|NONAME...\n");
    if (status != 2) printf("netcheck: %s\n", status == 0 ? "all checks passed" : "FAILED");
    return status;
}
