// xos-build --from-image: a container image in, an xos image out (docs/container-images.md).
//
// OUT            the generic kernel image of the platform (a copy of xos-kernel.xos, or of
//                xos-kernel-hosted: a static Linux executable)
// OUT.erofs      the image's merged layers as a read-only EROFS file system (mkfs.erofs;
//                LZ4-compressed by default: --compress)
// OUT.json       the description xos-run reads: format, platform, file names, image config
// OUT.root/      only with --keep-root: the same tree as a directory, for inspection (nothing
//                reads it at run time; xos-run boots OUT.erofs)
//
// Rebuilding from the same image gives byte-identical OUT, OUT.erofs and OUT.json.
#pragma once

#include "image_config.h"
#include "image_source.h"

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace xos::image {

inline constexpr const char* kDescriptionFormat = "xos-container-image";
inline constexpr int kDescriptionVersion = 1;

// How OUT.erofs's file data is stored (mkfs.erofs -z). The libos EROFS reader decodes LZ4
// (libos/fs/erofs/lz4.cpp); lz4hc is the same format, packed harder at build time.
enum class Compression { None, Lz4, Lz4hc };
// Chosen by measuring (docs/container-images.md, "Compression"): LZ4 roughly halves the file and
// start-up is no slower.
inline constexpr Compression kDefaultCompression = Compression::Lz4;

// "none", "lz4", "lz4hc" -> the Compression; nothing for another name.
std::optional<Compression> parse_compression(std::string_view name);
const char* compression_name(Compression compression);

struct FromImageOptions {
    std::string source;  // ARCHIVE or DIR
    std::string output;  // OUT
    std::string platform = "kvm";  // kvm | hosted
    std::string kernel;  // the generic kernel image to copy
    Compression compression = kDefaultCompression;
    bool keep_root = false;  // also keep the merged tree as OUT.root/
    bool verbose = false;
};

// Applies every layer of `image` in order to the empty directory `root`; returns the number of
// entries written. Warnings go to stderr.
std::size_t unpack_layers(const ImageSource& image, const std::string& root, bool verbose);

// Builds OUT, OUT.erofs and OUT.json (and OUT.root/ with keep_root; a stale OUT.root/ is
// removed otherwise). Throws ImageError.
void build_from_image(const FromImageOptions& options);

// The description OUT.json of a built image (what xos-run reads).
struct Description {
    std::string platform;
    std::string kernel;  // absolute paths, resolved against the description's directory
    std::string root_image;
    std::string root_dir;  // empty unless the image was built with --keep-root
    ImageConfig config;
};

// Reads OUT.json. Throws ImageError when it is not a description of this format.
Description read_description(const std::string& path);

// Lines of advice about the image: exposed ports (-p), volumes (--share), the stop signal.
std::vector<std::string> image_hints(const ImageConfig& config);

}  // namespace xos::image
