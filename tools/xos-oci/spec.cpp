#include "spec.h"

#include "log.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <sys/stat.h>

namespace xos::oci {

namespace {

using nlohmann::json;

std::optional<std::uint64_t> parse_size(const std::string& text) {
    if (text.empty()) return std::nullopt;
    std::uint64_t value = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        if (value > (UINT64_MAX - 9) / 10) return std::nullopt;
        value = value * 10 + std::uint64_t(text[i] - '0');
    }
    if (i == 0) return std::nullopt;
    std::string unit = text.substr(i);
    unsigned shift = 20;  // a bare number is MiB (as xos-run --mem)
    if (unit == "K" || unit == "k")
        shift = 10;
    else if (unit == "M" || unit == "m")
        shift = 20;
    else if (unit == "G" || unit == "g")
        shift = 30;
    else if (unit == "B" || unit == "b")
        shift = 0;
    else if (!unit.empty())
        return std::nullopt;
    if (value == 0 || value > (UINT64_MAX >> shift)) return std::nullopt;
    return value << shift;
}

bool has_option(const json& mount, const char* option) {
    if (!mount.contains("options") || !mount["options"].is_array()) return false;
    for (const auto& o : mount["options"])
        if (o.is_string() && o.get<std::string>() == option) return true;
    return false;
}

template <typename T>
T get_or(const json& object, const char* key, T fallback) {
    if (!object.is_object() || !object.contains(key) || object[key].is_null()) return fallback;
    return object[key].get<T>();
}

// The options of a tmpfs mount that libos honours, as xos-run --tmpfs takes them: size=, mode=,
// uid=, gid=, ro, rw, noexec, exec, nodev, dev, nosuid, suid (libos' exec never honours
// set-user-ID bits, nosuid is shown in /proc/mounts); the atime options and the propagation
// ones need nothing; the others (nr_inodes=, ...) are said in the log and left out.
std::string tmpfs_options(const json& mount, const std::string& destination) {
    std::string kept;
    if (!mount.contains("options") || !mount["options"].is_array()) return kept;
    for (const auto& o : mount["options"]) {
        if (!o.is_string()) continue;
        std::string option = o.get<std::string>();
        std::string key = option.substr(0, option.find('='));
        if (key == "size" || key == "mode" || key == "uid" || key == "gid" || option == "ro" || option == "rw" ||
            option == "noexec" || option == "exec" || option == "nodev" || option == "dev" || option == "nosuid" ||
            option == "suid") {
            kept += (kept.empty() ? "" : ",") + option;
        } else if (option == "noatime" || option == "relatime" || option == "strictatime" || option == "tmpcopyup" ||
                   option == "private" || option == "rprivate") {
            log_debug("mounts: tmpfs on " + destination + ": " + option + " needs nothing in libos");
        } else {
            log_info("mounts: tmpfs on " + destination + ": option " + option +
                     " is not supported by libos' tmpfs and left out");
        }
    }
    return kept;
}

void read_mounts(const json& config, ContainerSpec& spec) {
    if (!config.contains("mounts")) return;
    for (const auto& mount : config["mounts"]) {
        std::string destination = get_or<std::string>(mount, "destination", "");
        std::string type = get_or<std::string>(mount, "type", "");
        std::string source = get_or<std::string>(mount, "source", "");
        if (destination.empty() || destination[0] != '/')
            throw SpecError("mounts: destination '" + destination + "' is not an absolute path");
        bool bind = type == "bind" || has_option(mount, "bind") || has_option(mount, "rbind");
        if (bind) {
            struct stat st;
            if (::stat(source.c_str(), &st) != 0) throw SpecError("mounts: bind source " + source + " does not exist");
            if (S_ISDIR(st.st_mode)) {
                if (destination == "/") throw SpecError("mounts: a bind mount on / is not supported");
                spec.shares.push_back({source, destination, has_option(mount, "ro")});
            } else if (S_ISREG(st.st_mode)) {
                spec.file_binds.push_back({source, destination});
            } else {
                log_info("mounts: " + destination + ": bind mount of " + source +
                         " (not a directory or regular file) ignored");
            }
            continue;
        }
        if (type == "proc" || type == "sysfs" || type == "devpts" || type == "mqueue" || type == "cgroup" ||
            type == "cgroup2" || destination == "/dev" || destination == "/dev/shm") {
            log_debug("mounts: " + destination + " (" + type + "): the guest's own (libos)");
            continue;
        }
        if (type == "tmpfs") {
            spec.tmpfs.push_back({destination, tmpfs_options(mount, destination)});
            continue;
        }
        log_info("mounts: " + destination + " of type '" + type + "' ignored");
    }
    for (auto& bind : spec.file_binds)
        for (const auto& tmpfs : spec.tmpfs)
            if (bind.guest_path.starts_with(tmpfs.guest_path + "/")) bind.below_tmpfs = true;
}

// process.rlimits: [{"type": "RLIMIT_NOFILE", "soft": N, "hard": N}, ...] for the first process
// (the generic kernel's loader sets them before it takes on the user's identity, as runc does).
void read_rlimits(const json& rlimits, ContainerSpec& spec) {
    static const std::map<std::string, int> kResources{
        {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
        {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    };
    // libos' descriptor table has 1024 slots (vfs::FdTable::MAX_FDS): RLIMIT_NOFILE goes no higher.
    constexpr std::uint64_t kGuestMaxFiles = 1024;
    for (const auto& entry : rlimits) {
        std::string type = get_or<std::string>(entry, "type", "");
        auto resource = kResources.find(type);
        if (resource == kResources.end()) throw SpecError("process.rlimits: unknown type '" + type + "'");
        Rlimit limit{resource->second, get_or<std::uint64_t>(entry, "soft", 0),
                     get_or<std::uint64_t>(entry, "hard", 0)};
        if (limit.soft > limit.hard) throw SpecError("process.rlimits: " + type + ": soft limit above the hard limit");
        if (limit.resource == RLIMIT_NOFILE && limit.hard > kGuestMaxFiles) {
            log_info("process.rlimits: RLIMIT_NOFILE " + std::to_string(limit.soft) + ":" + std::to_string(limit.hard) +
                     " lowered to at most " + std::to_string(kGuestMaxFiles) + " (libos' descriptor table)");
            limit.hard = kGuestMaxFiles;
            if (limit.soft > kGuestMaxFiles) limit.soft = kGuestMaxFiles;
        }
        spec.rlimits.push_back(limit);
    }
}

}  // namespace

ContainerSpec read_spec(const std::string& bundle_dir) {
    namespace fs = std::filesystem;
    ContainerSpec spec;
    std::error_code error;
    fs::path bundle = fs::absolute(bundle_dir, error);
    spec.bundle = bundle.lexically_normal().string();
    if (spec.bundle.size() > 1 && spec.bundle.back() == '/') spec.bundle.pop_back();
    std::ifstream in(bundle / "config.json");
    if (!in) throw SpecError("cannot read " + (bundle / "config.json").string());
    json config;
    try {
        config = json::parse(in);
        spec.oci_version = get_or<std::string>(config, "ociVersion", "");
        if (spec.oci_version.rfind("1.", 0) != 0)
            throw SpecError("config.json: unsupported ociVersion '" + spec.oci_version + "' (1.x expected)");
        const json& process = config.contains("process") ? config["process"] : json::object();
        if (process.contains("args")) spec.args = process["args"].get<std::vector<std::string>>();
        if (spec.args.empty()) throw SpecError("config.json: process.args is empty");
        if (process.contains("env")) spec.env = process["env"].get<std::vector<std::string>>();
        for (const auto& variable : spec.env)
            if (variable.find('=') == std::string::npos || variable[0] == '=')
                throw SpecError("config.json: process.env: '" + variable + "' is not KEY=VALUE");
        spec.cwd = get_or<std::string>(process, "cwd", "/");
        if (spec.cwd.empty() || spec.cwd[0] != '/') throw SpecError("config.json: process.cwd must be absolute");
        spec.terminal = get_or<bool>(process, "terminal", false);
        if (process.contains("user")) {
            const json& user = process["user"];
            spec.uid = get_or<std::uint32_t>(user, "uid", 0);
            spec.gid = get_or<std::uint32_t>(user, "gid", 0);
            if (user.contains("additionalGids"))
                spec.additional_gids = user["additionalGids"].get<std::vector<std::uint32_t>>();
        }
        if (process.contains("rlimits")) read_rlimits(process["rlimits"], spec);
        if (process.contains("capabilities") || process.contains("noNewPrivileges"))
            log_debug("process.capabilities/noNewPrivileges: the VM is the boundary");

        const json& root = config.contains("root") ? config["root"] : json::object();
        std::string root_path = get_or<std::string>(root, "path", "rootfs");
        fs::path rootfs = fs::path(root_path).is_absolute() ? fs::path(root_path) : bundle / root_path;
        spec.rootfs = rootfs.lexically_normal().string();
        if (!fs::is_directory(spec.rootfs, error)) throw SpecError("root.path " + spec.rootfs + " is not a directory");
        spec.rootfs_readonly = get_or<bool>(root, "readonly", false);
        spec.hostname = get_or<std::string>(config, "hostname", "");

        read_mounts(config, spec);

        if (config.contains("annotations") && config["annotations"].is_object())
            for (const auto& [key, value] : config["annotations"].items())
                if (value.is_string()) spec.annotations[key] = value.get<std::string>();

        const json& linux_section = config.contains("linux") ? config["linux"] : json::object();
        if (linux_section.contains("namespaces"))
            for (const auto& ns : linux_section["namespaces"]) {
                std::string type = get_or<std::string>(ns, "type", "");
                std::string path = get_or<std::string>(ns, "path", "");
                if (type == "network") {
                    if (!path.empty())
                        spec.netns_path = path;
                    else
                        spec.new_netns = true;
                } else {
                    log_debug("linux.namespaces: " + type + ": the VM is its own");
                }
            }
        if (linux_section.contains("resources") && linux_section["resources"].contains("memory")) {
            const json& memory = linux_section["resources"]["memory"];
            if (memory.contains("limit") && memory["limit"].is_number_integer() &&
                memory["limit"].get<std::int64_t>() > 0)
                spec.mem_bytes = std::uint64_t(memory["limit"].get<std::int64_t>());
        }
    } catch (const json::exception& e) {
        throw SpecError(std::string("config.json: ") + e.what());
    }

    if (auto it = spec.annotations.find("org.xos.platform"); it != spec.annotations.end()) {
        if (it->second != "kvm" && it->second != "hosted")
            throw SpecError("annotation org.xos.platform: expected kvm or hosted, got '" + it->second + "'");
        spec.platform = it->second;
    }
    if (auto it = spec.annotations.find("org.xos.cpus"); it != spec.annotations.end()) {
        auto n = parse_size(it->second + "B");
        if (!n || *n < 1 || *n > 255)
            throw SpecError("annotation org.xos.cpus: expected 1 to 255, got '" + it->second + "'");
        spec.cpus = unsigned(*n);
    }
    if (auto it = spec.annotations.find("org.xos.memory"); it != spec.annotations.end()) {
        auto bytes = parse_size(it->second);
        if (!bytes)
            throw SpecError("annotation org.xos.memory: expected a size such as 256M, got '" + it->second + "'");
        spec.mem_bytes = *bytes;
    }
    if (spec.mem_bytes < (32ull << 20)) throw SpecError("memory below 32 MiB is too small for an xos VM");
    // xos-run --mem takes whole MiB here.
    spec.mem_bytes = (spec.mem_bytes + (1ull << 20) - 1) & ~((1ull << 20) - 1);
    if (auto it = spec.annotations.find("org.xos.qemu-args"); it != spec.annotations.end()) {
        std::istringstream words(it->second);
        for (std::string word; words >> word;) spec.qemu_args.push_back(word);
    }
    if (spec.hostname.size() > 64) throw SpecError("hostname '" + spec.hostname + "' is longer than 64 bytes");
    return spec;
}

std::vector<std::string> xos_run_command(const std::string& xos_run, const ContainerSpec& spec,
                                         const std::optional<GuestNetwork>& network) {
    std::vector<std::string> cmd{xos_run, "--rootfs", spec.rootfs + (spec.rootfs_readonly ? ":ro" : ":rw"),
                                 "--platform", spec.platform, "--mem", std::to_string(spec.mem_bytes >> 20) + "M",
                                 "--cpus", std::to_string(spec.cpus),
                                 // kill's signals reach the app's first process (its handlers run)
                                 "--forward-signals"};
    for (const auto& variable : spec.env) cmd.insert(cmd.end(), {"--env", variable});
    if (!spec.hostname.empty()) cmd.insert(cmd.end(), {"--hostname", spec.hostname});
    for (const auto& tmpfs : spec.tmpfs)
        cmd.insert(cmd.end(), {"--tmpfs", tmpfs.guest_path + (tmpfs.options.empty() ? "" : ":" + tmpfs.options)});
    // xos-run --file carries small text files (8 KiB, on the guest's command line): others are
    // left out with a log line rather than failing the start.
    for (const auto& bind : spec.file_binds) {
        if (!bind.below_tmpfs) continue;
        struct stat st;
        if (::stat(bind.host_file.c_str(), &st) != 0 || st.st_size > 8192) {
            log_info("mounts: file bind mount of " + bind.host_file + " on " + bind.guest_path +
                     " (below a tmpfs) left out: larger than 8 KiB or unreadable");
            continue;
        }
        cmd.insert(cmd.end(), {"--file", bind.host_file + ":" + bind.guest_path});
    }
    // Bind mounts show the host's files as they are (passthrough), as in a runc container.
    for (const auto& share : spec.shares)
        cmd.insert(
            cmd.end(),
            {"--share", share.host_dir + ":" + share.guest_path + ":passthrough" + (share.read_only ? ":ro" : "")});
    if (network) {
        cmd.insert(cmd.end(), {"--net", "tap:" + network->tap, "--ip", network->ip_cidr});
        if (!network->gateway.empty()) cmd.insert(cmd.end(), {"--gw", network->gateway});
        // The guest NIC takes the veth's MAC: the engine's neighbours (and -p's NAT) know it.
        if (spec.platform == "kvm")
            cmd.insert(cmd.end(), {"--qemu-arg", "-global", "--qemu-arg", "virtio-net-device.mac=" + network->mac});
    }
    for (const auto& arg : spec.qemu_args) cmd.insert(cmd.end(), {"--qemu-arg", arg});
    // The generic kernel's loader: working directory, identity, then the program (PATH lookup
    // in the container's environment).
    cmd.insert(cmd.end(), {"--", "--workdir", spec.cwd});
    for (const auto& limit : spec.rlimits) {
        auto value = [](std::uint64_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v); };
        cmd.insert(cmd.end(),
                   {"--rlimit", std::to_string(limit.resource) + "=" + value(limit.soft) + ":" + value(limit.hard)});
    }
    if (!spec.additional_gids.empty()) {
        std::string groups;
        for (auto gid : spec.additional_gids) groups += (groups.empty() ? "" : ",") + std::to_string(gid);
        cmd.insert(cmd.end(), {"--groups", groups});
    }
    cmd.insert(cmd.end(), {"--user", std::to_string(spec.uid) + ":" + std::to_string(spec.gid), "--"});
    cmd.insert(cmd.end(), spec.args.begin(), spec.args.end());
    return cmd;
}

}  // namespace xos::oci
