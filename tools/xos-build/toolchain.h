// Where the xos toolchain pieces live and how a compile or link command for an xos image is
// formed. Shared by xos-build, xos-cc and xos-c++: the target flags and the link line are
// defined here and nowhere else.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace xos::driver {

// A failure the user should see as `<program>: error: <message>`, exiting with `exit_code`.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, int exit_code = 1)
        : std::runtime_error(message), m_exit_code(exit_code) {}
    int exit_code() const { return m_exit_code; }

private:
    int m_exit_code;
};

// Exit codes shared by the three programs.
inline constexpr int exit_failure = 1;  // missing file, failed compile or link
inline constexpr int exit_usage = 2;  // bad command line

inline constexpr const char* target_triple = "x86_64-linux-musl";

// xos-cc's default output (docs/toolchain.md): a hosted executable whose non-loaded section of
// this name holds the VM image (xos-run boots it; tools/xos-run/image_check.h).
inline constexpr const char* vm_image_section = ".xos.vm";

// Defined (to 1) in the hosted executables xos-cc links: run directly, the hosted platform
// shares the host's current directory at its own path and starts the program there.
inline constexpr const char* hosted_share_cwd_symbol = "xos_hosted_share_cwd";

enum class Language { C, Cxx, Asm, AsmWithCpp };

// The host-side programs and the target sysroot (musl, libc++), resolved from the compiled-in
// configuration and the environment (XOS_TOOLCHAIN overrides the toolchain directory).
struct Toolchain {
    std::string toolchain_dir;
    std::string sysroot;
    std::string resource_dir;  // clang -print-resource-dir
    std::string clang;
    std::string clangxx;
    std::string strip;
    std::string objcopy;

    static Toolchain from_environment();

    const std::string& driver_for(Language language) const { return language == Language::Cxx ? clangxx : clang; }

    // Fails with a clear message when the sysroot has not been built (yet).
    void require_headers() const;
};

// Removes the environment variables through which clang would search the host's directories
// (LIBRARY_PATH for -l, CPATH and C/CPLUS_INCLUDE_PATH for headers) before any compile or link.
void scrub_host_search_paths();

// Flags that make clang compile for the xos target: musl headers, libc++ headers for C++,
// no PIE, frame pointers, __xos__.
std::vector<std::string> target_compile_flags(const Toolchain& toolchain, Language language);

// Everything the link line names besides the user's own inputs.
struct LinkFiles {
    std::string linker_script;  // xos-<platform>.ld
    std::string libxos;  // libxos.a
    std::string libxos_platform;  // libxos-<platform>.a
    std::string entry_symbol = "xos_pvh_entry";  // ELF entry: the PVH entry, or hosted's process entry
    std::string crt1, crti, crtn, crtbegin, crtend;
    std::string sysroot;  // --sysroot: -lNAME and -L=DIR resolve in it, never in the host's dirs
    std::vector<std::string> runtime_archives;  // libc++, libc++abi, libunwind, libc, builtins
};

// The directories searched for libxos.a, libxos-<platform>.a and xos-<platform>.ld, in order:
// $XOS_LIBDIR (colon-separated); else the installed layout next to the running executable;
// else the build tree this program was configured in.
std::vector<std::string> xos_library_dirs();

// Platforms that can be linked: the configured ones plus any libxos-<name>.a in the library dirs.
std::vector<std::string> available_platforms(const std::vector<std::string>& library_dirs);

// Fails with exit_usage and `platform 'xen' is not available (available: kvm)`.
void require_platform(const std::string& platform, const std::vector<std::string>& library_dirs);

// The platform used when none is named: $XOS_PLATFORM, else the configured default.
std::string default_platform();

// `name` in the first of `dirs` that has it (xos-loader.o for --exec); Error naming the dirs otherwise.
std::string find_in_library_dirs(const std::string& name, const std::vector<std::string>& dirs);

// Looks every file of the link line up; a missing one fails naming the file and the dirs searched.
LinkFiles resolve_link_files(const Toolchain& toolchain, const std::string& platform,
                             const std::vector<std::string>& library_dirs);

// The whole link line, in one place:
//   <driver> --target=... --sysroot=<sysroot> -static -nostdlib -fuse-ld=lld -L<sysroot>/lib
//   -Wl,-T,<ld> -Wl,--eh-frame-hdr -Wl,-z,max-page-size=4096 -Wl,--gc-sections -Wl,-e,xos_pvh_entry
//   crt1 crti crtbegin
//   <leading_flags> <user_items in order> -Wl,--start-group libxos libxos-<platform> runtime...
//   -Wl,--end-group crtend crtn [-o output]
// `user_items` are objects, archives, -L, -l and -Wl flags in the order the user gave them.
std::vector<std::string> link_command(const std::string& driver, const LinkFiles& files,
                                      const std::vector<std::string>& leading_flags,
                                      const std::vector<std::string>& user_items,
                                      const std::optional<std::string>& output);

}  // namespace xos::driver
