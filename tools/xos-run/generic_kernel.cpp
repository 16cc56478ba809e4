#include "generic_kernel.h"

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace {

std::string executable_dir() {
    char buffer[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (n <= 0) return {};
    return std::filesystem::path(std::string(buffer, static_cast<std::size_t>(n))).parent_path().string();
}

}  // namespace

std::string find_generic_kernel(const std::string& platform) {
    namespace fs = std::filesystem;
    if (const char* explicit_image = std::getenv("XOS_KERNEL"); explicit_image && *explicit_image)
        return explicit_image;
    std::string name = platform == "hosted" ? "xos-kernel-hosted" : "xos-kernel.xos";
    std::string bin = executable_dir();
    std::error_code error;
    if (!bin.empty()) {
        fs::path prefix = fs::path(bin).parent_path();
        std::vector<fs::path> candidates{prefix / "xos-kernel" / name};  // the build tree
        if (fs::path configured = XOS_INSTALL_LIBDIR_RELATIVE; configured.is_relative())
            candidates.push_back(prefix / configured / name);  // installed: <prefix>/<libdir>/xos/
        for (const auto& entry : fs::directory_iterator(prefix, error))  // <prefix>/lib*/xos/
            if (entry.path().filename().string().rfind("lib", 0) == 0)
                candidates.push_back(entry.path() / "xos" / name);
        for (const auto& candidate : candidates)
            if (fs::is_regular_file(candidate, error)) return candidate.lexically_normal().string();
    }
    throw UsageError("--rootfs/--root-image: cannot find the generic kernel image " + name +
                     " (build or install xos, or set XOS_KERNEL to its path)");
}

namespace {

void apply_root_image(Options& opts) {
    if (opts.app_args.empty())
        throw UsageError(
            "--root-image: no program to run (usage: xos-run --root-image FILE -- /usr/bin/prog [ARGS...])");
    std::error_code error;
    if (!std::filesystem::is_regular_file(opts.root_image, error))
        throw UsageError("--root-image: " + opts.root_image + ": not a file");
    opts.image = find_generic_kernel(opts.platform);
    opts.disks.insert(opts.disks.begin(), DiskOption{opts.root_image, true});
    opts.guest_root = "erofs:/dev/vda";
    if (opts.platform == "hosted") opts.env.push_back("XOS_EXEC=wx");
}

}  // namespace

void apply_rootfs(Options& opts) {
    if (!opts.root_image.empty()) return apply_root_image(opts);
    if (opts.rootfs.empty()) return;
    if (opts.app_args.empty())
        throw UsageError("--rootfs: no program to run (usage: xos-run --rootfs DIR -- /usr/bin/prog [ARGS...])");
    std::error_code error;
    if (!std::filesystem::is_directory(opts.rootfs, error))
        throw UsageError("--rootfs: " + opts.rootfs + ": not a directory");
    opts.image = find_generic_kernel(opts.platform);
    // Passthrough: the guest sees the host files' own modes (execute bits); read-only unless :rw,
    // with the program's writes kept in memory by libos's overlay (xos.root=). :ro shares it
    // writable, so that libos can make the mount points, and libos makes the root read-only.
    bool share_writable = opts.rootfs_writable || opts.rootfs_read_only;
    opts.shares.insert(opts.shares.begin(),
                       ShareOption{opts.rootfs, kRootfsGuestPath, ShareMode::Passthrough, !share_writable});
    opts.guest_root = std::string(kRootfsGuestPath) +
        (opts.rootfs_writable        ? ":rw"
             : opts.rootfs_read_only ? ":ro"
                                     : "");
    // Hosted: the loaded program's code lives in app memory, which the sandbox keeps
    // non-executable unless told otherwise (docs/hosted.md, W^X per mapping).
    if (opts.platform == "hosted") opts.env.push_back("XOS_EXEC=wx");
}
