// Start of a hosted image: the host's argv and environment become the kernel command line, the
// platform sets up memory, signals and the seccomp sandbox, then libos takes over.
//
// Platform settings come from two environment variables, which the app does not see:
//   XOS_MEM=<size>       the image's RAM ("128M", "1G", "4096K"; a bare number is MiB). Default 128M.
//   XOS_STATUS_FD=<fd>   a host fd that receives the status record (xos-run passes a pipe).
//   XOS_NIC_FD=<fd>, XOS_NIC_FRAMING=stream|tap   a host fd carrying Ethernet frames (nic.cpp;
//                        xos-run -p / --net passes a socket to passt or a tap device).
//   XOS_ROOTFS_SIZE=<size>|<percent>%   the root file system's size limit (as XOS_MEM, or a
//                        percentage of the memory free at boot; default 50%): xos.rootfs_size.
//   XOS_ROOT=<path>[:rw]   the program's root (xos-run --rootfs): xos.root.
//   XOS_BOOT_TOKENS=<tokens>   encoded xos.* tokens appended to the command line (xos.ip=...).
//   XOS_SHARE=HOSTDIR:GUESTPATH, XOS_SHARE_<anything>=...   host directories shared read-write
//                        (xos-run --share; hostfs.cpp), mounted in the order given; read-only
//                        with a final :ro (EROFS; xos-run --rootfs).
//   XOS_DISK_<n>=PATH[:ro]   a host file or block device as the disk /dev/vd<a+...> (in the
//                        order of <n>; xos-run --disk; block.cpp), read-only with :ro.
//   XOS_FORWARD_SIGNALS=1   xos-run forwards signals to the app's first process (SIGNAL_FORWARD,
//                        signals.cpp): xos.signals.
//   XOS_CPUS=<n>         vCPUs: host threads running libos threads in parallel (1..16; default 1,
//                        the single-thread platform; xos-run --cpus; vcpu.cpp).
//   XOS_EXEC=wx          the image loads code: app pages may be executable, never also writable
//                        (sandbox.cpp; without it no app page is executable on the host).
// An executable linked by xos-cc (it defines xos_hosted_share_cwd) also sees the host's files
// read-only and the current directory read-write, where it starts (share_host_view), so that a
// build system's `./conftest` reads and writes its files where the build runs (docs/toolchain.md).
// Every other inherited descriptor but 0-2 is closed first (sandbox.cpp), and the sandbox goes
// on (namespaces, Landlock, seccomp) before libos runs anything of the app's.
#include <cstring>

#include "hosted/host.h"
#include "hosted/vcpu.h"
#include "xos/libos.h"
#include "xos/platform.h"

extern "C" [[gnu::weak]] const char xos_hosted_share_cwd;  // defined by xos-cc's link line

