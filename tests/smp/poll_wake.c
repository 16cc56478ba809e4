// Wake-ups through poll, select and epoll across CPUs (issue 17, docs/locking.md "Wake-ups
// after the lock"): pairs of threads ping-pong a sequence number, each side waiting for its
// turn with no timeout, so a lost wake-up leaves both blocked and the test's timeout catches it.
// At once, each pair with its own mechanism:
// - poll on a pipe, the partner's write the notification;
// - select on a pipe;
// - ppoll on an eventfd (no signal mask);
// - epoll_wait on an epoll instance watching a pipe, level-triggered;
// - epoll_wait on an eventfd watched edge-triggered (EPOLLET: one notification per write);
// - epoll_wait on a TCP loopback connection (lwIP's callbacks notify);
// - a nested epoll instance (an epoll watching an epoll watching a pipe).
// Every value is checked; the slowest round is printed (not judged: no timing thresholds).
// Argument 1: rounds per pair (default 2000). Exit status 0 = every check passed.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../image/check.h"

static long g_rounds = 2000;
static atomic_long g_failures;

enum Kind { POLL_PIPE, SELECT_PIPE, PPOLL_EVENTFD, EPOLL_PIPE, EPOLL_ET_EVENTFD, EPOLL_TCP, EPOLL_NESTED, KINDS };
static const char* const g_names[KINDS] = {"poll-pipe",        "select-pipe", "ppoll-eventfd", "epoll-pipe",
                                           "epoll-et-eventfd", "epoll-tcp",   "epoll-nested"};

// One direction of a pair: `read_fd` is what a side waits on and reads, `write_fd` what it
// writes to tell the other side.
struct Side {
    int read_fd;
    int write_fd;
    int epoll;  // epoll kinds: the instance this side waits on (watching read_fd)
};

struct Pair {
    enum Kind kind;
    struct Side sides[2];
    long max_round_ns;
};

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void fail(const struct Pair* pair, const char* what, long round) {
    printf("FAIL %s: %s (round %ld, errno %d)\n", g_names[pair->kind], what, round, errno);
    atomic_fetch_add(&g_failures, 1);
}

static int is_eventfd(enum Kind kind) { return kind == PPOLL_EVENTFD || kind == EPOLL_ET_EVENTFD; }

// Waits (no timeout) until the side's file is readable.
static int wait_readable(const struct Pair* pair, const struct Side* side) {
    switch (pair->kind) {
    case POLL_PIPE: {
        struct pollfd p = {.fd = side->read_fd, .events = POLLIN};
        return poll(&p, 1, -1) == 1 && (p.revents & POLLIN) ? 0 : -1;
    }
    case PPOLL_EVENTFD: {
        struct pollfd p = {.fd = side->read_fd, .events = POLLIN};
        return ppoll(&p, 1, NULL, NULL) == 1 && (p.revents & POLLIN) ? 0 : -1;
    }
    case SELECT_PIPE: {
        fd_set set;
        FD_ZERO(&set);
        FD_SET(side->read_fd, &set);
        return select(side->read_fd + 1, &set, NULL, NULL, NULL) == 1 && FD_ISSET(side->read_fd, &set) ? 0 : -1;
    }
    default: {
        struct epoll_event event;
        int n = epoll_wait(side->epoll, &event, 1, -1);
        return n == 1 && (event.events & EPOLLIN) ? 0 : -1;
    }
    }
}

static int send_value(const struct Pair* pair, const struct Side* side, uint64_t value) {
    if (is_eventfd(pair->kind)) return write(side->write_fd, &value, 8) == 8 ? 0 : -1;
    uint32_t v = (uint32_t)value;
    return write(side->write_fd, &v, 4) == 4 ? 0 : -1;
}

static int receive_value(const struct Pair* pair, const struct Side* side, uint64_t* value) {
    if (is_eventfd(pair->kind)) return read(side->read_fd, value, 8) == 8 ? 0 : -1;
    uint32_t v;
    if (read(side->read_fd, &v, 4) != 4) return -1;
    *value = v;
    return 0;
}

struct Run {
    struct Pair* pair;
    int side;
};

