// SMP I/O (issue 17, docs/locking.md "I/O"): threads on every CPU the image has exchange data
// through pipes, an AF_UNIX socketpair, a TCP loopback connection, eventfds and epoll, close a
// descriptor another thread is blocked reading, and append records to one file with O_APPEND.
// Every exchange is checked (values, order, byte counts, record integrity), so a lost wake-up
// hangs the case (the harness's timeout fails it) and a lost or torn byte fails a CHECK.
// Exit status 0 = every check passed. Usage: io [ROUNDS] (default 2000).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../image/check.h"

static long g_rounds = 2000;
static int g_cpu_seen[64];
static pthread_mutex_t g_check_mutex = PTHREAD_MUTEX_INITIALIZER;

// CHECK from several threads: check_failures is a plain int.
#define TCHECK(cond)                                                                                                   \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            pthread_mutex_lock(&g_check_mutex);                                                                        \
            CHECK(cond);                                                                                               \
            pthread_mutex_unlock(&g_check_mutex);                                                                      \
        }                                                                                                              \
    } while (0)

static void note_cpu(void) {
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu < 64) __atomic_store_n(&g_cpu_seen[cpu], 1, __ATOMIC_RELAXED);
}

// Reads or writes exactly `size` bytes (streams may split); false on EOF or error.
static int read_full(int fd, void* buffer, size_t size) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, (char*)buffer + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        done += (size_t)n;
    }
    return 1;
}

static int write_full(int fd, const void* buffer, size_t size) {
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, (const char*)buffer + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        done += (size_t)n;
    }
    return 1;
}

// --- Echo over a pair of stream descriptors: the peer returns each message plus one. ---

struct echo_peer {
    int in, out;  // what the peer reads from and writes to
    long rounds;
    size_t size;  // message size: a counter then a pattern derived from it
};

static void fill(unsigned char* message, size_t size, uint64_t value) {
    memcpy(message, &value, sizeof value);
    for (size_t i = sizeof value; i < size; ++i) message[i] = (unsigned char)(value * 31 + i);
}

static int matches(const unsigned char* message, size_t size, uint64_t value) {
    uint64_t got;
    memcpy(&got, message, sizeof got);
    if (got != value) return 0;
    for (size_t i = sizeof value; i < size; ++i)
        if (message[i] != (unsigned char)(value * 31 + i)) return 0;
    return 1;
}

static void* echo_peer(void* arg) {
    struct echo_peer* peer = arg;
    unsigned char message[4096];
    for (long i = 0; i < peer->rounds; ++i) {
        if ((i & 127) == 0) note_cpu();
        if (!read_full(peer->in, message, peer->size)) {
            TCHECK(!"echo peer: short read");
            break;
        }
        TCHECK(matches(message, peer->size, (uint64_t)i * 2));
        fill(message, peer->size, (uint64_t)i * 2 + 1);
        if (!write_full(peer->out, message, peer->size)) {
            TCHECK(!"echo peer: short write");
            break;
        }
    }
    return NULL;
}

// Runs `rounds` round trips: this thread writes to `out` and reads the answer from `in`; the
// peer thread reads `peer_in` and writes `peer_out`.
static long echo(const char* what, int out, int in, int peer_in, int peer_out, long rounds, size_t size) {
    struct echo_peer peer = {peer_in, peer_out, rounds, size};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, echo_peer, &peer) == 0);
    unsigned char message[4096];
    long done = 0;
    for (long i = 0; i < rounds; ++i) {
        if ((i & 127) == 0) note_cpu();
        fill(message, size, (uint64_t)i * 2);
        if (!write_full(out, message, size)) break;
        if (!read_full(in, message, size)) break;
        if (!matches(message, size, (uint64_t)i * 2 + 1)) break;
        ++done;
    }
    CHECK(done == rounds);
    CHECK(pthread_join(thread, NULL) == 0);
    printf("io: %s: %ld round trips of %zu bytes\n", what, done, size);
    return done;
}

static void pipe_ping_pong(void) {
    int to_peer[2], from_peer[2];
    CHECK(pipe(to_peer) == 0 && pipe(from_peer) == 0);
    echo("pipe ping-pong", to_peer[1], from_peer[0], to_peer[0], from_peer[1], g_rounds, 8);
    // Bigger messages than PIPE_BUF: split writes and reads, data must stay in order.
    echo("pipe 3000-byte messages", to_peer[1], from_peer[0], to_peer[0], from_peer[1], g_rounds / 4, 3000);
    close(to_peer[0]), close(to_peer[1]), close(from_peer[0]), close(from_peer[1]);
}

