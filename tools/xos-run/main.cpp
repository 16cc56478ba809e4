// xos-run: boots an xos image under QEMU and exits with the application's exit status.
#include "accel.h"
#include "image_check.h"
#include "options.h"
#include "qemu_command.h"
#include "qemu_process.h"
#include "status_file.h"
#include "verdict.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <sstream>

#ifndef XOS_VERSION
#define XOS_VERSION "unknown"
#endif

namespace {

constexpr int kExitXosRunError = 125;

// With fd 0, 1 or 2 closed, our pipes could land there and be clobbered by dup2 in the child.
void ensure_standard_fds()
{
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", O_RDWR) < 0)
            break;
    }
}

void require_kvm_device()
{
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        throw UsageError(std::string("--accel kvm: cannot open /dev/kvm: ") + std::strerror(errno));
    ::close(fd);
}

std::string format_seconds(double seconds)
{
    std::ostringstream out;
    out << seconds;
    return out.str();
}

int run(const std::vector<std::string>& args)
{
    Options opts = parse_options(args);
    if (opts.help) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (opts.version) {
        std::printf("xos-run %s\n", XOS_VERSION);
        return 0;
    }
    check_xos_image(opts.image);
    for (const ShareOption& share : opts.shares)
        check_share_host_dir(share);

    AccelDecision accel = decide_accel(opts.accel, probe_host_virt());
    // Only where someone is watching: test logs should not collect this line on every run.
    if (accel.note_nested_kvm && (opts.verbose || ::isatty(STDERR_FILENO)))
        std::fputs("xos-run: note: /dev/kvm is not hardware-assisted here (nested/PVM); "
                   "using TCG (--accel kvm forces KVM)\n", stderr);
    std::string qemu = qemu_binary_for(opts);

    if (opts.dry_run) {
        auto cmd = build_qemu_command(opts, accel, qemu, StatusFile::dry_run_path(), "/dev/stderr");
        std::printf("%s\n", shell_join(cmd).c_str());
        return 0;
    }
    if (accel.accel == "kvm")
        require_kvm_device();

    TerminationSignals signals;
    StatusFile status;
    GuestStderrPipe guest_stderr;
    auto cmd = build_qemu_command(opts, accel, qemu, status.path_for_child(), guest_stderr.path_for_child());
    if (opts.verbose) {
        std::fprintf(stderr, "xos-run: accel %s (%s)\n", accel.accel.c_str(), accel.reason.c_str());
        std::fprintf(stderr, "xos-run: %s\n", shell_join(cmd).c_str());
    }

    RunResult result = run_qemu(cmd, opts.timeout_seconds, signals, guest_stderr);
    Verdict verdict = decide_verdict(parse_status_records(status.read_tail()), result.qemu,
                                     result.cause, result.stop_signal,
                                     format_seconds(opts.timeout_seconds));
    if (!verdict.message.empty() && (opts.verbose || !verdict.verbose_only))
        std::fprintf(stderr, "xos-run: %s\n", verdict.message.c_str());
    return verdict.exit_status;
}

}  // namespace

int main(int argc, char** argv)
{
    ensure_standard_fds();
    try {
        return run(std::vector<std::string>(argv, argv + argc));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xos-run: error: %s\n", e.what());
        return kExitXosRunError;
    }
}
