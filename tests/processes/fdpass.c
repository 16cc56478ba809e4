// Descriptor passing and process descriptors on xos and on Linux: the same program prints the
// same lines on both (run_processes_test.py, case fdpass). SCM_RIGHTS and SCM_CREDENTIALS over
// AF_UNIX stream and datagram sockets (socketpair and named) between processes, close_range,
// pidfd_open/pidfd_send_signal/waitid(P_PIDFD)/pidfd_getfd, the garbage collection of sockets
// in flight that only reach themselves (cycles), and an exec from one thread while another waits
// for a vfork child (the vfork parent must not hold the exec up). Errors included. Nothing
// printed depends on pids or timing.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

extern char** environ;
static const char* self_path = "/bin/fdpass";

static const char* result(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static void describe(const char* what, int status) {
    if (WIFEXITED(status))
        printf("%s: exited %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", what, WTERMSIG(status));
    else
        printf("%s: status %#x\n", what, status);
    fflush(stdout);
}

static void wait_for(pid_t pid, const char* what) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
        printf("%s: waitpid: %s\n", what, strerrorname_np(errno));
        return;
    }
    describe(what, status);
}

// Sends `count` descriptors (and `data`) in one SCM_RIGHTS message, with sendmsg's `flags`.
static long send_fds_flags(int sock, const int* fds, int count, const char* data, int flags) {
    size_t space = CMSG_SPACE(sizeof(int) * (count ? count : 1));
    char* control = calloc(1, space);
    struct iovec iov = {(void*)data, strlen(data)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (count) {
        m.msg_control = control;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        struct cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * count);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
    }
    long n = sendmsg(sock, &m, flags);
    free(control);
    return n;
}

static long send_fds(int sock, const int* fds, int count, const char* data) {
    return send_fds_flags(sock, fds, count, data, 0);
}

// Receives into `buf`; the descriptors (up to `room` of them fit the control buffer) go to
// fds[], their number to *count; *flags gets msg_flags.
static long receive_fds(int sock, char* buf, size_t size, int* fds, int room, int* count, int* flags, int recv_flags) {
    size_t space = CMSG_SPACE(sizeof(int) * room);
    char* control = calloc(1, space + 64);
    struct iovec iov = {buf, size};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = space};
    long n = recvmsg(sock, &m, recv_flags);
    *count = 0;
    *flags = m.msg_flags;
    if (n >= 0)
        for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + *count, CMSG_DATA(c), k * sizeof(int));
            *count += k;
        }
    free(control);
    if (n >= 0) buf[n] = 0;
    return n;
}

// A pipe's read end reports end of file (every write end is closed) within a few seconds.
static const char* eof_state(int read_end) {
    struct pollfd p = {read_end, POLLIN, 0};
    int ready = poll(&p, 1, 10000);
    if (ready <= 0) return "open (no end of file)";
    char c;
    return read(read_end, &c, 1) == 0 ? "end of file" : "data";
}

static const char* eof_state_nowait(int read_end) {
    struct pollfd p = {read_end, POLLIN, 0};
    return poll(&p, 1, 0) > 0 ? "readable" : "open";
}

// --- SCM_RIGHTS ----------------------------------------------------------------------------

static void rights_stream(int type, const char* kind) {
    printf("== SCM_RIGHTS over a %s socketpair\n", kind);
    int sv[2];
    if (socketpair(AF_UNIX, type, 0, sv) != 0) {
        printf("socketpair: %s\n", strerrorname_np(errno));
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        close(sv[0]);
        // An open file read 6 bytes into, and a pipe's read end set O_NONBLOCK, with data in it.
        int file = open("/data/input.txt", O_RDONLY);
        char skip[6];
        if (read(file, skip, 6) != 6) _exit(3);
        int p[2];
        if (pipe(p) != 0) _exit(3);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        if (write(p[1], "through the pipe", 16) != 16) _exit(3);
        int fds[2] = {file, p[0]};
        long n = send_fds(sv[1], fds, 2, "two fds");
        // The child's own offset moves with the parent's reads (one open file description).
        char answer[8];
        if (read(sv[1], answer, sizeof answer) <= 0) _exit(4);
        printf("child: sendmsg with 2 fds: %s\n", result(n));
        printf("child: offset after the parent read: %ld\n", (long)lseek(file, 0, SEEK_CUR));
        fflush(stdout);
        _exit(0);
    }
    close(sv[1]);
    char buf[64];
    int fds[4], count, flags;
    long n = receive_fds(sv[0], buf, sizeof buf - 1, fds, 4, &count, &flags, 0);
    printf("parent: received %ld bytes [%s], %d fds, MSG_CTRUNC %d\n", n, n >= 0 ? buf : "", count,
           !!(flags & MSG_CTRUNC));
    if (count == 2) {
        char text[16] = {0};
        ssize_t got = read(fds[0], text, 5);
        printf("parent: read %zd bytes from the passed file at the shared offset: [%s]\n", got, text);
        printf("parent: passed pipe O_NONBLOCK %d, FD_CLOEXEC %d\n", !!(fcntl(fds[1], F_GETFL) & O_NONBLOCK),
               !!(fcntl(fds[1], F_GETFD) & FD_CLOEXEC));
        char pipe_text[32] = {0};
        got = read(fds[1], pipe_text, sizeof pipe_text - 1);
        printf("parent: read %zd bytes from the passed pipe: [%s]\n", got, pipe_text);
        got = read(fds[1], pipe_text, sizeof pipe_text - 1);
        printf("parent: read again: %s\n", got < 0 ? strerrorname_np(errno) : "data");
        fflush(stdout);
    }
    if (write(sv[0], "go", 2) != 2) printf("write: %s\n", strerrorname_np(errno));
    wait_for(child, "child");
    close(sv[0]);
    for (int i = 0; i < count; ++i) close(fds[i]);
}

