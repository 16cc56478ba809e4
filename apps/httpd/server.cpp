// The event loop. Each worker thread owns an epoll instance (level-triggered) and the
// connections it accepted. Per connection: the unparsed input (at most kMaxInput bytes; reading
// stops while it is full), the response bytes not yet sent (new requests are taken only while
// fewer than kOutHighWater bytes wait), and at most one file being sent. Requests are answered
// strictly in order, one at a time, so pipelined requests cannot make the server buffer
// without bound, and a slow reader only holds its own connection's memory.
#include "server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "http_parser.h"
#include "mime.h"
#include "response.h"

namespace httpd {
namespace {

constexpr std::size_t kMaxInput = 64 * 1024;  // unparsed request bytes per connection
constexpr std::size_t kOutHighWater = 64 * 1024;  // take no new request while this much waits
constexpr std::size_t kInlineFileMax = 32 * 1024;  // smaller files go out with their head in one send
constexpr std::size_t kUnsizedFileMax = 1 << 20;  // st_size 0 (procfs): read until EOF, up to this
constexpr std::size_t kScratchSize = 64 * 1024;
constexpr std::size_t kSendfileChunk = 1 << 20;
constexpr int kMaxEvents = 256;
constexpr int kAcceptBatch = 64;
constexpr long long kLingerMs = 2000;  // after an error response: drain input this long
constexpr std::uint64_t kLingerMaxBytes = 1 << 20;
constexpr long long kAcceptPauseMs = 100;  // out of descriptors: stop accepting this long

// Reads `fd` from its start to EOF into `body` (for files whose st_size says nothing). False on a
// read error or beyond kUnsizedFileMax.
bool read_unsized_file(int fd, std::string& body) {
    char buffer[16 * 1024];
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) return true;
        if (body.size() + static_cast<std::size_t>(n) > kUnsizedFileMax) return false;
        body.append(buffer, static_cast<std::size_t>(n));
    }
}

int g_stop_pipe[2] = {-1, -1};
std::atomic<bool> g_stop{false};
std::atomic<bool> g_sendfile_works{true};
std::atomic<bool> g_sendfile_fallback_logged{false};
std::atomic<long long> g_last_emfile_log{0};

// Takes errno before building any string: allocating may change errno (musl's malloc tries brk).
[[noreturn]] void throw_error(int error, const std::string& what) {
    throw std::system_error(error, std::system_category(), what);
}
[[noreturn]] void throw_errno(const char* what) {
    int error = errno;
    throw_error(error, what);
}

long long monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void on_signal(int) {
    g_stop.store(true);
    int saved = errno;
    if (g_stop_pipe[1] >= 0) {
        char byte = 1;
        ssize_t ignored = write(g_stop_pipe[1], &byte, 1);
        (void)ignored;
    }
    errno = saved;
}

struct Connection {
    int fd = -1;
    std::string peer;
    std::string in;  // received, not yet parsed
    std::string out;  // to send, from out_offset
    std::size_t out_offset = 0;
    int file_fd = -1;  // file being sent after `out`
    off_t file_offset = 0;
    std::uint64_t file_remaining = 0;
    std::uint64_t discard = 0;  // request body bytes still to skip
    std::uint64_t lingered = 0;
    bool close_after = false;  // close once everything queued is sent
    bool lingering = false;  // write side shut down, draining input before close
    bool corked = false;  // --nopush: TCP_CORK set while a response goes out
    bool peer_eof = false;  // the client shut its write side
    std::uint32_t events = 0;  // registered epoll events
    long long last_activity_ms = 0;
    long long request_started_ms = 0;  // when the first byte of the pending request arrived

    bool output_pending() const { return out_offset < out.size() || file_fd >= 0; }
};