static void* run_side(void* arg) {
    struct Run* run = arg;
    struct Pair* pair = run->pair;
    const struct Side* side = &pair->sides[run->side];
    // Side 0 starts; each side expects the other's last value + 1 and answers with + 1.
    uint64_t expected = run->side == 0 ? 2 : 1;
    if (run->side == 0 && send_value(pair, side, 1)) return fail(pair, "first write", 0), NULL;
    for (long round = 0; round < g_rounds; ++round) {
        long start = now_ns();
        if (wait_readable(pair, side)) return fail(pair, "wait", round), NULL;
        long took = now_ns() - start;
        if (took > pair->max_round_ns && run->side == 0) pair->max_round_ns = took;
        uint64_t value = 0;
        if (receive_value(pair, side, &value)) return fail(pair, "read", round), NULL;
        // An eventfd adds: one write between two reads, so the value is the partner's alone.
        if (value != expected) {
            printf("FAIL %s: got %llu, expected %llu (round %ld)\n", g_names[pair->kind], (unsigned long long)value,
                   (unsigned long long)expected, round);
            atomic_fetch_add(&g_failures, 1);
            return NULL;
        }
        // The last round's answer is not awaited by side 0 (it stops after g_rounds reads).
        if (run->side == 1 || round + 1 < g_rounds) {
            if (send_value(pair, side, value + 1)) return fail(pair, "write", round), NULL;
        }
        expected = value + 2;
    }
    return NULL;
}

static int watch(int epoll, int fd, uint32_t events) {
    struct epoll_event event = {.events = events, .data.fd = fd};
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

static void tcp_pair(int fds[2]) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(listener, (struct sockaddr*)&address, sizeof address) == 0);
    CHECK(listen(listener, 1) == 0);
    socklen_t length = sizeof address;
    CHECK(getsockname(listener, (struct sockaddr*)&address, &length) == 0);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fds[0] >= 0);
    CHECK(connect(fds[0], (struct sockaddr*)&address, sizeof address) == 0);
    fds[1] = accept(listener, NULL, NULL);
    CHECK(fds[1] >= 0);
    int one = 1;
    CHECK(setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    CHECK(setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    close(listener);
}

static void set_up(struct Pair* pair, enum Kind kind) {
    pair->kind = kind;
    pair->max_round_ns = 0;
    if (kind == EPOLL_TCP) {
        int fds[2];
        tcp_pair(fds);
        // A connection is both ways: each side reads and writes its own end.
        pair->sides[0] = (struct Side){fds[0], fds[0], -1};
        pair->sides[1] = (struct Side){fds[1], fds[1], -1};
    } else if (is_eventfd(kind)) {
        int to0 = eventfd(0, 0), to1 = eventfd(0, 0);
        CHECK(to0 >= 0 && to1 >= 0);
        pair->sides[0] = (struct Side){to0, to1, -1};
        pair->sides[1] = (struct Side){to1, to0, -1};
    } else {
        int to0[2], to1[2];
        CHECK(pipe(to0) == 0 && pipe(to1) == 0);
        pair->sides[0] = (struct Side){to0[0], to1[1], -1};
        pair->sides[1] = (struct Side){to1[0], to0[1], -1};
    }
    if (kind < EPOLL_PIPE) return;
    for (int i = 0; i < 2; ++i) {
        struct Side* side = &pair->sides[i];
        side->epoll = epoll_create1(0);
        CHECK(side->epoll >= 0);
        CHECK(watch(side->epoll, side->read_fd, EPOLLIN | (kind == EPOLL_ET_EVENTFD ? EPOLLET : 0)) == 0);
        if (kind == EPOLL_NESTED) {
            int outer = epoll_create1(0);
            CHECK(outer >= 0);
            CHECK(watch(outer, side->epoll, EPOLLIN) == 0);
            side->epoll = outer;
        }
    }
}

int main(int argc, char** argv) {
    if (argc > 1) g_rounds = atol(argv[1]);
    struct Pair pairs[KINDS];
    struct Run runs[KINDS][2];
    pthread_t threads[KINDS][2];
    for (int k = 0; k < KINDS; ++k) set_up(&pairs[k], (enum Kind)k);
    long start = now_ns();
    for (int k = 0; k < KINDS; ++k)
        for (int s = 0; s < 2; ++s) {
            runs[k][s] = (struct Run){&pairs[k], s};
            CHECK(pthread_create(&threads[k][s], NULL, run_side, &runs[k][s]) == 0);
        }
    for (int k = 0; k < KINDS; ++k)
        for (int s = 0; s < 2; ++s) pthread_join(threads[k][s], NULL);
    long took = now_ns() - start;
    for (int k = 0; k < KINDS; ++k)
        printf("%s: %ld rounds, slowest wait %ld us\n", g_names[k], g_rounds, pairs[k].max_round_ns / 1000);
    printf("all pairs: %ld ms\n", took / 1000000);
    long failures = check_failures + atomic_load(&g_failures);
    printf("poll_wake: %ld failure(s)\n", failures);
    return failures ? 1 : 0;
}