static void rights_details(void) {
    printf("== SCM_RIGHTS details\n");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int p[2];
    pipe(p);
    char buf[64];
    int fds[300], count, flags;

    // MSG_CMSG_CLOEXEC
    send_fds(sv[0], &p[0], 1, "x");
    receive_fds(sv[1], buf, sizeof buf - 1, fds, 4, &count, &flags, MSG_CMSG_CLOEXEC);
    printf("MSG_CMSG_CLOEXEC: %d fds, FD_CLOEXEC %d\n", count, count ? !!(fcntl(fds[0], F_GETFD) & FD_CLOEXEC) : -1);
    if (count) close(fds[0]);

    // A control buffer of CMSG_SPACE(sizeof(int)) (room for two ints) for three: MSG_CTRUNC,
    // the third closed.
    int q[3][2];
    for (int i = 0; i < 3; ++i) pipe(q[i]);
    int ends[3] = {q[0][1], q[1][1], q[2][1]};
    send_fds(sv[0], ends, 3, "three");
    for (int i = 0; i < 3; ++i) close(q[i][1]);
    receive_fds(sv[1], buf, sizeof buf - 1, fds, 1, &count, &flags, 0);
    printf("3 fds, a buffer of CMSG_SPACE(sizeof(int)): %d received, MSG_CTRUNC %d\n", count, !!(flags & MSG_CTRUNC));
    printf("  pipe 1 (received): %s\n", eof_state_nowait(q[0][0]));
    printf("  pipe 2 (received): %s\n", eof_state_nowait(q[1][0]));
    printf("  pipe 3 (dropped): %s\n", eof_state(q[2][0]));
    for (int i = 0; i < count; ++i) close(fds[i]);
    printf("  pipe 1 after closing the received fds: %s\n", eof_state(q[0][0]));
    for (int i = 0; i < 3; ++i) close(q[i][0]);

    // No control buffer at all (recv): the fds are closed.
    int r[2];
    pipe(r);
    send_fds(sv[0], &r[1], 1, "y");
    close(r[1]);
    long n = recv(sv[1], buf, sizeof buf, 0);
    printf("recv of a message with an fd: %ld bytes; the fd: %s\n", n, eof_state(r[0]));
    close(r[0]);

    // Data before and after a message with fds: a read stops after the fds' segment.
    pipe(r);
    send(sv[0], "abc", 3, 0);
    send_fds(sv[0], &r[0], 1, "def");
    send(sv[0], "ghi", 3, 0);
    n = receive_fds(sv[1], buf, sizeof buf - 1, fds, 4, &count, &flags, 0);
    printf("read across segments: %ld bytes [%s], %d fds\n", n, n >= 0 ? buf : "", count);
    if (count) close(fds[0]);
    n = receive_fds(sv[1], buf, sizeof buf - 1, fds, 4, &count, &flags, 0);
    printf("next read: %ld bytes [%s], %d fds\n", n, n >= 0 ? buf : "", count);
    close(r[0]);
    close(r[1]);

    // MSG_PEEK: the fds are duplicated, and still there for the real read.
    pipe(r);
    send_fds(sv[0], &r[0], 1, "peek");
    receive_fds(sv[1], buf, sizeof buf - 1, fds, 4, &count, &flags, MSG_PEEK);
    printf("MSG_PEEK: %d fds [%s]\n", count, buf);
    if (count) close(fds[0]);
    receive_fds(sv[1], buf, sizeof buf - 1, fds, 4, &count, &flags, 0);
    printf("then a read: %d fds [%s]\n", count, buf);
    if (count) close(fds[0]);
    close(r[0]);
    close(r[1]);

    // Limits: SCM_MAX_FD (253) fds in one message; 254 is EINVAL; a bad fd EBADF.
    int many[254];
    for (int i = 0; i < 254; ++i) many[i] = p[0];
    printf("sendmsg with 254 fds: %s\n", result(send_fds(sv[0], many, 254, "z")));
    printf("sendmsg with 253 fds: %s\n", result(send_fds(sv[0], many, 253, "z")));
    receive_fds(sv[1], buf, sizeof buf - 1, fds, 300, &count, &flags, 0);
    printf("  received %d fds, all the same pipe: %d\n", count, count == 253);
    int same = 1;
    struct stat a, b;
    fstat(p[0], &a);
    for (int i = 0; i < count; ++i) {
        fstat(fds[i], &b);
        same &= a.st_ino == b.st_ino;
        close(fds[i]);
    }
    printf("  same inode: %d\n", same);
    int bad[2] = {p[0], 1000};
    printf("sendmsg with a closed fd: %s\n", result(send_fds(sv[0], bad, 2, "z")));
    // A malformed header: cmsg_len past the buffer.
    char control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {"m", 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = sizeof control + 8;
    printf("sendmsg with cmsg_len past the buffer: %s\n", result(sendmsg(sv[0], &m, 0)));
    c->cmsg_len = CMSG_LEN(sizeof(int));
    c->cmsg_type = 77;
    printf("sendmsg with an unknown SOL_SOCKET type: %s\n", result(sendmsg(sv[0], &m, 0)));
    c->cmsg_level = 0;  // SOL_IP
    printf("sendmsg with another level: %s\n", result(sendmsg(sv[0], &m, 0)));
    n = recv(sv[1], buf, sizeof buf, MSG_DONTWAIT);
    printf("  received %ld bytes\n", n);

    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

// Descriptors in flight are closed with the socket that holds them unread.
static void rights_in_flight(void) {
    printf("== fds in flight\n");
    int sv[2], p[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pipe(p);
    send_fds(sv[0], &p[1], 1, "w");
    close(p[1]);
    printf("while in flight: %s\n", eof_state_nowait(p[0]));
    close(sv[1]);
    close(sv[0]);
    printf("after both sockets closed unread: %s\n", eof_state(p[0]));
    close(p[0]);
}

// Named sockets: a path (stream, accept) and an abstract name (datagram), between processes.
static void rights_named(void) {
    printf("== SCM_RIGHTS over named sockets\n");
    unlink("/tmp/fdpass.sock");
    struct sockaddr_un path = {.sun_family = AF_UNIX};
    strcpy(path.sun_path, "/tmp/fdpass.sock");
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("bind: %s\n", result(bind(listener, (struct sockaddr*)&path, sizeof path)));
    listen(listener, 4);
    struct sockaddr_un abstract = {.sun_family = AF_UNIX};
    // Abstract names are per network namespace: the pid keeps two native runs (the VM's and the
    // hosted test's, run in parallel) apart.
    int abstract_name = snprintf(abstract.sun_path + 1, sizeof abstract.sun_path - 1, "fdpass-dgram-%d", (int)getpid());
    socklen_t abstract_length = offsetof(struct sockaddr_un, sun_path) + 1 + abstract_name;
    int dgram = socket(AF_UNIX, SOCK_DGRAM, 0);
    printf("bind abstract: %s\n", result(bind(dgram, (struct sockaddr*)&abstract, abstract_length)));
    pid_t child = fork();
    if (child == 0) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr*)&path, sizeof path) != 0) _exit(3);
        int p[2];
        pipe(p);
        write(p[1], "stream", 6);
        close(p[1]);
        send_fds(s, &p[0], 1, "s");
        int d = socket(AF_UNIX, SOCK_DGRAM, 0);
        int q[2];
        pipe(q);
        write(q[1], "datagram", 8);
        close(q[1]);
        char control[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov = {"d", 1};
        struct msghdr m = {.msg_name = &abstract,
                           .msg_namelen = abstract_length,
                           .msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = control,
                           .msg_controllen = sizeof control};
        struct cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &q[0], sizeof(int));
        if (sendmsg(d, &m, 0) != 1) _exit(4);
        _exit(0);
    }
    int conn = accept(listener, NULL, NULL);
    char buf[64];
    int fds[4], count, flags;
    receive_fds(conn, buf, sizeof buf - 1, fds, 4, &count, &flags, 0);
    char text[16] = {0};
    if (count) read(fds[0], text, sizeof text - 1);
    printf("path-named stream: %d fds, the pipe holds [%s]\n", count, text);
    if (count) close(fds[0]);
    receive_fds(dgram, buf, sizeof buf - 1, fds, 4, &count, &flags, 0);
    memset(text, 0, sizeof text);
    if (count) read(fds[0], text, sizeof text - 1);
    printf("abstract datagram: %d fds, the pipe holds [%s]\n", count, text);
    if (count) close(fds[0]);
    wait_for(child, "child");
    close(conn);
    close(listener);
    close(dgram);
    unlink("/tmp/fdpass.sock");
}

