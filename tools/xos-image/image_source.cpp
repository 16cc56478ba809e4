#include "image_source.h"

#include "digest.h"
#include "image_error.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <optional>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

namespace xos::image {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxDocumentBytes = 16 << 20;  // manifests and configs are small

std::string read_document(const std::string& path) {
    std::error_code error;
    auto size = fs::file_size(path, error);
    if (error) throw ImageError(path + ": " + error.message());
    if (size > kMaxDocumentBytes) throw ImageError(path + ": too large for a JSON document");
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) throw ImageError(path + ": cannot read");
    return text.str();
}

json parse_document(const std::string& text, const std::string& what) {
    json document = json::parse(text, nullptr, false);
    if (document.is_discarded()) throw ImageError(what + ": not valid JSON");
    return document;
}

bool is_index(const std::string& media_type) {
    return media_type == "application/vnd.oci.image.index.v1+json" ||
        media_type == "application/vnd.docker.distribution.manifest.list.v2+json";
}

std::string string_of(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string platform_of(const json& descriptor) {
    auto it = descriptor.find("platform");
    if (it == descriptor.end() || !it->is_object()) return {};
    return string_of(*it, "os") + "/" + string_of(*it, "architecture");
}

// Unpacks the outer archive of an OCI archive or docker-archive (regular files, directories and
// the symlinks old docker-archives use for repeated layers) into `dir`.
void unpack_outer_archive(const std::string& file, const std::string& dir) {
    std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(reader.get());
    archive_read_support_format_tar(reader.get());
    if (archive_read_open_filename(reader.get(), file.c_str(), 1 << 16) != ARCHIVE_OK)
        throw ImageError(file + ": " + (archive_error_string(reader.get()) ?: "cannot open"));
    std::unique_ptr<archive, decltype(&archive_write_free)> writer(archive_write_disk_new(), archive_write_free);
    // Names are made absolute below (inside `dir`), so absolute names are refused here instead.
    archive_write_disk_set_options(writer.get(), ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    std::size_t entries = 0;
    for (;;) {
        archive_entry* entry = nullptr;
        int status = archive_read_next_header(reader.get(), &entry);
        if (status == ARCHIVE_EOF) break;
        if (status < ARCHIVE_WARN)
            throw ImageError(file + ": not an image archive, or corrupt or truncated: " +
                             (archive_error_string(reader.get()) ?: "read error"));
        auto type = archive_entry_filetype(entry);
        if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) continue;
        std::string name = archive_entry_pathname(entry) ?: "";
        if (name.empty() || name.front() == '/') throw ImageError(file + ": entry '" + name + "': not a relative path");
        archive_entry_set_pathname(entry, (dir + "/" + name).c_str());
        archive_entry_set_perm(entry, type == AE_IFDIR ? 0700 : 0600);
        if (archive_write_header(writer.get(), entry) < ARCHIVE_WARN)
            throw ImageError(file + ": entry '" + name +
                             "': " + (archive_error_string(writer.get()) ?: "cannot write"));
        for (;;) {
            const void* block;
            size_t size;
            la_int64_t offset;
            int read = archive_read_data_block(reader.get(), &block, &size, &offset);
            if (read == ARCHIVE_EOF) break;
            if (read < ARCHIVE_WARN)
                throw ImageError(file + ": entry '" + name +
                                 "': corrupt or truncated: " + (archive_error_string(reader.get()) ?: "read error"));
            if (archive_write_data_block(writer.get(), block, size, offset) < ARCHIVE_WARN)
                throw ImageError(file + ": " + (archive_error_string(writer.get()) ?: "write error"));
        }
        archive_write_finish_entry(writer.get());
        ++entries;
    }
    if (entries == 0) throw ImageError(file + ": not an image archive (no files in it)");
}

}  // namespace

const char* format_name(SourceFormat format) {
    switch (format) {
    case SourceFormat::OciLayout: return "OCI layout";
    case SourceFormat::OciArchive: return "OCI archive";
    case SourceFormat::DockerArchive: return "docker-archive";
    case SourceFormat::DockerDirectory: return "docker-archive directory";
    }
    return "?";
}

