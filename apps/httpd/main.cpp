// httpd: a static-file HTTP/1.1 server on epoll, written for Linux's API; runs natively and, in
// an xos image, unchanged. Options and start-up; the event loop is in server.cpp.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "server.h"

namespace {

constexpr const char* kUsage =
    "usage: httpd [--root DIR] [--port N] [--threads N] [--quiet] [--no-sendfile] [--nopush]\n"
    "             [--timeout S]\n"
    "\n"
    "Serves the files below DIR (default /www) over HTTP/1.1 on 0.0.0.0:N (default 8080; 0 picks\n"
    "a free port). GET and HEAD; '/' and 'dir/' serve index.html. --threads N runs N worker\n"
    "threads (default 1), --quiet turns the access log off, --no-sendfile always uses read/write,\n"
    "--nopush corks each response (TCP_CORK, Nagle on) and uncorks it when it is queued, as\n"
    "nginx's tcp_nopush does; --timeout S closes connections idle for S seconds (default 30).\n";

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "httpd: %s\n%s", message.c_str(), kUsage);
    std::exit(2);
}

int parse_int(std::string_view option, const std::string& text, int min, int max) {
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || value < min || value > max)
        usage_error(std::string(option) + " needs a number from " + std::to_string(min) + " to " + std::to_string(max) +
                    ", not '" + text + "'");
    return static_cast<int>(value);
}

httpd::Options parse_options(int argc, char** argv) {
    httpd::Options options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string value;
        bool has_value = false;
        if (std::size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg.resize(eq);
            has_value = true;
        }
        auto take_value = [&]() -> std::string {
            if (has_value) return value;
            if (i + 1 >= argc) usage_error(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--root") {
            options.root = take_value();
        } else if (arg == "--port") {
            options.port = parse_int(arg, take_value(), 0, 65535);
        } else if (arg == "--threads") {
            options.threads = parse_int(arg, take_value(), 1, 256);
        } else if (arg == "--timeout") {
            options.idle_timeout_s = parse_int(arg, take_value(), 1, 86400);
        } else if (arg == "--quiet" && !has_value) {
            options.quiet = true;
        } else if (arg == "--no-sendfile" && !has_value) {
            options.use_sendfile = false;
        } else if (arg == "--nopush" && !has_value) {
            options.nopush = true;
        } else if ((arg == "--help" || arg == "-h") && !has_value) {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else {
            usage_error("unknown option '" + std::string(argv[i]) + "'");
        }
    }
    while (options.root.size() > 1 && options.root.back() == '/') options.root.pop_back();
    return options;
}

}  // namespace

int main(int argc, char** argv) {
    httpd::Options options = parse_options(argc, argv);

    struct stat st{};
    if (stat(options.root.c_str(), &st) != 0) {
        std::fprintf(stderr, "httpd: document root %s: %s\n", options.root.c_str(), std::strerror(errno));
        return 2;
    }
    if (!S_ISDIR(st.st_mode)) {
        std::fprintf(stderr, "httpd: document root %s is not a directory\n", options.root.c_str());
        return 2;
    }

    try {
        httpd::Server server(options);
        httpd::Server::install_signal_handlers();
        server.open();
        std::printf("httpd: serving %s on http://0.0.0.0:%d/ with %d thread(s)\n", options.root.c_str(), server.port(),
                    options.threads);
        std::fflush(stdout);
        server.run();
    } catch (const std::system_error& e) {
        std::fprintf(stderr, "httpd: %s\n", e.what());
        int code = e.code().value();
        if (e.code().category() == std::system_category() &&
            (code == ENOSYS || code == EAFNOSUPPORT || code == EPROTONOSUPPORT))
            std::fprintf(stderr,
                         "httpd: this system has no usable network stack (on xos, networking needs "
                         "virtio-net, lwIP and the socket and epoll syscalls)\n");
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "httpd: %s\n", e.what());
        return 1;
    }
    if (!options.quiet) std::printf("httpd: stopped\n");
    std::fflush(stdout);
    return 0;
}
