// xos-oci: an OCI runtime (runtime-spec runtime.md, runc's command line) that runs each
// container as an xos VM (or hosted process) through xos-run. docs/oci-runtime.md.
#include "console.h"
#include "log.h"
#include "network.h"
#include "spec.h"
#include "state.h"
#include "signal_names.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#ifndef XOS_VERSION
#define XOS_VERSION "unknown"
#endif

namespace xos::oci {
namespace {

constexpr const char* kSpecVersion = "1.1.0";

// A failure the runtime reports: the message on stderr and the log, exit status 1 (runc's).
struct RuntimeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct GlobalOptions {
    std::string root = "/run/xos-oci";
    std::string log;
    std::string log_format = "text";
    bool systemd_cgroup = false;
    bool debug = false;
};

struct CreateOptions {
    std::string bundle = ".";
    std::string pid_file;
    std::string console_socket;
    bool no_pivot = false;
    bool no_new_keyring = false;
    unsigned preserve_fds = 0;
    bool detach = false;  // run -d
};

std::string now_rfc3339() {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    ::gmtime_r(&ts.tv_sec, &tm);
    char buffer[64], out[96];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(out, sizeof out, "%s.%09ldZ", buffer, ts.tv_nsec);
    return out;
}

std::string executable_dir() {
    std::error_code error;
    return std::filesystem::read_symlink("/proc/self/exe", error).parent_path().string();
}

// xos-run: $XOS_RUN, else next to xos-oci (installed), else the build tree's.
std::string find_xos_run() {
    if (const char* path = std::getenv("XOS_RUN"); path && *path) return path;
    std::string dir = executable_dir();
    for (const std::string& candidate : {dir + "/xos-run", dir + "/../xos-run/xos-run"})
        if (::access(candidate.c_str(), X_OK) == 0) return std::filesystem::path(candidate).lexically_normal().string();
    throw RuntimeError("cannot find xos-run next to xos-oci (set XOS_RUN to its path)");
}

void write_file_atomically(const std::string& path, const std::string& text) {
    std::string temporary = path + ".xos-oci.tmp";
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << text;
        if (!out) throw RuntimeError("cannot write " + temporary);
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0)
        throw RuntimeError("cannot write " + path + ": " + std::strerror(errno));
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

StateDir existing_container(const GlobalOptions& global, const std::string& id, ContainerState& state) {
    if (!valid_container_id(id)) throw RuntimeError("invalid container id '" + id + "'");
    StateDir dir(global.root, id);
    auto read = dir.exists() ? dir.read_state() : std::nullopt;
    if (!read) throw RuntimeError("container " + id + " does not exist");
    state = *read;
    return dir;
}

// Copies each file bind mount's content into the root directory at its destination (also a
// read-only root's: the guest sees it read-only), never following a symlink out of the root
// (openat2 RESOLVE_IN_ROOT); those below a tmpfs destination go to xos-run --file instead. For
// a read-only root, also makes the working directory, which the guest could not (runc makes it
// before it remounts the root read-only).
void place_file_binds(const ContainerSpec& spec) {
    if (spec.file_binds.empty() && !spec.rootfs_readonly) return;
    int root = ::open(spec.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) throw RuntimeError("cannot open the root " + spec.rootfs);
    if (spec.rootfs_readonly && spec.cwd.size() > 1) {
        std::string relative = spec.cwd.substr(1) + "/";
        for (std::size_t slash = relative.find('/'); slash != std::string::npos;
             slash = relative.find('/', slash + 1)) {
            struct open_how how{};
            how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
            how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
            std::string prefix = relative.substr(0, slash);
            if (prefix.empty()) continue;
            int fd = int(::syscall(SYS_openat2, root, prefix.c_str(), &how, sizeof how));
            if (fd >= 0) {
                ::close(fd);
                continue;
            }
            std::size_t parent_end = prefix.rfind('/');
            std::string parent = parent_end == std::string::npos ? "." : prefix.substr(0, parent_end);
            std::string name = parent_end == std::string::npos ? prefix : prefix.substr(parent_end + 1);
            int dir = int(::syscall(SYS_openat2, root, parent.c_str(), &how, sizeof how));
            if (dir < 0) break;
            ::mkdirat(dir, name.c_str(), 0755);
            ::close(dir);
        }
    }
    for (const auto& bind : spec.file_binds) {
        if (bind.below_tmpfs) continue;
        struct open_how how{};
        how.flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC;
        how.mode = 0644;
        how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        std::string relative = bind.guest_path.substr(1);
        // The parent directories as mkdir -p would (inside the root).
        for (std::size_t slash = relative.find('/'); slash != std::string::npos; slash = relative.find('/', slash + 1))
            ::mkdirat(root, relative.substr(0, slash).c_str(), 0755);
        int fd = int(::syscall(SYS_openat2, root, relative.c_str(), &how, sizeof how));
        if (fd < 0) {
            log_info("mounts: cannot place " + bind.host_file + " at " + bind.guest_path + ": " + std::strerror(errno));
            continue;
        }
        std::string content = read_file(bind.host_file);
        bool written = ::write(fd, content.data(), content.size()) == ssize_t(content.size());
        ::close(fd);
        if (!written)
            log_info("mounts: cannot write " + bind.guest_path + " in the root");
        else
            log_debug("mounts: " + bind.host_file + " copied to " + bind.guest_path);
    }
    ::close(root);
}

// The signal mask xos-oci was started with. `run` blocks the signals it forwards while it waits
// (run_container); the owner it forks must not pass that mask on to xos-run and the VM.
sigset_t g_caller_mask;

// The owner process (the container's pid) between create and start: becomes the container's
// session, joins the network namespace and wires the VM's NIC, reports "ok" (or why not) on
// READY, waits on exec.fifo for start, then becomes xos-run. Never returns.
[[noreturn]] void owner_process(const StateDir& dir, const ContainerSpec& spec, int ready, int console_slave) {
    auto fail = [&](const std::string& message) {
        (void)!::write(ready, message.data(), message.size());
        ::_exit(1);
    };
    ::setsid();
    if (console_slave >= 0) {
        ::ioctl(console_slave, TIOCSCTTY, 0);
        for (int fd = 0; fd <= 2; ++fd) ::dup2(console_slave, fd);
        if (console_slave > 2) ::close(console_slave);
    }
    std::vector<std::string> argv;
    try {
        std::optional<GuestNetwork> network;
        if (spec.netns_path) {
            enter_network_namespace(*spec.netns_path);
            network = connect_guest_network();
            if (network) write_file_atomically(dir.file("network.json"), network_record(*network));
        } else if (!spec.new_netns) {
            log_info("no network namespace (the host's network): the VM has no network card");
        }
        place_file_binds(spec);
        argv = xos_run_command(find_xos_run(), spec, network);
    } catch (const std::exception& e) {
        fail(e.what());
    }
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    log_info("container command: " + line);
    (void)!::write(ready, "ok", 2);
    ::close(ready);
    // Blocks until `start` opens the fifo for reading.
    int fifo = ::open(dir.file("exec.fifo").c_str(), O_WRONLY | O_CLOEXEC);
    if (fifo < 0 || ::write(fifo, "0", 1) != 1) ::_exit(1);
    ::close(fifo);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::sigprocmask(SIG_SETMASK, &g_caller_mask, nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "xos-oci: error: cannot run %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
}

// `create`: returns the owner's pid (left running, waiting for start).
pid_t create_container(const GlobalOptions& global, const CreateOptions& options, const std::string& id) {
    if (!valid_container_id(id)) throw RuntimeError("invalid container id '" + id + "'");
    StateDir dir(global.root, id);
    if (!dir.create()) throw RuntimeError("container with id " + id + " already exists");
    pid_t owner = -1;
    try {
        ContainerSpec spec = read_spec(options.bundle);
        if (options.preserve_fds) log_info("--preserve-fds: no descriptors beyond stdio reach a VM");
        if (global.systemd_cgroup) log_info("--systemd-cgroup: no cgroup is made (the VM's own limits apply)");
        int console_slave = -1;
        if (spec.terminal) {
            if (options.console_socket.empty())
                throw RuntimeError("process.terminal is set but --console-socket is not");
            console_slave = open_console(options.console_socket);
        } else if (!options.console_socket.empty()) {
            log_info("--console-socket ignored: process.terminal is false");
        }
        if (::mkfifo(dir.file("exec.fifo").c_str(), 0600) != 0)
            throw RuntimeError(std::string("cannot make exec.fifo: ") + std::strerror(errno));
        int ready[2];
        if (::pipe2(ready, O_CLOEXEC) != 0) throw RuntimeError(std::string("pipe: ") + std::strerror(errno));
        owner = ::fork();
        if (owner < 0) throw RuntimeError(std::string("fork: ") + std::strerror(errno));
        if (owner == 0) {
            ::close(ready[0]);
            owner_process(dir, spec, ready[1], console_slave);
        }
        ::close(ready[1]);
        if (console_slave >= 0) ::close(console_slave);
        std::string answer;
        char buffer[1024];
        for (ssize_t n; (n = ::read(ready[0], buffer, sizeof buffer)) != 0;) {
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) break;
            answer.append(buffer, std::size_t(n));
        }
        ::close(ready[0]);
        if (answer != "ok") throw RuntimeError(answer.empty() ? "the container's process ended during create" : answer);
        ContainerState state;
        state.oci_version = spec.oci_version;
        state.id = id;
        state.pid = owner;
        state.pid_start_time = live_process_start_time(owner).value_or(0);
        state.bundle = spec.bundle;
        state.rootfs = spec.rootfs;
        state.created = now_rfc3339();
        state.annotations = spec.annotations;
        if (spec.netns_path) state.annotations["org.xos.netns"] = *spec.netns_path;
        dir.write_state(state);
        if (!options.pid_file.empty()) write_file_atomically(options.pid_file, std::to_string(owner));
        log_info("created " + id + " (pid " + std::to_string(owner) + ")");
        return owner;
    } catch (...) {
        if (owner > 0) {
            ::kill(owner, SIGKILL);
            ::waitpid(owner, nullptr, 0);
        }
        dir.remove();
        throw;
    }
}

void start_container(const GlobalOptions& global, const std::string& id) {
    ContainerState state;
    StateDir dir = existing_container(global, id, state);
    Status status = container_status(dir, state);
    if (status == Status::Running) throw RuntimeError("cannot start an already running container");
    if (status == Status::Stopped) throw RuntimeError("cannot start a container that has stopped");
    int fifo = ::open(dir.file("exec.fifo").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fifo < 0) throw RuntimeError("cannot start " + id + ": " + std::strerror(errno));
    bool started = false;
    for (;;) {
        struct pollfd p{fifo, POLLIN, 0};
        int ready = ::poll(&p, 1, 100);
        if (ready > 0) {
            char byte;
            started = ::read(fifo, &byte, 1) == 1;
            if (started || (p.revents & POLLHUP)) break;
        }
        if (container_status(dir, state) == Status::Stopped) break;
    }
    ::close(fifo);
    if (!started) throw RuntimeError("cannot start " + id + ": its process exited");
    ::unlink(dir.file("exec.fifo").c_str());
    log_info("started " + id);
}

// Signal names as kill(1) and runc take them: "TERM", "SIGTERM", "15".
int parse_signal(const std::string& text) {
    if (auto signo = tools::signal_from_name(text)) return *signo;
    throw RuntimeError("unknown signal '" + text + "'");
}

void kill_container(const GlobalOptions& global, const std::string& id, const std::string& signal_text) {
    int signo = parse_signal(signal_text);
    ContainerState state;
    StateDir dir = existing_container(global, id, state);
    if (container_status(dir, state) == Status::Stopped) throw RuntimeError("container not running");
    // xos-run --forward-signals passes SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to
    // the app's first process in the guest; SIGKILL ends xos-run, and QEMU with it (its
    // parent-death signal). Before start, the owner has the default actions.
    if (::kill(state.pid, signo) != 0) throw RuntimeError(std::string("kill: ") + std::strerror(errno));
    log_info("signal " + std::to_string(signo) + " sent to " + id + " (pid " + std::to_string(state.pid) + ")");
}

// The processes whose parent is PID.
std::vector<std::pair<pid_t, std::uint64_t>> children_of(pid_t pid) {
    std::vector<std::pair<pid_t, std::uint64_t>> children;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
        std::string name = entry.path().filename().string();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        std::ifstream in(entry.path() / "stat");
        std::string text;
        if (!std::getline(in, text)) continue;
        auto close = text.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream fields(text.substr(close + 2));
        std::string state_field;
        pid_t parent = 0;
        fields >> state_field >> parent;
        if (parent == pid) {
            pid_t child = std::stoi(name);
            if (auto start = live_process_start_time(child)) children.push_back({child, *start});
        }
    }
    return children;
}

// Waits up to SECONDS for PID (started at START) to be gone (or a zombie).
bool wait_gone(pid_t pid, std::uint64_t start, double seconds) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
        auto now_start = live_process_start_time(pid);
        if (!now_start || *now_start != start) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// Ends the owner (xos-run) and what it started (QEMU, passt).
void destroy_processes(const ContainerState& state) {
    if (!live_process_start_time(state.pid) || *live_process_start_time(state.pid) != state.pid_start_time) return;
    auto children = children_of(state.pid);
    ::kill(state.pid, SIGKILL);
    if (!wait_gone(state.pid, state.pid_start_time, 10))
        log_info("pid " + std::to_string(state.pid) + " survived SIGKILL");
    for (const auto& [child, start] : children) {
        if (wait_gone(child, start, 5)) continue;
        ::kill(child, SIGKILL);
        wait_gone(child, start, 5);
    }
}

void delete_container(const GlobalOptions& global, const std::string& id, bool force) {
    // As runc: --force of an id without a container (gone, or a create that failed midway) is no error.
    if (force && valid_container_id(id) && !StateDir(global.root, id).read_state()) {
        StateDir(global.root, id).remove();
        log_debug("delete --force: no container " + id);
        return;
    }
    ContainerState state;
    StateDir dir = existing_container(global, id, state);
    Status status = container_status(dir, state);
    if (status == Status::Running && !force)
        throw RuntimeError("cannot delete container " + id + " that is not stopped: running");
    if (status != Status::Stopped) destroy_processes(state);
    if (auto netns = state.annotations.find("org.xos.netns"); netns != state.annotations.end()) {
        std::string record = read_file(dir.file("network.json"));
        if (!record.empty()) disconnect_guest_network(netns->second, record);
    }
    dir.remove();
    log_info("deleted " + id);
}

void print_state(const GlobalOptions& global, const std::string& id) {
    ContainerState state;
    StateDir dir = existing_container(global, id, state);
    nlohmann::json j = state_json(state, container_status(dir, state));
    j["annotations"].erase("org.xos.netns");
    std::printf("%s\n", j.dump(2).c_str());
}

void print_list(const GlobalOptions& global, bool json_format) {
    nlohmann::json all = nlohmann::json::array();
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(global.root, error)) {
        StateDir dir(global.root, entry.path().filename().string());
        auto state = dir.read_state();
        if (!state) continue;
        all.push_back(state_json(*state, container_status(dir, *state)));
    }
    if (json_format) {
        std::printf("%s\n", all.dump().c_str());
        return;
    }
    std::printf("%-20s %-8s %-10s %s\n", "ID", "PID", "STATUS", "BUNDLE");
    for (const auto& c : all)
        std::printf("%-20s %-8d %-10s %s\n", c["id"].get<std::string>().c_str(), c["pid"].get<int>(),
                    c["status"].get<std::string>().c_str(), c["bundle"].get<std::string>().c_str());
}