class Worker {
public:
    Worker(const Options& options, int epoll_fd, int listener, int reserve_fd)
        : options_(options), epoll_(epoll_fd), listener_(listener), reserve_fd_(reserve_fd) {}
    ~Worker() {
        for (auto& entry : connections_) close_files(*entry.second);
        if (reserve_fd_ >= 0) close(reserve_fd_);
    }

    void run();

private:
    enum class Alive { Yes, No };

    void accept_connections();
    void out_of_descriptors(int error);
    void pause_accepting(long long now);
    void resume_accepting();
    void on_event(Connection& c, std::uint32_t events);
    Alive on_readable(Connection& c);
    Alive process(Connection& c);
    void handle_request(Connection& c, const Request& request);
    void respond_error(Connection& c, int status, int version_minor, bool keep_alive, bool head_only,
                       std::string_view method, std::string_view target);
    Alive flush(Connection& c);
    Alive settle(Connection& c);
    void update_interest(Connection& c);
    void close_connection(Connection& c);
    void close_files(Connection& c);
    void sweep(long long now);
    void log_request(const Connection& c, std::string_view method, std::string_view target, int version_minor,
                     int status, std::uint64_t length);

    const Options& options_;
    int epoll_;
    int listener_;
    int reserve_fd_ = -1;
    bool accepting_ = true;
    long long resume_accept_at_ = 0;
    long long now_ms_ = 0;
    time_t date_second_ = 0;
    std::string date_;
    std::unordered_map<int, std::unique_ptr<Connection>> connections_;
    std::unique_ptr<char[]> scratch_{new char[kScratchSize]};
};

void Worker::run() {
    epoll_event events[kMaxEvents];
    long long last_sweep = monotonic_ms();
    while (!g_stop.load(std::memory_order_relaxed)) {
        int timeout = accepting_ ? 1000 : static_cast<int>(kAcceptPauseMs);
        int n = epoll_wait(epoll_, events, kMaxEvents, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::fprintf(stderr, "httpd: epoll_wait: %s\n", std::strerror(errno));
            break;
        }
        now_ms_ = monotonic_ms();
        if (time_t second = time(nullptr); second != date_second_) {
            date_second_ = second;
            date_ = http_date(second);
        }
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == g_stop_pipe[0]) {
                g_stop.store(true);
            } else if (fd == listener_) {
                accept_connections();
            } else if (auto it = connections_.find(fd); it != connections_.end()) {
                on_event(*it->second, events[i].events);
            }
        }
        if (!accepting_ && now_ms_ >= resume_accept_at_) resume_accepting();
        if (now_ms_ - last_sweep >= 1000) {
            last_sweep = now_ms_;
            sweep(now_ms_);
        }
    }
}

void Worker::accept_connections() {
    for (int i = 0; i < kAcceptBatch && accepting_; ++i) {
        sockaddr_in address{};
        socklen_t length = sizeof address;
        int fd = accept4(listener_, reinterpret_cast<sockaddr*>(&address), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EAGAIN:
#if EWOULDBLOCK != EAGAIN
            case EWOULDBLOCK:
#endif
                return;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
            case EPERM:
            case ENETDOWN:
            case ENOPROTOOPT:
            case EHOSTDOWN:
            case ENONET:
            case EHOSTUNREACH:
            case EOPNOTSUPP:
            case ENETUNREACH: continue;  // that connection is gone; try the next one
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM: out_of_descriptors(errno); return;
            default:
                std::fprintf(stderr, "httpd: accept4: %s\n", std::strerror(errno));
                pause_accepting(now_ms_);
                return;
            }
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // best effort
        auto c = std::make_unique<Connection>();
        c->fd = fd;
        char text[INET_ADDRSTRLEN] = "?";
        if (address.sin_family == AF_INET) inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
        c->peer = text;
        c->last_activity_ms = now_ms_;
        c->events = EPOLLIN;
        epoll_event event{};
        event.events = c->events;
        event.data.fd = fd;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) != 0) {
            std::fprintf(stderr, "httpd: epoll_ctl(ADD connection): %s\n", std::strerror(errno));
            close(fd);
            continue;
        }
        connections_[fd] = std::move(c);
    }
}

