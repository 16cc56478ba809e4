// xos-run: boots an xos image under QEMU and exits with the application's exit status.
#include "accel.h"
#include "container_image.h"
#include "executable_root.h"
#include "generic_kernel.h"
#include "hosted_nic.h"
#include "image_check.h"
#include "options.h"
#include "qemu_command.h"
#include "qemu_process.h"
#include "status_file.h"
#include "terminal.h"
#include "verdict.h"
#include "xen_run.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <string_view>

#ifndef XOS_VERSION
#define XOS_VERSION "unknown"
#endif

namespace {

constexpr int kExitXosRunError = 125;

// With fd 0, 1 or 2 closed, our pipes could land there and be clobbered by dup2 in the child.
void ensure_standard_fds() {
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", O_RDWR) < 0) break;
    }
}

void require_kvm_device() {
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) throw UsageError(std::string("--accel kvm: cannot open /dev/kvm: ") + std::strerror(errno));
    ::close(fd);
}

std::string format_seconds(double seconds) {
    std::ostringstream out;
    out << seconds;
    return out.str();
}

bool write_whole_file(const char* path, const std::string& text) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    bool written = fd >= 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size());
    if (fd >= 0) ::close(fd);
    return written;
}

// Like fork(), but the child is pid 1 of a new pid namespace (so the hosted image sees no host
// process at all), owned by a new user namespace that maps the user's own uid and gid to
// themselves (what lets an unprivileged user make it; files keep their owners). The image's
// own sandbox (platform/hosted/sandbox.cpp) nests its namespaces inside. Where the host
// refuses (no unprivileged user namespaces), an ordinary fork, said with -v.
pid_t fork_into_pid_namespace(bool verbose) {
    std::string uid_map = std::to_string(::getuid()) + " " + std::to_string(::getuid()) + " 1\n";
    std::string gid_map = std::to_string(::getgid()) + " " + std::to_string(::getgid()) + " 1\n";
    auto pid = pid_t(::syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
    if (pid < 0) {
        if (verbose)
            std::fprintf(stderr, "xos-run: note: no pid namespace for the hosted image (%s)\n", std::strerror(errno));
        return ::fork();
    }
    if (pid == 0 &&
        !(write_whole_file("/proc/self/uid_map", uid_map) && write_whole_file("/proc/self/setgroups", "deny") &&
          write_whole_file("/proc/self/gid_map", gid_map))) {
        std::fprintf(stderr, "xos-run: error: cannot map the user into the image's user namespace: %s\n",
                     std::strerror(errno));
        ::_exit(kExitXosRunError);
    }
    return pid;
}

// A hosted image (xos-build --platform hosted) is a static Linux executable: run it directly,
// with a clean environment of the --env values plus the platform's XOS_MEM, XOS_SHARE_<i>
// (--share), XOS_DISK_<i> (--disk) and XOS_STATUS_FD (a pipe that receives the same "exit N" / "crash N reason"
// record as the VM's status port); with -p / --net, XOS_NIC_FD on a socket to passt or a tap
// device (hosted_nic.h).
// The host signal that carries a forwarded signal to a hosted image (its number in the sigqueue
// value): platform/hosted/host.h's SIGNAL_FORWARD.
constexpr int kHostedForwardSignal = 40;

int run_hosted(const Options& opts) {
    std::vector<std::string> argv{opts.image};
    argv.insert(argv.end(), opts.app_args.begin(), opts.app_args.end());
    std::vector<std::string> env = opts.env;
    env.push_back("XOS_MEM=" + std::to_string(opts.mem_bytes >> 10) + "K");
    // --cpus: host threads as vCPUs (platform/hosted/vcpu.cpp); one is the platform as it was.
    if (opts.cpus > 1) env.push_back("XOS_CPUS=" + std::to_string(opts.cpus));
    if (!opts.rootfs_size.empty())  // bytes (a multiple of 1K: parse_mem_size) or "N%"
        env.push_back("XOS_ROOTFS_SIZE=" +
                      (opts.rootfs_size.back() == '%' ? opts.rootfs_size
                                                      : std::to_string(std::stoull(opts.rootfs_size) >> 10) + "K"));
    // --share: the image opens each directory itself (platform/hosted/hostfs.cpp).
    for (const ShareOption& share : opts.shares) check_share_host_dir(share);
    for (std::size_t i = 0; i < opts.shares.size(); ++i)
        env.push_back("XOS_SHARE_" + std::to_string(i) + "=" + opts.shares[i].host_dir + ":" +
                      opts.shares[i].guest_path +
                      (opts.shares[i].mode == ShareMode::Passthrough ? ":passthrough" : "") +
                      (opts.shares[i].read_only ? ":ro" : ""));
    if (!opts.guest_root.empty()) env.push_back("XOS_ROOT=" + opts.guest_root);  // --rootfs, --root-image
    if (opts.forward_signals) env.push_back("XOS_FORWARD_SIGNALS=1");
    // --disk: the image opens each file itself (platform/hosted/block.cpp).
    for (std::size_t i = 0; i < opts.disks.size(); ++i) {
        check_disk_file(opts.disks[i]);
        env.push_back("XOS_DISK_" + std::to_string(i) + "=" + opts.disks[i].path +
                      (opts.disks[i].read_only ? ":ro" : ""));
    }
    // --tmpfs, --hostname: tokens as on a VM's command line (XOS_BOOT_TOKENS, with the NIC's below).
    if (std::string tokens = guest_mount_tokens(opts); !tokens.empty())
        env.push_back("XOS_BOOT_TOKENS=" + tokens.substr(1));
    if (opts.dry_run) {
        if (opts.net == NetMode::User)  // the network: passt on one end of a socket pair (fd 3 here)
            std::printf("%s &\n", shell_join(HostedNic::passt_command(opts, 3, "PIDFILE")).c_str());
        std::printf("env -i %s %s\n", shell_join(env).c_str(), shell_join(argv).c_str());
        return 0;
    }
    std::optional<HostedNic> nic;  // --net / -p: passt or a tap device (hosted_nic.h)
    if (opts.net != NetMode::None) {
        nic.emplace(opts);
        for (auto& variable : nic->environment()) {
            auto boot = std::find_if(env.begin(), env.end(),
                                     [](const std::string& e) { return e.starts_with("XOS_BOOT_TOKENS="); });
            if (variable.starts_with("XOS_BOOT_TOKENS=") && boot != env.end())
                *boot += " " + variable.substr(16);
            else
                env.push_back(variable);
        }
    }
    int status_pipe[2];
    if (::pipe2(status_pipe, O_CLOEXEC) != 0) throw UsageError(std::string("pipe: ") + std::strerror(errno));
    env.push_back("XOS_STATUS_FD=" + std::to_string(status_pipe[1]));
    std::vector<char*> argv_c, env_c;
    for (auto& a : argv) argv_c.push_back(a.data());
    argv_c.push_back(nullptr);
    for (auto& e : env) env_c.push_back(e.data());
    env_c.push_back(nullptr);
    if (opts.verbose)
        std::fprintf(stderr, "xos-run: hosted image: env -i %s %s\n", shell_join(env).c_str(),
                     shell_join(argv).c_str());

    // A terminal on stdin goes raw for the run (the image's line discipline has the keys; Ctrl-] .
    // leaves: platform/hosted/console.cpp); SIGINT, SIGTERM and SIGHUP to xos-run end the image
    // and the terminal is restored after. A run in the background reads no terminal.
    bool foreground_terminal = stdin_is_foreground_terminal();
    RawTerminal terminal;
    sigset_t termination, original_mask;
    sigemptyset(&termination);
    for (int signo : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&termination, signo);
    if (opts.forward_signals)
        for (int signo : {SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&termination, signo);
    ::sigprocmask(SIG_BLOCK, &termination, &original_mask);
    pid_t pid = fork_into_pid_namespace(opts.verbose);
    if (pid < 0) throw UsageError(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the image (and so passt) must not outlive xos-run
        ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
        if (::isatty(STDIN_FILENO) && !foreground_terminal) {
            int null_fd = ::open("/dev/null", O_RDONLY);
            if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
        }
        // Nothing xos-run inherited reaches the image but 0-2 and the two descriptors it is told
        // about (the image closes the rest itself too: platform/hosted/sandbox.cpp).
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        ::fcntl(status_pipe[1], F_SETFD, 0);
        if (nic) ::fcntl(nic->image_fd(), F_SETFD, 0);
        ::execve(opts.image.c_str(), argv_c.data(), env_c.data());
        std::fprintf(stderr, "xos-run: error: cannot execute %s: %s\n", opts.image.c_str(), std::strerror(errno));
        ::_exit(kExitXosRunError);
    }
    ::close(status_pipe[1]);
    if (nic) nic->close_image_fd();

    int wait_status = 0;
    bool timed_out = false;
    int stop_signal = 0;
    struct timespec start, now;
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t done = ::waitpid(pid, &wait_status, WNOHANG);
        if (done == pid) break;
        struct timespec no_wait{0, 0};
        if (int signo = ::sigtimedwait(&termination, nullptr, &no_wait); signo > 0 && opts.forward_signals) {
            // to the app's first process: the hosted platform queues it (platform/hosted/signals.cpp)
            union sigval value;
            value.sival_int = signo == SIGTERM ? opts.sigterm_becomes : signo;
            ::sigqueue(pid, kHostedForwardSignal, value);
        } else if (signo > 0 && !stop_signal) {
            stop_signal = signo;
            ::kill(pid, SIGKILL);
        }
        if (done < 0 && errno != EINTR) throw UsageError(std::string("waitpid: ") + std::strerror(errno));
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        double elapsed = double(now.tv_sec - start.tv_sec) + double(now.tv_nsec - start.tv_nsec) / 1e9;
        if (opts.timeout_seconds > 0 && elapsed >= opts.timeout_seconds && !timed_out) {
            ::kill(pid, SIGKILL);
            timed_out = true;
        }
        struct timespec pause{0, 1000000};
        ::nanosleep(&pause, nullptr);
    }
    std::string records;
    char buffer[512];
    for (ssize_t n; (n = ::read(status_pipe[0], buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        records.append(buffer, size_t(n));
    }
    ::close(status_pipe[0]);

    auto record = parse_status_records(records);
    Verdict verdict{0, ""};
    if (stop_signal) {
        verdict = {128 + stop_signal, ""};
    } else if (timed_out || record) {
        verdict = decide_verdict(record, QemuEnd{true, 0}, timed_out ? StopCause::Timeout : StopCause::GuestDone, 0,
                                 format_seconds(opts.timeout_seconds));
    } else if (WIFSIGNALED(wait_status)) {
        verdict = {128 + WTERMSIG(wait_status),
                   "error: the hosted image was killed by signal " + std::to_string(WTERMSIG(wait_status))};
    } else {
        verdict = {WEXITSTATUS(wait_status), ""};  // it could not start (125) and said why
    }
    if (!verdict.message.empty() && (opts.verbose || !verdict.verbose_only))
        std::fprintf(stderr, "xos-run: %s\n", verdict.message.c_str());
    ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    return verdict.exit_status;
}

// The emulator form with an xos-cc image (ctest runs tests in their build directories), as
// when it runs directly (platform/hosted/start.cpp): the host's file system read-only as the
// program's root (9p, its writes in memory), the current directory read-write at its own path
// (passthrough: the files a test writes get the modes it gives them), where it starts.
void share_host_view(Options& opts) {
    if (opts.guest_root.empty()) {
        opts.shares.push_back(ShareOption{"/", "/.xos-host", ShareMode::Passthrough, true, true});
        opts.guest_root = "/.xos-host";
    }
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd) || std::string_view(cwd) == "/" || std::strchr(cwd, ':')) return;
    opts.shares.push_back(ShareOption{cwd, cwd, ShareMode::Passthrough, false});
    opts.guest_cwd = cwd;
}

int run(const std::vector<std::string>& args) {
    Options opts = parse_options(args);
    if (opts.help) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (opts.version) {
        std::printf("xos-run %s\n", XOS_VERSION);
        return 0;
    }
    // A container image (xos-build --from-image): its tree, config and generic kernel.
    if (auto description = container_image_description(opts.image))
        apply_container_image(opts, *description);
    else if (opts.entrypoint || opts.workdir || opts.user)
        throw UsageError("--entrypoint, --workdir and --user go with a container image (xos-build --from-image)");
    // An executable instead of an image: its closure from the host in a temporary root.
    std::optional<TemporaryRoot> temporary_root;
    if (opts.rootfs.empty() && opts.root_image.empty()) {
        if (auto program = program_instead_of_image(opts.image)) {
            temporary_root.emplace(*program, opts.verbose);
            apply_program(opts, *program, *temporary_root);
        }
    }
    apply_rootfs(opts);
    if (!opts.container_kernel.empty()) opts.image = opts.container_kernel;
    ImageKind kind = check_xos_image(opts.image);
    // xos-cc's output: a hosted image carrying the VM image, which is what xos-run boots unless
    // --platform hosted asks for the hosted one (it shares the current directory itself).
    std::optional<ExtractedImage> vm_image;
    if (auto embedded = kind == ImageKind::Hosted ? embedded_vm_image(opts.image) : std::nullopt;
        embedded && opts.platform != "hosted") {
        vm_image.emplace(opts.image, *embedded);
        opts.kernel = vm_image->path();
        kind = check_xos_image(opts.kernel);
        if (opts.emulator_form) share_host_view(opts);
    }
    // An xos-build --exec image runs a program's code from its initrd (as --rootfs does).
    if (kind == ImageKind::Hosted && opts.rootfs.empty() && opts.root_image.empty() && image_loads_code(opts.image))
        opts.env.push_back("XOS_EXEC=wx");
    if (kind == ImageKind::Hosted) return run_hosted(opts);
    if (opts.hypervisor == "xen") return run_xen(opts);
    for (const ShareOption& share : opts.shares) check_share_host_dir(share);
    for (const DiskOption& disk : opts.disks) check_disk_file(disk);

    AccelDecision accel = decide_accel(opts.accel, probe_host_virt());
    // Only where someone is watching: test logs should not collect this line on every run.
    if (accel.note_nested_kvm && (opts.verbose || ::isatty(STDERR_FILENO)))
        std::fputs("xos-run: note: /dev/kvm is not hardware-assisted here (nested/PVM); "
                   "using TCG (--accel kvm forces KVM)\n",
                   stderr);
    std::string qemu = qemu_binary_for(opts);

    // What our stdio are (the image's fds 0-2 are terminals only where ours are) and the
    // terminal's size: platform/kvm/console.cpp reads them.
    opts.console_tokens = " xos.stdio=" + stdio_kinds();
    if (opts.forward_signals) opts.console_tokens += " xos.signals";
    if (uint16_t rows, cols; terminal_size(rows, cols))
        opts.console_tokens += " xos.winsize=" + std::to_string(rows) + "x" + std::to_string(cols);
    if (opts.dry_run) {
        auto cmd = build_qemu_command(opts, accel, qemu, StatusFile::dry_run_path(), "/dev/stderr");
        std::printf("%s\n", shell_join(cmd).c_str());
        return 0;
    }
    if (accel.accel == "kvm") require_kvm_device();

    TerminationSignals signals(opts.forward_signals);
    StatusFile status;
    GuestStderrPipe guest_stderr;
    auto cmd = build_qemu_command(opts, accel, qemu, status.path_for_child(), guest_stderr.path_for_child());
    if (opts.verbose) {
        std::fprintf(stderr, "xos-run: accel %s (%s)\n", accel.accel.c_str(), accel.reason.c_str());
        std::fprintf(stderr, "xos-run: %s\n", shell_join(cmd).c_str());
    }

    RawTerminal terminal;  // raw while the VM runs: the guest's line discipline has the keys
    RunResult result = run_qemu(cmd, opts.timeout_seconds, signals, guest_stderr, terminal.active(),
                                opts.forward_signals, opts.sigterm_becomes);
    Verdict verdict = decide_verdict(parse_status_records(status.read_tail()), result.qemu, result.cause,
                                     result.stop_signal, format_seconds(opts.timeout_seconds));
    if (!verdict.message.empty() && (opts.verbose || !verdict.verbose_only))
        std::fprintf(stderr, "xos-run: %s\n", verdict.message.c_str());
    return verdict.exit_status;
}

}  // namespace

int main(int argc, char** argv) {
    ensure_standard_fds();
    try {
        return run(std::vector<std::string>(argv, argv + argc));
    } catch (const ProgramError& e) {
        std::fprintf(stderr, "xos-run: error: %s\n", e.what());
        return e.status;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xos-run: error: %s\n", e.what());
        return kExitXosRunError;
    }
}
