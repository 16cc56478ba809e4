#include "hosted_nic.h"

#include "cmdline.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <pwd.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace {

constexpr double kPasstStartSeconds = 10;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// passt's own log, without its complaints about a missing syslog.
std::string passt_log(const std::string& path) {
    std::istringstream in(read_file(path));
    std::string line, kept;
    while (std::getline(in, line)) {
        if (line.find("to syslog") != std::string::npos || line.empty()) continue;
        kept += "  passt: " + line + "\n";
    }
    return kept;
}

// passt opens its pid file after dropping privileges (to "nobody" when started as root): it
// gets an empty file it may write, in a directory others can pass through but not list.
void make_pid_file(const std::string& path) {
    UniqueFd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (file.get() < 0) throw UsageError(errno_text(path.c_str()));
    if (::geteuid() == 0) {
        struct passwd* nobody = ::getpwnam("nobody");
        if (nobody == nullptr || ::fchown(file.get(), nobody->pw_uid, nobody->pw_gid) != 0)
            throw UsageError("cannot hand passt's pid file to user nobody");
        ::chmod(path.substr(0, path.rfind('/')).c_str(), 0711);
    }
}

}  // namespace

HostedNic::HostedNic(const Options& opts) : m_opts(opts) {
    try {
        if (opts.net == NetMode::Tap)
            open_tap(opts.tap_ifname);
        else
            start_passt(opts);
    } catch (...) {
        stop_passt();
        throw;
    }
}

HostedNic::~HostedNic() { stop_passt(); }

std::vector<std::string> HostedNic::passt_command(const Options& opts, int fd, const std::string& pid_file) {
    // -f: foreground (we own it); -e: errors to stderr (our log file); --fd: the socket pair's end
    // (implies one client: passt ends when the image closes it); -P: written once passt is
    // ready, ports bound. --mtu 1500: what QEMU's user networking gives a VM.
    std::vector<std::string> cmd{"passt", "-f",     "-e",    "-q",  "--fd", std::to_string(fd),
                                 "-P",    pid_file, "--mtu", "1500"};
    for (const PortForward& forward : opts.forwards) {
        cmd.push_back(forward.protocol == "udp" ? "-u" : "-t");
        cmd.push_back(std::to_string(forward.host_port) + ":" + std::to_string(forward.guest_port));
    }
    return cmd;
}

