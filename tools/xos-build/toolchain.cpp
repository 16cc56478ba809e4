#include "toolchain.h"

#include "process.h"
#include "xos_build_config.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace xos::driver {

namespace {

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

std::vector<std::string> split_paths(const std::string& list) {
    std::vector<std::string> result;
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(':', start);
        if (end == std::string::npos) end = list.size();
        if (end > start) result.push_back(list.substr(start, end - start));
        start = end + 1;
    }
    return result;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

// The installed layout: <prefix>/bin/xos-build next to <prefix>/<libdir>/xos/libxos.a.
std::string installed_library_dir() {
    namespace fs = std::filesystem;
    std::string bin = executable_dir();
    if (bin.empty()) return {};
    fs::path prefix = fs::path(bin).parent_path();
    std::vector<fs::path> candidates;
    fs::path configured = XOS_INSTALL_LIBDIR_RELATIVE;
    if (configured.is_relative()) candidates.push_back(prefix / configured);
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(prefix, error)) {
        auto name = entry.path().filename().string();
        if (name.rfind("lib", 0) == 0) candidates.push_back(entry.path() / "xos");
    }
    for (const auto& dir : candidates) {
        if (file_exists((dir / "libxos.a").string())) return dir.lexically_normal().string();
    }
    return {};
}

// tools/xos-build/include: installed as <prefix>/<libdir>/xos/include next to libxos.a, else
// the source tree's.
std::string fixup_include_dir() {
    if (auto dir = installed_library_dir(); !dir.empty() && directory_exists(dir + "/include")) return dir + "/include";
    return XOS_FIXUP_INCLUDE_DIR;
}

std::string find_in(const std::string& name, const std::vector<std::string>& dirs) {
    for (const auto& dir : dirs) {
        auto path = dir + "/" + name;
        if (file_exists(path)) return path;
    }
    throw Error("cannot find " + name + " (searched: " + join(dirs, ":") +
                "); build libxos and the platform library first, or set XOS_LIBDIR");
}

std::string require_toolchain_file(const Toolchain& toolchain, const std::string& path) {
    if (!file_exists(path))
        throw Error("xos toolchain is incomplete: " + path + " is missing (toolchain: " + toolchain.toolchain_dir +
                    "; build it with tools/toolchain/build-toolchain.sh or set XOS_TOOLCHAIN)");
    return path;
}

std::string require_compiler_runtime_file(const std::string& path) {
    if (!file_exists(path)) throw Error("clang runtime file " + path + " is missing (install libclang-rt-19-dev)");
    return path;
}

}  // namespace

Toolchain Toolchain::from_environment() {
    Toolchain toolchain;
    if (auto dir = env("XOS_TOOLCHAIN"); !dir.empty()) {
        toolchain.toolchain_dir = dir;
        toolchain.sysroot = dir + "/sysroot";
    } else {
        toolchain.toolchain_dir = XOS_TOOLCHAIN_DIR;
        toolchain.sysroot =
            std::string(XOS_SYSROOT_DIR).empty() ? toolchain.toolchain_dir + "/sysroot" : XOS_SYSROOT_DIR;
    }
    toolchain.resource_dir = XOS_RESOURCE_DIR;
    toolchain.clang = XOS_CLANG;
    toolchain.clangxx = XOS_CLANGXX;
    toolchain.strip = XOS_STRIP;
    toolchain.objcopy = XOS_OBJCOPY;
    return toolchain;
}

void Toolchain::require_headers() const {
    if (!directory_exists(sysroot + "/include"))
        throw Error("xos sysroot not found: " + sysroot +
                    "/include is missing (build it with tools/toolchain/build-toolchain.sh, "
                    "or point XOS_TOOLCHAIN at the toolchain directory)");
}