// Out of descriptors (or memory): the pending connection cannot be accepted, and a
// level-triggered listener would wake us again at once. Give up the reserve descriptor to
// accept and close one connection (the client sees a close instead of a hang), then stop
// accepting for a moment; connections closing in the meantime make room again.
void Worker::out_of_descriptors(int error) {
    long long last = g_last_emfile_log.load();
    if (now_ms_ - last >= 5000 && g_last_emfile_log.compare_exchange_strong(last, now_ms_))
        std::fprintf(stderr, "httpd: accept4: %s (refusing connections for now)\n", std::strerror(error));
    if (reserve_fd_ >= 0) {
        close(reserve_fd_);
        reserve_fd_ = -1;
        int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) close(fd);
        reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    pause_accepting(now_ms_);
}

void Worker::pause_accepting(long long now) {
    if (!accepting_) return;
    accepting_ = false;
    resume_accept_at_ = now + kAcceptPauseMs;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, listener_, nullptr);
}

void Worker::resume_accepting() {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = listener_;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, listener_, &event) != 0) {
        resume_accept_at_ = now_ms_ + kAcceptPauseMs;
        return;
    }
    accepting_ = true;
    if (reserve_fd_ < 0) reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Worker::on_event(Connection& c, std::uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP)) {  // reset, or both directions shut down
        close_connection(c);
        return;
    }
    if (events & EPOLLIN) {
        if (on_readable(c) == Alive::No) return;
    }
    if ((events & EPOLLOUT) && !c.lingering && c.fd >= 0) {
        if (flush(c) == Alive::No) return;
        process(c);  // takes waiting requests once the output drained
    }
}