// runtime-spec features.md.
void print_features() {
    nlohmann::json features{
        {"ociVersionMin", "1.0.0"},
        {"ociVersionMax", kSpecVersion},
        {"hooks", nlohmann::json::array()},
        // bind and tmpfs mounts' flags that mean something here (tmpfs also takes size=, mode=, uid=, gid=)
        {"mountOptions",
         {"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "exec", "suid", "dev", "noatime", "relatime",
          "strictatime"}},
        {"linux",
         {{"namespaces", {"network"}},
          {"capabilities", nlohmann::json::array()},
          {"cgroup", {{"v1", false}, {"v2", false}, {"systemd", false}, {"systemdUser", false}}},
          {"seccomp", {{"enabled", false}}},
          {"apparmor", {{"enabled", false}}},
          {"selinux", {{"enabled", false}}}}},
        {"annotations",
         {{"org.xos.platform", "kvm|hosted"},
          {"org.xos.cpus", "virtual CPUs"},
          {"org.xos.memory", "VM memory (e.g. 256M)"},
          {"org.xos.version", XOS_VERSION}}},
    };
    std::printf("%s\n", features.dump(2).c_str());
}

// `run`: create, start, wait; the container is deleted after (unless --detach). Returns its status.
int run_container(const GlobalOptions& global, const CreateOptions& options, const std::string& id) {
    sigset_t forwarded, original;
    sigemptyset(&forwarded);
    for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&forwarded, signo);
    ::sigprocmask(SIG_BLOCK, &forwarded, &original);
    pid_t owner = create_container(global, options, id);
    start_container(global, id);
    if (options.detach) return 0;
    int status = 0;
    for (;;) {
        pid_t done = ::waitpid(owner, &status, WNOHANG);
        if (done == owner) break;
        struct timespec wait{0, 50'000'000};
        if (int signo = ::sigtimedwait(&forwarded, nullptr, &wait); signo > 0) ::kill(owner, signo);
    }
    ::sigprocmask(SIG_SETMASK, &original, nullptr);
    delete_container(global, id, true);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int dispatch(int argc, char** argv) {
    ::sigprocmask(SIG_SETMASK, nullptr, &g_caller_mask);
    GlobalOptions global;
    CLI::App app{"xos-oci: an OCI runtime that runs containers as xos VMs (docs/oci-runtime.md)", "xos-oci"};
    app.set_version_flag("-v,--version", std::string("xos-oci version ") + XOS_VERSION + "\nspec: " + kSpecVersion);
    app.add_option("--root", global.root, "directory of the containers' state")->capture_default_str();
    app.add_option("--log", global.log, "also write messages to this file");
    app.add_option("--log-format", global.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
    app.add_flag("--systemd-cgroup", global.systemd_cgroup, "accepted; xos-oci makes no cgroup");
    app.add_flag("--debug", global.debug, "more messages");
    bool rootless_unused = false;
    app.add_option("--rootless", rootless_unused, "accepted (runc's option)")->expected(0, 1)->default_str("auto");
    app.require_subcommand(1);

    CreateOptions create_options;
    std::string id;
    auto add_create_options = [&](CLI::App* command) {
        command->add_option("-b,--bundle", create_options.bundle, "the bundle (config.json and the root)");
        command->add_option("--pid-file", create_options.pid_file, "write the container's pid here");
        command->add_option("--console-socket", create_options.console_socket,
                            "unix socket that receives the terminal's master (process.terminal)");
        command->add_flag("--no-pivot", create_options.no_pivot, "accepted (no pivot_root in a VM)");
        command->add_flag("--no-new-keyring", create_options.no_new_keyring, "accepted");
        command->add_option("--preserve-fds", create_options.preserve_fds, "accepted; none reach a VM");
        command->add_option("container-id", id, "the container's id")->required();
    };
    auto* create = app.add_subcommand("create", "create a container (its process waits for start)");
    add_create_options(create);
    auto* run = app.add_subcommand("run", "create and start a container, wait for it and delete it");
    add_create_options(run);
    run->add_flag("-d,--detach", create_options.detach, "return after the start");
    auto* start = app.add_subcommand("start", "start a created container");
    start->add_option("container-id", id)->required();
    auto* state = app.add_subcommand("state", "print a container's state (JSON)");
    state->add_option("container-id", id)->required();
    std::string signal_text = "SIGTERM";
    bool all = false;
    auto* kill = app.add_subcommand("kill", "send a signal to the container (default SIGTERM)");
    kill->add_option("container-id", id)->required();
    kill->add_option("signal", signal_text, "name or number");
    kill->add_flag("-a,--all", all, "accepted: the signal reaches the VM, its processes share its fate");
    bool force = false;
    auto* remove = app.add_subcommand("delete", "delete a container (running: --force)");
    remove->add_option("container-id", id)->required();
    remove->add_flag("-f,--force", force, "kill a running container first");
    std::string list_format = "table";
    auto* list = app.add_subcommand("list", "list the containers");
    list->add_option("-f,--format", list_format)->check(CLI::IsMember({"table", "json"}));
    bool quiet = false;
    list->add_flag("-q,--quiet", quiet, "accepted");
    auto* features = app.add_subcommand("features", "print the runtime's features (JSON)");
    for (const char* name : {"exec", "pause", "resume", "checkpoint", "restore", "update", "ps", "events", "spec"})
        app.add_subcommand(name, "not supported by xos-oci")->allow_extras();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        log_open(global.log, global.log_format == "json" ? LogFormat::Json : LogFormat::Text, global.debug);
        std::string message = e.what();
        // The first word that is no global option nor its value: an unknown command?
        for (int i = 1; i < argc; ++i) {
            std::string word = argv[i];
            if (word == "--root" || word == "--log" || word == "--log-format") {
                ++i;
                continue;
            }
            if (word.rfind("-", 0) == 0) continue;
            auto known = app.get_subcommands([&](CLI::App* command) { return command->get_name() == word; });
            if (known.empty()) message = "unknown command '" + word + "'";
            break;
        }
        log_error(message + " (xos-oci --help lists the commands)");
        return 1;
    }
    log_open(global.log, global.log_format == "json" ? LogFormat::Json : LogFormat::Text, global.debug);
    std::string line;
    for (int i = 0; i < argc; ++i) line += (i ? " " : "") + std::string(argv[i]);
    log_debug("command: " + line);
    try {
        if (create->parsed()) {
            create_container(global, create_options, id);
        } else if (run->parsed()) {
            return run_container(global, create_options, id);
        } else if (start->parsed()) {
            start_container(global, id);
        } else if (state->parsed()) {
            print_state(global, id);
        } else if (kill->parsed()) {
            kill_container(global, id, signal_text);
        } else if (remove->parsed()) {
            delete_container(global, id, force);
        } else if (list->parsed()) {
            print_list(global, list_format == "json");
        } else if (features->parsed()) {
            print_features();
        } else {
            std::string name = app.get_subcommands().front()->get_name();
            if (name == "exec")
                throw RuntimeError("exec is not supported by xos-oci: it has no way to start a second process "
                                   "inside a running xos VM (or hosted process); run another container from the "
                                   "same image instead");
            throw RuntimeError(name + " is not supported by xos-oci");
        }
    } catch (const std::exception& e) {
        log_error(e.what());
        return 1;
    }
    return 0;
}

}  // namespace
}  // namespace xos::oci

int main(int argc, char** argv) {
    // With fd 0, 1 or 2 closed, a pipe or the log could land there.
    for (int fd = 0; fd <= 2; ++fd)
        if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", O_RDWR) < 0) break;
    return xos::oci::dispatch(argc, argv);
}