void scrub_host_search_paths() {
    for (const char* name : {"LIBRARY_PATH", "CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "OBJC_INCLUDE_PATH"})
        unsetenv(name);
}

std::vector<std::string> target_compile_flags(const Toolchain& toolchain, Language language) {
    // --sysroot also keeps clang from adding the host's include and library directories.
    std::vector<std::string> flags{std::string("--target=") + target_triple, "--sysroot=" + toolchain.sysroot};
    if (language == Language::Cxx) {
        // libc++'s headers must come before libc's: they #include_next the C headers.
        flags.insert(flags.end(), {"-nostdinc++", "-isystem", toolchain.sysroot + "/include/c++/v1"});
    }
    flags.insert(flags.end(),
                 {
                     "-nostdinc",
                     "-isystem",
                     toolchain.resource_dir + "/include",
                     // xos-cc's fix-ups of musl headers (tools/xos-build/include), then musl's
                     "-isystem",
                     fixup_include_dir(),
                     "-isystem",
                     toolchain.sysroot + "/include",
                     // images are linked above 2 GiB: see TARGET_CODEGEN
                     "-fPIE",
                     "-fno-plt",
                     "-fno-omit-frame-pointer",
                     // add/sub rather than inc/dec: see TARGET_CODEGEN in
                     // tools/toolchain/build-toolchain.sh (4.5x in TCG loops)
                     "-Xclang",
                     "-target-feature",
                     "-Xclang",
                     "+slow-incdec",
                     "-D__xos__",
                 });
    return flags;
}

std::vector<std::string> xos_library_dirs() {
    if (auto dirs = split_paths(env("XOS_LIBDIR")); !dirs.empty()) return dirs;
    if (auto dir = installed_library_dir(); !dir.empty()) return {dir};
    return split_paths(XOS_BUILD_LIBDIRS);
}

std::vector<std::string> available_platforms(const std::vector<std::string>& library_dirs) {
    auto platforms = split_paths(XOS_PLATFORMS);
    std::vector<std::string> found;
    for (const auto& dir : library_dirs) {
        std::error_code error;
        for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
            auto name = entry.path().filename().string();
            const std::string prefix = "libxos-", suffix = ".a";
            if (name.size() > prefix.size() + suffix.size() && name.rfind(prefix, 0) == 0 &&
                name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
                found.push_back(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
        }
    }
    std::sort(found.begin(), found.end());
    for (const auto& name : found) {
        if (std::find(platforms.begin(), platforms.end(), name) == platforms.end()) platforms.push_back(name);
    }
    return platforms;
}

void require_platform(const std::string& platform, const std::vector<std::string>& library_dirs) {
    auto platforms = available_platforms(library_dirs);
    if (std::find(platforms.begin(), platforms.end(), platform) == platforms.end())
        throw Error("platform '" + platform + "' is not available (available: " + join(platforms, ", ") + ")",
                    exit_usage);
}

std::string default_platform() {
    if (auto platform = env("XOS_PLATFORM"); !platform.empty()) return platform;
    return XOS_DEFAULT_PLATFORM;
}

std::string find_in_library_dirs(const std::string& name, const std::vector<std::string>& dirs) {
    return find_in(name, dirs);
}

LinkFiles resolve_link_files(const Toolchain& toolchain, const std::string& platform,
                             const std::vector<std::string>& library_dirs) {
    LinkFiles files;
    files.sysroot = toolchain.sysroot;
    auto lib = toolchain.sysroot + "/lib/";
    files.crt1 = require_toolchain_file(toolchain, lib + "crt1.o");
    files.crti = require_toolchain_file(toolchain, lib + "crti.o");
    files.crtn = require_toolchain_file(toolchain, lib + "crtn.o");

    auto runtime = toolchain.resource_dir + "/lib/linux/";
    files.crtbegin = require_compiler_runtime_file(runtime + "clang_rt.crtbegin-x86_64.o");
    files.crtend = require_compiler_runtime_file(runtime + "clang_rt.crtend-x86_64.o");

    // libc++abi and libunwind may be merged into libc++.a (LIBCXX_ENABLE_STATIC_ABI_LIBRARY):
    // name only the archives that exist.
    for (const char* name : {"libc++.a", "libc++abi.a", "libunwind.a"}) {
        if (file_exists(lib + name)) files.runtime_archives.push_back(lib + name);
    }
    files.runtime_archives.push_back(require_toolchain_file(toolchain, lib + "libc.a"));
    files.runtime_archives.push_back(require_compiler_runtime_file(runtime + "libclang_rt.builtins-x86_64.a"));

    files.linker_script = find_in("xos-" + platform + ".ld", library_dirs);
    files.libxos = find_in("libxos.a", library_dirs);
    files.libxos_platform = find_in("libxos-" + platform + ".a", library_dirs);
    if (platform == "hosted") files.entry_symbol = "xos_hosted_entry";  // a static Linux executable (docs/hosted.md)
    return files;
}

std::vector<std::string> link_command(const std::string& driver, const LinkFiles& files,
                                      const std::vector<std::string>& leading_flags,
                                      const std::vector<std::string>& user_items,
                                      const std::optional<std::string>& output) {
    std::vector<std::string> argv{
        driver,
        std::string("--target=") + target_triple,
        "--sysroot=" + files.sysroot,
        "-static",
        "-nostdlib",
        "-fuse-ld=lld",
        // -lm, -lpthread, -lrt, -ldl, -lcrypt, -lutil, -lxnet: musl's empty archives; a library
        // the sysroot lacks (-lz) is a link error, never the host's.
        "-L" + files.sysroot + "/lib",
        // -static already means a non-PIE executable (and clang warns about an extra -no-pie).
        "-Wl,-T," + files.linker_script,
        "-Wl,--eh-frame-hdr",
        "-Wl,-z,max-page-size=4096",
        // Everything is built with -ffunction-sections -fdata-sections: drop what is unused.
        "-Wl,--gc-sections",
        "-Wl,-e," + files.entry_symbol,
        files.crt1,
        files.crti,
        files.crtbegin,
    };
    argv.insert(argv.end(), leading_flags.begin(), leading_flags.end());
    argv.insert(argv.end(), user_items.begin(), user_items.end());
    argv.push_back("-Wl,--start-group");
    argv.push_back(files.libxos);
    argv.push_back(files.libxos_platform);
    argv.insert(argv.end(), files.runtime_archives.begin(), files.runtime_archives.end());
    argv.push_back("-Wl,--end-group");
    argv.push_back(files.crtend);
    argv.push_back(files.crtn);
    if (output) {
        argv.push_back("-o");
        argv.push_back(*output);
    }
    return argv;
}

}  // namespace xos::driver
