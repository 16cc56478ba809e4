// Finding an image's config and layers in what `podman save`, `docker save` and `skopeo copy`
// write, without a registry:
// - an OCI image layout directory (oci-layout, index.json, blobs/sha256/...): index.json (and
//   nested indexes) -> the linux/amd64 manifest -> config + layers, every blob's size and
//   sha256 checked against its descriptor;
// - an OCI archive (that directory as a tar);
// - a docker-archive tarball (manifest.json -> Config and Layers; the config's file name and
//   each layer's rootfs.diff_ids entry checked), or the same extracted into a directory.
// An image for another platform, a missing blob, a digest mismatch or a malformed document
// is an ImageError that says which.
#pragma once

#include "image_config.h"

#include <string>
#include <vector>

namespace xos::image {

enum class SourceFormat { OciLayout, OciArchive, DockerArchive, DockerDirectory };

const char* format_name(SourceFormat format);

class ImageSource {
public:
    // Opens SOURCE (a directory or an archive file, optionally compressed). An archive is
    // unpacked into a temporary directory under `temp_parent` (removed by the destructor, or
    // at once when the source is refused).
    ImageSource(const std::string& source, const std::string& temp_parent);
    ~ImageSource();
    ImageSource(const ImageSource&) = delete;
    ImageSource& operator=(const ImageSource&) = delete;

    SourceFormat format() const { return m_format; }
    const ImageConfig& config() const { return m_config; }
    const std::string& config_digest() const { return m_config_digest; }  // "sha256:..."
    // The layer files, lowest first (verified).
    const std::vector<std::string>& layers() const { return m_layers; }
    const std::vector<std::string>& layer_digests() const { return m_layer_digests; }

private:
    void open(const std::string& temp_parent);  // the constructor's work (it removes m_temp_dir on error)
    void open_oci_layout(const std::string& dir);
    void open_docker(const std::string& dir);
    std::string blob_path(const std::string& dir, const std::string& digest);
    std::string inside(const std::string& dir, const std::string& relative);
    void check_platform(const std::string& what) const;

    std::string m_source;
    std::string m_temp_dir;
    SourceFormat m_format = SourceFormat::OciLayout;
    ImageConfig m_config;
    std::string m_config_digest;
    std::vector<std::string> m_layers;
    std::vector<std::string> m_layer_digests;
};

// sha256 (hex) of the file's contents after decompression (gzip, zstd, xz... or none).
std::string sha256_uncompressed_hex(const std::string& path);

}  // namespace xos::image
