// AF_UNIX stress (issue 17, branch smp-unix): many threads at once on every CPU the image has,
// through AF_UNIX sockets, whose state is under one family lock instead of the big lock
// (docs/locking.md "AF_UNIX sockets"), each with a content check:
// - 8 SOCK_STREAM socketpairs: a writer sends a byte sequence in chunks of varying size (more
//   than the send buffer holds, so it blocks for room), a reader reads it in chunks of other
//   sizes and checks every byte;
// - 8 SOCK_DGRAM socketpairs: datagrams of varying size with numbered contents (the sender
//   blocks when the queue is full), each checked whole and in order;
// - 4 senders to one datagram socket bound to an abstract name (sendto): each sender's
//   datagrams arrive in its order;
// - a listener with a backlog of 1 and 4 client threads connecting at once (connect waits for
//   room), each connection exchanging a word with the accepting thread;
// - 4 threads passing descriptors (SCM_RIGHTS) over socketpairs and making cycles (a socket in
//   its own queue, two sockets in each other's) before closing them: at the end
//   /proc/xos/unix counts as many live sockets as at the start (the collection freed the cycles)
//   and none in flight;
// - close while the peer blocks: a reader blocked in read gets end of file when the other end
//   is closed, and a writer blocked for room gets EPIPE.
// Bounded by the round count (argument 1, default 100); the test's timeout catches a hang
// (a lost wake-up leaves a thread blocked). Exit status 0 = every check passed.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../image/check.h"

#define PAIRS 8
static long g_rounds = 100;
static atomic_long g_failures;

static void fail(const char* what, long round) {
    printf("FAIL %s (round %ld, errno %d)\n", what, round, errno);
    atomic_fetch_add(&g_failures, 1);
}

static unsigned char pattern(size_t offset, int pair) { return (unsigned char)(offset * 7 + offset / 251 + pair); }

// --- Streams ------------------------------------------------------------------------------------

struct Stream {
    int fd;
    int pair;
};

static size_t stream_bytes(void) { return (size_t)g_rounds * 6000; }

static void* stream_writer(void* arg) {
    struct Stream* s = arg;
    static _Thread_local unsigned char chunk[5000];
    size_t total = stream_bytes(), sent = 0;
    for (long i = 0; sent < total; ++i) {
        size_t n = 1 + (size_t)(i * 977) % sizeof chunk;
        if (n > total - sent) n = total - sent;
        for (size_t k = 0; k < n; ++k) chunk[k] = pattern(sent + k, s->pair);
        ssize_t w = write(s->fd, chunk, n);
        if (w <= 0) return fail("stream write", i), NULL;
        sent += (size_t)w;
    }
    close(s->fd);
    return NULL;
}

static void* stream_reader(void* arg) {
    struct Stream* s = arg;
    static _Thread_local unsigned char chunk[7000];
    size_t total = stream_bytes(), got = 0;
    for (long i = 0;; ++i) {
        size_t n = 1 + (size_t)(i * 1543) % sizeof chunk;
        ssize_t r = read(s->fd, chunk, n);
        if (r < 0) return fail("stream read", i), NULL;
        if (r == 0) break;
        for (ssize_t k = 0; k < r; ++k)
            if (chunk[k] != pattern(got + (size_t)k, s->pair)) return fail("stream content", (long)(got + k)), NULL;
        got += (size_t)r;
    }
    if (got != total) fail("stream length", (long)got);
    close(s->fd);
    return NULL;
}

// --- Datagrams ----------------------------------------------------------------------------------

static void fill_datagram(unsigned char* buffer, size_t size, long number, int sender) {
    for (size_t k = 0; k < size; ++k) buffer[k] = (unsigned char)(number + k * 13 + sender);
    if (size >= sizeof(long) + 1) {
        memcpy(buffer, &number, sizeof number);
        buffer[sizeof number] = (unsigned char)sender;
    }
}

static size_t datagram_size(long number) { return sizeof(long) + 1 + (size_t)(number * 37) % 3000; }

