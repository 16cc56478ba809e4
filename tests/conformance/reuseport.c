// SO_REUSEPORT listeners over loopback: several sockets listen on one port, connections are
// spread over them, a socket without the option cannot take the port, and when one listener
// closes the others go on taking connections. Same output on Linux and xos.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "show.h"

static int make_socket(int reuseport) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &(int){1}, sizeof(int));
    return fd;
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int bind_to(int fd, int port) {
    struct sockaddr_in a = loopback(port);
    return bind(fd, (struct sockaddr*)&a, sizeof a);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

// Accepts from the listeners until `want` connections came in (or 5 s pass); counts[i] gets
// how many each one took. Accepted sockets go to `accepted`.
static int accept_all(const int* listeners, int count, int* counts, int want, int* accepted) {
    int total = 0;
    for (int round = 0; round < 100 && total < want; ++round) {
        struct pollfd p[4];
        for (int i = 0; i < count; ++i) p[i] = (struct pollfd){.fd = listeners[i], .events = POLLIN};
        if (poll(p, count, 50) < 0) return -1;
        for (int i = 0; i < count; ++i) {
            int fd;
            while ((fd = accept(listeners[i], NULL, NULL)) >= 0) {
                accepted[total++] = fd;
                counts[i]++;
            }
        }
    }
    return total;
}

int main(void) {
    int a = make_socket(1), b = make_socket(1), c = make_socket(0), d = make_socket(1);
    int value = 0;
    socklen_t length = sizeof value;
    SHOW("getsockopt SO_REUSEPORT", getsockopt(a, SOL_SOCKET, SO_REUSEPORT, &value, &length));
    printf("  value %d\n", value);
    SHOW("bind a (port 0)", bind_to(a, 0));
    struct sockaddr_in bound;
    length = sizeof bound;
    getsockname(a, (struct sockaddr*)&bound, &length);
    int port = ntohs(bound.sin_port);
    SHOW("bind b (same port, SO_REUSEPORT)", bind_to(b, port));
    SHOW("bind c (same port, no SO_REUSEPORT)", bind_to(c, port));
    SHOW("listen a", listen(a, 64));
    SHOW("listen b", listen(b, 64));
    SHOW("bind d (same port, SO_REUSEPORT)", bind_to(d, port));
    SHOW("listen d", listen(d, 64));
    SHOW("close d (a listener of the group)", close(d));

    enum { FIRST = 32, SECOND = 8 };
    int clients[FIRST + SECOND], accepted[FIRST + SECOND];
    int ok = 1;
    for (int i = 0; i < FIRST; ++i)
        if ((clients[i] = connect_to(port)) < 0) ok = 0;
    printf("%d connections made: %s\n", FIRST, ok ? "yes" : "no");
    int listeners[2] = {a, b}, counts[2] = {0, 0};
    int total = accept_all(listeners, 2, counts, FIRST, accepted);
    printf("accepted %d; by a: %s, by b: %s\n", total, counts[0] > 0 ? "some" : "none",
           counts[1] > 0 ? "some" : "none");

    // Data on one of them, both ways.
    char buffer[16] = {0};
    SHOW("send on a client", (int)send(clients[0], "ping", 4, 0));
    struct pollfd p = {.fd = -1, .events = POLLIN};
    for (int i = 0; i < total; ++i) {
        struct pollfd q = {.fd = accepted[i], .events = POLLIN};
        if (poll(&q, 1, 0) == 1) p.fd = accepted[i];
    }
    if (p.fd < 0) {
        for (int round = 0; round < 100 && p.fd < 0; ++round) {
            usleep(10000);
            for (int i = 0; i < total && p.fd < 0; ++i) {
                struct pollfd q = {.fd = accepted[i], .events = POLLIN};
                if (poll(&q, 1, 0) == 1) p.fd = accepted[i];
            }
        }
    }
    SHOW("recv on the accepted side", p.fd < 0 ? -1 : (int)recv(p.fd, buffer, sizeof buffer, 0));
    printf("  got \"%s\"\n", buffer);

    // The listener holding the port closes: the other goes on alone.
    SHOW("close a", close(a));
    ok = 1;
    for (int i = FIRST; i < FIRST + SECOND; ++i)
        if ((clients[i] = connect_to(port)) < 0) ok = 0;
    printf("%d more connections made: %s\n", SECOND, ok ? "yes" : "no");
    int counts_b = 0;
    int more = accept_all(&b, 1, &counts_b, SECOND, accepted + total);
    printf("accepted by b after a closed: %d\n", more);
    SHOW("bind c again (no SO_REUSEPORT, b still listens)", bind_to(c, port));

    SHOW("close b", close(b));
    SHOW("connect with no listener left", connect_to(port) >= 0 ? 0 : -1);
    for (int i = 0; i < total + more; ++i) close(accepted[i]);
    for (int i = 0; i < FIRST + SECOND; ++i)
        if (clients[i] >= 0) close(clients[i]);
    close(c);
    return 0;
}
