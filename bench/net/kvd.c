#define _GNU_SOURCE
// kvd: a tiny key-value server speaking enough of Redis's protocol (RESP) for redis-benchmark
// (`-t get,set,ping`, pipelined or not), with redis-server's network pattern: one thread, an
// epoll loop over nonblocking sockets, TCP_NODELAY on every accepted connection, each read
// (up to 16 KiB) parsed completely and all its replies sent with one write.
//
//     kvd [--port 6379] [--quiet]
//
// Replies: SET -> +OK, GET -> the value stored (or $-1), PING -> +PONG, CONFIG GET x -> [x, ""],
// anything else -> +OK. Values are kept in a small open hash table (redis-benchmark uses one
// key unless -r is given). Prints "kvd: listening on port N" once it accepts connections.
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUFFER = 16384, OUT_MAX = 1 << 20, TABLE = 4096, MAX_EVENTS = 64 };

struct Connection {
    int fd;
    char in[BUFFER * 4];
    size_t in_length;
    char* out;
    size_t out_length, out_sent, out_capacity;
    int waits_for_out;  // EPOLLOUT registered
};

struct Entry {
    char* key;
    size_t key_length;
    char* value;
    size_t value_length;
};

static struct Entry table[TABLE];

static size_t hash(const char* key, size_t length) {
    size_t h = 1469598103934665603ull;
    for (size_t i = 0; i < length; ++i) h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return h % TABLE;
}

static struct Entry* find(const char* key, size_t length, int create) {
    for (size_t i = hash(key, length), n = 0; n < TABLE; i = (i + 1) % TABLE, ++n) {
        struct Entry* e = &table[i];
        if (!e->key) {
            if (!create) return NULL;
            e->key = malloc(length);
            if (!e->key) return NULL;
            memcpy(e->key, key, length);
            e->key_length = length;
            return e;
        }
        if (e->key_length == length && memcmp(e->key, key, length) == 0) return e;
    }
    return NULL;
}

static int reply(struct Connection* c, const char* data, size_t length) {
    if (c->out_length + length > c->out_capacity) {
        size_t capacity = c->out_capacity ? c->out_capacity * 2 : BUFFER;
        while (capacity < c->out_length + length) capacity *= 2;
        if (capacity > OUT_MAX) return -1;
        char* grown = realloc(c->out, capacity);
        if (!grown) return -1;
        c->out = grown;
        c->out_capacity = capacity;
    }
    memcpy(c->out + c->out_length, data, length);
    c->out_length += length;
    return 0;
}

static int reply_bulk(struct Connection* c, const char* data, size_t length) {
    char header[32];
    int n = snprintf(header, sizeof header, "$%zu\r\n", length);
    if (reply(c, header, (size_t)n) < 0 || reply(c, data, length) < 0) return -1;
    return reply(c, "\r\n", 2);
}

// One command (argv[0..argc)); returns -1 to close the connection.
static int execute(struct Connection* c, int argc, const char** argv, const size_t* lengths) {
    if (argc == 0) return 0;
    if (lengths[0] == 3 && strncasecmp(argv[0], "SET", 3) == 0 && argc >= 3) {
        struct Entry* e = find(argv[1], lengths[1], 1);
        if (!e) return reply(c, "-ERR full\r\n", 11);
        char* value = realloc(e->value, lengths[2] ? lengths[2] : 1);
        if (!value) return -1;
        memcpy(value, argv[2], lengths[2]);
        e->value = value;
        e->value_length = lengths[2];
        return reply(c, "+OK\r\n", 5);
    }
    if (lengths[0] == 3 && strncasecmp(argv[0], "GET", 3) == 0 && argc >= 2) {
        struct Entry* e = find(argv[1], lengths[1], 0);
        if (!e || !e->value) return reply(c, "$-1\r\n", 5);
        return reply_bulk(c, e->value, e->value_length);
    }
    if (lengths[0] == 4 && strncasecmp(argv[0], "PING", 4) == 0) return reply(c, "+PONG\r\n", 7);
    if (lengths[0] == 6 && strncasecmp(argv[0], "CONFIG", 6) == 0 && argc >= 3) {
        if (reply(c, "*2\r\n", 4) < 0 || reply_bulk(c, argv[2], lengths[2]) < 0) return -1;
        return reply_bulk(c, "", 0);
    }
    return reply(c, "+OK\r\n", 5);
}

