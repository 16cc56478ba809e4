#include "options.h"

#include "cmdline.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <arpa/inet.h>

const char* const kUsage = R"(usage: xos-run [options] IMAGE [-- ARGS...]
       xos-run [options] CONTAINER.xos [-- CMD...]
       xos-run [options] -- IMAGE [ARGS...]
       xos-run [options] [--platform kvm|hosted] PROGRAM [-- ARGS...]
       xos-run [options] --rootfs DIR [--platform kvm|hosted] -- PROGRAM [ARGS...]
       xos-run [options] --root-image FILE [--platform kvm|hosted] -- PROGRAM [ARGS...]

Boots the xos image IMAGE under QEMU, copies its console to stdout and exits
with the application's exit status. ARGS become the application's argv[1..].

A CONTAINER.xos made by `xos-build --from-image` (the generic kernel with
CONTAINER.xos.json, .erofs and .root next to it) runs the image's Entrypoint and
Cmd with its Env, WorkingDir and User, as `docker run` would; CMD replaces the
image's Cmd (docs/container-images.md).

An executable made by xos-cc/xos-c++ is a hosted image carrying a VM image:
xos-run boots the VM image (--platform hosted runs the hosted one). The second
form (CMAKE_CROSSCOMPILING_EMULATOR="xos-run;--") also gives it the host's /
read-only as its root and the current directory read-write, where it starts
(as when it runs directly; docs/toolchain.md).

A PROGRAM instead of an IMAGE (a Linux executable or #! script of this host, or
a name looked up in PATH) runs unmodified with the generic kernel: PROGRAM, its
ELF interpreter and libraries and the host's /etc/passwd, group, nsswitch.conf,
hosts, localtime and ld.so.cache are linked or copied into a temporary root,
which is used as with --rootfs and removed afterwards (also after ^C). Exit 127
if PROGRAM does not exist, 126 if it cannot run (not ELF, another machine, a
library not found).

