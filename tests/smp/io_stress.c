// SMP I/O stress (issue 17): 64 threads at once on every CPU the image has, through the I/O
// objects that have locks of their own (docs/locking.md "I/O objects"), each with a result check:
// - 8 pipe pairs: blocking ping-pong of sequence numbers (each echo checked);
// - 8 AF_UNIX socketpair pairs (stream and datagram): the same;
// - 8 eventfd pairs (semaphore mode): a producer adds ROUNDS units one at a time, a consumer
//   takes them one at a time, blocking when the count is 0; the count ends at 0;
// - 16 threads on one epoll instance watching 8 pipes (level-triggered): 8 writers write
//   ROUNDS 8-byte records each, 8 waiters epoll_wait and read whatever is there; every byte
//   written is read exactly once.
// Bounded by the round count (argument 1, default 200); the test's timeout catches a hang
// (a lost wake-up leaves a thread blocked). Exit status 0 = every check passed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../image/check.h"

#define PAIRS 8
static long g_rounds = 200;
static atomic_int g_cpu_seen[64];
static atomic_long g_failures;

static void note_cpu(void) {
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu < 64) atomic_store(&g_cpu_seen[cpu], 1);
}

static void fail(const char* what, long round) {
    printf("FAIL %s (round %ld, errno %d)\n", what, round, errno);
    atomic_fetch_add(&g_failures, 1);
}

// A ping-pong endpoint: `out` to send on, `in` to receive from.
struct Echo {
    int out, in;
    int initiator;
};

static void* echo_thread(void* arg) {
    struct Echo* e = arg;
    for (long i = 0; i < g_rounds; ++i) {
        uint64_t value = (uint64_t)i * 2654435761u, got = 0;
        if (i % 16 == 0) note_cpu();
        if (e->initiator) {
            if (write(e->out, &value, sizeof value) != sizeof value) return fail("echo write", i), NULL;
            if (read(e->in, &got, sizeof got) != sizeof got) return fail("echo read", i), NULL;
            if (got != value + 1) return fail("echo value", i), NULL;
        } else {
            if (read(e->in, &got, sizeof got) != sizeof got) return fail("echo peer read", i), NULL;
            if (got != value) return fail("echo peer value", i), NULL;
            ++got;
            if (write(e->out, &got, sizeof got) != sizeof got) return fail("echo peer write", i), NULL;
        }
    }
    return NULL;
}

static int g_eventfds[PAIRS];

static void* eventfd_thread(void* arg) {
    intptr_t id = (intptr_t)arg;
    int fd = g_eventfds[id / 2];
    for (long i = 0; i < g_rounds; ++i) {
        uint64_t value = 1;
        if (i % 16 == 0) note_cpu();
        if (id % 2 == 0) {
            if (write(fd, &value, sizeof value) != sizeof value) return fail("eventfd write", i), NULL;
        } else {
            if (read(fd, &value, sizeof value) != sizeof value || value != 1) return fail("eventfd read", i), NULL;
        }
    }
    return NULL;
}

static int g_epoll = -1;
static int g_epoll_pipes[PAIRS][2];
static atomic_long g_epoll_read;

static void* epoll_writer(void* arg) {
    intptr_t id = (intptr_t)arg;
    for (long i = 0; i < g_rounds; ++i) {
        uint64_t record = (uint64_t)id << 32 | (uint64_t)i;
        if (i % 16 == 0) note_cpu();
        if (write(g_epoll_pipes[id][1], &record, sizeof record) != sizeof record) return fail("epoll writer", i), NULL;
    }
    return NULL;
}

static void* epoll_waiter(void* arg) {
    (void)arg;
    long total = (long)PAIRS * g_rounds * 8;
    for (long round = 0; atomic_load(&g_epoll_read) < total; ++round) {
        struct epoll_event event;
        if (round % 16 == 0) note_cpu();
        int n = epoll_wait(g_epoll, &event, 1, 100);
        if (n < 0) return fail("epoll_wait", round), NULL;
        if (n == 0) continue;
        char buffer[256];
        ssize_t got = read(g_epoll_pipes[event.data.u32][0], buffer, sizeof buffer);
        if (got < 0 && errno != EAGAIN) return fail("epoll read", round), NULL;
        if (got > 0) {
            if (got % 8) fail("epoll torn record", round);
            atomic_fetch_add(&g_epoll_read, got);
        }
    }
    return NULL;
}