namespace xos::hosted {

int g_status_fd = -1;

namespace {

constexpr size_t CMDLINE_MAX = 64 * 1024;
constexpr size_t DEFAULT_RAM = 128ull << 20;
char g_cmdline[CMDLINE_MAX];
size_t g_cmdline_length;

bool starts_with(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

// "128M", "1G", "4096K", "64" (MiB); 0 when malformed.
size_t parse_size(const char* text) {
    size_t value = 0;
    const char* p = text;
    for (; *p >= '0' && *p <= '9'; ++p) {
        if (value > (size_t(1) << 40)) return 0;
        value = value * 10 + size_t(*p - '0');
    }
    if (p == text) return 0;
    size_t unit = 1 << 20;
    if (*p == 'K' || *p == 'k')
        unit = 1 << 10, ++p;
    else if (*p == 'M' || *p == 'm')
        ++p;
    else if (*p == 'G' || *p == 'g')
        unit = size_t(1) << 30, ++p;
    if (*p) return 0;
    return value * unit;
}

int parse_fd(const char* text) {
    int value = 0;
    if (!*text) return -1;
    for (; *text; ++text) {
        if (*text < '0' || *text > '9' || value > 100000) return -1;
        value = value * 10 + (*text - '0');
    }
    return value;
}

void append(const char* bytes, size_t count) {
    if (g_cmdline_length + count + 1 > CMDLINE_MAX) setup_failed("arguments and environment exceed 64 KiB", 0);
    memcpy(g_cmdline + g_cmdline_length, bytes, count);
    g_cmdline_length += count;
}

// One `xos.<key>=<enc>` token (docs/host-guest-interface.md: percent-encoding of every byte
// outside [A-Za-z0-9._~/:,+@=-]).
void append_token(const char* key, const char* value) {
    if (g_cmdline_length) append(" ", 1);
    append(key, strlen(key));
    append("=", 1);
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char* p = reinterpret_cast<const unsigned char*>(value); *p; ++p) {
        unsigned char c = *p;
        bool plain =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._~/:,+@=-", c);
        if (plain) {
            append(reinterpret_cast<const char*>(p), 1);
        } else {
            char escaped[3] = {'%', hex[c >> 4], hex[c & 15]};
            append(escaped, 3);
        }
    }
}

// XOS_ROOTFS_SIZE: "<percent>%" goes to libos as it is, a size as bytes (xos.rootfs_size).
void append_rootfs_size(const char* value) {
    size_t length = strlen(value);
    if (length > 1 && value[length - 1] == '%') return append_token("xos.rootfs_size", value);
    size_t bytes = parse_size(value);
    if (!bytes) setup_failed("XOS_ROOTFS_SIZE must be a size (\"64M\", \"1G\") or a percentage (\"25%\")", 0);
    char digits[24];
    int n = 0;
    do digits[sizeof digits - 2 - n++] = char('0' + bytes % 10);
    while ((bytes /= 10) && n < 22);
    digits[sizeof digits - 1] = 0;
    append_token("xos.rootfs_size", digits + sizeof digits - 1 - n);
}

// xos-cc's executables (docs/toolchain.md): unless XOS_ROOT names a root already, the host's file
// system read-only (a share of / at /.xos-host, entered as the root: writes stay in memory), and
// the host's current directory read-write at its own path (passthrough: files get the modes the
// program gives them), where the program starts. Not / nor a path with a ':' (add_share's
// separator).
void share_host_view(bool root_given) {
    if (!root_given) {
        add_share("XOS_SHARE_HOST", "/:/.xos-host:passthrough:ro");
        append_token("xos.root", "/.xos-host");
    }
    constexpr size_t CWD_MAX = 2000;  // twice that and the mode fit XOS_SHARE's 4096 bytes
    static char cwd[4096];
    static char share[2 * CWD_MAX + 16];
    long length = host::call(host::GETCWD, long(cwd), long(sizeof cwd));
    // Not "/" (length 2 with the NUL), not "(unreachable)/...", no ':', not too long.
    if (length <= 2 || cwd[0] != '/' || strchr(cwd, ':') || strlen(cwd) > CWD_MAX) return;
    size_t n = strlen(cwd);
    memcpy(share, cwd, n);
    share[n] = ':';
    memcpy(share + n + 1, cwd, n);
    memcpy(share + 2 * n + 1, ":passthrough", sizeof ":passthrough");
    add_share("XOS_SHARE_CWD", share);
    append_token("xos.cwd", cwd);
}

}  // namespace

[[noreturn]] void setup_failed(const char* what, long error) {
    const char prefix[] = "xos: hosted platform: cannot start: ";
    host::write_all(2, prefix, sizeof prefix - 1);
    host::write_all(2, what, strlen(what));
    if (error) {
        char number[32];
        int n = 0;
        unsigned long e = error < 0 ? -error : error;
        do number[sizeof number - 1 - n++] = char('0' + e % 10);
        while ((e /= 10) && n < 20);
        host::write_all(2, " (errno ", 8);
        host::write_all(2, number + sizeof number - n, n);
        host::write_all(2, ")", 1);
    }
    host::write_all(2, "\n", 1);
    host::exit_group(125);
}

}  // namespace xos::hosted