static void socketpair_echo(void) {
    int pair[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    echo("socketpair echo", pair[0], pair[0], pair[1], pair[1], g_rounds, 64);
    close(pair[0]), close(pair[1]);
}

static void tcp_loopback_echo(void) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(listener >= 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(listener, (struct sockaddr*)&address, sizeof address) == 0);
    socklen_t length = sizeof address;
    CHECK(getsockname(listener, (struct sockaddr*)&address, &length) == 0);
    CHECK(listen(listener, 1) == 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(client >= 0);
    CHECK(connect(client, (struct sockaddr*)&address, sizeof address) == 0);
    int server = accept(listener, NULL, NULL);
    CHECK(server >= 0);
    int one = 1;
    CHECK(setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    CHECK(setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    if (client >= 0 && server >= 0) echo("tcp loopback echo", client, client, server, server, g_rounds / 2, 64);
    close(client), close(server), close(listener);
}

// --- eventfd: a counter passed back and forth, each side blocking in read. ---

struct eventfd_peer {
    int ping, pong;
    long rounds;
};

static void* eventfd_peer(void* arg) {
    struct eventfd_peer* peer = arg;
    for (long i = 0; i < peer->rounds; ++i) {
        uint64_t value = 0;
        TCHECK(read(peer->ping, &value, sizeof value) == sizeof value);
        TCHECK(value == (uint64_t)i + 1);
        value = (uint64_t)i + 2;
        TCHECK(write(peer->pong, &value, sizeof value) == sizeof value);
    }
    return NULL;
}

static void eventfd_wakeups(void) {
    struct eventfd_peer peer = {eventfd(0, 0), eventfd(0, 0), g_rounds};
    CHECK(peer.ping >= 0 && peer.pong >= 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, eventfd_peer, &peer) == 0);
    long done = 0;
    for (long i = 0; i < g_rounds; ++i) {
        uint64_t value = (uint64_t)i + 1;
        if (write(peer.ping, &value, sizeof value) != sizeof value) break;
        if (read(peer.pong, &value, sizeof value) != sizeof value || value != (uint64_t)i + 2) break;
        ++done;
    }
    CHECK(done == g_rounds);
    CHECK(pthread_join(thread, NULL) == 0);
    close(peer.ping), close(peer.pong);
    printf("io: eventfd wake-ups: %ld round trips\n", done);
}

// --- epoll: a waiter in epoll_wait on a pipe and an eventfd, woken by another thread. ---

struct epoll_peer {
    int epoll, pipe_read, event, done_event;
    long rounds;
};

static void* epoll_waiter(void* arg) {
    struct epoll_peer* peer = arg;
    long seen_pipe = 0, seen_event = 0;
    while (seen_pipe < peer->rounds || seen_event < peer->rounds) {
        struct epoll_event events[4];
        int n = epoll_wait(peer->epoll, events, 4, -1);
        if (n < 0 && errno == EINTR) continue;
        TCHECK(n > 0);
        if (n <= 0) break;
        for (int i = 0; i < n; ++i) {
            if (events[i].data.fd == peer->pipe_read) {
                char byte;
                while (read(peer->pipe_read, &byte, 1) == 1) {
                    TCHECK(byte == (char)('a' + seen_pipe % 26));
                    ++seen_pipe;
                }
            } else {
                uint64_t value;
                if (read(peer->event, &value, sizeof value) == sizeof value) seen_event += (long)value;
            }
        }
        // Tell the writer what was consumed, so it waits for this side rather than racing ahead.
        uint64_t one = 1;
        TCHECK(write(peer->done_event, &one, sizeof one) == sizeof one);
    }
    TCHECK(seen_pipe == peer->rounds);
    TCHECK(seen_event == peer->rounds);
    return NULL;
}

static void epoll_wakeups(void) {
    int fds[2];
    CHECK(pipe2(fds, O_NONBLOCK) == 0);
    struct epoll_peer peer = {epoll_create1(0), fds[0], eventfd(0, EFD_NONBLOCK), eventfd(0, 0), g_rounds};
    CHECK(peer.epoll >= 0 && peer.event >= 0 && peer.done_event >= 0);
    struct epoll_event pipe_event = {.events = EPOLLIN, .data.fd = fds[0]};
    struct epoll_event event_event = {.events = EPOLLIN | EPOLLET, .data.fd = peer.event};
    CHECK(epoll_ctl(peer.epoll, EPOLL_CTL_ADD, fds[0], &pipe_event) == 0);
    CHECK(epoll_ctl(peer.epoll, EPOLL_CTL_ADD, peer.event, &event_event) == 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, epoll_waiter, &peer) == 0);
    long acknowledged = 0;
    for (long i = 0; i < g_rounds; ++i) {
        char byte = (char)('a' + i % 26);
        uint64_t one = 1;
        CHECK(write(fds[1], &byte, 1) == 1);
        CHECK(write(peer.event, &one, sizeof one) == sizeof one);
        // Wait for the waiter to have woken at least once since (a blocking eventfd read).
        uint64_t acks;
        CHECK(read(peer.done_event, &acks, sizeof acks) == sizeof acks);
        acknowledged += (long)acks;
    }
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(acknowledged > 0);
    close(fds[0]), close(fds[1]), close(peer.epoll), close(peer.event), close(peer.done_event);
    printf("io: epoll wake-ups: %ld rounds\n", g_rounds);
}

// --- close() of a descriptor another thread is blocked reading ---
// Linux: the read keeps the open file description; it returns the data written later, and the
// descriptor is gone for everybody else (EBADF).

struct blocked_reader {
    int fd;
    atomic_int started;
    ssize_t result;
    char byte;
};

static void* blocked_read(void* arg) {
    struct blocked_reader* reader = arg;
    atomic_store(&reader->started, 1);
    reader->result = read(reader->fd, &reader->byte, 1);
    return NULL;
}

static void close_while_reading(void) {
    long rounds = g_rounds / 20 + 1;
    long ok = 0;
    for (long i = 0; i < rounds; ++i) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        struct blocked_reader reader = {.fd = fds[0]};
        pthread_t thread;
        CHECK(pthread_create(&thread, NULL, blocked_read, &reader) == 0);
        while (!atomic_load(&reader.started)) sched_yield();
        for (int spin = 0; spin < (int)(i % 8); ++spin) sched_yield();  // sometimes before the read blocks
        CHECK(close(fds[0]) == 0);
        // A read in progress holds the read end, so the pipe still has a reader and the write
        // succeeds; if the close came first, the pipe has none (EPIPE) and the read gets EBADF.
        char byte = 'z';
        ssize_t written = write(fds[1], &byte, 1);
        CHECK(written == 1 || (written == -1 && errno == EPIPE));
        CHECK(pthread_join(thread, NULL) == 0);
        if (written == 1) {
            CHECK(reader.result == 1 && reader.byte == 'z');
            ++ok;
        } else {
            CHECK(reader.result == -1);
        }
        CHECK(close(fds[1]) == 0);
    }
    printf("io: close during read: %ld rounds, %ld reads got the data\n", rounds, ok);
}