options:
  --rootfs DIR[:rw|:ro] run the unmodified Linux executable PROGRAM (a path in DIR)
                        with the generic kernel image instead of an IMAGE; DIR is
                        the program's root, read-only under a writable layer in
                        memory (--rootfs-size), with /dev, /proc and an empty /tmp;
                        :rw writes to DIR itself; :ro is a read-only root (writes
                        fail with EROFS, as a read-only mount; no /tmp of its own:
                        add --tmpfs /tmp); with :rw and :ro, libos makes missing
                        mount points (/dev, /proc, --tmpfs and --share paths) in
                        DIR (docs/unmodified-binaries.md)
  --root-image FILE     as --rootfs, but the root is the EROFS image FILE (made by
                        mkfs.erofs, uncompressed): a read-only disk (virtio-blk on
                        a VM, the file opened read-only on hosted; the first disk,
                        /dev/vda, before any --disk) under a writable layer in
                        memory. Many VMs can share one FILE; it is never written
                        (docs/root-filesystems.md)
  --platform kvm|hosted generic kernel for --rootfs, --root-image and PROGRAM: a VM
                        (default) or a process
  --accel auto|kvm|tcg  accelerator (default auto: KVM only with hardware
                        virtualization, else TCG)
  --machine microvm|q35|pc
                        QEMU machine (default microvm: virtio-mmio devices, fastest
                        boot); q35 and pc boot through SeaBIOS and give the guest
                        virtio-pci devices (modern only: disable-legacy=on)
  --mem SIZE            guest memory, K/M/G suffix, bare number is MiB (default 128M)
  --rootfs-size SIZE|N% size limit of the root file system (ramfs, or --rootfs's
                        writable layer, in the guest's memory; as tmpfs' size=):
                        SIZE as for --mem, or N% of the
                        memory free at boot (default 50%). Writes beyond it fail
                        with ENOSPC and the rest of memory stays the program's
  --timeout SECONDS     kill the guest after SECONDS, exit 124 (default 0: none)
  --env KEY=VALUE       add to the application's environment (repeatable; for a
                        container image it overrides the image's Env for KEY)
  --entrypoint PROGRAM  container image (xos-build --from-image): run PROGRAM instead
                        of the image's Entrypoint, and drop its Cmd (as docker run)
  --workdir DIR         container image: the working directory instead of WorkingDir
  --user UID[:GID]|NAME[:GROUP]
                        container image: the user instead of the image's User (names
                        from the image's /etc/passwd and /etc/group)
  --cpus N              virtual CPUs (default $XOS_CPUS or 1; MTTCG under TCG; host threads on hosted)
  --qemu PATH           QEMU binary (default $XOS_QEMU or qemu-system-x86_64)
  --qemu-arg ARG        append ARG to the QEMU command line (repeatable)
  --share HOSTDIR:GUESTPATH[:passthrough][:ro]
                        expose the host directory HOSTDIR read-write at GUESTPATH
                        in the guest (9P2000.L over virtio; repeatable). Files the
                        guest creates are plain files of the user running xos-run
                        (mode 0600, directories 0700); the owners, modes and file
                        types the guest sets are kept in user.virtfs.* extended
                        attributes (QEMU security_model=mapped-xattr), so no
                        setuid file or device node reaches the host. HOSTDIR must
                        support user xattrs. :passthrough gives host files the
                        guest's modes and types instead (security_model=none: as
                        root, the guest can create setuid-root files and device
                        nodes on the host); :ro makes it read-only (EROFS)
  --tmpfs PATH[:OPTIONS]
                        a tmpfs (a ramfs in guest memory) at PATH (repeatable, 8 at
                        most), mounted before the shares; OPTIONS comma separated:
                        size=N[k|m|g] or N% of the memory free at boot (default
                        50%), mode=OCTAL (default 1777), uid=N, gid=N; ro (EROFS),
                        noexec (execve EACCES, mmap PROT_EXEC EPERM), nodev (device
                        nodes cannot be opened: EACCES), nosuid (shown; set-user-ID
                        bits are never honoured in an image) and rw, exec, dev,
                        suid, noatime, relatime are accepted
  --file HOSTFILE:GUESTPATH
                        a copy of the host file HOSTFILE (8 KiB at most, text) at
                        GUESTPATH in the guest, with HOSTFILE's mode, written at
                        boot once every file system is mounted (so also below a
                        --tmpfs path); its directories are made (repeatable, 16
                        at most). Writes in the guest do not reach HOSTFILE
  --hostname NAME       the guest's host name (uname's nodename,
                        /proc/sys/kernel/hostname; default xos); root in the
                        guest may change it with sethostname(2)
  --disk FILE[:ro]      a host file (or block device) as a disk: /dev/vda, /dev/vdb,
                        ... in the order given (virtio-blk; repeatable). Raw format,
                        no caching in the guest; :ro makes it read-only
  -p [tcp:|udp:]HOSTPORT:GUESTPORT
                        forward HOSTPORT on the host (all addresses) to GUESTPORT
                        in the guest (TCP unless udp:; repeatable; implies --net user)
  --net user|tap:IFNAME network card (virtio-net): QEMU user networking (NAT, DHCP,
                        the host is 10.0.2.2, DNS 10.0.2.3) or the existing tap
                        device IFNAME (for throughput; configure the host side)
  --ip ADDR/PREFIX      static IPv4 address instead of DHCP (e.g. 192.168.100.2/24)
  --gw ADDR             default gateway with --ip
  --dns ADDR            DNS server (the guest's /etc/resolv.conf)
  --net-echo PORT       diagnostic: libos answers TCP PORT with an echo service
                        (tests the network stack without the app)
  --hypervisor qemu|xen qemu (default): boot under QEMU. xen: on a Xen dom0, run the
                        image as a Xen PVH guest with xl (memory, vCPUs, argv, env,
                        --disk as xvda..., --ip/--gw, --xen-bridge); its console is
                        shown and its exit status read from xenstore (docs/xen.md)
  --xen-bridge NAME     with --hypervisor xen: a network card on dom0's bridge NAME
  --forward-signals     SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to
                        xos-run go to the application's first process (its
                        handlers run) instead of ending the run (xos-oci uses it;
                        SIGKILL still ends the VM)
  --dry-run             print the QEMU command line (xl config) and exit
  -v, --verbose         print the QEMU command line and accelerator on stderr
  -h, --help            print this help
  --version             print the version

