#include "qemu_command.h"

#include "cmdline.h"

#include <cstdlib>

namespace {

// -m takes the largest unit that divides the size exactly.
std::string mem_arg(std::uint64_t bytes) {
    if (bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "G";
    if (bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "M";
    if (bytes % (1ull << 10) == 0) return std::to_string(bytes >> 10) + "K";
    return std::to_string(bytes) + "B";
}

// Inside a QemuOpts value (-chardev path=...), a comma is written as two.
std::string qemu_opts_escape(const std::string& value) {
    std::string out;
    for (char c : value) {
        out += c;
        if (c == ',') out += ',';
    }
    return out;
}

std::string hex(unsigned v) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string digits;
    do {
        digits.insert(digits.begin(), kHex[v & 0xf]);
        v >>= 4;
    } while (v != 0);
    return "0x" + digits;
}

// microvm: no PCI; ~35 ms from start to the exit of a guest that exits at once (TCG).
// acpi=off: QEMU then announces virtio-mmio devices on the kernel command line
// (virtio_mmio.device=...) instead of only in an ACPI DSDT; it also saves ~5 ms.
// rtc/pit/pic=on: the guest relies on them, and rtc=auto means off under KVM.
// (x-option-roms=off, tb-size and smaller -m measured no faster.)
// q35 and pc: SeaBIOS assigns the PCI BARs, then QEMU's PVH option ROM enters the image; the
// guest finds its virtio devices by PCI enumeration (platform/kvm/pci.cpp). The ISA devices
// below (COM2, isa-debug-exit, isa-debugcon) exist on those machines too.
std::string machine_arg(MachineType machine) {
    switch (machine) {
    case MachineType::Q35: return "q35";
    case MachineType::Pc: return "pc";
    case MachineType::Microvm: break;
    }
    return "microvm,acpi=off,rtc=on,pit=on,pic=on";
}

// A virtio device of `kind` ("net", "9p", "blk") for the machine: virtio-mmio on microvm, else PCI,
// modern only (disable-legacy=on: the guest drives virtio 1.x devices only).
std::string virtio_device(MachineType machine, const std::string& kind) {
    if (machine == MachineType::Microvm) return "virtio-" + kind + "-device";
    return "virtio-" + kind + "-pci,disable-legacy=on";
}

// Where the -append value is.
std::size_t appended_cmdline_index(const std::vector<std::string>& cmd) {
    for (std::size_t i = 0; i + 1 < cmd.size(); ++i)
        if (cmd[i] == "-append") return i + 1;
    return cmd.size() - 1;  // not reached: build_qemu_command always passes -append
}

}  // namespace

std::string qemu_binary_for(const Options& opts) {
    if (!opts.qemu.empty()) return opts.qemu;
    const char* env = std::getenv("XOS_QEMU");
    if (env != nullptr && *env != '\0') return env;
    return "qemu-system-x86_64";
}

std::vector<std::string> build_qemu_command(const Options& opts, const AccelDecision& accel,
                                            const std::string& qemu_binary, const std::string& status_path,
                                            const std::string& guest_stderr_path) {
    std::vector<std::string> cmd = {
        qemu_binary,
        "-M",
        machine_arg(opts.machine),
        "-accel",
        // Several vCPUs under TCG: one host thread each (MTTCG), else they take turns on one.
        accel.accel == "tcg" && opts.cpus > 1 ? "tcg,thread=multi" : accel.accel,
        "-cpu",
        accel.cpu,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        // A reset (triple fault) must end the run, not reboot the image forever.
        "-no-reboot",
        "-m",
        mem_arg(opts.mem_bytes),
        "-smp",
        std::to_string(opts.cpus),
        "-kernel",
        opts.kernel.empty() ? opts.image : opts.kernel,
        "-append",
        xos_encode_cmdline(opts.image, opts.app_args, opts.env) + opts.console_tokens,
        // QEMU's stdio are pipes xos-run reads and writes, never the terminal, which QEMU would
        // make raw: xos-run does that itself, and frames its stdin (terminal.h).
        "-chardev",
        "stdio,id=con",
        "-serial",
        "chardev:con",
        // COM2 carries the guest's stderr (and libos's messages) to our stderr, so that the
        // app's stdout stays clean. append=on: never truncate what the path points at.
        "-chardev",
        "file,id=conerr,append=on,path=" + qemu_opts_escape(guest_stderr_path),
        "-device",
        "isa-serial,chardev=conerr,iobase=" + hex(kStderrUartPort) + ",irq=3",
        "-device",
        "isa-debug-exit,iobase=" + hex(kDebugExitPort) + ",iosize=4",
        // The exit code alone cannot carry status 0..255 (QEMU exits 1 for both a QEMU error
        // and status 0), so the guest also writes a status record here.
        "-chardev",
        "file,id=xosstatus,path=" + qemu_opts_escape(status_path),
        "-device",
        "isa-debugcon,iobase=" + hex(kStatusPort) + ",chardev=xosstatus",
    };
    if (!opts.rootfs_size.empty())
        cmd[appended_cmdline_index(cmd)] += " xos.rootfs_size=" + xos_encode_cmdline_value(opts.rootfs_size);
    cmd[appended_cmdline_index(cmd)] += guest_mount_tokens(opts);  // --tmpfs, --hostname
    if (!opts.guest_root.empty())  // --rootfs: the program's root (libos/fs/boot.cpp)
        cmd[appended_cmdline_index(cmd)] += " xos.root=" + xos_encode_cmdline_value(opts.guest_root);
    if (!opts.guest_cwd.empty())  // the emulator form: the program's working directory
        cmd[appended_cmdline_index(cmd)] += " xos.cwd=" + xos_encode_cmdline_value(opts.guest_cwd);
    // Host shares: 9p over virtio (mmio or PCI). By default security_model=mapped-xattr: the
    // guest's owners, modes and file types live in user.virtfs.* xattrs of plain host files
    // (0600, directories 0700, of the user running QEMU), so a guest root cannot plant a setuid
    // file or a device node on the host. :passthrough is security_model=none: files keep the
    // guest's modes and types (QEMU's chown to the guest's uid fails harmlessly unless QEMU runs
    // as root), so the host user can read and edit what the guest writes.
    // force-legacy=false: QEMU 7.2's virtio-mmio defaults to the legacy (version 1) interface.
    if (opts.machine == MachineType::Microvm &&
        (!opts.shares.empty() || !opts.disks.empty() || opts.net != NetMode::None))
        cmd.insert(cmd.end(), {"-global", "virtio-mmio.force-legacy=false"});
    for (std::size_t i = 0; i < opts.shares.size(); ++i) {
        std::string id = "xosfs" + std::to_string(i), tag = "xos" + std::to_string(i);
        cmd.insert(cmd.end(),
                   {"-fsdev",
                    "local,id=" + id + ",path=" + qemu_opts_escape(opts.shares[i].host_dir) +
                        (opts.shares[i].mode == ShareMode::Passthrough ? ",security_model=none"
                                                                       : ",security_model=mapped-xattr") +
                        (opts.shares[i].read_only ? ",readonly=on" : "") +
                        (opts.shares[i].spans_devices ? ",multidevs=remap" : ""),
                    "-device", virtio_device(opts.machine, "9p") + ",fsdev=" + id + ",mount_tag=" + tag});
        std::string& append = cmd[appended_cmdline_index(cmd)];
        append += " " + xos_encode_share_token(tag, opts.shares[i].guest_path, opts.shares[i].read_only);
    }
    // Disks: virtio-blk on the raw file (/dev/vda, /dev/vdb, ... in this order in the guest).
    for (std::size_t i = 0; i < opts.disks.size(); ++i) {
        std::string id = "xosdisk" + std::to_string(i);
        std::string drive = "file=" + qemu_opts_escape(opts.disks[i].path) + ",if=none,id=" + id + ",format=raw";
        if (opts.disks[i].read_only) drive += ",readonly=on";
        cmd.insert(cmd.end(), {"-drive", drive, "-device", virtio_device(opts.machine, "blk") + ",drive=" + id});
    }
    // Network: one virtio-net device on QEMU user networking (with -p's forwards) or a tap.
    if (opts.net != NetMode::None) {
        std::string netdev;
        if (opts.net == NetMode::User) {
            netdev = "user,id=net0";
            for (const PortForward& forward : opts.forwards)
                netdev += ",hostfwd=" + forward.protocol + "::" + std::to_string(forward.host_port) +
                    "-:" + std::to_string(forward.guest_port);
        } else {
            netdev = "tap,id=net0,ifname=" + opts.tap_ifname + ",script=no,downscript=no";
        }
        // romfile=: no iPXE option ROM for SeaBIOS to load (the guest never boots from the NIC).
        std::string nic = virtio_device(opts.machine, "net") + ",netdev=net0";
        if (opts.machine != MachineType::Microvm) nic += ",romfile=";
        cmd.insert(cmd.end(), {"-netdev", netdev, "-device", nic});
        std::string& append = cmd[appended_cmdline_index(cmd)];
        append += xos_encode_network_tokens(opts.net_ip, opts.net_gw, opts.net_dns, opts.net_echo_port);
    }
    cmd.insert(cmd.end(), opts.qemu_args.begin(), opts.qemu_args.end());
    return cmd;
}

std::string shell_quote(const std::string& word) {
    bool plain = !word.empty();
    for (char ch : word) {
        auto c = static_cast<unsigned char>(ch);
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            std::string_view("_@%+=:,./-").find(static_cast<char>(c)) != std::string_view::npos;
        plain = plain && ok;
    }
    if (plain) return word;
    std::string out = "'";
    for (char c : word) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

std::string shell_join(const std::vector<std::string>& words) {
    std::string line;
    for (const auto& word : words) {
        if (!line.empty()) line += ' ';
        line += shell_quote(word);
    }
    return line;
}