// Threads reading, writing, closing and re-creating the same descriptor number at once: every
// call returns a valid result or EBADF, never crashes; the writes that succeeded are what the
// reads drain.

static int g_shared_fd = -1;
static int g_shared_write_end = -1;
static atomic_int g_churn_stop;
static atomic_long g_churn_written, g_churn_read;

static void* churn_io(void* arg) {
    int reader = (int)(intptr_t)arg;
    char buffer[64];
    long calls = 0;
    while (!atomic_load(&g_churn_stop)) {
        int fd = reader ? __atomic_load_n(&g_shared_fd, __ATOMIC_RELAXED)
                        : __atomic_load_n(&g_shared_write_end, __ATOMIC_RELAXED);
        ssize_t n;
        if (reader) {
            n = read(fd, buffer, sizeof buffer);
            if (n > 0) {
                for (ssize_t i = 0; i < n; ++i) TCHECK(buffer[i] == 'c');
                atomic_fetch_add(&g_churn_read, n);
            }
        } else {
            memset(buffer, 'c', sizeof buffer);
            n = write(fd, buffer, 1 + calls % sizeof buffer);
            if (n > 0) atomic_fetch_add(&g_churn_written, n);
        }
        TCHECK(n > 0 || (n < 0 && (errno == EBADF || errno == EAGAIN)) || (n == 0 && reader));
        if (++calls % 64 == 0) note_cpu();
    }
    return NULL;
}