stdin: the application's (a pipe or a file: end of file where it ends). From a
terminal, the application gets a terminal: yours is raw while it runs, and ^C
goes to the application; type Ctrl-] then . to end the run (status 130).

exit status: the application's; 124 on timeout; 125 if xos-run or QEMU failed
or the guest stopped without reporting a status; 128+N if the guest crashed
with signal N (e.g. 139 for a page fault).
)";

namespace {

std::optional<std::uint64_t> parse_unsigned(const std::string& text) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end) return std::nullopt;
    return value;
}

AccelChoice parse_accel(const std::string& text) {
    if (text == "auto") return AccelChoice::Auto;
    if (text == "kvm") return AccelChoice::Kvm;
    if (text == "tcg") return AccelChoice::Tcg;
    throw UsageError("--accel: expected auto, kvm or tcg, got '" + text + "'");
}

MachineType parse_machine(const std::string& text) {
    if (text == "microvm") return MachineType::Microvm;
    if (text == "q35") return MachineType::Q35;
    if (text == "pc") return MachineType::Pc;
    throw UsageError("--machine: expected microvm, q35 or pc, got '" + text + "'");
}

unsigned parse_cpus(const std::string& text) {
    // 255: the guest uses xAPIC IDs, which are 8 bits.
    auto n = parse_unsigned(text);
    if (!n || *n < 1 || *n > 255) throw UsageError("--cpus: expected a number from 1 to 255, got '" + text + "'");
    return static_cast<unsigned>(*n);
}

std::string parse_env_entry(const std::string& text) {
    auto eq = text.find('=');
    if (eq == std::string::npos) throw UsageError("--env: expected KEY=VALUE, got '" + text + "'");
    if (eq == 0) throw UsageError("--env: empty variable name in '" + text + "'");
    return text;
}

unsigned parse_port(const std::string& text, const std::string& option) {
    auto n = parse_unsigned(text);
    if (!n || *n < 1 || *n > 65535) throw UsageError(option + ": expected a port from 1 to 65535, got '" + text + "'");
    return static_cast<unsigned>(*n);
}

bool is_ipv4(const std::string& text) {
    in_addr address;
    return inet_pton(AF_INET, text.c_str(), &address) == 1;
}

std::string parse_ip_prefix(const std::string& text) {
    auto slash = text.find('/');
    auto prefix = slash == std::string::npos ? std::nullopt : parse_unsigned(text.substr(slash + 1));
    if (slash == std::string::npos || !is_ipv4(text.substr(0, slash)) || !prefix || *prefix > 32)
        throw UsageError("--ip: expected an IPv4 ADDR/PREFIX such as 192.168.100.2/24, got '" + text + "'");
    return text;
}

void parse_net(Options& opts, const std::string& text) {
    if (text == "user") {
        opts.net = NetMode::User;
    } else if (text.rfind("tap:", 0) == 0 && text.size() > 4 && text.size() <= 4 + 15 &&
               text.find_first_of(", /=") == std::string::npos) {
        opts.net = NetMode::Tap;
        opts.tap_ifname = text.substr(4);
    } else {
        throw UsageError("--net: expected user or tap:IFNAME, got '" + text + "'");
    }
}

