#include "from_image.h"

#include "image_error.h"
#include "layer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

extern char** environ;

namespace xos::image {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxWarnings = 20;

// The image's creation time in seconds since the epoch (0 if it has none): every file of the
// EROFS root gets it, since erofs-utils 1.5 has no other way to make the output reproducible.
long long created_epoch(const std::string& created) {
    struct tm parts{};
    const char* end = ::strptime(created.c_str(), "%Y-%m-%dT%H:%M:%S", &parts);
    if (!end) return 0;
    long long seconds = ::timegm(&parts);
    return seconds < 0 ? 0 : seconds;
}

// A file-system UUID derived from the config digest (same image, same UUID).
std::string uuid_from_digest(const std::string& digest) {
    std::string hex = digest.substr(digest.find(':') + 1);
    if (hex.size() < 32) hex.append(32 - hex.size(), '0');
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
        hex.substr(20, 12);
}

void run_program(const std::vector<std::string>& argv, bool verbose) {
    if (verbose) {
        std::string line;
        for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
        std::fprintf(stderr, "xos-build: %s\n", line.c_str());
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    int error = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
    if (error != 0)
        throw ImageError("cannot run " + argv[0] + ": " + std::strerror(error) +
                         (error == ENOENT ? " (install Debian's erofs-utils)" : ""));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw ImageError(argv[0] + " failed");
}

void write_file_atomically(const std::string& path, const std::string& text) {
    std::string temp = path + ".new";
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) throw ImageError(temp + ": cannot write");
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) throw ImageError(path + ": " + std::strerror(errno));
}

void remove_all_or_throw(const std::string& path) {
    std::error_code error;
    fs::remove_all(path, error);
    if (error) throw ImageError(path + ": cannot remove: " + error.message());
}

// Removes the build's temporary files and directories when it ends: a failed build (a corrupt
// layer, mkfs.erofs failing) leaves no half-made tree next to the output; after a successful one
// they have been renamed into place or removed already.
struct TemporariesRemoved {
    std::vector<std::string> paths;
    ~TemporariesRemoved() {
        for (const auto& path : paths) {
            std::error_code ignored;
            fs::remove_all(path, ignored);
        }
    }
};

}  // namespace

std::optional<Compression> parse_compression(std::string_view name) {
    if (name == "none") return Compression::None;
    if (name == "lz4") return Compression::Lz4;
    if (name == "lz4hc") return Compression::Lz4hc;
    return std::nullopt;
}

const char* compression_name(Compression compression) {
    switch (compression) {
    case Compression::None: return "none";
    case Compression::Lz4: return "lz4";
    case Compression::Lz4hc: return "lz4hc";
    }
    return "none";
}

std::size_t unpack_layers(const ImageSource& image, const std::string& root, bool verbose) {
    std::size_t warnings = 0;
    ApplyOptions options;
    options.keep_owners = ::geteuid() == 0;
    options.warn = [&](const std::string& text) {
        if (++warnings <= kMaxWarnings) std::fprintf(stderr, "xos-build: warning: %s\n", text.c_str());
        if (warnings == kMaxWarnings + 1) std::fprintf(stderr, "xos-build: warning: (more warnings left out)\n");
    };
    std::size_t entries = 0;
    for (std::size_t i = 0; i < image.layers().size(); ++i) {
        LayerStats stats = apply_layer(image.layers()[i], root, options);
        entries += stats.entries;
        if (verbose)
            std::fprintf(stderr, "xos-build: layer %zu/%zu %s: %zu entries, %zu whiteouts, %zu opaque directories\n",
                         i + 1, image.layers().size(), image.layer_digests()[i].c_str(), stats.entries, stats.whiteouts,
                         stats.opaque_dirs);
    }
    return entries;
}