static void* datagram_sender(void* arg) {
    struct Stream* s = arg;
    static _Thread_local unsigned char buffer[4000];
    for (long i = 0; i < g_rounds * 4; ++i) {
        size_t size = datagram_size(i);
        fill_datagram(buffer, size, i, s->pair);
        if (send(s->fd, buffer, size, 0) != (ssize_t)size) return fail("datagram send", i), NULL;
    }
    return NULL;
}

static void* datagram_receiver(void* arg) {
    struct Stream* s = arg;
    static _Thread_local unsigned char buffer[4000], expected[4000];
    for (long i = 0; i < g_rounds * 4; ++i) {
        ssize_t r = recv(s->fd, buffer, sizeof buffer, 0);
        size_t size = datagram_size(i);
        if (r != (ssize_t)size) return fail("datagram size", i), NULL;
        fill_datagram(expected, size, i, s->pair);
        if (memcmp(buffer, expected, size)) return fail("datagram content", i), NULL;
    }
    return NULL;
}

// --- Many senders to one bound datagram socket --------------------------------------------------

#define SENDERS 4
static struct sockaddr_un g_bound_address;
static socklen_t g_bound_length;

static void* bound_sender(void* arg) {
    int sender = (int)(intptr_t)arg;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("bound sender socket", 0), NULL;
    unsigned char buffer[64];
    for (long i = 0; i < g_rounds * 2; ++i) {
        size_t size = sizeof(long) + 1 + (size_t)i % 40;
        fill_datagram(buffer, size, i, sender);
        if (sendto(fd, buffer, size, 0, (struct sockaddr*)&g_bound_address, g_bound_length) != (ssize_t)size)
            return fail("bound sendto", i), NULL;
    }
    close(fd);
    return NULL;
}

static void bound_datagrams(void) {
    int receiver = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(receiver >= 0);
    g_bound_address.sun_family = AF_UNIX;
    memcpy(g_bound_address.sun_path, "\0unix_stress_bound", 18);
    g_bound_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 18);
    CHECK(bind(receiver, (struct sockaddr*)&g_bound_address, g_bound_length) == 0);
    pthread_t threads[SENDERS];
    for (int i = 0; i < SENDERS; ++i) CHECK(pthread_create(&threads[i], NULL, bound_sender, (void*)(intptr_t)i) == 0);
    long next[SENDERS] = {0};
    unsigned char buffer[64], expected[64];
    for (long n = 0; n < g_rounds * 2 * SENDERS; ++n) {
        ssize_t r = recv(receiver, buffer, sizeof buffer, 0);
        if (r < (ssize_t)(sizeof(long) + 1)) {
            fail("bound recv", n);
            break;
        }
        long number;
        memcpy(&number, buffer, sizeof number);
        int sender = buffer[sizeof number];
        if (sender >= SENDERS || number != next[sender]) {
            fail("bound order", n);
            break;
        }
        size_t size = sizeof(long) + 1 + (size_t)number % 40;
        fill_datagram(expected, size, number, sender);
        if ((size_t)r != size || memcmp(buffer, expected, size)) fail("bound content", n);
        ++next[sender];
    }
    for (int i = 0; i < SENDERS; ++i) pthread_join(threads[i], NULL);
    close(receiver);
}

// --- Connections through a small backlog ---------------------------------------------------------

#define CLIENTS 4
static struct sockaddr_un g_listen_address;
static socklen_t g_listen_length;

static void* connecting_client(void* arg) {
    int client = (int)(intptr_t)arg;
    for (long i = 0; i < g_rounds / 4 + 1; ++i) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return fail("client socket", i), NULL;
        if (connect(fd, (struct sockaddr*)&g_listen_address, g_listen_length) != 0) return fail("connect", i), NULL;
        long word = client * 100000 + i, back = 0;
        if (write(fd, &word, sizeof word) != sizeof word) return fail("client write", i), NULL;
        if (read(fd, &back, sizeof back) != sizeof back || back != ~word) return fail("client read", i), NULL;
        close(fd);
    }
    return NULL;
}

