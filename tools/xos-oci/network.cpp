#include "network.h"

#include "log.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

namespace xos::oci {

namespace {

constexpr const char* kTap = "xos-tap0";

// `tc` calls that redirect everything arriving on FROM to leave through TO.
void redirect_ingress(const std::string& from, const std::string& to) {
    if (run_program({"tc", "qdisc", "add", "dev", from, "ingress"}) != 0)
        throw NetworkError("tc: cannot add an ingress qdisc to " + from);
    if (run_program({"tc",    "filter", "add", "dev", from,     "parent", "ffff:",  "protocol", "all", "u32",
                     "match", "u8",     "0",   "0",   "action", "mirred", "egress", "redirect", "dev", to}) != 0)
        throw NetworkError("tc: cannot redirect " + from + " to " + to);
}

}  // namespace

int run_program(const std::vector<std::string>& argv, std::string* output) {
    int out_pipe[2] = {-1, -1};
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) return -1;
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        ::dup2(out_pipe[1], STDOUT_FILENO);
        int null_fd = ::open("/dev/null", O_RDWR);
        if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "xos-oci: error: cannot run %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = ::read(out_pipe[0], buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        text.append(buffer, std::size_t(n));
    }
    ::close(out_pipe[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (output) *output = text;
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    log_debug("ran " + line + ": status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1));
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void enter_network_namespace(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw NetworkError("cannot open the network namespace " + path + ": " + std::strerror(errno));
    int result = ::setns(fd, CLONE_NEWNET);
    int saved = errno;
    ::close(fd);
    if (result != 0) throw NetworkError("cannot enter the network namespace " + path + ": " + std::strerror(saved));
}

std::optional<GuestNetwork> connect_guest_network() {
    using nlohmann::json;
    std::string text;
    if (run_program({"ip", "-j", "addr", "show"}, &text) != 0) throw NetworkError("ip addr show failed");
    json links = json::parse(text, nullptr, false);
    if (!links.is_array()) throw NetworkError("ip -j addr show: unexpected output");
    std::string veth, mac, ip_cidr;
    unsigned mtu = 1500;
    for (const auto& link : links) {
        if (link.value("link_type", "") != "ether" || !link.contains("addr_info")) continue;
        for (const auto& address : link["addr_info"]) {
            if (address.value("family", "") != "inet") continue;
            veth = link.value("ifname", "");
            mac = link.value("address", "");
            mtu = link.value("mtu", 1500u);
            ip_cidr = address.value("local", "") + "/" + std::to_string(address.value("prefixlen", 32));
            break;
        }
        if (!veth.empty()) break;
    }
    if (veth.empty()) {
        log_info("network namespace without an Ethernet interface with an IPv4 address: the VM has no network");
        return std::nullopt;
    }
    GuestNetwork network{kTap, mac, ip_cidr, "", veth};
    if (run_program({"ip", "-j", "route", "show", "default"}, &text) == 0) {
        json routes = json::parse(text, nullptr, false);
        if (routes.is_array())
            for (const auto& route : routes)
                if (route.contains("gateway")) {
                    network.gateway = route["gateway"].get<std::string>();
                    break;
                }
    }
    if (run_program({"ip", "tuntap", "add", "dev", kTap, "mode", "tap"}) != 0)
        throw NetworkError(std::string("cannot create the tap device ") + kTap);
    if (run_program({"ip", "link", "set", "dev", kTap, "mtu", std::to_string(mtu), "up"}) != 0)
        throw NetworkError(std::string("cannot bring up ") + kTap);
    redirect_ingress(veth, kTap);
    redirect_ingress(kTap, veth);
    log_info("network: " + veth + " (" + mac + " " + ip_cidr + " gateway " +
             (network.gateway.empty() ? "none" : network.gateway) + ") redirected to and from " + kTap);
    return network;
}

std::string network_record(const GuestNetwork& network) {
    return nlohmann::json{{"tap", network.tap}, {"veth", network.veth}}.dump();
}

void disconnect_guest_network(const std::string& netns_path, const std::string& record) {
    auto j = nlohmann::json::parse(record, nullptr, false);
    if (!j.is_object()) return;
    std::string tap = j.value("tap", ""), veth = j.value("veth", "");
    // In a child: the caller stays in its own namespace.
    pid_t pid = ::fork();
    if (pid < 0) return;
    if (pid == 0) {
        try {
            enter_network_namespace(netns_path);
        } catch (const NetworkError& e) {
            log_debug(std::string("network cleanup: ") + e.what() + " (gone with the namespace)");
            ::_exit(0);
        }
        if (!tap.empty()) run_program({"ip", "link", "del", "dev", tap});
        if (!veth.empty()) run_program({"tc", "qdisc", "del", "dev", veth, "ingress"});
        ::_exit(0);
    }
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
}

}  // namespace xos::oci