extern "C" [[noreturn]] void xos_hosted_start(uintptr_t* initial_stack) {
    using namespace xos::hosted;
    long argc = long(initial_stack[0]);
    char** argv = reinterpret_cast<char**>(initial_stack + 1);
    char** envp = argv + argc + 1;
    char** after_env = envp;
    while (*after_env) ++after_env;
    uintptr_t vdso = 0;
    for (auto* aux = reinterpret_cast<uintptr_t*>(after_env + 1); aux[0] != 0 /* AT_NULL */; aux += 2)
        if (aux[0] == 33 /* AT_SYSINFO_EHDR */) vdso = aux[1];

    init_vdso(vdso);
    init_clock();
    size_t ram = DEFAULT_RAM;
    int nic_fd = -1;
    bool nic_tap = false;
    const char* boot_tokens = nullptr;
    const char* rootfs_size = nullptr;
    bool root_given = false;  // XOS_ROOT
    bool forward_signals = false;  // XOS_FORWARD_SIGNALS
    // The two inherited descriptors the platform uses first, before anything opens another one.
    for (char** e = envp; *e; ++e) {
        if (starts_with(*e, "XOS_STATUS_FD=")) {
            g_status_fd = parse_fd(*e + 14);
        } else if (starts_with(*e, "XOS_NIC_FD=")) {
            nic_fd = parse_fd(*e + 11);
            if (nic_fd < 0) setup_failed("XOS_NIC_FD must be a file descriptor number", 0);
        }
    }
    adopt_inherited_fds(g_status_fd, nic_fd);
    init_console_input();  // fd 0 at FD_CONSOLE_IN, before the mount namespace hides /proc/self/fd
    append_token("xos.argv0", argc > 0 ? argv[0] : "xos");
    for (long i = 1; i < argc; ++i) append_token("xos.arg", argv[i]);
    for (char** e = envp; *e; ++e) {
        if (starts_with(*e, "XOS_STATUS_FD=") || starts_with(*e, "XOS_NIC_FD=")) {
            continue;  // taken above
        } else if (starts_with(*e, "XOS_EXEC=")) {
            g_exec_allowed = strcmp(*e + 9, "wx") == 0;
            if (!g_exec_allowed && strcmp(*e + 9, "none") != 0) setup_failed("XOS_EXEC must be wx or none", 0);
        } else if (starts_with(*e, "XOS_CPUS=")) {
            int cpus = parse_fd(*e + 9);
            if (cpus < 1 || cpus > int(XOS_MAX_CPUS)) setup_failed("XOS_CPUS must be a number from 1 to 16", 0);
            set_vcpu_count(unsigned(cpus));
        } else if (starts_with(*e, "XOS_MEM=")) {
            ram = parse_size(*e + 8);
            if (ram < (16u << 20)) setup_failed("XOS_MEM must be a size of at least 16M (\"128M\", \"1G\")", 0);
        } else if (starts_with(*e, "XOS_NIC_FRAMING=")) {
            nic_tap = strcmp(*e + 16, "tap") == 0;
            if (!nic_tap && strcmp(*e + 16, "stream") != 0) setup_failed("XOS_NIC_FRAMING must be stream or tap", 0);
        } else if (starts_with(*e, "XOS_ROOTFS_SIZE=")) {
            rootfs_size = *e + 16;
        } else if (starts_with(*e, "XOS_ROOT=")) {
            append_token("xos.root", *e + 9);
            root_given = true;
        } else if (starts_with(*e, "XOS_FORWARD_SIGNALS=")) {
            forward_signals = strcmp(*e + 20, "1") == 0;
            if (!forward_signals && strcmp(*e + 20, "0") != 0) setup_failed("XOS_FORWARD_SIGNALS must be 0 or 1", 0);
        } else if (starts_with(*e, "XOS_BOOT_TOKENS=")) {
            boot_tokens = *e + 16;
        } else if (starts_with(*e, "XOS_DISK_")) {
            const char* value = strchr(*e, '=');
            if (!value) setup_failed("XOS_DISK_<n> without a value", 0);
            add_disk(*e, value + 1);
        } else if (starts_with(*e, "XOS_SHARE=") || starts_with(*e, "XOS_SHARE_")) {
            const char* value = strchr(*e, '=');
            if (!value) setup_failed("XOS_SHARE_* without a value", 0);
            add_share(*e, value + 1);
        } else {
            append_token("xos.env", *e);
        }
    }
    if (&xos_hosted_share_cwd) share_host_view(root_given);
    if (rootfs_size) append_rootfs_size(rootfs_size);
    if (forward_signals) {
        const char token[] = " xos.signals";
        append(token, sizeof token - 1);
    }
    if (boot_tokens && *boot_tokens) {
        append(" ", 1);
        append(boot_tokens, strlen(boot_tokens));
    }
    g_cmdline[g_cmdline_length] = 0;

    init_memory(ram);
    init_signals();
    if (forward_signals) init_signal_forwarding();
    if (nic_fd >= 0) init_nic(nic_fd, nic_tap);
    init_shares();
    enter_sandbox();
    start_vcpu_threads();  // after the namespaces (unshare wants one thread), before the filter (no clone)
    install_seccomp();
    xos::kernel_main();
}

namespace xos::platform {

const char* command_line() { return hosted::g_cmdline; }

}  // namespace xos::platform