// --- SCM_CREDENTIALS and SO_PEERCRED -------------------------------------------------------

static void credentials(void) {
    printf("== SCM_CREDENTIALS\n");
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct ucred peer;
    socklen_t length = sizeof peer;
    getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &peer, &length);
    printf("SO_PEERCRED of a socketpair: pid is ours %d, uid %d, gid %d\n", peer.pid == getpid(), (int)peer.uid,
           (int)peer.gid);
    int on = 1;
    setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
    pid_t child = fork();
    if (child == 0) {
        send(sv[0], "plain", 5, 0);  // the kernel adds the sender's credentials
        struct ucred own = {getpid(), getuid(), getgid()};
        char control[CMSG_SPACE(sizeof own)] = {0};
        struct iovec iov = {"explicit", 8};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        struct cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof own);
        memcpy(CMSG_DATA(c), &own, sizeof own);
        printf("child: explicit own credentials: %s\n", result(sendmsg(sv[0], &m, 0)));
        struct ucred bogus = {999999, 0, 0};
        memcpy(CMSG_DATA(c), &bogus, sizeof bogus);
        printf("child: a pid that does not exist: %s\n", result(sendmsg(sv[0], &m, 0)));
        c->cmsg_len = CMSG_LEN(sizeof own - 4);
        printf("child: a short ucred: %s\n", result(sendmsg(sv[0], &m, 0)));
        fflush(stdout);
        _exit(0);
    }
    wait_for(child, "child");
    for (int i = 0; i < 2; ++i) {
        char buf[32] = {0};
        char control[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = {buf, sizeof buf - 1};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        long n = recvmsg(sv[1], &m, MSG_DONTWAIT);
        struct cmsghdr* c = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL;
        if (c && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred got;
            memcpy(&got, CMSG_DATA(c), sizeof got);
            printf("[%s]: SCM_CREDENTIALS, pid is the child's %d, uid %d, gid %d\n", buf, got.pid == child,
                   (int)got.uid, (int)got.gid);
        } else {
            printf("[%s]: %ld, no credentials\n", buf, n);
        }
    }
    // Credentials asked for without room for them: MSG_CTRUNC.
    send(sv[0], "short", 5, 0);
    char buf[16];
    char control[8];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    long n = recvmsg(sv[1], &m, MSG_DONTWAIT);
    printf("credentials without room: %ld bytes, MSG_CTRUNC %d, controllen %zu\n", n, !!(m.msg_flags & MSG_CTRUNC),
           (size_t)m.msg_controllen);
    close(sv[0]);
    close(sv[1]);
}