static long parse_number(const char* p, const char* end, const char** after) {
    long value = 0;
    int negative = 0;
    if (p < end && *p == '-') {
        negative = 1;
        ++p;
    }
    while (p < end && *p >= '0' && *p <= '9') value = value * 10 + (*p++ - '0');
    if (p + 1 >= end || p[0] != '\r' || p[1] != '\n') return -2;  // incomplete
    *after = p + 2;
    return negative ? -value : value;
}

// Parses and executes every complete command in c->in; keeps an incomplete tail.
static int process(struct Connection* c) {
    enum { MAX_ARGS = 16 };
    const char* p = c->in;
    const char* end = c->in + c->in_length;
    while (p < end) {
        const char* argv[MAX_ARGS];
        size_t lengths[MAX_ARGS];
        int argc = 0;
        const char* q = p;
        if (*q == '*') {
            long count = parse_number(q + 1, end, &q);
            if (count == -2) break;
            if (count < 0 || count > MAX_ARGS) return -1;
            int complete = 1;
            for (long i = 0; i < count; ++i) {
                if (q >= end) {
                    complete = 0;
                    break;
                }
                if (*q != '$') return -1;
                long length = parse_number(q + 1, end, &q);
                if (length == -2) {
                    complete = 0;
                    break;
                }
                if (length < 0) return -1;
                if (end - q < length + 2) {
                    complete = 0;
                    break;
                }
                argv[argc] = q;
                lengths[argc++] = (size_t)length;
                q += length + 2;
            }
            if (!complete) break;
        } else {  // an inline command: words up to \r\n
            const char* eol = memchr(q, '\n', (size_t)(end - q));
            if (!eol) break;
            const char* w = q;
            while (w < eol && argc < MAX_ARGS) {
                while (w < eol && (*w == ' ' || *w == '\r')) ++w;
                const char* start = w;
                while (w < eol && *w != ' ' && *w != '\r') ++w;
                if (w > start) {
                    argv[argc] = start;
                    lengths[argc++] = (size_t)(w - start);
                }
            }
            q = eol + 1;
        }
        if (execute(c, argc, argv, lengths) < 0) return -1;
        p = q;
    }
    size_t used = (size_t)(p - c->in);
    memmove(c->in, p, c->in_length - used);
    c->in_length -= used;
    if (c->in_length == sizeof c->in) return -1;  // a command larger than the buffer
    return 0;
}

// Sends what is queued; 1 if some is left (wait for EPOLLOUT), 0 if all sent, -1 on error.
static int flush(struct Connection* c) {
    while (c->out_sent < c->out_length) {
        ssize_t n = write(c->fd, c->out + c->out_sent, c->out_length - c->out_sent);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 1;
        if (n <= 0) return -1;
        c->out_sent += (size_t)n;
    }
    c->out_sent = c->out_length = 0;
    return 0;
}

static void drop(int epoll, struct Connection* c) {
    epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    free(c);
}

int main(int argc, char** argv) {
    int port = 6379, quiet = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else {
            fprintf(stderr, "usage: kvd [--port N] [--quiet]\n");
            return 2;
        }
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (listener < 0 || bind(listener, (struct sockaddr*)&address, sizeof address) < 0 || listen(listener, 511) < 0) {
        perror("kvd: listen");
        return 1;
    }
    socklen_t length = sizeof address;
    getsockname(listener, (struct sockaddr*)&address, &length);
    int epoll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    printf("kvd: listening on port %d\n", ntohs(address.sin_port));
    fflush(stdout);
    unsigned long connections = 0;
    for (;;) {
        struct epoll_event events[MAX_EVENTS];
        int n = epoll_wait(epoll, events, MAX_EVENTS, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            perror("kvd: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            struct Connection* c = events[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event add = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &add);
                    if (!quiet) fprintf(stderr, "kvd: connection %lu\n", ++connections);
                }
                continue;
            }
            int closed = 0;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                    ssize_t got = read(c->fd, c->in + c->in_length, sizeof c->in - c->in_length);
                    if (got < 0 && errno == EINTR) continue;
                    if (got < 0 && errno == EAGAIN) break;
                    if (got <= 0 || (c->in_length += (size_t)got, process(c) < 0)) {
                        closed = 1;
                        break;
                    }
                    if ((size_t)got < BUFFER) break;  // as redis: one read per event, more next time
                }
            }
            if (closed) {
                drop(epoll, c);
                continue;
            }
            int left = flush(c);
            if (left < 0) {
                drop(epoll, c);
                continue;
            }
            if (left != c->waits_for_out) {
                struct epoll_event mod = {.events = EPOLLIN | (left ? EPOLLOUT : 0), .data.ptr = c};
                epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &mod);
                c->waits_for_out = left;
            }
        }
    }
}