static void concurrent_close(void) {
    int fds[2];
    CHECK(pipe2(fds, O_NONBLOCK) == 0);
    g_shared_fd = fds[0];
    g_shared_write_end = fds[1];
    pthread_t threads[4];
    for (int i = 0; i < 4; ++i) CHECK(pthread_create(&threads[i], NULL, churn_io, (void*)(intptr_t)(i % 2)) == 0);
    long swaps = g_rounds / 10 + 1;
    for (long i = 0; i < swaps; ++i) {
        // Move the read end to a new number and close the old one under the readers' feet, then
        // put it back with dup2 (which closes atomically).
        int moved = dup(fds[0]);
        CHECK(moved >= 0);
        CHECK(close(fds[0]) == 0);
        CHECK(dup2(moved, fds[0]) == fds[0]);
        CHECK(close(moved) == 0);
        if (i % 16 == 0) sched_yield();
    }
    atomic_store(&g_churn_stop, 1);
    for (int i = 0; i < 4; ++i) CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(close(fds[1]) == 0);
    char buffer[4096];
    ssize_t n;
    while ((n = read(fds[0], buffer, sizeof buffer)) > 0) atomic_fetch_add(&g_churn_read, n);
    CHECK(n == 0);
    CHECK(close(fds[0]) == 0);
    CHECK(atomic_load(&g_churn_read) == atomic_load(&g_churn_written));
    printf("io: read/write/close on one fd: %ld swaps, %ld bytes\n", swaps, atomic_load(&g_churn_written));
}

// --- O_APPEND from several threads to one file: no record lost, torn or overwritten. ---

#define APPENDERS 8
#define RECORD 48

struct appender {
    int fd;
    int id;
    long records;
};

static void* append_records(void* arg) {
    struct appender* appender = arg;
    char record[RECORD];
    for (long i = 0; i < appender->records; ++i) {
        memset(record, 'a' + appender->id, sizeof record);
        int n = snprintf(record, sizeof record, "%d:%ld:", appender->id, i);
        record[n] = 'a' + appender->id;  // overwrite snprintf's NUL
        record[RECORD - 1] = '\n';
        TCHECK(write(appender->fd, record, RECORD) == RECORD);
        if ((i & 63) == 0) note_cpu();
    }
    return NULL;
}

static void concurrent_appends(void) {
    const char* path = "/tmp/smp_io_append";
    unlink(path);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0600);
    CHECK(fd >= 0);
    long per_thread = g_rounds / 4 + 1;
    struct appender appenders[APPENDERS];
    pthread_t threads[APPENDERS];
    for (int i = 0; i < APPENDERS; ++i) {
        // Half share one description, half open their own (both must append atomically).
        appenders[i] = (struct appender){i % 2 ? fd : open(path, O_WRONLY | O_APPEND), i, per_thread};
        CHECK(appenders[i].fd >= 0);
        CHECK(pthread_create(&threads[i], NULL, append_records, &appenders[i]) == 0);
    }
    for (int i = 0; i < APPENDERS; ++i) CHECK(pthread_join(threads[i], NULL) == 0);
    for (int i = 0; i < APPENDERS; ++i)
        if (appenders[i].fd != fd) close(appenders[i].fd);
    close(fd);

    struct stat status;
    CHECK(stat(path, &status) == 0);
    CHECK(status.st_size == (off_t)APPENDERS * per_thread * RECORD);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    long next[APPENDERS] = {0};
    char record[RECORD];
    long records = 0, bad = 0;
    while (read_full(fd, record, RECORD)) {
        int id;
        long index;
        int consumed = 0;
        if (sscanf(record, "%d:%ld:%n", &id, &index, &consumed) != 2 || id < 0 || id >= APPENDERS ||
            record[RECORD - 1] != '\n') {
            ++bad;
            continue;
        }
        for (int i = consumed; i < RECORD - 1; ++i)
            if (record[i] != 'a' + id) ++bad;
        if (index != next[id]) ++bad;  // each thread's records in its order, none missing
        next[id] = index + 1;
        ++records;
    }
    close(fd);
    CHECK(bad == 0);
    CHECK(records == APPENDERS * per_thread);
    for (int i = 0; i < APPENDERS; ++i) CHECK(next[i] == per_thread);
    unlink(path);
    printf("io: O_APPEND: %d threads, %ld records, %ld bad\n", APPENDERS, records, bad);
}

int main(int argc, char** argv) {
    if (argc > 1) g_rounds = atol(argv[1]);
    if (g_rounds < 20) g_rounds = 20;
    signal(SIGPIPE, SIG_IGN);  // close_while_reading may write to a pipe with no reader left
    pipe_ping_pong();
    socketpair_echo();
    tcp_loopback_echo();
    eventfd_wakeups();
    epoll_wakeups();
    close_while_reading();
    concurrent_close();
    concurrent_appends();
    int cpus = 0;
    for (int i = 0; i < 64; ++i) cpus += g_cpu_seen[i];
    printf("io: ran on %d of %ld CPU(s)\n", cpus, sysconf(_SC_NPROCESSORS_ONLN));
    if (argc > 2) CHECK(cpus == atoi(argv[2]));
    printf("io: %d failure(s)\n", check_failures);
    return check_failures ? 1 : 0;
}