// --- close_range ---------------------------------------------------------------------------

static void show_fds(const char* what, int from, int to) {
    printf("%s:", what);
    for (int fd = from; fd <= to; ++fd) {
        int flags = fcntl(fd, F_GETFD);
        printf(" %d%s", fd, flags < 0 ? "-" : (flags & FD_CLOEXEC) ? "c" : "o");
    }
    printf("\n");
}

static void close_range_cases(void) {
    printf("== close_range\n");
    for (int fd = 10; fd <= 16; ++fd) dup2(0, fd);
    show_fds("before", 10, 16);
    printf("close_range(11, 13, 0): %s\n", result(syscall(SYS_close_range, 11, 13, 0)));
    show_fds("after", 10, 16);
    printf("close_range(14, ~0, CLOEXEC): %s\n", result(syscall(SYS_close_range, 14, ~0U, CLOSE_RANGE_CLOEXEC)));
    show_fds("after", 10, 16);
    printf("close_range(20, 10, 0): %s\n", result(syscall(SYS_close_range, 20, 10, 0)));
    printf("close_range with flag 0x1: %s\n", result(syscall(SYS_close_range, 10, 11, 1)));
    printf("close_range with flag 0x80: %s\n", result(syscall(SYS_close_range, 10, 11, 0x80)));
    printf("close_range of closed fds: %s\n", result(syscall(SYS_close_range, 500, 600, 0)));
    pid_t child = fork();
    if (child == 0) {
        long r = syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_UNSHARE);
        printf("child: close_range(3, ~0, UNSHARE): %s\n", result(r));
        show_fds("child: after", 10, 16);
        fflush(stdout);
        _exit(0);
    }
    wait_for(child, "child");
    show_fds("parent still has", 10, 16);
    syscall(SYS_close_range, 10, 16, 0);
}

// --- pidfds --------------------------------------------------------------------------------