std::string sha256_uncompressed_hex(const std::string& path) {
    std::unique_ptr<archive, decltype(&archive_read_free)> reader(archive_read_new(), archive_read_free);
    archive_read_support_filter_all(reader.get());
    archive_read_support_format_raw(reader.get());
    archive_entry* entry = nullptr;
    if (archive_read_open_filename(reader.get(), path.c_str(), 1 << 16) != ARCHIVE_OK ||
        archive_read_next_header(reader.get(), &entry) != ARCHIVE_OK)
        throw ImageError(path + ": " + (archive_error_string(reader.get()) ?: "cannot read"));
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
    char buffer[1 << 16];
    for (;;) {
        la_ssize_t n = archive_read_data(reader.get(), buffer, sizeof buffer);
        if (n < 0) throw ImageError(path + ": corrupt or truncated: " + (archive_error_string(reader.get()) ?: ""));
        if (n == 0) break;
        EVP_DigestUpdate(ctx.get(), buffer, size_t(n));
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned size = 0;
    EVP_DigestFinal_ex(ctx.get(), out, &size);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    for (unsigned i = 0; i < size; ++i) text += {kHex[out[i] >> 4], kHex[out[i] & 0xf]};
    return text;
}

ImageSource::ImageSource(const std::string& source, const std::string& temp_parent) : m_source(source) {
    try {
        open(temp_parent);
    } catch (...) {
        // No destructor runs for a constructor that throws: the unpacked archive goes here.
        if (!m_temp_dir.empty()) {
            std::error_code ignored;
            fs::remove_all(m_temp_dir, ignored);
        }
        throw;
    }
}

void ImageSource::open(const std::string& temp_parent) {
    const std::string& source = m_source;
    std::error_code error;
    auto status = fs::status(source, error);
    if (error || !fs::exists(status)) throw ImageError(source + ": no such file or directory");
    std::string dir = source;
    bool archive_file = !fs::is_directory(status);
    if (archive_file) {
        std::string pattern = temp_parent + "/xos-image-XXXXXX";
        if (!::mkdtemp(pattern.data()))
            throw ImageError(temp_parent + ": cannot make a temporary directory: " + std::strerror(errno));
        m_temp_dir = pattern;
        unpack_outer_archive(source, m_temp_dir);
        dir = m_temp_dir;
    }
    if (fs::exists(dir + "/oci-layout") || fs::exists(dir + "/index.json")) {
        m_format = archive_file ? SourceFormat::OciArchive : SourceFormat::OciLayout;
        open_oci_layout(dir);
    } else if (fs::exists(dir + "/manifest.json")) {
        m_format = archive_file ? SourceFormat::DockerArchive : SourceFormat::DockerDirectory;
        open_docker(dir);
    } else {
        throw ImageError(source + ": not an image: no oci-layout/index.json (OCI) or manifest.json (docker-archive)");
    }
}

ImageSource::~ImageSource() {
    if (m_temp_dir.empty()) return;
    std::error_code error;
    fs::remove_all(m_temp_dir, error);
}

// `relative` inside `dir`, refusing anything (a symlink, "..") that leads out of it.
std::string ImageSource::inside(const std::string& dir, const std::string& relative) {
    std::error_code error;
    fs::path base = fs::canonical(dir, error);
    fs::path resolved = fs::canonical(fs::path(dir) / relative, error);
    if (error) throw ImageError(m_source + ": missing file '" + relative + "'");
    auto [end, ignored] = std::mismatch(base.begin(), base.end(), resolved.begin(), resolved.end());
    if (end != base.end()) throw ImageError(m_source + ": '" + relative + "' points outside the image");
    if (!fs::is_regular_file(resolved)) throw ImageError(m_source + ": '" + relative + "' is not a file");
    return resolved.string();
}

std::string ImageSource::blob_path(const std::string& dir, const std::string& digest) {
    std::string hex = sha256_of_digest(digest);
    std::string path = inside(dir, "blobs/sha256/" + hex);
    if (sha256_file_hex(path) != hex)
        throw ImageError(m_source + ": blob " + digest + " does not match its digest (corrupt image)");
    return path;
}

void ImageSource::check_platform(const std::string& what) const {
    if ((!m_config.os.empty() && m_config.os != "linux") ||
        (!m_config.architecture.empty() && m_config.architecture != "amd64"))
        throw ImageError(what + " is for " + m_config.os + "/" + m_config.architecture +
                         "; xos runs linux/amd64 images");
}

void ImageSource::open_oci_layout(const std::string& dir) {
    json index = parse_document(read_document(inside(dir, "index.json")), m_source + ": index.json");
    // Walk indexes down to the first linux/amd64 manifest (or one that does not say).
    std::vector<std::string> other_platforms;
    std::function<std::optional<json>(const json&, int)> find_manifest = [&](const json& idx,
                                                                             int depth) -> std::optional<json> {
        if (depth > 4) throw ImageError(m_source + ": indexes nested too deeply");
        auto it = idx.find("manifests");
        if (it == idx.end() || !it->is_array()) throw ImageError(m_source + ": an index without a manifests list");
        for (const auto& descriptor : *it) {
            if (!descriptor.is_object()) continue;
            std::string platform = platform_of(descriptor);
            if (!platform.empty() && platform != "linux/amd64") {
                other_platforms.push_back(platform);
                continue;
            }
            std::string media_type = string_of(descriptor, "mediaType");
            std::string digest = string_of(descriptor, "digest");
            std::string path = blob_path(dir, digest);
            json document = parse_document(read_document(path), m_source + ": " + digest);
            if (is_index(media_type) || is_index(string_of(document, "mediaType")) || document.contains("manifests")) {
                if (auto found = find_manifest(document, depth + 1)) return found;
                continue;
            }
            return document;
        }
        return std::nullopt;
    };
    auto manifest = find_manifest(index, 0);
    if (!manifest) {
        std::string list;
        for (const auto& p : other_platforms) list += (list.empty() ? "" : ", ") + p;
        throw ImageError(m_source +
                         (list.empty() ? ": no image manifest in index.json"
                                       : ": no linux/amd64 image (it has " + list + "); xos runs linux/amd64 images"));
    }
    auto config_it = manifest->find("config");
    auto layers_it = manifest->find("layers");
    if (config_it == manifest->end() || !config_it->is_object() || layers_it == manifest->end() ||
        !layers_it->is_array())
        throw ImageError(m_source + ": a manifest without config or layers");
    m_config_digest = string_of(*config_it, "digest");
    std::string config_path = blob_path(dir, m_config_digest);
    m_config = parse_image_config(read_document(config_path), m_source + ": config " + m_config_digest);
    check_platform(m_source);
    for (const auto& layer : *layers_it) {
        std::string media_type = string_of(layer, "mediaType");
        if (media_type.find("tar") == std::string::npos)
            throw ImageError(m_source + ": layer of unsupported media type '" + media_type + "'");
        std::string digest = string_of(layer, "digest");
        std::string path = blob_path(dir, digest);
        if (auto size = layer.find("size");
            size != layer.end() && size->is_number_unsigned() && size->get<std::uint64_t>() != fs::file_size(path))
            throw ImageError(m_source + ": layer " + digest + " has the wrong size (corrupt image)");
        m_layers.push_back(path);
        m_layer_digests.push_back(digest);
    }
}

void ImageSource::open_docker(const std::string& dir) {
    json manifest = parse_document(read_document(inside(dir, "manifest.json")), m_source + ": manifest.json");
    if (!manifest.is_array() || manifest.empty() || !manifest[0].is_object())
        throw ImageError(m_source + ": manifest.json lists no image");
    const json& image = manifest[0];
    std::string config_name = string_of(image, "Config");
    if (config_name.empty()) throw ImageError(m_source + ": manifest.json names no Config");
    std::string config_path = inside(dir, config_name);
    std::string config_hex = sha256_file_hex(config_path);
    // The config's name is its digest ("<hex>.json", or "blobs/sha256/<hex>" in newer docker).
    std::string stem = fs::path(config_name).stem().string();
    if (stem.size() == 64 && stem.find_first_not_of("0123456789abcdef") == std::string::npos && stem != config_hex)
        throw ImageError(m_source + ": " + config_name + " does not match its digest (corrupt image)");
    m_config_digest = "sha256:" + config_hex;
    m_config = parse_image_config(read_document(config_path), m_source + ": " + config_name);
    check_platform(m_source);
    auto layers = image.find("Layers");
    if (layers == image.end() || !layers->is_array()) throw ImageError(m_source + ": manifest.json lists no Layers");
    if (m_config.diff_ids.size() != layers->size())
        throw ImageError(m_source + ": manifest.json lists " + std::to_string(layers->size()) +
                         " layers, the config's rootfs.diff_ids " + std::to_string(m_config.diff_ids.size()));
    for (size_t i = 0; i < layers->size(); ++i) {
        if (!(*layers)[i].is_string()) throw ImageError(m_source + ": manifest.json: a layer is not a path");
        std::string name = (*layers)[i].get<std::string>();
        std::string path = inside(dir, name);
        std::string expected = sha256_of_digest(m_config.diff_ids[i]);
        if (sha256_file_hex(path) != expected && sha256_uncompressed_hex(path) != expected)
            throw ImageError(m_source + ": layer " + name + " does not match " + m_config.diff_ids[i] +
                             " (corrupt image)");
        m_layers.push_back(path);
        m_layer_digests.push_back(m_config.diff_ids[i]);
    }
}

}  // namespace xos::image
