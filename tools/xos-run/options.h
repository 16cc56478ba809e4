// Command-line options of xos-run.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

enum class AccelChoice { Auto, Kvm, Tcg };

// How a share keeps what the guest sets (owners, modes, file types):
// Mapped (the default): in user.virtfs.* extended attributes of plain host files (QEMU's
//   security_model=mapped-xattr; hosted writes the same format), so the guest cannot create a
//   setuid file or a device node on the host.
// Passthrough (":passthrough"): on the host files themselves (QEMU's security_model=none).
enum class ShareMode { Mapped, Passthrough };

// --share HOSTDIR:GUESTPATH[:mapped|:passthrough][:ro]: a host directory exposed read-write (or
// read-only: EROFS) at GUESTPATH (9p over virtio; hostfs on hosted).
struct ShareOption {
    std::string host_dir;
    std::string guest_path;
    ShareMode mode = ShareMode::Mapped;
    bool read_only = false;  // :ro, and --rootfs's share (QEMU readonly=on; hosted XOS_SHARE...:ro)
    bool spans_devices = false;  // the host's / (emulator form): QEMU multidevs=remap
};

// --disk FILE[:ro]: a host file or block device as a disk (/dev/vda, /dev/vdb, ... in order).
struct DiskOption {
    std::string path;
    bool read_only = false;
};

// -p [tcp:|udp:]HOSTPORT:GUESTPORT: a QEMU user-networking port forward (hostfwd).
struct PortForward {
    std::string protocol;  // "tcp" or "udp"
    unsigned host_port;
    unsigned guest_port;
};

// Mount options of --tmpfs (the values of Linux's MS_* flags, as libos' xos.tmpfs= takes them).
inline constexpr unsigned kMountReadOnly = 1, kMountNoSuid = 2, kMountNoDev = 4, kMountNoExec = 8;

// --tmpfs PATH[:OPTIONS]: a ramfs of its own at PATH in the guest (libos' xos.tmpfs=).
struct TmpfsOption {
    std::string path;  // absolute, not /
    std::string size;  // the token's value: bytes or "N%"; empty: tmpfs' default (50%)
    unsigned mode = 01777;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    unsigned flags = 0;  // MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC (ro, nosuid, nodev, noexec)
};

// --file HOSTFILE:GUESTPATH: a copy of a small host file placed in the guest at boot, after
// every mount (libos' xos.file=), so also below a --tmpfs path (xos-oci's file bind mounts).
struct FileOption {
    std::string guest_path;
    unsigned mode = 0644;
    std::string content;  // read when parsed: at most kMaxFileBytes, no NUL byte
};
inline constexpr std::size_t kMaxFileBytes = 8192, kMaxFiles = 16;

// --machine: QEMU's microvm (virtio-mmio, the default), q35 or pc (virtio over PCI).
enum class MachineType { Microvm, Q35, Pc };

// --net user | tap:IFNAME (-p implies user).
enum class NetMode { None, User, Tap };