static void pidfd_cases(void) {
    printf("== pidfd\n");
    int p[2];
    pipe(p);
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(p[1]);
        read(p[0], &c, 1);  // until the parent closes its end (never, here: killed first)
        _exit(0);
    }
    close(p[0]);
    int pidfd = syscall(SYS_pidfd_open, child, 0);
    printf("pidfd_open: %s, FD_CLOEXEC %d\n", result(pidfd), !!(fcntl(pidfd, F_GETFD) & FD_CLOEXEC));
    struct pollfd q = {pidfd, POLLIN, 0};
    printf("poll while it runs: %d\n", poll(&q, 1, 0));
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int nb = syscall(SYS_pidfd_open, child, PIDFD_NONBLOCK);
    printf("waitid(P_PIDFD) on a nonblocking pidfd while it runs: %s\n", result(waitid(P_PIDFD, nb, &info, WEXITED)));
    close(nb);
    printf("pidfd_send_signal(SIGTERM): %s\n", result(syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0)));
    q.revents = 0;
    int ready = poll(&q, 1, 10000);
    printf("poll after the signal: %d, POLLIN %d\n", ready, !!(q.revents & POLLIN));
    memset(&info, 0, sizeof info);
    long r = waitid(P_PIDFD, pidfd, &info, WEXITED);
    printf("waitid(P_PIDFD): %s, pid is the child %d, CLD_KILLED %d, status %d\n", result(r), info.si_pid == child,
           info.si_code == CLD_KILLED, info.si_status);
    printf("pidfd_send_signal after the reap: %s\n", result(syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0)));
    printf("waitid(P_PIDFD) after the reap: %s\n", result(waitid(P_PIDFD, pidfd, &info, WEXITED | WNOHANG)));
    close(pidfd);
    close(p[1]);
    printf("pidfd_open(0): %s\n", result(syscall(SYS_pidfd_open, 0, 0)));
    printf("pidfd_open(-1): %s\n", result(syscall(SYS_pidfd_open, -1, 0)));
    printf("pidfd_open with flag 1: %s\n", result(syscall(SYS_pidfd_open, getpid(), 1)));
    printf("pidfd_open of a missing pid: %s\n", result(syscall(SYS_pidfd_open, 999999, 0)));
    int self = syscall(SYS_pidfd_open, getpid(), 0);
    printf("pidfd_send_signal(0) to ourselves: %s\n", result(syscall(SYS_pidfd_send_signal, self, 0, NULL, 0)));
    printf("pidfd_send_signal with flags 8: %s\n", result(syscall(SYS_pidfd_send_signal, self, 0, NULL, 8)));
    printf("pidfd_send_signal(64+1): %s\n", result(syscall(SYS_pidfd_send_signal, self, 65, NULL, 0)));
    printf("pidfd_send_signal on a pipe: %s\n", result(syscall(SYS_pidfd_send_signal, 1, 0, NULL, 0)));
    printf("waitid(P_PIDFD) on our own pidfd: %s\n", result(waitid(P_PIDFD, self, &info, WEXITED | WNOHANG)));
    printf("waitid(P_PIDFD) on a pipe: %s\n", result(waitid(P_PIDFD, 1, &info, WEXITED | WNOHANG)));
    close(self);
}

// --- garbage collection of descriptors in flight ------------------------------------------

// The number of open descriptors (/proc/self/fd, less the directory's own).
static int open_fds(void) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    for (struct dirent* e; (e = readdir(d));)
        if (e->d_name[0] != '.') ++n;
    closedir(d);
    return n - 1;
}

// On xos, /proc/xos/unix's count of AF_UNIX sockets alive (-1 elsewhere).
static long unix_sockets_alive(void) {
    FILE* f = fopen("/proc/xos/unix", "r");
    if (!f) return -1;
    long n = -1;
    if (fscanf(f, "sockets %ld", &n) != 1) n = -1;
    fclose(f);
    return n;
}

// Releases an unrelated AF_UNIX socket: Linux runs its collector when one is released.
static void release_a_socket(void) { close(socket(AF_UNIX, SOCK_DGRAM, 0)); }

// A socket queued in its own receive queue with a pipe's write end: once every descriptor of
// both sockets is closed, nothing can read it; the collector closes what it holds.
static void cycle_self(int type, int write_end) {
    int sv[2];
    socketpair(AF_UNIX, type, 0, sv);
    int fds[2] = {sv[0], write_end};
    send_fds(sv[1], fds, 2, "x");
    close(sv[0]);
    close(sv[1]);
}

// Two sockets, each queued in the other's queue.
static void cycle_ring(int write_end) {
    int a[2], b[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, a);
    socketpair(AF_UNIX, SOCK_DGRAM, 0, b);
    send_fds(b[1], &a[0], 1, "a");
    int fds[2] = {b[0], write_end};
    send_fds(a[1], fds, 2, "b");
    close(a[0]);
    close(b[0]);
    close(a[1]);
    close(b[1]);
}

// A random graph: sockets made, passed in random messages (a few descriptors each) into random
// queues, received (or peeked) into random places, duplicated and closed, 5,000 steps, then
// every descriptor closed. Nothing may be left (on xos, /proc/xos/unix counts the sockets).
static int random_fds[48];