bool takes_value(const std::string& name) {
    return name == "--rootfs" || name == "--root-image" || name == "--platform" || name == "--accel" ||
        name == "--machine" || name == "--mem" || name == "--rootfs-size" || name == "--timeout" || name == "--env" ||
        name == "--cpus" || name == "--qemu" || name == "--qemu-arg" || name == "--share" || name == "--disk" ||
        name == "--tmpfs" || name == "--file" || name == "--hostname" || name == "-p" || name == "--net" ||
        name == "--ip" || name == "--gw" || name == "--dns" || name == "--net-echo" || name == "--entrypoint" ||
        name == "--workdir" || name == "--user" || name == "--hypervisor" || name == "--xen-bridge";
}

void apply_option(Options& opts, const std::string& name, const std::string& value) {
    if (name == "--rootfs") {
        if (value.empty()) throw UsageError("--rootfs: empty path");
        opts.rootfs = value;
        opts.rootfs_writable = value.size() > 3 && value.ends_with(":rw");
        opts.rootfs_read_only = value.size() > 3 && value.ends_with(":ro");
        if (opts.rootfs_writable || opts.rootfs_read_only) opts.rootfs.resize(value.size() - 3);
    } else if (name == "--root-image") {
        if (value.empty()) throw UsageError("--root-image: empty path");
        opts.root_image = value;
    } else if (name == "--platform") {
        if (value != "kvm" && value != "hosted")
            throw UsageError("--platform: expected kvm or hosted, got '" + value + "'");
        opts.platform = value;
    } else if (name == "--accel") {
        opts.accel = parse_accel(value);
    } else if (name == "--machine") {
        opts.machine = parse_machine(value);
    } else if (name == "--mem") {
        auto bytes = parse_mem_size(value);
        if (!bytes) throw UsageError("--mem: expected a size such as 128M or 1G, got '" + value + "'");
        opts.mem_bytes = *bytes;
    } else if (name == "--rootfs-size") {
        opts.rootfs_size = parse_rootfs_size(value);
    } else if (name == "--timeout") {
        auto seconds = parse_seconds(value);
        if (!seconds) throw UsageError("--timeout: expected seconds such as 10 or 2.5, got '" + value + "'");
        opts.timeout_seconds = *seconds;
    } else if (name == "--env") {
        opts.env.push_back(parse_env_entry(value));
    } else if (name == "--cpus") {
        opts.cpus = parse_cpus(value);
    } else if (name == "--qemu") {
        if (value.empty()) throw UsageError("--qemu: empty path");
        opts.qemu = value;
    } else if (name == "--qemu-arg") {
        opts.qemu_args.push_back(value);
    } else if (name == "--share") {
        opts.shares.push_back(parse_share(value));
    } else if (name == "--disk") {
        opts.disks.push_back(parse_disk(value));
    } else if (name == "--file") {
        if (opts.files.size() == kMaxFiles) throw UsageError("--file: at most 16 files");
        opts.files.push_back(parse_file_option(value));
    } else if (name == "--tmpfs") {
        if (opts.tmpfs.size() == 8) throw UsageError("--tmpfs: at most 8 tmpfs mounts");
        opts.tmpfs.push_back(parse_tmpfs(value));
    } else if (name == "--hostname") {
        if (value.empty() || value.size() > 64)
            throw UsageError("--hostname: expected a name of 1 to 64 bytes, got '" + value + "'");
        opts.hostname = value;
    } else if (name == "-p") {
        opts.forwards.push_back(parse_port_forward(value));
    } else if (name == "--net") {
        parse_net(opts, value);
    } else if (name == "--ip") {
        opts.net_ip = parse_ip_prefix(value);
    } else if (name == "--gw") {
        if (!is_ipv4(value)) throw UsageError("--gw: expected an IPv4 address, got '" + value + "'");
        opts.net_gw = value;
    } else if (name == "--dns") {
        in6_addr address6;
        if (!is_ipv4(value) && inet_pton(AF_INET6, value.c_str(), &address6) != 1)
            throw UsageError("--dns: expected an IPv4 or IPv6 address, got '" + value + "'");
        opts.net_dns = value;
    } else if (name == "--entrypoint") {
        opts.entrypoint = value;
    } else if (name == "--workdir") {
        if (value.empty() || value.front() != '/')
            throw UsageError("--workdir: expected an absolute path, got '" + value + "'");
        opts.workdir = value;
    } else if (name == "--user") {
        if (value.empty() || value.front() == ':' || value.back() == ':' ||
            value.find_first_of(" \t\n/") != std::string::npos)
            throw UsageError("--user: expected UID[:GID] or NAME[:GROUP], got '" + value + "'");
        opts.user = value;
    } else if (name == "--net-echo") {
        opts.net_echo_port = parse_port(value, "--net-echo");
    } else if (name == "--hypervisor") {
        if (value != "qemu" && value != "xen")
            throw UsageError("--hypervisor: expected qemu or xen, got '" + value + "'");
        opts.hypervisor = value;
    } else if (name == "--xen-bridge") {
        if (value.empty() || value.size() > 15 || value.find_first_of(", /=\"'") != std::string::npos)
            throw UsageError("--xen-bridge: expected a bridge name, got '" + value + "'");
        opts.xen_bridge = value;
    }
}

