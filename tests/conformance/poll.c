// Differential conformance of readiness: poll/ppoll, select/pselect, epoll (level and edge
// triggered, EPOLLONESHOT, EPOLLRDHUP, nesting, errors) on pipes, eventfds and sockets, with
// timeouts and EINTR. Prints results and errno names only.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int wait_events(int ep, int timeout, uint32_t* events, uint64_t* data) {
    struct epoll_event out[8];
    int n = epoll_wait(ep, out, 8, timeout);
    if (n > 0) {
        *events = out[0].events;
        *data = out[0].data.u64;
    }
    return n;
}

static int wfd;
static void* delayed_write(void* arg) {
    (void)arg;
    usleep(50000);
    write(wfd, "x", 1);
    return NULL;
}

static pthread_t main_thread;
static void on_usr1(int s) { (void)s; }
static void* delayed_signal(void* arg) {
    (void)arg;
    usleep(50000);
    pthread_kill(main_thread, SIGUSR1);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    close(999);  // the errno checks rely on it being closed (a test runner may pass descriptors)
    int p[2], e, ep;
    char buf[64];
    uint32_t events = 0;
    uint64_t data = 0;

    // poll on a pipe.
    pipe(p);
    struct pollfd fds[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {-1, POLLIN, 0}};
    SHOW("poll(empty pipe)", poll(fds, 3, 0));
    SHOW("revents read end", fds[0].revents);
    SHOW("revents write end", fds[1].revents);
    long start = now_ms();
    SHOW("poll(read end, 60 ms)", poll(fds, 1, 60));
    SHOW("waited >= 50 ms", now_ms() - start >= 50);
    write(p[1], "a", 1);
    SHOW("poll(after write)", poll(fds, 1, 0));
    SHOW("revents", fds[0].revents);
    read(p[0], buf, 1);
    wfd = p[1];
    pthread_t t;
    pthread_create(&t, NULL, delayed_write, NULL);
    SHOW("poll(blocks until a thread writes)", poll(fds, 1, 5000));
    pthread_join(t, NULL);
    read(p[0], buf, 1);
    struct pollfd bad = {999, POLLIN, 0};
    SHOW("poll(unopened fd)", poll(&bad, 1, 0));
    SHOW("revents POLLNVAL", bad.revents);
    close(p[1]);
    SHOW("poll(writer closed)", poll(fds, 1, 0));
    SHOW("revents POLLHUP", fds[0].revents);
    close(p[0]);

    // select and pselect.
    pipe(p);
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(p[0], &r);
    FD_SET(p[1], &w);
    SHOW("select(read+write)", select(p[1] + 1, &r, &w, NULL, NULL));
    SHOW("read end set", FD_ISSET(p[0], &r));
    SHOW("write end set", FD_ISSET(p[1], &w));
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = {0, 40000};
    start = now_ms();
    SHOW("select(timeout 40 ms)", select(p[0] + 1, &r, NULL, NULL, &tv));
    SHOW("waited >= 30 ms", now_ms() - start >= 30);
    // A closed descriptor inside the table (Linux ignores bits beyond its table's size).
    int closed = dup(0);
    close(closed);
    FD_ZERO(&r);
    FD_SET(closed, &r);
    SHOW("select(closed fd)", select(closed + 1, &r, NULL, NULL, NULL));
    SHOW("select(nfds -1)", select(-1, NULL, NULL, NULL, NULL));
    struct timespec ts = {0, 20000000};
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    SHOW("pselect(timeout)", pselect(p[0] + 1, &r, NULL, NULL, &ts, NULL));

    // EINTR: a signal from another thread interrupts poll.
    main_thread = pthread_self();
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_create(&t, NULL, delayed_signal, NULL);
    fds[0].fd = p[0];
    SHOW("poll interrupted by a signal", poll(fds, 1, 5000));
    pthread_join(t, NULL);
    pthread_create(&t, NULL, delayed_signal, NULL);
    ep = epoll_create1(0);
    SHOW("epoll_wait interrupted by a signal", epoll_wait(ep, (struct epoll_event[1]){0}, 1, 5000));
    pthread_join(t, NULL);
    close(ep);

    // epoll: level-triggered.
    ep = epoll_create1(EPOLL_CLOEXEC);
    SHOW("FD_CLOEXEC on epoll fd", fcntl(ep, F_GETFD));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 11};
    SHOW("ctl ADD read end (LT)", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    SHOW("ctl ADD again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    SHOW("wait(empty, 0)", wait_events(ep, 0, &events, &data));
    start = now_ms();
    SHOW("wait(empty, 40 ms)", wait_events(ep, 40, &events, &data));
    SHOW("waited >= 30 ms", now_ms() - start >= 30);
    write(p[1], "ab", 2);
    SHOW("wait(LT) after write", wait_events(ep, 0, &events, &data));
    SHOW("events, data", events * 1000 + data);
    SHOW("wait(LT) again, still ready", wait_events(ep, 0, &events, &data));
    read(p[0], buf, 2);
    SHOW("wait(LT) after draining", wait_events(ep, 0, &events, &data));

    // Edge-triggered.
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 12;
    SHOW("ctl MOD to EPOLLET", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    write(p[1], "a", 1);
    SHOW("wait(ET) after write", wait_events(ep, 0, &events, &data));
    SHOW("wait(ET) again: no new edge", wait_events(ep, 0, &events, &data));
    write(p[1], "b", 1);
    SHOW("wait(ET) after another write", wait_events(ep, 0, &events, &data));
    read(p[0], buf, 2);

    // One-shot.
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 13;
    SHOW("ctl MOD to EPOLLONESHOT", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    write(p[1], "a", 1);
    SHOW("wait(ONESHOT)", wait_events(ep, 0, &events, &data));
    write(p[1], "b", 1);
    SHOW("wait(ONESHOT) disarmed", wait_events(ep, 0, &events, &data));
    SHOW("ctl MOD re-arms", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    SHOW("wait(ONESHOT) re-armed", wait_events(ep, 0, &events, &data));
    read(p[0], buf, 2);
    SHOW("ctl DEL", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
    SHOW("ctl DEL again", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
    SHOW("ctl MOD missing", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));

    // eventfd and blocking epoll_wait woken by another thread.
    e = eventfd(0, EFD_NONBLOCK);
    ev.events = EPOLLIN;
    ev.data.u64 = 14;
    SHOW("ctl ADD eventfd", epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev));
    ev.events = EPOLLIN;
    ev.data.u64 = 15;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    wfd = p[1];
    pthread_create(&t, NULL, delayed_write, NULL);
    SHOW("wait blocks until a thread writes", wait_events(ep, 5000, &events, &data));
    SHOW("data of the ready item", data);
    pthread_join(t, NULL);
    read(p[0], buf, 1);
    uint64_t one = 1;
    write(e, &one, sizeof one);
    SHOW("wait(eventfd)", wait_events(ep, 0, &events, &data));
    SHOW("data", data);
    read(e, &one, sizeof one);
    ev.events = EPOLLOUT;
    SHOW("ctl MOD eventfd EPOLLOUT", epoll_ctl(ep, EPOLL_CTL_MOD, e, &ev));
    SHOW("wait(eventfd writable)", wait_events(ep, 0, &events, &data));
    SHOW("events", events);
    epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL);

    // Closing the last descriptor of a file removes it from the set; a dup keeps it.
    int d = dup(p[0]);
    close(p[0]);
    write(p[1], "z", 1);
    SHOW("wait(closed fd, dup alive)", wait_events(ep, 0, &events, &data));
    read(d, buf, 1);
    close(d);
    write(p[1], "z", 1);
    SHOW("wait(all descriptors closed)", wait_events(ep, 0, &events, &data));
    close(p[1]);

    // Sockets: EPOLLRDHUP on peer close, EPOLLOUT.
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = 16;
    SHOW("ctl ADD socket (ET, RDHUP)", epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev));
    SHOW("wait(idle socket)", wait_events(ep, 0, &events, &data));
    send(sv[1], "hi", 2, 0);
    SHOW("wait(socket data)", wait_events(ep, 0, &events, &data));
    SHOW("events", events);
    close(sv[1]);
    SHOW("wait(peer closed)", wait_events(ep, 0, &events, &data));
    SHOW("events (IN|HUP|RDHUP)", events);
    close(sv[0]);

    // Nesting and errors.
    int inner = epoll_create1(0), outer = epoll_create1(0);
    pipe(p);
    ev.events = EPOLLIN;
    ev.data.u64 = 17;
    epoll_ctl(inner, EPOLL_CTL_ADD, p[0], &ev);
    ev.data.u64 = 18;
    SHOW("ctl ADD inner epoll to outer", epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev));
    SHOW("ctl ADD outer to inner (loop)", epoll_ctl(inner, EPOLL_CTL_ADD, outer, &ev));
    SHOW("ctl ADD epoll to itself", epoll_ctl(outer, EPOLL_CTL_ADD, outer, &ev));
    SHOW("wait(outer, nothing ready)", wait_events(outer, 0, &events, &data));
    write(p[1], "n", 1);
    SHOW("wait(outer, inner ready)", wait_events(outer, 0, &events, &data));
    SHOW("data", data);
    struct pollfd pe = {inner, POLLIN, 0};
    SHOW("poll(epoll fd)", poll(&pe, 1, 0));
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    SHOW("ctl ADD epoll with EPOLLEXCLUSIVE", epoll_ctl(outer, EPOLL_CTL_ADD, p[1], &ev) == 0 ? 0 : -1);
    SHOW("ctl MOD EPOLLEXCLUSIVE item", epoll_ctl(outer, EPOLL_CTL_MOD, p[1], &ev));
    int f = open("/tmp", O_RDONLY | O_DIRECTORY);
    ev.events = EPOLLIN;
    SHOW("ctl ADD directory", epoll_ctl(outer, EPOLL_CTL_ADD, f, &ev));
    SHOW("ctl on non-epoll fd", epoll_ctl(p[0], EPOLL_CTL_ADD, p[1], &ev));
    SHOW("ctl bad op", epoll_ctl(outer, 99, p[0], &ev));
    SHOW("ctl bad fd", epoll_ctl(outer, EPOLL_CTL_ADD, 999, &ev));
    SHOW("ctl bad epfd", epoll_ctl(999, EPOLL_CTL_ADD, p[0], &ev));
    SHOW("wait maxevents 0", epoll_wait(outer, (struct epoll_event[1]){0}, 0, 0));
    SHOW("wait on non-epoll fd", epoll_wait(p[0], (struct epoll_event[1]){0}, 1, 0));
    SHOW("wait bad fd", epoll_wait(999, (struct epoll_event[1]){0}, 1, 0));
    SHOW("epoll_create(0) (musl: epoll_create1)", epoll_create(0) >= 0);
    SHOW("epoll_create1(bad flags)", epoll_create1(1));

    // Many descriptors: only the ready one is reported.
    int many = epoll_create1(0), pairs[200][2];
    for (int i = 0; i < 200; i++) {
        pipe(pairs[i]);
        struct epoll_event m = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
        epoll_ctl(many, EPOLL_CTL_ADD, pairs[i][0], &m);
    }
    write(pairs[137][1], "x", 1);
    SHOW("wait(200 pipes, one ready)", wait_events(many, 0, &events, &data));
    SHOW("which", data);
    for (int i = 0; i < 200; i++) close(pairs[i][0]), close(pairs[i][1]);
    return 0;
}