static void connections(void) {
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(listener >= 0);
    g_listen_address.sun_family = AF_UNIX;
    memcpy(g_listen_address.sun_path, "\0unix_stress_listen", 19);
    g_listen_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 19);
    CHECK(bind(listener, (struct sockaddr*)&g_listen_address, g_listen_length) == 0);
    CHECK(listen(listener, 1) == 0);
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; ++i)
        CHECK(pthread_create(&threads[i], NULL, connecting_client, (void*)(intptr_t)i) == 0);
    for (long n = 0; n < (g_rounds / 4 + 1) * CLIENTS; ++n) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            fail("accept", n);
            break;
        }
        long word = 0;
        if (read(fd, &word, sizeof word) != sizeof word) fail("server read", n);
        word = ~word;
        if (write(fd, &word, sizeof word) != sizeof word) fail("server write", n);
        close(fd);
    }
    for (int i = 0; i < CLIENTS; ++i) pthread_join(threads[i], NULL);
    close(listener);
}

// --- Descriptors in flight and cycles ------------------------------------------------------------

static int send_fd(int over, int fd) {
    char byte = 'f';
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct iovec v = {.iov_base = &byte, .iov_len = 1};
    struct msghdr message = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
    struct cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof fd);
    return sendmsg(over, &message, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

static int receive_fd(int from) {
    char byte = 0;
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec v = {.iov_base = &byte, .iov_len = 1};
    struct msghdr message = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control};
    if (recvmsg(from, &message, MSG_CMSG_CLOEXEC) != 1) return -1;
    struct cmsghdr* header = CMSG_FIRSTHDR(&message);
    if (!header || header->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(header), sizeof fd);
    return fd;
}

static void* passing_thread(void* arg) {
    int id = (int)(intptr_t)arg;
    for (long i = 0; i < g_rounds; ++i) {
        int carrier[2], passed[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, carrier) != 0) return fail("carrier", i), NULL;
        if (socketpair(AF_UNIX, (i & 1) ? SOCK_DGRAM : SOCK_STREAM | SOCK_CLOEXEC, 0, passed) != 0)
            return fail("passed", i), NULL;
        // Pass one end of `passed` and check it still talks to the other end.
        if (send_fd(carrier[0], passed[0]) != 0) return fail("send_fd", i), NULL;
        int got = receive_fd(carrier[1]);
        if (got < 0) return fail("receive_fd", i), NULL;
        long word = id * 1000000 + i, back = 0;
        if (write(got, &word, sizeof word) != sizeof word) return fail("passed write", i), NULL;
        if (read(passed[1], &back, sizeof back) != sizeof back || back != word) return fail("passed read", i), NULL;
        close(got);
        // Cycles no descriptor reaches once closed: each end of `passed` in the other's queue,
        // and each end of `carrier` in its own (sent over its peer).
        if (send_fd(passed[0], passed[0]) != 0 || send_fd(passed[1], passed[1]) != 0)
            return fail("self cycle", i), NULL;
        if (send_fd(carrier[0], carrier[1]) != 0 || send_fd(carrier[1], carrier[0]) != 0)
            return fail("pair cycle", i), NULL;
        close(passed[0]);
        close(passed[1]);
        close(carrier[0]);
        close(carrier[1]);
    }
    return NULL;
}

static long unix_stat(const char* key) {
    FILE* f = fopen("/proc/xos/unix", "r");
    if (!f) return -1;
    char line[128], name[64];
    long value, found = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%63s %ld", name, &value) == 2 && !strcmp(name, key)) found = value;
    fclose(f);
    return found;
}

// --- Close while the peer blocks ----------------------------------------------------------------

struct Blocked {
    int fd;
    long result;
    int error;
    atomic_int started;
};

static void* blocked_reader(void* arg) {
    struct Blocked* b = arg;
    char buffer[16];
    atomic_store(&b->started, 1);
    b->result = read(b->fd, buffer, sizeof buffer);
    b->error = errno;
    return NULL;
}