Worker::Alive Worker::on_readable(Connection& c) {
    if (c.lingering) {
        for (;;) {
            ssize_t n = recv(c.fd, scratch_.get(), kScratchSize, 0);
            if (n > 0) {
                c.lingered += static_cast<std::uint64_t>(n);
                if (c.lingered > kLingerMaxBytes) break;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Alive::Yes;
            break;  // EOF or error
        }
        close_connection(c);
        return Alive::No;
    }
    if (c.in.size() >= kMaxInput || c.peer_eof) return settle(c);
    std::size_t room = kMaxInput - c.in.size();
    ssize_t n;
    do {
        n = recv(c.fd, scratch_.get(), room < kScratchSize ? room : kScratchSize, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Alive::Yes;
        close_connection(c);  // ECONNRESET and friends
        return Alive::No;
    }
    if (n == 0) {
        // The client finished sending. Answer what it sent (e.g. `printf ... | nc`), then close.
        c.peer_eof = true;
        if (!c.output_pending() && c.in.empty()) {
            close_connection(c);
            return Alive::No;
        }
        return process(c);
    }
    c.last_activity_ms = now_ms_;
    std::string_view data(scratch_.get(), static_cast<std::size_t>(n));
    if (c.discard > 0) {
        std::size_t skip = c.discard < data.size() ? static_cast<std::size_t>(c.discard) : data.size();
        data.remove_prefix(skip);
        c.discard -= skip;
    }
    if (!data.empty()) {
        if (c.in.empty()) c.request_started_ms = now_ms_;
        c.in.append(data);
    }
    return process(c);
}

// Answers complete requests from c.in, in order, while little output is waiting; sends; repeats
// while the output drains at once and requests are waiting; then settles the connection.
Worker::Alive Worker::process(Connection& c) {
    static const Limits limits;
    Request request;
    for (;;) {
        bool stalled = false;  // stopped because output is waiting, not for lack of requests
        while (!c.close_after) {
            if (c.file_fd >= 0 || c.out.size() - c.out_offset >= kOutHighWater) {
                stalled = true;
                break;
            }
            if (c.discard > 0 && !c.in.empty()) {
                std::size_t skip = c.discard < c.in.size() ? static_cast<std::size_t>(c.discard) : c.in.size();
                c.in.erase(0, skip);
                c.discard -= skip;
            }
            if (c.discard > 0 || c.in.empty()) break;
            ParseResult result = parse_request(c.in, request, limits);
            if (result.status == ParseStatus::Incomplete) {
                if (c.peer_eof) c.close_after = true;  // the rest of this request will never come
                break;
            }
            if (result.status == ParseStatus::Error) {
                respond_error(c, result.error_status, 1, false, false, "-", result.error);
                c.in.clear();
                break;
            }
            handle_request(c, request);
            c.in.erase(0, result.consumed);
            if (!c.in.empty()) c.request_started_ms = now_ms_;
        }
        if (flush(c) == Alive::No) return Alive::No;
        if (!stalled || c.output_pending()) break;
    }
    if (c.in.empty() && c.in.capacity() > 4096) std::string().swap(c.in);  // idle connections stay small
    return settle(c);
}

void Worker::handle_request(Connection& c, const Request& request) {
    bool head_only = request.method == "HEAD";
    bool keep_alive = request.keep_alive && !c.peer_eof;
    c.discard = request.content_length;
    if (request.chunked) {  // a body we cannot delimit without decoding it: answer and close
        respond_error(c, 501, request.version_minor, false, head_only, request.method, request.target);
        return;
    }
    if (request.method != "GET" && !head_only) {
        respond_error(c, 405, request.version_minor, keep_alive, false, request.method, request.target);
        return;
    }
    std::string relative;
    bool trailing_slash = false;
    switch (resolve_target(request.target, relative, trailing_slash)) {
    case PathStatus::Ok: break;
    case PathStatus::BadRequest:
        respond_error(c, 400, request.version_minor, keep_alive, head_only, request.method, request.target);
        return;
    case PathStatus::Forbidden:
        respond_error(c, 403, request.version_minor, keep_alive, head_only, request.method, request.target);
        return;
    }
    std::string path = options_.root;
    if (path != "/") path += '/';
    path += relative;
    if (trailing_slash) {
        if (!relative.empty()) path += '/';
        path += "index.html";
    }
    // O_NONBLOCK: opening a FIFO must not block the worker (regular files ignore the flag).
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int status = (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG || errno == ELOOP) ? 404
            : errno == EACCES                                                                         ? 403
            : (errno == EMFILE || errno == ENFILE)                                                    ? 503
                                                                                                      : 500;
        respond_error(c, status, request.version_minor, keep_alive && status < 500, head_only, request.method,
                      request.target);
        return;
    }
    struct stat st{};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        bool directory = S_ISDIR(st.st_mode);
        close(fd);
        if (directory && !trailing_slash) {
            // "/docs" names a directory: send the client to "/docs/" so relative links work.
            std::string_view raw = request.target.substr(0, request.target.find_first_of("?#"));
            std::string location(raw);
            location += '/';
            std::string body = "<!DOCTYPE html>\n<html><body><a href=\"" + location + "\">Moved</a></body></html>\n";
            ResponseHead head;
            head.status = 301;
            head.version_minor = request.version_minor;
            head.keep_alive = keep_alive;
            head.content_type = "text/html; charset=utf-8";
            head.content_length = body.size();
            head.date = date_;
            head.location = location;
            append_head(c.out, head);
            if (!head_only) c.out += body;
            c.close_after = !keep_alive;
            log_request(c, request.method, request.target, request.version_minor, 301, body.size());
            return;
        }
        respond_error(c, directory ? 404 : 403, request.version_minor, keep_alive, head_only, request.method,
                      request.target);
        return;
    }
    std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    // st_size 0 does not mean empty for generated files (procfs, sysfs, as on Linux): the length
    // is known only once the file has been read to its end, so read it now, whole.
    std::string unsized_body;
    bool unsized = size == 0;
    if (unsized) {
        if (!read_unsized_file(fd, unsized_body)) {
            close(fd);
            respond_error(c, 500, request.version_minor, false, head_only, request.method, request.target);
            return;
        }
        size = unsized_body.size();
    }
    std::string last_modified = http_date(st.st_mtime);
    ResponseHead head;
    head.status = 200;
    head.version_minor = request.version_minor;
    head.keep_alive = keep_alive;
    head.content_type = mime_type(path);
    head.content_length = size;
    head.date = date_;
    head.last_modified = last_modified;
    append_head(c.out, head);
    c.close_after = !keep_alive;
    log_request(c, request.method, request.target, request.version_minor, 200, size);
    if (head_only || size == 0) {
        close(fd);
    } else if (unsized) {
        close(fd);
        c.out += unsized_body;
    } else if (size <= kInlineFileMax) {
        std::size_t start = c.out.size();
        c.out.resize(start + size);
        std::size_t done = 0;
        while (done < size) {
            ssize_t n = pread(fd, c.out.data() + start + done, size - done, static_cast<off_t>(done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        close(fd);
        if (done < size) {  // the file shrank or failed under us: the promised length cannot be kept
            c.out.resize(start + done);
            c.close_after = true;
        }
    } else {
        c.file_fd = fd;
        c.file_offset = 0;
        c.file_remaining = size;
    }
}

void Worker::respond_error(Connection& c, int status, int version_minor, bool keep_alive, bool head_only,
                           std::string_view method, std::string_view target) {
    std::size_t before = c.out.size();
    append_error(c.out, status, version_minor, keep_alive, head_only, date_);
    if (!keep_alive) c.close_after = true;
    log_request(c, method, target, version_minor, status, c.out.size() - before);
}

// Sends what is queued: c.out, then the file. Returns No if the connection was closed.
Worker::Alive Worker::flush(Connection& c) {
    // --nopush, as nginx's `tcp_nopush on` with sendfile: Nagle back on and TCP_CORK while the
    // header and the body go out, so they leave in full segments; uncork and TCP_NODELAY at the
    // end push the tail at once. A stack that ignores the cork or does not push on uncorking
    // makes every response wait for the peer's ACK (bench/http/run.py --nopush shows it).
    if (options_.nopush && !c.corked && c.output_pending()) {
        int off = 0, on = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &off, sizeof off);
        setsockopt(c.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
        c.corked = true;
    }
    for (;;) {
        if (c.out_offset < c.out.size()) {
            ssize_t n = send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return Alive::Yes;
                close_connection(c);
                return Alive::No;
            }
            c.last_activity_ms = now_ms_;
            c.out_offset += static_cast<std::size_t>(n);
            if (c.out_offset == c.out.size()) {
                c.out.clear();
                c.out_offset = 0;
                if (c.out.capacity() > 2 * kOutHighWater) std::string().swap(c.out);
            }
            continue;
        }
        if (c.file_fd < 0) {
            if (c.corked) {  // everything is queued: push it
                int off = 0, on = 1;
                setsockopt(c.fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
                setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                c.corked = false;
            }
            return Alive::Yes;
        }
        if (c.file_remaining == 0) {
            close(c.file_fd);
            c.file_fd = -1;
            continue;
        }
        if (options_.use_sendfile && g_sendfile_works.load(std::memory_order_relaxed)) {
            std::size_t chunk =
                c.file_remaining < kSendfileChunk ? static_cast<std::size_t>(c.file_remaining) : kSendfileChunk;
            ssize_t n = sendfile(c.fd, c.file_fd, &c.file_offset, chunk);
            if (n > 0) {
                c.last_activity_ms = now_ms_;
                c.file_remaining -= static_cast<std::uint64_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Alive::Yes;
            if (n < 0 && (errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOTSUP)) {
                // No sendfile to sockets here (e.g. xos before it implements it): read/write from now on.
                g_sendfile_works.store(false);
                if (!g_sendfile_fallback_logged.exchange(true))
                    std::fprintf(stderr, "httpd: sendfile: %s; using read/write\n", std::strerror(errno));
                continue;
            }
            close_connection(c);  // the file shrank (n == 0) or the connection failed
            return Alive::No;
        }
        // read/write fallback: refill c.out from the file (at most one scratch buffer at a time).
        std::size_t chunk = c.file_remaining < kScratchSize ? static_cast<std::size_t>(c.file_remaining) : kScratchSize;
        ssize_t n = pread(c.file_fd, scratch_.get(), chunk, c.file_offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close_connection(c);
            return Alive::No;
        }
        c.out.assign(scratch_.get(), static_cast<std::size_t>(n));
        c.out_offset = 0;
        c.file_offset += n;
        c.file_remaining -= static_cast<std::uint64_t>(n);
    }
}

// After processing: close or start lingering once everything is sent, and make epoll's interest
// match what the connection waits for.
Worker::Alive Worker::settle(Connection& c) {
    if (!c.output_pending()) {
        if (c.close_after && !c.peer_eof) {
            // Last response sent: shut our side down and drain what the client still sends, so the
            // close does not turn into a reset that could destroy the response in flight.
            if (!c.lingering) {
                shutdown(c.fd, SHUT_WR);
                c.lingering = true;
                c.last_activity_ms = now_ms_;
            }
        } else if (c.close_after || c.peer_eof) {
            close_connection(c);
            return Alive::No;
        }
    }
    update_interest(c);
    return Alive::Yes;
}

void Worker::update_interest(Connection& c) {
    std::uint32_t want = 0;
    if (c.lingering) {
        want = EPOLLIN;
    } else {
        if (!c.peer_eof && !c.close_after && c.in.size() < kMaxInput) want |= EPOLLIN;
        if (c.output_pending()) want |= EPOLLOUT;
    }
    if (want == c.events) return;
    epoll_event event{};
    event.events = want;
    event.data.fd = c.fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &event) == 0) c.events = want;
}

void Worker::close_files(Connection& c) {
    if (c.file_fd >= 0) close(c.file_fd);
    c.file_fd = -1;
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
}

void Worker::close_connection(Connection& c) {
    int fd = c.fd;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    close_files(c);
    connections_.erase(fd);  // destroys c
}

// Closes connections idle for longer than the timeout, those whose request head has been
// arriving for longer than that (slowloris), and lingering ones after kLingerMs.
void Worker::sweep(long long now) {
    long long timeout = static_cast<long long>(options_.idle_timeout_s) * 1000;
    for (auto it = connections_.begin(); it != connections_.end();) {
        Connection& c = *it->second;
        bool expired = c.lingering ? now - c.last_activity_ms > kLingerMs
                                   : (now - c.last_activity_ms > timeout ||
                                      (!c.in.empty() && !c.output_pending() && now - c.request_started_ms > timeout));
        if (expired) {
            epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
            close_files(c);
            it = connections_.erase(it);
        } else {
            ++it;
        }
    }
}

void Worker::log_request(const Connection& c, std::string_view method, std::string_view target, int version_minor,
                         int status, std::uint64_t length) {
    if (options_.quiet) return;
    if (target.size() > 256) target = target.substr(0, 256);
    std::fprintf(stdout, "%s \"%.*s %.*s HTTP/1.%d\" %d %llu\n", c.peer.c_str(), static_cast<int>(method.size()),
                 method.data(), static_cast<int>(target.size()), target.data(), version_minor, status,
                 static_cast<unsigned long long>(length));
}

int make_listener(int port, bool reuseport) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno("socket(AF_INET, SOCK_STREAM)");
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        // Not fatal: only restarts right after a previous run are affected.
    }
#ifdef SO_REUSEPORT
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        close(fd);
        return -1;
    }