bool apply_flag(Options& opts, const std::string& arg) {
    if (arg == "--dry-run")
        opts.dry_run = true;
    else if (arg == "--forward-signals")
        opts.forward_signals = true;
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

ShareOption parse_share(const std::string& text) {
    std::string paths = text;
    ShareMode mode = ShareMode::Mapped;
    bool read_only = paths.size() > 3 && paths.ends_with(":ro");
    if (read_only) paths.resize(paths.size() - 3);
    for (auto [suffix, suffix_mode] : {std::pair{std::string(":passthrough"), ShareMode::Passthrough},
                                       std::pair{std::string(":mapped"), ShareMode::Mapped}}) {
        if (paths.size() > suffix.size() && paths.compare(paths.size() - suffix.size(), suffix.size(), suffix) == 0) {
            paths.resize(paths.size() - suffix.size());
            mode = suffix_mode;
            break;
        }
    }
    auto colon = paths.rfind(":/");
    if (colon == std::string::npos || colon == 0)
        throw UsageError("--share: expected HOSTDIR:GUESTPATH[:passthrough][:ro] with an absolute GUESTPATH, got '" +
                         text + "'");
    ShareOption share{paths.substr(0, colon), paths.substr(colon + 1), mode, read_only};
    if (share.guest_path.find_first_not_of('/') == std::string::npos)
        throw UsageError("--share: GUESTPATH cannot be / (got '" + text + "')");
    return share;
}

PortForward parse_port_forward(const std::string& text) {
    PortForward forward{"tcp", 0, 0};
    std::string rest = text;
    for (const char* protocol : {"tcp", "udp"}) {
        if (rest.rfind(std::string(protocol) + ":", 0) == 0) {
            forward.protocol = protocol;
            rest = rest.substr(4);
            break;
        }
    }
    auto colon = rest.find(':');
    if (colon == std::string::npos) throw UsageError("-p: expected [tcp:|udp:]HOSTPORT:GUESTPORT, got '" + text + "'");
    forward.host_port = parse_port(rest.substr(0, colon), "-p");
    forward.guest_port = parse_port(rest.substr(colon + 1), "-p");
    return forward;
}

DiskOption parse_disk(const std::string& text) {
    DiskOption disk{text, false};
    if (text.size() > 3 && text.compare(text.size() - 3, 3, ":ro") == 0) {
        disk.path = text.substr(0, text.size() - 3);
        disk.read_only = true;
    }
    if (disk.path.empty()) throw UsageError("--disk: expected FILE or FILE:ro, got '" + text + "'");
    return disk;
}

void check_disk_file(const DiskOption& disk) {
    struct stat st;
    if (::stat(disk.path.c_str(), &st) != 0) throw UsageError("--disk: " + disk.path + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        throw UsageError("--disk: " + disk.path + ": not a regular file or a block device");
}

void check_share_host_dir(const ShareOption& share) {
    struct stat st;
    if (::stat(share.host_dir.c_str(), &st) != 0)
        throw UsageError("--share: " + share.host_dir + ": " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) throw UsageError("--share: " + share.host_dir + ": not a directory");
    // The mapped mode keeps the guest's view in user.* xattrs: without them every file the guest
    // creates would fail (EOPNOTSUPP). Asking for one the directory may lack changes nothing.
    if (share.mode == ShareMode::Mapped && ::getxattr(share.host_dir.c_str(), "user.virtfs.mode", nullptr, 0) < 0 &&
        (errno == ENOTSUP || errno == EOPNOTSUPP))
        throw UsageError("--share: " + share.host_dir +
                         ": the file system has no user extended attributes, which a share keeps the guest's "
                         "owners and modes in; share another directory or add :passthrough (see --help)");
}

std::optional<std::uint64_t> parse_mem_size(const std::string& text) {
    if (text.empty()) return std::nullopt;
    std::string digits = text;
    unsigned shift = 20;  // a bare number is MiB, as for QEMU's -m
    switch (text.back()) {
    case 'K':
    case 'k':
        shift = 10;
        digits.pop_back();
        break;
    case 'M':
    case 'm':
        shift = 20;
        digits.pop_back();
        break;
    case 'G':
    case 'g':
        shift = 30;
        digits.pop_back();
        break;
    default: break;
    }
    auto n = parse_unsigned(digits);
    if (!n || *n == 0 || *n > (UINT64_MAX >> shift)) return std::nullopt;
    return *n << shift;
}

std::string parse_rootfs_size(const std::string& text) {
    if (text.size() > 1 && text.back() == '%') {
        auto percent = parse_unsigned(text.substr(0, text.size() - 1));
        if (percent && *percent >= 1 && *percent <= 100) return std::to_string(*percent) + "%";
    } else if (auto bytes = parse_mem_size(text)) {
        return std::to_string(*bytes);
    }
    throw UsageError("--rootfs-size: expected a size such as 64M or a percentage from 1% to 100%, got '" + text + "'");
}

TmpfsOption parse_tmpfs(const std::string& text) {
    TmpfsOption tmpfs;
    std::size_t colon = text.find(':');
    tmpfs.path = text.substr(0, colon);
    if (tmpfs.path.empty() || tmpfs.path.front() != '/' || tmpfs.path.find_first_not_of('/') == std::string::npos)
        throw UsageError("--tmpfs: expected an absolute PATH other than / (PATH[:OPTIONS]), got '" + text + "'");
    std::string options = colon == std::string::npos ? "" : text.substr(colon + 1);
    auto bad = [&](const std::string& option, const std::string& why) {
        return UsageError("--tmpfs " + tmpfs.path + ": " + option + ": " + why);
    };
    for (std::size_t start = 0; start < options.size();) {
        std::size_t comma = options.find(',', start);
        std::string option = options.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? options.size() : comma + 1;
        std::string key = option.substr(0, option.find('='));
        std::string value = option.find('=') == std::string::npos ? "" : option.substr(option.find('=') + 1);
        if (key == "size") {
            if (value.size() > 1 && value.back() == '%') {
                auto percent = parse_unsigned(value.substr(0, value.size() - 1));
                if (!percent || *percent < 1 || *percent > 100)
                    throw bad(option, "expected a percentage from 1% to 100%");
                tmpfs.size = std::to_string(*percent) + "%";
                continue;
            }
            unsigned shift = 0;
            std::string digits = value;
            if (!digits.empty() && std::string_view("kKmMgG").find(digits.back()) != std::string_view::npos) {
                char unit = char(digits.back() | 0x20);
                shift = unit == 'k' ? 10 : unit == 'm' ? 20 : 30;
                digits.pop_back();
            }
            auto n = parse_unsigned(digits);
            if (!n || *n == 0 || *n > (UINT64_MAX >> shift))
                throw bad(option, "expected a size in bytes with an optional k, m or g, or N%");
            tmpfs.size = std::to_string(*n << shift);
        } else if (key == "mode") {
            char* end = nullptr;
            unsigned long mode = value.empty() ? 0 : std::strtoul(value.c_str(), &end, 8);
            if (value.empty() || *end || mode > 07777 || value.find_first_not_of("01234567") != std::string::npos)
                throw bad(option, "expected an octal mode such as 1777");
            tmpfs.mode = unsigned(mode);
        } else if (key == "uid" || key == "gid") {
            auto id = parse_unsigned(value);
            if (!id || *id > 0xfffffffeu) throw bad(option, "expected a number");
            (key == "uid" ? tmpfs.uid : tmpfs.gid) = std::uint32_t(*id);
        } else if (option == "ro" || option == "rw") {
            tmpfs.flags = (tmpfs.flags & ~kMountReadOnly) | (option == "ro" ? kMountReadOnly : 0);
        } else if (option == "nosuid" || option == "suid") {
            tmpfs.flags = (tmpfs.flags & ~kMountNoSuid) | (option == "nosuid" ? kMountNoSuid : 0);
        } else if (option == "nodev" || option == "dev") {
            tmpfs.flags = (tmpfs.flags & ~kMountNoDev) | (option == "nodev" ? kMountNoDev : 0);
        } else if (option == "noexec" || option == "exec") {
            tmpfs.flags = (tmpfs.flags & ~kMountNoExec) | (option == "noexec" ? kMountNoExec : 0);
        } else if (option == "noatime" || option == "relatime" || option == "strictatime" || option == "tmpcopyup" ||
                   option.empty()) {
            // Nothing to do: atimes are not kept apart.
        } else {
            throw bad(option, "unknown option");
        }
    }
    return tmpfs;
}

FileOption parse_file_option(const std::string& text) {
    std::size_t split = text.rfind(":/");
    if (split == std::string::npos || split == 0)
        throw UsageError("--file: expected HOSTFILE:GUESTPATH with an absolute GUESTPATH, got '" + text + "'");
    std::string host = text.substr(0, split);
    FileOption file;
    file.guest_path = text.substr(split + 1);
    if (file.guest_path.find('\n') != std::string::npos || file.guest_path.find_first_not_of('/') == std::string::npos)
        throw UsageError("--file: " + file.guest_path + ": not a file path");
    struct stat st;
    if (::stat(host.c_str(), &st) != 0) throw UsageError("--file: " + host + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw UsageError("--file: " + host + ": not a regular file");
    if (std::uint64_t(st.st_size) > kMaxFileBytes)
        throw UsageError("--file: " + host + ": larger than 8 KiB (the guest's command line carries it)");
    file.mode = unsigned(st.st_mode & 07777);
    FILE* in = std::fopen(host.c_str(), "rb");
    if (!in) throw UsageError("--file: " + host + ": " + std::strerror(errno));
    char buffer[kMaxFileBytes + 1];
    std::size_t got = std::fread(buffer, 1, sizeof buffer, in);
    std::fclose(in);
    if (got > kMaxFileBytes)
        throw UsageError("--file: " + host + ": larger than 8 KiB (the guest's command line carries it)");
    file.content.assign(buffer, got);
    if (file.content.find('\0') != std::string::npos) throw UsageError("--file: " + host + ": has NUL bytes (binary)");
    return file;
}

std::string guest_mount_tokens(const Options& opts) {
    std::string tokens;
    for (const TmpfsOption& tmpfs : opts.tmpfs)
        tokens += " " + xos_encode_tmpfs_token(tmpfs.size, tmpfs.mode, tmpfs.uid, tmpfs.gid, tmpfs.flags, tmpfs.path);
    if (!opts.hostname.empty()) tokens += " xos.hostname=" + xos_encode_cmdline_value(opts.hostname);
    for (const FileOption& file : opts.files) {
        char octal[16];
        std::snprintf(octal, sizeof octal, "%o", file.mode);
        tokens +=
            " xos.file=" + xos_encode_cmdline_value(std::string(octal) + ":" + file.guest_path + "\n" + file.content);
    }
    return tokens;
}

std::optional<double> parse_seconds(const std::string& text) {
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
    if (!seen_digit) return std::nullopt;
    errno = 0;
    double value = std::strtod(text.c_str(), nullptr);
    if (errno != 0 || !std::isfinite(value) || value > 1e9) return std::nullopt;
    return value;
}

Options parse_options(const std::vector<std::string>& argv) {
    Options opts;
    // The default CPU count from the environment: the whole test suite runs with two vCPUs
    // under `meson test --setup smp2` (tests/smp/meson.build).
    if (const char* cpus = std::getenv("XOS_CPUS"); cpus != nullptr && *cpus != '\0') opts.cpus = parse_cpus(cpus);
    bool have_image = false;
    for (std::size_t i = 1; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        if (arg == "--") {
            opts.app_args.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
            break;
        }
        if (arg.size() > 1 && arg[0] == '-') {
            if (apply_flag(opts, arg)) continue;
            auto eq = arg.find('=');
            std::string name = arg.substr(0, eq);
            if (!takes_value(name)) throw UsageError("unknown option '" + arg + "' (see --help)");
            if (eq != std::string::npos) {
                apply_option(opts, name, arg.substr(eq + 1));
            } else {
                if (i + 1 >= argv.size()) throw UsageError(name + ": missing value");
                apply_option(opts, name, argv[++i]);
            }
            continue;
        }
        if (have_image)
            throw UsageError("unexpected argument '" + arg + "' after IMAGE (application arguments go after --)");
        opts.image = arg;
        have_image = true;
    }
    // The emulator form, `xos-run [options] -- IMAGE [ARGS...]`: what CMake runs with
    // CMAKE_CROSSCOMPILING_EMULATOR="xos-run;--" (the image after the emulator's arguments).
    if (!have_image && opts.rootfs.empty() && opts.root_image.empty() && !opts.app_args.empty() && !opts.help &&
        !opts.version) {
        opts.image = opts.app_args.front();
        opts.app_args.erase(opts.app_args.begin());
        opts.emulator_form = true;
        have_image = true;
    }
    if (have_image && !opts.rootfs.empty())
        throw UsageError("--rootfs runs the generic kernel: give the program after -- instead of IMAGE");
    if (have_image && !opts.root_image.empty())
        throw UsageError("--root-image runs the generic kernel: give the program after -- instead of IMAGE");
    if (!opts.rootfs.empty() && !opts.root_image.empty())
        throw UsageError("--rootfs and --root-image both give the root: use one");
    if (!have_image && opts.rootfs.empty() && opts.root_image.empty() && !opts.help && !opts.version)
        throw UsageError("no IMAGE given (usage: xos-run [options] IMAGE [-- ARGS...])");
    if (!opts.forwards.empty()) {
        if (opts.net == NetMode::Tap)
            throw UsageError("-p forwards ports of QEMU user networking; it cannot be used with --net tap");
        opts.net = NetMode::User;
    }
    if (!opts.net_gw.empty() && opts.net_ip.empty())
        throw UsageError("--gw needs --ip (without --ip the guest uses DHCP)");
    if (!opts.xen_bridge.empty() && opts.hypervisor != "xen") throw UsageError("--xen-bridge needs --hypervisor xen");
    if ((!opts.net_ip.empty() || !opts.net_dns.empty() || opts.net_echo_port) && opts.net == NetMode::None &&
        opts.xen_bridge.empty())
        throw UsageError("--ip, --gw, --dns and --net-echo need a network (--net user, --net tap:IFNAME, -p or "
                         "--xen-bridge)");
    return opts;
}