static void* blocked_writer(void* arg) {
    struct Blocked* b = arg;
    static _Thread_local char buffer[65536];
    atomic_store(&b->started, 1);
    for (;;) {
        ssize_t w = send(b->fd, buffer, sizeof buffer, MSG_NOSIGNAL);
        if (w < 0) {
            b->result = w;
            b->error = errno;
            return NULL;
        }
    }
}

static void close_while_blocked(long round) {
    int pair[2];
    CHECK(socketpair(AF_UNIX, (round & 1) ? SOCK_DGRAM : SOCK_STREAM, 0, pair) == 0);
    struct Blocked reader = {.fd = pair[0]};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, blocked_reader, &reader) == 0);
    while (!atomic_load(&reader.started)) sched_yield();
    usleep(1000 * (round % 3));  // in read, most likely, or about to be: either way it must end
    if (round & 1) {
        CHECK(shutdown(pair[1], SHUT_WR) == 0 || errno == ENOTCONN);
        shutdown(pair[0], SHUT_RD);  // a datagram socket's reader ends on its own shutdown
    }
    close(pair[1]);
    pthread_join(thread, NULL);
    if (reader.result != 0) fail("reader after close", round);
    close(pair[0]);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    struct Blocked writer = {.fd = pair[0]};
    CHECK(pthread_create(&thread, NULL, blocked_writer, &writer) == 0);
    while (!atomic_load(&writer.started)) sched_yield();
    usleep(1000 * (round % 3));
    close(pair[1]);
    pthread_join(thread, NULL);
    if (writer.result >= 0 || writer.error != EPIPE) fail("writer after close", round);
    close(pair[0]);
}

int main(int argc, char** argv) {
    if (argc > 1) g_rounds = atol(argv[1]);
    signal(SIGPIPE, SIG_IGN);
    long sockets_before = unix_stat("sockets");

    struct Stream streams[PAIRS][2], datagrams[PAIRS][2];
    pthread_t threads[PAIRS * 4 + 4];
    int count = 0;
    for (int p = 0; p < PAIRS; ++p) {
        int fds[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        streams[p][0] = (struct Stream){fds[0], p};
        streams[p][1] = (struct Stream){fds[1], p};
        CHECK(pthread_create(&threads[count++], NULL, stream_writer, &streams[p][0]) == 0);
        CHECK(pthread_create(&threads[count++], NULL, stream_reader, &streams[p][1]) == 0);
        CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) == 0);
        datagrams[p][0] = (struct Stream){fds[0], p};
        datagrams[p][1] = (struct Stream){fds[1], p};
        CHECK(pthread_create(&threads[count++], NULL, datagram_sender, &datagrams[p][0]) == 0);
        CHECK(pthread_create(&threads[count++], NULL, datagram_receiver, &datagrams[p][1]) == 0);
    }
    for (int i = 0; i < 4; ++i) CHECK(pthread_create(&threads[count++], NULL, passing_thread, (void*)(intptr_t)i) == 0);
    bound_datagrams();
    connections();
    for (long round = 0; round < 12; ++round) close_while_blocked(round);
    for (int i = 0; i < count; ++i) pthread_join(threads[i], NULL);
    for (int p = 0; p < PAIRS; ++p) {
        close(datagrams[p][0].fd);
        close(datagrams[p][1].fd);
    }

    // Every cycle closed by the passing threads is collected (a release or a send with
    // descriptors runs the collection; the last closes above run one).
    int probe[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, probe) == 0);
    close(probe[0]);
    close(probe[1]);
    long sockets_after = unix_stat("sockets"), in_flight = unix_stat("in_flight");
    printf("unix_stress: sockets %ld before, %ld after, %ld in flight, collected %ld\n", sockets_before, sockets_after,
           in_flight, unix_stat("collected"));
    CHECK(sockets_after == sockets_before);
    CHECK(in_flight == 0);
    printf("unix_stress: %d failure(s)\n", check_failures + (int)atomic_load(&g_failures));
    return check_failures + (int)atomic_load(&g_failures) ? 1 : 0;
}