struct Options {
    std::string image;  // as typed; also the guest's argv[0]
    std::string console_tokens;  // set by main, not an option: " xos.stdio=... xos.winsize=..."
    std::vector<std::string> app_args;  // after `--`
    std::vector<std::string> env;  // "KEY=VALUE"
    AccelChoice accel = AccelChoice::Auto;
    MachineType machine = MachineType::Microvm;
    std::uint64_t mem_bytes = 128ull << 20;
    std::string rootfs;  // --rootfs DIR: run the program after -- from DIR with the generic kernel
    bool rootfs_writable = false;  // --rootfs DIR:rw: writes go to DIR (else to memory, over it)
    bool rootfs_read_only = false;  // --rootfs DIR:ro: a read-only root, writes fail with EROFS
    std::string root_image;  // --root-image FILE: the EROFS image that is the program's root
    std::string guest_root;  // the image's xos.root= (set by apply_rootfs): the program's root
    std::string guest_cwd;  // the image's xos.cwd=: its first working directory (empty: /)
    std::string kernel;  // the file QEMU boots when not `image` (xos-cc's embedded VM image)
    bool emulator_form = false;  // `xos-run [options] -- IMAGE [ARGS...]` (CMake's emulator)
    std::string platform = "kvm";  // --platform kvm|hosted: which generic kernel --rootfs boots
    std::string rootfs_size;  // --rootfs-size as the token's value: bytes or "N%"; empty: default
    double timeout_seconds = 0;  // 0: no timeout
    unsigned cpus = 1;
    std::string qemu;  // empty: $XOS_QEMU, else qemu-system-x86_64 from PATH
    std::vector<std::string> qemu_args;  // appended verbatim
    std::vector<ShareOption> shares;  // in command-line order; share i has mount tag "xos<i>"
    std::vector<TmpfsOption> tmpfs;  // --tmpfs, mounted in this order (before the shares)
    std::vector<FileOption> files;  // --file
    std::string hostname;  // --hostname: uname's nodename in the guest (empty: xos)
    std::vector<DiskOption> disks;  // --disk, in command-line order: /dev/vda, /dev/vdb, ...
    NetMode net = NetMode::None;
    std::string tap_ifname;  // --net tap:IFNAME
    std::vector<PortForward> forwards;  // -p, in command-line order
    std::string net_ip;  // --ip ADDR/PREFIX (IPv4; default: DHCP)
    std::string net_gw;  // --gw ADDR
    std::string net_dns;  // --dns ADDR (IPv4 or IPv6)
    unsigned net_echo_port = 0;  // --net-echo PORT (diagnostic TCP echo service in libos)
    // A container image (xos-build --from-image; container_image.h): docker run's overrides.
    std::optional<std::string> entrypoint;  // --entrypoint PROGRAM ("" clears the image's)
    std::optional<std::string> workdir;  // --workdir DIR
    std::optional<std::string> user;  // --user UID[:GID] or NAME[:GROUP]
    std::string container_kernel;  // the image's own generic kernel (set from IMAGE.json)
    std::string hypervisor = "qemu";  // --hypervisor qemu|xen (xen: xl on a Xen dom0, xen_run.h)
    std::string xen_bridge;  // --xen-bridge NAME: a vif on that dom0 bridge (--hypervisor xen)
    // --forward-signals (xos-oci): SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 go to the
    // app's first process (a framed message on COM1 on a VM; kill on hosted) instead of ending the run.
    bool forward_signals = false;
    // With forward_signals: the signal a SIGTERM to xos-run becomes (a container image's
    // StopSignal, as `docker stop` sends it; container_image.cpp).
    int sigterm_becomes = 15;
    bool dry_run = false;
    bool verbose = false;
    bool help = false;
    bool version = false;
};

// A bad command line. main() prints "xos-run: error: <what>" and exits 125.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Throws UsageError. With --help or --version set, the rest need not be complete.
Options parse_options(const std::vector<std::string>& argv);

// "HOSTDIR:GUESTPATH[:mapped|:passthrough][:ro]": the suffixes first, then split at the last ':'
// followed by '/' (so HOSTDIR may contain ':'); GUESTPATH must be absolute and not "/". Throws
// UsageError; does not look at the host.
ShareOption parse_share(const std::string& text);

// "FILE" or "FILE:ro". Throws UsageError; does not look at the host.
DiskOption parse_disk(const std::string& text);

// Throws UsageError unless the disk's FILE exists and is a regular file or a block device.
void check_disk_file(const DiskOption& disk);

// "[tcp:|udp:]HOSTPORT:GUESTPORT" (ports 1..65535). Throws UsageError.
PortForward parse_port_forward(const std::string& text);

// Throws UsageError unless HOSTDIR exists and is a directory.
void check_share_host_dir(const ShareOption& share);

// "128M", "1G", "4096K", "64" (MiB, as QEMU's -m); nullopt for anything else, zero or overflow.
std::optional<std::uint64_t> parse_mem_size(const std::string& text);

// --rootfs-size: "64M" (as parse_mem_size) becomes the number of bytes, "25%" (1-100) stays as it
// is: the value of the xos.rootfs_size token. Throws UsageError.
std::string parse_rootfs_size(const std::string& text);

// --tmpfs PATH[:OPTIONS], OPTIONS as mount -t tmpfs takes them (comma separated): size=N[k|m|g]
// or N%, mode=OCTAL, uid=N, gid=N, and rw, nosuid, nodev, exec, suid, dev, noatime, relatime
// (accepted: nothing to do in libos). Throws UsageError for others (ro, noexec, nr_inodes=...).
TmpfsOption parse_tmpfs(const std::string& text);
// --file HOSTFILE:GUESTPATH (GUESTPATH absolute): reads HOSTFILE. Throws UsageError.
FileOption parse_file_option(const std::string& text);

// The tokens --tmpfs and --hostname add to the image's command line (" xos.tmpfs=... xos.hostname=...",
// each with a leading space; "" without them): VM, hosted (XOS_BOOT_TOKENS) and Xen alike.
std::string guest_mount_tokens(const Options& opts);

// Non-negative decimal seconds ("2", "0.5", "1.25"); nullopt for anything else.
std::optional<double> parse_seconds(const std::string& text);

extern const char* const kUsage;
