#include "xen_run.h"

#include "cmdline.h"
#include "terminal.h"
#include "verdict.h"

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <vector>

namespace {

constexpr int kExitXosRunError = 125;

std::string quoted(const std::string& text) {
    // xl's config strings are double-quoted with C escapes.
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string absolute(const std::string& path) {
    char resolved[PATH_MAX];
    return ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
}

// Runs argv to completion with stdout captured; the exit status (or -1) and the output.
int capture(const std::vector<std::string>& argv, std::string& output) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(pipe_fds[1], 1);
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    char buffer[4096];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        output.append(buffer, size_t(n));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_quietly(const std::vector<std::string>& argv) {
    std::string ignored;
    return capture(argv, ignored);
}

// The domain's state letters from `xl list NAME` ("r-----", "---s--", ...), or "" if it is gone.
// xl now and then dies of a segfault in its teardown (seen in the tests' dom0): a failed query
// is asked again before the domain counts as gone.
std::string domain_flags(const std::string& name) {
    std::string output;
    int status = -1;
    for (int attempt = 0; attempt < 3 && status != 0; ++attempt) {
        output.clear();
        status = capture({"xl", "list", name}, output);
    }
    if (status != 0) return "";
    std::istringstream lines(output);
    std::string header, line;
    std::getline(lines, header);
    std::getline(lines, line);
    std::istringstream fields(line);
    std::string field;
    for (int i = 0; i < 5 && fields >> field; ++i) {}
    return field;
}

double seconds_since(const timespec& start) {
    timespec now;
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return double(now.tv_sec - start.tv_sec) + double(now.tv_nsec - start.tv_nsec) / 1e9;
}

}  // namespace

std::string xen_config(const Options& opts, const std::string& name) {
    std::string cmdline = xos_encode_cmdline(opts.image, opts.app_args, opts.env) +
        xos_encode_network_tokens(opts.net_ip, opts.net_gw, opts.net_dns, opts.net_echo_port) +
        guest_mount_tokens(opts);
    // `xl console` joins our terminal to the PV console (platform/xen/console.cpp): the guest's
    // stdio are that terminal when ours are one, with its size; otherwise nothing is a terminal.
    if (::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO)) {
        cmdline += " xos.stdio=ttt";
        if (uint16_t rows, cols; terminal_size(rows, cols))
            cmdline += " xos.winsize=" + std::to_string(rows) + "x" + std::to_string(cols);
    }
    std::ostringstream config;
    config << "name = " << quoted(name) << "\n"
           << "type = \"pvh\"\n"
           << "kernel = " << quoted(absolute(opts.image)) << "\n"
           << "cmdline = " << quoted(cmdline) << "\n"
           << "memory = " << ((opts.mem_bytes + (1 << 20) - 1) >> 20) << "\n"
           << "vcpus = " << opts.cpus << "\n"
           << "on_poweroff = \"preserve\"\n"
           << "on_crash = \"preserve\"\n"
           << "on_reboot = \"destroy\"\n";
    if (!opts.disks.empty()) {
        config << "disk = [";
        for (std::size_t i = 0; i < opts.disks.size(); ++i)
            config << (i ? ", " : "")
                   << quoted("format=raw,vdev=xvd" + std::string(1, char('a' + i)) + ",access=" +
                             (opts.disks[i].read_only ? "ro" : "rw") + ",target=" + absolute(opts.disks[i].path));
        config << "]\n";
    }
    if (!opts.xen_bridge.empty()) config << "vif = [" << quoted("bridge=" + opts.xen_bridge) << "]\n";
    return config.str();
}

int run_xen(const Options& opts) {
    std::string base = opts.image.substr(opts.image.rfind('/') + 1);
    if (base.size() > 40) base.resize(40);
    std::string name = "xos-" + base + "-" + std::to_string(::getpid());
    std::string config = xen_config(opts, name);
    if (opts.dry_run) {
        std::printf("# xl config\n%s# then: xl create CONFIG; xl console %s; "
                    "xenstore-read /local/domain/$(xl domid %s)/data/xos-status; xl destroy %s\n",
                    config.c_str(), name.c_str(), name.c_str(), name.c_str());
        return 0;
    }
    char config_path[] = "/tmp/xos-run-xen-XXXXXX";
    int fd = ::mkstemp(config_path);
    if (fd < 0 || ::write(fd, config.data(), config.size()) != ssize_t(config.size())) {
        std::fprintf(stderr, "xos-run: error: cannot write the xl config: %s\n", std::strerror(errno));
        return kExitXosRunError;
    }
    ::close(fd);
    if (opts.verbose) std::fprintf(stderr, "xos-run: xl config %s:\n%s", config_path, config.c_str());

    std::string output;
    int created = capture({"xl", "create", config_path}, output);
    ::unlink(config_path);
    if (created != 0) {
        std::fprintf(stderr, "xos-run: error: xl create failed (status %d)%s\n", created,
                     created == 127 ? ": is this a Xen dom0 with xl in PATH?" : "");
        return kExitXosRunError;
    }
    // The domain's id, asked again if xl dies (domain 0 would be dom0's own xenstore home).
    long domid = -1;
    for (int attempt = 0; attempt < 5 && domid <= 0; ++attempt) {
        std::string domid_text;
        if (capture({"xl", "domid", name}, domid_text) == 0) domid = std::strtol(domid_text.c_str(), nullptr, 10);
    }
    if (domid <= 0) {
        std::fprintf(stderr, "xos-run: error: xl does not know the domain %s it created\n", name.c_str());
        run_quietly({"xl", "destroy", name});
        return kExitXosRunError;
    }

    // The console: `xl console` copies it to our stdout until we stop it.
    pid_t console = ::fork();
    if (console == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::execlp("xl", "xl", "console", name.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }

    timespec start;
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    bool timed_out = false;
    for (;;) {
        std::string flags = domain_flags(name);
        if (flags.empty() || flags.find('s') != std::string::npos || flags.find('c') != std::string::npos) break;
        if (opts.timeout_seconds > 0 && seconds_since(start) >= opts.timeout_seconds) {
            timed_out = true;
            break;
        }
        timespec pause{0, 200000000};
        ::nanosleep(&pause, nullptr);
    }
    std::string record;
    capture({"xenstore-read", "/local/domain/" + std::to_string(domid) + "/data/xos-status"}, record);
    timespec drain{0, 500000000};  // the console's last bytes
    ::nanosleep(&drain, nullptr);
    if (console > 0) {
        ::kill(console, SIGTERM);
        while (::waitpid(console, nullptr, 0) < 0 && errno == EINTR) {}
    }
    run_quietly({"xl", "destroy", name});

    std::ostringstream timeout_text;
    timeout_text << opts.timeout_seconds;
    Verdict verdict = decide_verdict(parse_status_records(record + "\n"), QemuEnd{true, 0},
                                     timed_out ? StopCause::Timeout : StopCause::GuestDone, 0, timeout_text.str());
    if (!verdict.message.empty() && (opts.verbose || !verdict.verbose_only))
        std::fprintf(stderr, "xos-run: %s\n", verdict.message.c_str());
    return verdict.exit_status;
}