#else
    if (reuseport) {
        close(fd);
        return -1;
    }
#endif
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        int error = errno;
        close(fd);
        if (reuseport) return -1;
        throw_error(error, "bind(0.0.0.0:" + std::to_string(port) + ")");
    }
    if (listen(fd, 1024) != 0) {
        int error = errno;
        close(fd);
        throw_error(error, "listen");
    }
    return fd;
}

}  // namespace

Server::Server(Options options) : options_(std::move(options)) {
    if (g_stop_pipe[0] < 0) {
        if (pipe2(g_stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) throw_errno("pipe2");
    }
}

Server::~Server() {
    for (int fd : epolls_) close(fd);
    for (int fd : reserve_fds_)
        if (fd >= 0) close(fd);
    for (int fd : listeners_) close(fd);
}

void Server::request_stop() { on_signal(0); }

void Server::install_signal_handlers() {
    struct sigaction action{};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

void Server::open() {
    int workers = options_.threads;
    // The first listener decides the port (options_.port may be 0).
    if (workers > 1) {
        int first = make_listener(options_.port, true);
        if (first >= 0) {
            listeners_.push_back(first);
            sockaddr_in bound{};
            socklen_t length = sizeof bound;
            if (getsockname(first, reinterpret_cast<sockaddr*>(&bound), &length) != 0) throw_errno("getsockname");
            int port = ntohs(bound.sin_port);
            for (int i = 1; i < workers; ++i) {
                int fd = make_listener(port, true);
                if (fd < 0) break;
                listeners_.push_back(fd);
            }
            if (static_cast<int>(listeners_.size()) == workers) {
                listener_mode_ = "SO_REUSEPORT";
            } else {
                for (int fd : listeners_) close(fd);
                listeners_.clear();
            }
        }
    }
    if (listeners_.empty()) {
        listeners_.push_back(make_listener(options_.port, false));
        listener_mode_ = workers > 1 ? "shared" : "single";
    }
    sockaddr_in bound{};
    socklen_t length = sizeof bound;
    if (getsockname(listeners_[0], reinterpret_cast<sockaddr*>(&bound), &length) != 0) throw_errno("getsockname");
    port_ = ntohs(bound.sin_port);

    for (int i = 0; i < workers; ++i) {
        // A spare descriptor per worker, given up to refuse connections cleanly at EMFILE.
        reserve_fds_.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd < 0) throw_errno("epoll_create1");
        epolls_.push_back(epoll_fd);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = g_stop_pipe[0];
        if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, g_stop_pipe[0], &event) != 0) throw_errno("epoll_ctl(ADD pipe)");
        int listener = listeners_.size() == 1 ? listeners_[0] : listeners_[i];
        event.data.fd = listener;
        bool added = false;
#ifdef EPOLLEXCLUSIVE
        if (listeners_.size() == 1 && workers > 1) {
            event.events = EPOLLIN | EPOLLEXCLUSIVE;
            added = epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &event) == 0;
            if (added) listener_mode_ = "shared, EPOLLEXCLUSIVE";
            event.events = EPOLLIN;
        }
#endif
        if (!added && epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &event) != 0) throw_errno("epoll_ctl(ADD listener)");
    }
}

void Server::run() {
    int workers = options_.threads;
    std::vector<std::thread> threads;
    auto body = [this](int i) {
        auto index = static_cast<std::size_t>(i);
        int listener = listeners_.size() == 1 ? listeners_[0] : listeners_[index];
        Worker worker(options_, epolls_[index], listener, reserve_fds_[index]);  // closes the reserve fd
        reserve_fds_[index] = -1;
        worker.run();
    };
    for (int i = 1; i < workers; ++i) threads.emplace_back(body, i);
    body(0);
    g_stop.store(true);
    request_stop();  // wake the others if worker 0 ended on an error
    for (std::thread& thread : threads) thread.join();
}

}  // namespace httpd