int main(int argc, char** argv) {
    if (argc > 1) g_rounds = atol(argv[1]);
    if (g_rounds < 10) g_rounds = 10;
    pthread_t threads[64];
    int count = 0;

    struct Echo echoes[4 * PAIRS];
    int fds_to_close[8 * PAIRS], closing = 0;
    for (int i = 0; i < PAIRS; ++i) {  // pipes
        int a[2], b[2];
        if (pipe(a) != 0 || pipe(b) != 0) {
            CHECK(!"pipe");
            return 1;
        }
        echoes[2 * i] = (struct Echo){a[1], b[0], 1};
        echoes[2 * i + 1] = (struct Echo){b[1], a[0], 0};
        fds_to_close[closing++] = a[0], fds_to_close[closing++] = a[1];
        fds_to_close[closing++] = b[0], fds_to_close[closing++] = b[1];
    }
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
    for (int i = 0; i < PAIRS; ++i) {  // socketpairs: each end both sends and receives
        int s[2] = {-1, -1};
        if (socketpair(AF_UNIX, types[i % 2], 0, s) != 0) {
            CHECK(!"socketpair");
            return 1;
        }
        echoes[2 * PAIRS + 2 * i] = (struct Echo){s[0], s[0], 1};
        echoes[2 * PAIRS + 2 * i + 1] = (struct Echo){s[1], s[1], 0};
        fds_to_close[closing++] = s[0], fds_to_close[closing++] = s[1];
    }
    for (int i = 0; i < 4 * PAIRS; ++i) CHECK(pthread_create(&threads[count++], NULL, echo_thread, &echoes[i]) == 0);

    for (int i = 0; i < PAIRS; ++i) CHECK((g_eventfds[i] = eventfd(0, EFD_SEMAPHORE)) >= 0);
    for (intptr_t i = 0; i < 2 * PAIRS; ++i)
        CHECK(pthread_create(&threads[count++], NULL, eventfd_thread, (void*)i) == 0);

    CHECK((g_epoll = epoll_create1(0)) >= 0);
    for (int i = 0; i < PAIRS; ++i) {
        CHECK(pipe2(g_epoll_pipes[i], O_NONBLOCK) == 0);
        // The writers block when the pipe is full: their end blocks, the readers' does not.
        int flags = fcntl(g_epoll_pipes[i][1], F_GETFL);
        CHECK(fcntl(g_epoll_pipes[i][1], F_SETFL, flags & ~O_NONBLOCK) == 0);
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        CHECK(epoll_ctl(g_epoll, EPOLL_CTL_ADD, g_epoll_pipes[i][0], &event) == 0);
    }
    for (intptr_t i = 0; i < PAIRS; ++i) CHECK(pthread_create(&threads[count++], NULL, epoll_writer, (void*)i) == 0);
    for (intptr_t i = 0; i < PAIRS; ++i) CHECK(pthread_create(&threads[count++], NULL, epoll_waiter, (void*)i) == 0);

    for (int i = 0; i < count; ++i) CHECK(pthread_join(threads[i], NULL) == 0);

    for (int i = 0; i < PAIRS; ++i) {  // every unit taken: the count is 0 again
        uint64_t value;
        CHECK(fcntl(g_eventfds[i], F_SETFL, O_NONBLOCK) == 0);
        CHECK(read(g_eventfds[i], &value, sizeof value) == -1 && errno == EAGAIN);
        close(g_eventfds[i]);
    }
    CHECK(atomic_load(&g_epoll_read) == (long)PAIRS * g_rounds * 8);
    for (int i = 0; i < PAIRS; ++i) {  // nothing left over
        char byte;
        CHECK(read(g_epoll_pipes[i][0], &byte, 1) == -1 && errno == EAGAIN);
        close(g_epoll_pipes[i][0]);
        close(g_epoll_pipes[i][1]);
    }
    close(g_epoll);
    for (int i = 0; i < closing; ++i) close(fds_to_close[i]);

    int cpus = 0;
    for (int i = 0; i < 64; ++i) cpus += atomic_load(&g_cpu_seen[i]);
    check_failures += (int)atomic_load(&g_failures);
    printf("io_stress: %d threads, %ld rounds, epoll %ld bytes, ran on %d of %ld CPU(s)\n", count, g_rounds,
           atomic_load(&g_epoll_read), cpus, sysconf(_SC_NPROCESSORS_ONLN));
    printf("io_stress: %d failure(s)\n", check_failures);
    return check_failures ? 1 : 0;
}
