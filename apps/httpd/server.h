// The event loop: listening sockets, one epoll instance per worker thread, connections with
// bounded buffers, static files sent with sendfile(2) (or read/write where sendfile is missing).
//
// Threads: with --threads N > 1 each worker gets its own listening socket bound with
// SO_REUSEPORT (the kernel spreads connections over them). Where SO_REUSEPORT is not available
// (setsockopt or the second bind fails), the workers share one nonblocking listening socket,
// registered in every worker's epoll with EPOLLEXCLUSIVE when the system accepts that flag
// (else plainly: a worker that loses the race for a connection sees EAGAIN and moves on). A
// connection stays with the worker that accepted it.
#pragma once

#include <string>
#include <vector>

namespace httpd {

struct Options {
    std::string root = "/www";
    int port = 8080;  // 0: any free port (the start line reports it)
    int threads = 1;
    bool quiet = false;  // no access log
    bool use_sendfile = true;  // false: always read/write (tests the fallback)
    bool nopush = false;  // TCP_CORK around each response, as nginx's tcp_nopush
    int idle_timeout_s = 30;  // keep-alive idle time and time allowed for a request head
};

class Server {
public:
    explicit Server(Options options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Creates the listening sockets and the epoll instances. Throws std::system_error (with the
    // failing call in what()) when the system lacks something, before anything is served.
    void open();
    int port() const { return port_; }
    const char* listener_mode() const { return listener_mode_; }

    // Serves until SIGINT/SIGTERM (see install_signal_handlers) or request_stop().
    void run();

    // Async-signal-safe: makes run() return soon.
    static void request_stop();
    // SIGINT and SIGTERM call request_stop(); SIGPIPE is ignored.
    static void install_signal_handlers();

private:
    Options options_;
    int port_ = 0;
    const char* listener_mode_ = "single";
    std::vector<int> listeners_;  // one per worker, or a single shared one
    std::vector<int> epolls_;  // one per worker
    std::vector<int> reserve_fds_;  // one per worker (see Worker::out_of_descriptors)
};

}  // namespace httpd