void build_from_image(const FromImageOptions& options) {
    if (options.platform != "kvm" && options.platform != "hosted")
        throw ImageError("--platform: expected kvm or hosted with --from-image, got '" + options.platform + "'");
    fs::path output = fs::absolute(options.output);
    std::string out = output.string();
    std::string name = output.filename().string();
    std::error_code error;
    fs::create_directories(output.parent_path(), error);

    ImageSource image(options.source, output.parent_path().string());
    if (options.verbose)
        std::fprintf(stderr, "xos-build: %s: %s, config %s, %zu layers\n", options.source.c_str(),
                     format_name(image.format()), image.config_digest().c_str(), image.layers().size());

    // The tree: built next to the output, then moved into place (--keep-root) or removed.
    std::string root_new = out + ".root.new";
    std::string erofs_new = out + ".erofs.new";
    TemporariesRemoved temporaries{{root_new, erofs_new, out + ".new"}};
    remove_all_or_throw(root_new);
    if (::mkdir(root_new.c_str(), 0755) != 0 || ::chmod(root_new.c_str(), 0755) != 0)
        throw ImageError(root_new + ": " + std::strerror(errno));
    unpack_layers(image, root_new, options.verbose);
    if (::geteuid() != 0)
        std::fprintf(stderr,
                     "xos-build: warning: not root: the files' owners are not kept (all are root's in %s.erofs)\n",
                     name.c_str());

    std::vector<std::string> mkfs{"mkfs.erofs", "--quiet", "-T" + std::to_string(created_epoch(image.config().created)),
                                  "-U" + uuid_from_digest(image.config_digest())};
    if (::geteuid() != 0) mkfs.push_back("--all-root");
    // The default physical cluster (4 KiB): big pclusters are an incompatible feature libos does
    // not read (libos/fs/erofs/format.h).
    if (options.compression == Compression::Lz4) mkfs.push_back("-zlz4");
    if (options.compression == Compression::Lz4hc) mkfs.push_back("-zlz4hc");
    mkfs.push_back(erofs_new);
    mkfs.push_back(root_new);
    fs::remove(erofs_new, error);
    run_program(mkfs, options.verbose);

    fs::copy_file(options.kernel, out + ".new", fs::copy_options::overwrite_existing, error);
    if (error) throw ImageError(options.kernel + ": cannot copy the generic kernel image: " + error.message());
    ::chmod((out + ".new").c_str(), 0755);

    json description{{"format", kDescriptionFormat},
                     {"version", kDescriptionVersion},
                     {"platform", options.platform},
                     {"kernel", name},
                     {"root_image", name + ".erofs"},
                     {"config", config_to_json(image.config())},
                     {"image", {{"config_digest", image.config_digest()}, {"layers", image.layer_digests()}}}};

    if (options.keep_root) description["root_dir"] = name + ".root";

    // Into place: the tree (kept only when asked: nothing reads it at run time), the EROFS file,
    // the kernel, and the description last.
    remove_all_or_throw(out + ".root");
    if (options.keep_root) {
        if (::rename(root_new.c_str(), (out + ".root").c_str()) != 0)
            throw ImageError(out + ".root: " + std::strerror(errno));
    } else {
        remove_all_or_throw(root_new);
    }
    if (::rename(erofs_new.c_str(), (out + ".erofs").c_str()) != 0 ||
        ::rename((out + ".new").c_str(), out.c_str()) != 0)
        throw ImageError(out + ": " + std::strerror(errno));
    write_file_atomically(out + ".json", description.dump(2) + "\n");
}

Description read_description(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ImageError(path + ": cannot read");
    json document = json::parse(in, nullptr, false);
    if (document.is_discarded() || !document.is_object() || document.value("format", "") != kDescriptionFormat)
        throw ImageError(path + ": not an xos container-image description");
    if (document.value("version", 0) != kDescriptionVersion)
        throw ImageError(path + ": description version " + std::to_string(document.value("version", 0)) +
                         " (this xos reads version " + std::to_string(kDescriptionVersion) + ")");
    fs::path dir = fs::absolute(path).parent_path();
    auto file = [&](const char* key) {
        std::string value = document.value(key, "");
        if (value.empty() || value.find('/') != std::string::npos)
            throw ImageError(path + ": '" + key + "' must name a file next to it");
        return (dir / value).string();
    };
    Description description;
    description.platform = document.value("platform", "");
    if (description.platform != "kvm" && description.platform != "hosted")
        throw ImageError(path + ": unknown platform '" + description.platform + "'");
    description.kernel = file("kernel");
    description.root_image = file("root_image");
    if (document.contains("root_dir")) description.root_dir = file("root_dir");  // --keep-root only
    auto config = document.find("config");
    if (config == document.end() || !config->is_object()) throw ImageError(path + ": no config");
    description.config = config_from_json(*config);
    return description;
}

std::vector<std::string> image_hints(const ImageConfig& config) {
    std::vector<std::string> hints;
    for (const auto& port : config.exposed_ports) {
        auto slash = port.find('/');
        std::string number = port.substr(0, slash);
        bool udp = slash != std::string::npos && port.substr(slash + 1) == "udp";
        hints.push_back("the image exposes " + port + ": forward it with -p " + (udp ? "udp:" : "") +
                        "HOSTPORT:" + number);
    }
    for (const auto& volume : config.volumes)
        hints.push_back("the image declares the volume " + volume +
                        ": keep its data on the host with --share HOSTDIR:" + volume);
    return hints;
}

}  // namespace xos::image
