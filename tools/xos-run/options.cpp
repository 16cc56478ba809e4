#include "options.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

const char* const kUsage = R"(usage: xos-run [options] IMAGE [-- ARGS...]

Boots the xos image IMAGE under QEMU, copies its console to stdout and exits
with the application's exit status. ARGS become the application's argv[1..].

options:
  --accel auto|kvm|tcg  accelerator (default auto: KVM only with hardware
                        virtualization, else TCG)
  --mem SIZE            guest memory, K/M/G suffix, bare number is MiB (default 128M)
  --timeout SECONDS     kill the guest after SECONDS, exit 124 (default 0: none)
  --env KEY=VALUE       add to the application's environment (repeatable)
  --cpus N              virtual CPUs (default 1)
  --qemu PATH           QEMU binary (default $XOS_QEMU or qemu-system-x86_64)
  --qemu-arg ARG        append ARG to the QEMU command line (repeatable)
  --share HOSTDIR:GUESTPATH
                        expose the host directory HOSTDIR read-write at GUESTPATH
                        in the guest (9P2000.L over virtio; repeatable). Files the
                        guest creates belong to the user running xos-run (QEMU
                        security_model=none) with the modes the guest gave them
  --dry-run             print the QEMU command line and exit
  -v, --verbose         print the QEMU command line and accelerator on stderr
  -h, --help            print this help
  --version             print the version

exit status: the application's; 124 on timeout; 125 if xos-run or QEMU failed
or the guest stopped without reporting a status; 128+N if the guest crashed
with signal N (e.g. 139 for a page fault).
)";

namespace {

std::optional<std::uint64_t> parse_unsigned(const std::string& text)
{
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end)
        return std::nullopt;
    return value;
}

AccelChoice parse_accel(const std::string& text)
{
    if (text == "auto")
        return AccelChoice::Auto;
    if (text == "kvm")
        return AccelChoice::Kvm;
    if (text == "tcg")
        return AccelChoice::Tcg;
    throw UsageError("--accel: expected auto, kvm or tcg, got '" + text + "'");
}

unsigned parse_cpus(const std::string& text)
{
    // 255: the guest uses xAPIC IDs, which are 8 bits.
    auto n = parse_unsigned(text);
    if (!n || *n < 1 || *n > 255)
        throw UsageError("--cpus: expected a number from 1 to 255, got '" + text + "'");
    return static_cast<unsigned>(*n);
}

std::string parse_env_entry(const std::string& text)
{
    auto eq = text.find('=');
    if (eq == std::string::npos)
        throw UsageError("--env: expected KEY=VALUE, got '" + text + "'");
    if (eq == 0)
        throw UsageError("--env: empty variable name in '" + text + "'");
    return text;
}

bool takes_value(const std::string& name)
{
    return name == "--accel" || name == "--mem" || name == "--timeout" || name == "--env" ||
           name == "--cpus" || name == "--qemu" || name == "--qemu-arg" || name == "--share";
}

void apply_option(Options& opts, const std::string& name, const std::string& value)
{
    if (name == "--accel") {
        opts.accel = parse_accel(value);
    } else if (name == "--mem") {
        auto bytes = parse_mem_size(value);
        if (!bytes)
            throw UsageError("--mem: expected a size such as 128M or 1G, got '" + value + "'");
        opts.mem_bytes = *bytes;
    } else if (name == "--timeout") {
        auto seconds = parse_seconds(value);
        if (!seconds)
            throw UsageError("--timeout: expected seconds such as 10 or 2.5, got '" + value + "'");
        opts.timeout_seconds = *seconds;
    } else if (name == "--env") {
        opts.env.push_back(parse_env_entry(value));
    } else if (name == "--cpus") {
        opts.cpus = parse_cpus(value);
    } else if (name == "--qemu") {
        if (value.empty())
            throw UsageError("--qemu: empty path");
        opts.qemu = value;
    } else if (name == "--qemu-arg") {
        opts.qemu_args.push_back(value);
    } else if (name == "--share") {
        opts.shares.push_back(parse_share(value));
    }
}

bool apply_flag(Options& opts, const std::string& arg)
{
    if (arg == "--dry-run")
        opts.dry_run = true;
    else if (arg == "-v" || arg == "--verbose")
        opts.verbose = true;
    else if (arg == "-h" || arg == "--help")
        opts.help = true;
    else if (arg == "--version")
        opts.version = true;
    else
        return false;
    return true;
}

}  // namespace

ShareOption parse_share(const std::string& text)
{
    auto colon = text.rfind(":/");
    if (colon == std::string::npos || colon == 0)
        throw UsageError("--share: expected HOSTDIR:GUESTPATH with an absolute GUESTPATH, got '" + text + "'");
    ShareOption share{text.substr(0, colon), text.substr(colon + 1)};
    if (share.guest_path.find_first_not_of('/') == std::string::npos)
        throw UsageError("--share: GUESTPATH cannot be / (got '" + text + "')");
    return share;
}

void check_share_host_dir(const ShareOption& share)
{
    struct stat st;
    if (::stat(share.host_dir.c_str(), &st) != 0)
        throw UsageError("--share: " + share.host_dir + ": " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode))
        throw UsageError("--share: " + share.host_dir + ": not a directory");
}

std::optional<std::uint64_t> parse_mem_size(const std::string& text)
{
    if (text.empty())
        return std::nullopt;
    std::string digits = text;
    unsigned shift = 20;  // a bare number is MiB, as for QEMU's -m
    switch (text.back()) {
    case 'K': case 'k': shift = 10; digits.pop_back(); break;
    case 'M': case 'm': shift = 20; digits.pop_back(); break;
    case 'G': case 'g': shift = 30; digits.pop_back(); break;
    default: break;
    }
    auto n = parse_unsigned(digits);
    if (!n || *n == 0 || *n > (UINT64_MAX >> shift))
        return std::nullopt;
    return *n << shift;
}

std::optional<double> parse_seconds(const std::string& text)
{
    // Digits with at most one '.', so strtod's hex, exponents, "inf" and "nan" never get in.
    bool seen_digit = false, seen_dot = false;
    for (char c : text) {
        if (c >= '0' && c <= '9')
            seen_digit = true;
        else if (c == '.' && !seen_dot)
            seen_dot = true;
        else
            return std::nullopt;
    }
    if (!seen_digit)
        return std::nullopt;
    errno = 0;
    double value = std::strtod(text.c_str(), nullptr);
    if (errno != 0 || !std::isfinite(value) || value > 1e9)
        return std::nullopt;
    return value;
}

Options parse_options(const std::vector<std::string>& argv)
{
    Options opts;
    bool have_image = false;
    for (std::size_t i = 1; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        if (arg == "--") {
            opts.app_args.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
            break;
        }
        if (arg.size() > 1 && arg[0] == '-') {
            if (apply_flag(opts, arg))
                continue;
            auto eq = arg.find('=');
            std::string name = arg.substr(0, eq);
            if (!takes_value(name))
                throw UsageError("unknown option '" + arg + "' (see --help)");
            if (eq != std::string::npos) {
                apply_option(opts, name, arg.substr(eq + 1));
            } else {
                if (i + 1 >= argv.size())
                    throw UsageError(name + ": missing value");
                apply_option(opts, name, argv[++i]);
            }
            continue;
        }
        if (have_image)
            throw UsageError("unexpected argument '" + arg +
                             "' after IMAGE (application arguments go after --)");
        opts.image = arg;
        have_image = true;
    }
    if (!have_image && !opts.help && !opts.version)
        throw UsageError("no IMAGE given (usage: xos-run [options] IMAGE [-- ARGS...])");
    return opts;
}