static void random_receive(int sock, int peek) {
    char control[CMSG_SPACE(sizeof(int) * 8)] = {0}, b[4];
    struct iovec iov = {b, sizeof b};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(sock, &m, MSG_DONTWAIT | (peek ? MSG_PEEK : 0)) <= 0) return;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int), got[8];
        memcpy(got, CMSG_DATA(c), k * sizeof(int));
        for (int i = 0; i < k; ++i) {
            int slot = rand() % 48;
            if (random_fds[slot] < 0)
                random_fds[slot] = got[i];
            else
                close(got[i]);
        }
    }
}

static void random_graph(void) {
    const int n = 48;
    signal(SIGPIPE, SIG_IGN);
    srand(7);
    for (int i = 0; i < n; ++i) random_fds[i] = -1;
    for (int step = 0; step < 5000; ++step) {
        int a = rand() % n, op = rand() % 10;
        if (random_fds[a] < 0) {
            int pair[2];
            if (socketpair(AF_UNIX, rand() % 2 ? SOCK_STREAM : SOCK_DGRAM, 0, pair) != 0) continue;
            random_fds[a] = pair[0];
            int b = rand() % n;
            if (random_fds[b] < 0)
                random_fds[b] = pair[1];
            else
                close(pair[1]);
        } else if (op < 4) {
            int list[3], count = rand() % 4;
            for (int i = 0; i < count; ++i) {
                int j = rand() % n;
                list[i] = random_fds[j] >= 0 ? random_fds[j] : random_fds[a];
            }
            send_fds_flags(random_fds[a], list, count, "r", MSG_DONTWAIT | MSG_NOSIGNAL);
        } else if (op < 6) {
            random_receive(random_fds[a], op == 5 && rand() % 2);
        } else if (op < 8) {
            close(random_fds[a]);
            random_fds[a] = -1;
        } else if (op == 8) {
            release_a_socket();
        } else {
            int copy = dup(random_fds[a]), b = rand() % n;
            if (random_fds[b] < 0)
                random_fds[b] = copy;
            else
                close(copy);
        }
    }
    for (int i = 0; i < n; ++i)
        if (random_fds[i] >= 0) close(random_fds[i]);
    release_a_socket();
    signal(SIGPIPE, SIG_DFL);
}

static void gc_cases(void) {
    printf("== garbage collection of sockets in flight\n");
    int p[2], sv[2];
    for (int type = SOCK_STREAM; type <= SOCK_DGRAM; ++type) {
        pipe(p);
        cycle_self(type, p[1]);
        close(p[1]);
        printf("%s socket in its own queue, both ends closed: %s\n", type == SOCK_STREAM ? "stream" : "datagram",
               eof_state(p[0]));
        close(p[0]);
    }
    pipe(p);
    cycle_ring(p[1]);
    close(p[1]);
    printf("two sockets in each other's queues, all closed: %s\n", eof_state(p[0]));
    close(p[0]);

    // A listener queued in its own pending connection's queue, the client still open.
    pipe(p);
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un name = {.sun_family = AF_UNIX};
    int gc_name = snprintf(name.sun_path + 1, sizeof name.sun_path - 1, "fdpass-gc-%d", (int)getpid());
    socklen_t length = offsetof(struct sockaddr_un, sun_path) + 1 + gc_name;
    bind(listener, (struct sockaddr*)&name, length);
    listen(listener, 4);
    int client = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(client, (struct sockaddr*)&name, length);
    int fds[2] = {listener, p[1]};
    send_fds(client, fds, 2, "l");
    close(p[1]);
    close(listener);
    release_a_socket();
    printf("listener in its pending connection's queue, client open: %s\n", eof_state(p[0]));
    int again = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("connecting to it again: %s\n", result(connect(again, (struct sockaddr*)&name, length)));
    close(again);
    close(client);
    close(p[0]);

    // Both ends of a pair in one of their queues: closing them releases neither (each close
    // drops a reference the queue still doubles); the next release of any socket collects them.
    pipe(p);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int both[3] = {sv[0], sv[1], p[1]};
    send_fds(sv[1], both, 3, "b");
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
    release_a_socket();
    printf("both ends in one queue, then another socket released: %s\n", eof_state(p[0]));
    close(p[0]);

    // Still reachable: not collected.
    pipe(p);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int own[2] = {sv[0], p[1]};
    send_fds(sv[1], own, 2, "s");
    close(p[1]);
    close(sv[1]);
    release_a_socket();
    printf("socket in its own queue, its descriptor open: %s\n", eof_state_nowait(p[0]));
    int got[4], count = 0, flags = 0;
    char buf[16];
    long n = receive_fds(sv[0], buf, sizeof buf, got, 4, &count, &flags, 0);
    printf("received from it: %ld bytes, %d fds\n", n, count);
    for (int i = 0; i < count; ++i) close(got[i]);
    close(sv[0]);
    printf("after all closed: %s\n", eof_state(p[0]));
    close(p[0]);

    int a[2], b[2];
    pipe(p);
    socketpair(AF_UNIX, SOCK_STREAM, 0, a);
    socketpair(AF_UNIX, SOCK_STREAM, 0, b);
    int in_a[2] = {b[0], p[1]};
    send_fds(a[1], in_a, 2, "a");
    close(p[1]);
    close(b[0]);
    close(b[1]);
    close(a[1]);
    release_a_socket();
    printf("socket queued in an open socket, its own ends closed: %s\n", eof_state_nowait(p[0]));
    n = receive_fds(a[0], buf, sizeof buf, got, 4, &count, &flags, 0);
    printf("received: %ld bytes, %d fds; the queued socket reads: %ld\n", n, count, read(got[0], buf, 1));
    for (int i = 0; i < count; ++i) close(got[i]);
    close(a[0]);
    printf("after all closed: %s\n", eof_state(p[0]));
    close(p[0]);

    // Many cycles: every pipe sees end of file, no descriptor or socket is left.
    release_a_socket();
    int fds_before = open_fds();
    long sockets_before = unix_sockets_alive();
    int collected = 0;
    const int rounds = 300;
    for (int i = 0; i < rounds; ++i) {
        pipe(p);
        if (i % 3 == 2)
            cycle_ring(p[1]);
        else
            cycle_self(i % 3 ? SOCK_DGRAM : SOCK_STREAM, p[1]);
        close(p[1]);
        bool eof = strcmp(eof_state(p[0]), "end of file") == 0;
        close(p[0]);
        if (!eof) break;  // not collected: the rest would wait as long
        ++collected;
    }
    printf("%d cycles made and dropped: %d collected\n", rounds, collected);
    printf("open descriptors after them: %s\n", open_fds() == fds_before ? "as before" : "more");
    long sockets_after = unix_sockets_alive();
    printf("sockets alive after them: %s\n", sockets_after <= sockets_before ? "as before" : "more");

    random_graph();
    printf("random graph of 5000 steps, all closed: descriptors %s, sockets %s\n",
           open_fds() == fds_before ? "as before" : "more",
           unix_sockets_alive() <= sockets_before ? "as before" : "more");
}

