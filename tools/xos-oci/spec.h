// A bundle's config.json (OCI runtime spec, config.md and config-linux.md) as xos runs it: the
// xos-run command that boots the container, and what the runtime itself must prepare (the
// network namespace, files bind-mounted over the root's own).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace xos::oci {

// A config.json xos cannot run: create fails with this message (and status 1).
struct SpecError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Share {
    std::string host_dir;
    std::string guest_path;
    bool read_only = false;
};

// A file bind-mounted over a path of the root (podman's /etc/hosts, /etc/resolv.conf,
// /etc/hostname, /run/.containerenv): 9p shares directories only, so its content is copied
// into the root directory at that path before the start, or, below a tmpfs destination (which
// would hide it), handed to xos-run (--file), whose guest writes it once the tmpfs is mounted.
struct FileBind {
    std::string host_file;
    std::string guest_path;
    bool below_tmpfs = false;
};

// A tmpfs mount: xos-run --tmpfs DESTINATION:OPTIONS (the options libos honours: size=, mode=,
// uid=, gid=, ro, noexec, nodev, nosuid and their opposites; the others are logged and left out).
struct Tmpfs {
    std::string guest_path;
    std::string options;  // comma separated, as xos-run --tmpfs takes them
};

// One process.rlimits entry: the RLIMIT_* number and its values (RLIM_INFINITY: unlimited).
struct Rlimit {
    int resource;
    std::uint64_t soft;
    std::uint64_t hard;
};

struct ContainerSpec {
    std::string oci_version;
    std::string bundle;  // absolute
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd = "/";
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::vector<std::uint32_t> additional_gids;
    bool terminal = false;
    std::string rootfs;  // absolute
    bool rootfs_readonly = false;
    std::vector<Share> shares;
    std::vector<FileBind> file_binds;
    std::vector<Tmpfs> tmpfs;
    std::vector<Rlimit> rlimits;
    std::string hostname;
    std::map<std::string, std::string> annotations;
    std::string platform = "kvm";  // org.xos.platform
    unsigned cpus = 1;  // org.xos.cpus
    std::uint64_t mem_bytes = 256ull << 20;  // org.xos.memory, else linux.resources.memory.limit
    std::optional<std::string> netns_path;  // linux.namespaces network with a path
    bool new_netns = false;  // linux.namespaces network without a path: no network at all
    std::vector<std::string> qemu_args;  // org.xos.qemu-args (space separated), for diagnosis
};

// Reads BUNDLE/config.json. Throws SpecError for what xos cannot honour (no args, an
// unsupported ociVersion, a bad annotation value, a missing root, an unknown rlimit). What it
// leaves out (namespaces other than network, hooks, seccomp, tmpfs options libos lacks, ...) is
// said in the log.
ContainerSpec read_spec(const std::string& bundle);

// The guest network of a container: the address of the namespace's veth, which the VM takes
// over (network.h).
struct GuestNetwork {
    std::string tap;  // the tap device in the namespace
    std::string mac;  // the veth's MAC, the guest NIC's
    std::string ip_cidr;  // "10.88.0.5/16"
    std::string gateway;  // may be empty
    std::string veth;  // the namespace's interface whose address it is
};

// The xos-run command line that runs the container (xos-run at XOS_RUN).
std::vector<std::string> xos_run_command(const std::string& xos_run, const ContainerSpec& spec,
                                         const std::optional<GuestNetwork>& network);

}  // namespace xos::oci