void HostedNic::start_passt(const Options& opts) {
    char dir_template[] = "/tmp/xos-run-passt.XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) throw UsageError(errno_text("mkdtemp"));
    m_dir = dir_template;
    std::string pid_file = m_dir + "/passt.pid", log_file = m_dir + "/passt.log";
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) throw UsageError(errno_text("socketpair"));
    m_image_end.reset(pair[0]);
    UniqueFd passt_end(pair[1]);
    UniqueFd log(::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (log.get() < 0) throw UsageError(errno_text(log_file.c_str()));
    make_pid_file(pid_file);
    auto cmd = passt_command(opts, passt_end.get(), pid_file);
    std::vector<char*> argv;
    for (auto& arg : cmd) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (opts.verbose) {
        std::string line;
        for (auto& arg : cmd) line += (line.empty() ? "" : " ") + arg;
        std::fprintf(stderr, "xos-run: network: %s\n", line.c_str());
    }

    int exec_error[2];
    if (::pipe2(exec_error, O_CLOEXEC) != 0) throw UsageError(errno_text("pipe"));
    pid_t parent = ::getpid();
    m_passt = ::fork();
    if (m_passt < 0) throw UsageError(errno_text("fork"));
    if (m_passt == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // (passt drops privileges when root, which clears it)
        if (::getppid() != parent) ::_exit(127);
        int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, STDIN_FILENO);
        ::dup2(log.get(), STDOUT_FILENO);
        ::dup2(log.get(), STDERR_FILENO);
        ::fcntl(passt_end.get(), F_SETFD, 0);
        ::execvp(argv[0], argv.data());
        int err = errno;
        ssize_t ignored = ::write(exec_error[1], &err, sizeof err);
        (void)ignored;
        ::_exit(127);
    }
    ::close(exec_error[1]);
    passt_end.reset();
    int err = 0;
    ssize_t n;
    do n = ::read(exec_error[0], &err, sizeof err);
    while (n < 0 && errno == EINTR);
    ::close(exec_error[0]);
    if (n == sizeof err) {
        ::waitpid(m_passt, nullptr, 0);
        m_passt = -1;
        throw UsageError(std::string("--net user for a hosted image needs passt (Debian package passt): ") +
                         (err == ENOENT ? "not found in PATH" : std::strerror(err)));
    }

    // Ready when the pid file has the pid; failed if passt exits first.
    struct timespec start, now;
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int status;
        if (::waitpid(m_passt, &status, WNOHANG) == m_passt) {
            m_passt = -1;
            std::string log = passt_log(log_file);
            throw UsageError("passt failed to start (" +
                             (WIFEXITED(status) ? "status " + std::to_string(WEXITSTATUS(status))
                                                : "signal " + std::to_string(WTERMSIG(status))) +
                             "):\n" + log +
                             (log.find("port") == std::string::npos
                                  ? "  (passt needs a host interface with a default route)"
                                  : "  (is the host port already in use?)"));
        }
        if (!read_file(pid_file).empty()) break;
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        if (double(now.tv_sec - start.tv_sec) + double(now.tv_nsec - start.tv_nsec) / 1e9 > kPasstStartSeconds)
            throw UsageError("passt did not start within 10 s:\n" + passt_log(log_file));
        struct timespec pause{0, 2000000};
        ::nanosleep(&pause, nullptr);
    }
    remove_dir();  // passt keeps its log fd; nothing is left to clean up if xos-run is killed
}

void HostedNic::open_tap(const std::string& ifname) {
    m_tap = true;
    m_image_end.reset(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (m_image_end.get() < 0) throw UsageError(errno_text("--net tap: /dev/net/tun"));
    struct ifreq request{};
    std::snprintf(request.ifr_name, sizeof request.ifr_name, "%s", ifname.c_str());
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (::ioctl(m_image_end.get(), TUNSETIFF, &request) != 0)
        throw UsageError("--net tap:" + ifname + ": cannot attach to the tap device: " + std::strerror(errno) +
                         " (create it first: ip tuntap add " + ifname + " mode tap user $USER)");
}

void HostedNic::stop_passt() {
    if (m_passt > 0) {
        ::kill(m_passt, SIGTERM);
        // passt also ends by itself once the image's end of the socket is closed.
        for (int i = 0; i < 500 && ::waitpid(m_passt, nullptr, WNOHANG) == 0; ++i) {
            struct timespec pause{0, 2000000};
            ::nanosleep(&pause, nullptr);
        }
        if (::waitpid(m_passt, nullptr, WNOHANG) == 0) {
            ::kill(m_passt, SIGKILL);
            ::waitpid(m_passt, nullptr, 0);
        }
        m_passt = -1;
    }
    remove_dir();
}

void HostedNic::remove_dir() {
    if (!m_dir.empty()) {
        ::unlink((m_dir + "/passt.pid").c_str());
        ::unlink((m_dir + "/passt.log").c_str());
        ::rmdir(m_dir.c_str());
        m_dir.clear();
    }
}

std::vector<std::string> HostedNic::environment() const {
    std::vector<std::string> env{"XOS_NIC_FD=" + std::to_string(m_image_end.get()),
                                 std::string("XOS_NIC_FRAMING=") + (m_tap ? "tap" : "stream")};
    std::string tokens = xos_encode_network_tokens(m_opts.net_ip, m_opts.net_gw, m_opts.net_dns, m_opts.net_echo_port);
    if (!tokens.empty()) env.push_back("XOS_BOOT_TOKENS=" + tokens.substr(1));  // without the leading space
    return env;
}