// --- pidfd_getfd ---------------------------------------------------------------------------

// A child that waits until the pipe *release closes; it takes `uid` and sets its dumpable flag,
// and has done so when this returns.
static pid_t holder(int uid, int dumpable, int* release) {
    int q[2], ready[2];
    pipe(q);
    pipe(ready);
    pid_t child = fork();
    if (child == 0) {
        close(q[1]);
        close(ready[0]);
        if (uid > 0) setresgid(uid, uid, uid), setresuid(uid, uid, uid);
        prctl(PR_SET_DUMPABLE, dumpable);
        close(ready[1]);
        char c;
        read(q[0], &c, 1);
        _exit(0);
    }
    close(q[0]);
    close(ready[1]);
    char c;
    read(ready[0], &c, 1);  // end of file once the child is set up
    close(ready[0]);
    *release = q[1];
    return child;
}

static void getfd_cases(void) {
    printf("== pidfd_getfd\n");
    int p[2];
    pipe(p);
    dup2(p[1], 40);
    close(p[1]);
    int release;
    pid_t child = holder(0, 1, &release);
    close(40);  // only the child has the write end now
    int pidfd = syscall(SYS_pidfd_open, child, 0);
    int fd = syscall(SYS_pidfd_getfd, pidfd, 40, 0);
    printf("pidfd_getfd(child, 40): %s, FD_CLOEXEC %d\n", result(fd), fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    printf("write through it: %ld\n", (long)write(fd, "z", 1));
    char c = 0;
    long got = read(p[0], &c, 1);
    printf("read from the pipe: %ld '%c'\n", got, c);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    int again = syscall(SYS_pidfd_getfd, pidfd, 40, 0);
    printf("same open file (O_NONBLOCK seen through a second copy): %d\n", !!(fcntl(again, F_GETFL) & O_NONBLOCK));
    close(again);
    close(fd);
    printf("flags 1: %s\n", result(syscall(SYS_pidfd_getfd, pidfd, 40, 1)));
    printf("flags 1 on a pipe: %s\n", result(syscall(SYS_pidfd_getfd, p[0], 40, 1)));
    printf("a descriptor the child does not have: %s\n", result(syscall(SYS_pidfd_getfd, pidfd, 77, 0)));
    printf("negative descriptor: %s\n", result(syscall(SYS_pidfd_getfd, pidfd, -1, 0)));
    printf("on a pipe: %s\n", result(syscall(SYS_pidfd_getfd, p[0], 40, 0)));
    printf("on a closed descriptor: %s\n", result(syscall(SYS_pidfd_getfd, 300, 40, 0)));
    int self = syscall(SYS_pidfd_open, getpid(), 0);
    fd = syscall(SYS_pidfd_getfd, self, p[0], 0);
    printf("from ourselves: %s, FD_CLOEXEC %d\n", result(fd), fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    close(fd);
    close(self);
    close(release);
    int status;
    waitpid(child, &status, WNOWAIT | WEXITED);  // a zombie now
    siginfo_t info;
    waitid(P_PID, child, &info, WEXITED | WNOWAIT);
    printf("from a zombie: %s\n", result(syscall(SYS_pidfd_getfd, pidfd, 40, 0)));
    waitpid(child, &status, 0);
    printf("after the reap: %s\n", result(syscall(SYS_pidfd_getfd, pidfd, 40, 0)));
    printf("end of file once the child is gone: %s\n", eof_state(p[0]));
    close(pidfd);
    close(p[0]);

    // Permissions, from a process with user id 1000 (no capabilities).
    pid_t prober = fork();
    if (prober == 0) {
        int r_same, r_root, r_undumpable;
        pid_t same = holder(1000, 1, &r_same), root = holder(0, 1, &r_root);
        pid_t undumpable = holder(1000, 0, &r_undumpable);
        setresgid(1000, 1000, 1000);
        setresuid(1000, 1000, 1000);
        prctl(PR_SET_DUMPABLE, 1);
        int f_same = syscall(SYS_pidfd_open, same, 0), f_root = syscall(SYS_pidfd_open, root, 0),
            f_undumpable = syscall(SYS_pidfd_open, undumpable, 0);
        printf("uid 1000 from uid 1000: %s\n", result(syscall(SYS_pidfd_getfd, f_same, 1, 0)));
        printf("uid 1000 from uid 0: %s\n", result(syscall(SYS_pidfd_getfd, f_root, 1, 0)));
        printf("uid 1000 from an undumpable uid 1000: %s\n", result(syscall(SYS_pidfd_getfd, f_undumpable, 1, 0)));
        printf("uid 1000, bad descriptor in uid 0: %s\n", result(syscall(SYS_pidfd_getfd, f_root, 77, 0)));
        fflush(stdout);
        close(r_same);
        close(r_root);
        close(r_undumpable);
        while (wait(NULL) > 0) {}
        _exit(0);
    }
    wait_for(prober, "prober");
}

// --- exec from one thread while another waits for a vfork child ----------------------------

static char child_stack[256 * 1024] __attribute__((aligned(16)));

static int late_exec(void* arg) {
    usleep(400 * 1000);  // after the other thread's exec began
    char* argv[] = {"fdpass", "child-echo", (char*)arg, NULL};
    execve(self_path, argv, environ);
    _exit(127);
}

static void* vfork_thread(void* arg) {
    if (strcmp((const char*)arg, "vfork") == 0) {
        pid_t child = vfork();
        if (child == 0) late_exec("vfork child");
    } else {
        // CLONE_VM|CLONE_VFORK with a stack of its own (posix_spawn's way): the child runs in the
        // parent's memory.
        clone(late_exec, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD, "clone-vm child");
    }
    // Not reached: the other thread's exec ended this one.
    printf("the vfork parent thread returned\n");
    return NULL;
}

static void vfork_exec_case(const char* how) {
    pthread_t t;
    pthread_create(&t, NULL, vfork_thread, (void*)how);
    usleep(100 * 1000);  // the thread is in vfork
    char* argv[] = {"fdpass", "after-exec", NULL};
    execve(self_path, argv, environ);
    printf("execve: %s\n", strerrorname_np(errno));
}

static void vfork_exec(const char* how) {
    printf("== exec while another thread waits for a %s child\n", how);
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        vfork_exec_case(how);
        _exit(1);
    }
    wait_for(child, "the exec'd process");
}

static int after_exec(void) {
    // The vfork child is still our child (it survived the exec): wait for it.
    int status;
    pid_t got = wait(&status);
    printf("after-exec: reaped a child: %d, exited %d\n", got > 0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

static int child_echo(int argc, char** argv) {
    printf("child-echo:");
    for (int i = 2; i < argc; ++i) printf(" [%s]", argv[i]);
    printf("\n");
    return 0;
}

// --- -----------------------------------------------------------------------------------------

static void rights(void) {
    rights_stream(SOCK_STREAM, "stream");
    rights_stream(SOCK_DGRAM, "datagram");
    rights_details();
    rights_in_flight();
    rights_named();
    credentials();
}

static void vfork_exec_both(void) {
    vfork_exec("vfork");
    vfork_exec("clone-vm");
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "child-echo") == 0) return child_echo(argc, argv);
    if (argc > 1 && strcmp(argv[1], "after-exec") == 0) return after_exec();
    static const struct {
        const char* name;
        void (*run)(void);
    } cases[] = {
        {"rights", rights}, {"close_range", close_range_cases}, {"pidfd", pidfd_cases}, {"getfd", getfd_cases},
        {"gc", gc_cases},   {"vforkexec", vfork_exec_both},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) continue;
        cases[i].run();
        fflush(stdout);
    }
    return 0;
}
