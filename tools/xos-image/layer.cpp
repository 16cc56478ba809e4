#include "layer.h"

#include "image_error.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace xos::image {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr int kMaxSymlinks = 40;  // as the kernel's path walk

using ReadArchive = std::unique_ptr<archive, decltype(&archive_read_free)>;
using WriteArchive = std::unique_ptr<archive, decltype(&archive_write_free)>;

std::string join(const std::vector<std::string>& components, size_t count) {
    std::string path;
    for (size_t i = 0; i < count; ++i) {
        if (i) path += '/';
        path += components[i];
    }
    return path;
}

std::string join(const std::vector<std::string>& components) { return join(components, components.size()); }

std::vector<std::string> split_link_target(const std::string& target) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= target.size()) {
        size_t slash = target.find('/', start);
        if (slash == std::string::npos) slash = target.size();
        if (slash > start) parts.push_back(target.substr(start, slash - start));
        start = slash + 1;
    }
    return parts;
}

// Restores the working directory when the layer is done (or fails).
class WorkingDirectory {
public:
    explicit WorkingDirectory(const std::string& root) {
        m_saved = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m_saved < 0) throw ImageError(std::string("cannot open the working directory: ") + std::strerror(errno));
        if (::chdir(root.c_str()) != 0) {
            int failure = errno;
            ::close(m_saved);
            throw ImageError(root + ": " + std::strerror(failure));
        }
    }
    ~WorkingDirectory() {
        if (::fchdir(m_saved) != 0) std::perror("xos-image: cannot restore the working directory");
        ::close(m_saved);
    }
    WorkingDirectory(const WorkingDirectory&) = delete;
    WorkingDirectory& operator=(const WorkingDirectory&) = delete;

private:
    int m_saved = -1;
};

class LayerApplier {
public:
    LayerApplier(const std::string& layer, const ApplyOptions& options) : m_layer(layer), m_options(options) {}

    LayerStats run() {
        ReadArchive reader(archive_read_new(), archive_read_free);
        archive_read_support_filter_all(reader.get());
        archive_read_support_format_tar(reader.get());
        if (archive_read_open_filename(reader.get(), m_layer.c_str(), 1 << 16) != ARCHIVE_OK)
            fail(reader.get(), "cannot open");
        WriteArchive writer(archive_write_disk_new(), archive_write_free);
        int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
            ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
            ARCHIVE_EXTRACT_UNLINK;
        if (m_options.keep_owners) flags |= ARCHIVE_EXTRACT_OWNER;
        archive_write_disk_set_options(writer.get(), flags);  // numeric owners: no name lookup set

        for (;;) {
            archive_entry* entry = nullptr;
            int status = archive_read_next_header(reader.get(), &entry);
            if (status == ARCHIVE_EOF) break;
            if (status == ARCHIVE_WARN)
                warn(archive_error_string(reader.get()));
            else if (status != ARCHIVE_OK)
                fail(reader.get(), "corrupt or truncated");
            apply_entry(reader.get(), writer.get(), entry);
        }
        // Directory modes and times that libarchive deferred until the end.
        if (archive_write_close(writer.get()) != ARCHIVE_OK) warn(archive_error_string(writer.get()));
        return m_stats;
    }

private:
    [[noreturn]] void fail(archive* a, const std::string& what) {
        const char* detail = archive_error_string(a);
        throw ImageError("layer " + m_layer + ": " + what + (detail ? std::string(": ") + detail : std::string()));
    }

    [[noreturn]] void fail_entry(const std::string& path, const std::string& what) {
        throw ImageError("layer " + m_layer + ": entry '" + path + "': " + what);
    }

    void warn(const char* text) {
        if (m_options.warn) m_options.warn("layer " + m_layer + ": " + (text ? text : "warning"));
    }

    // The path of `components` inside the root (relative to it), with every symlink met on the
    // way resolved inside the root; the last component is followed only if follow_last.
    std::vector<std::string> resolve(const std::vector<std::string>& components, bool follow_last,
                                     const std::string& entry_path) {
        std::vector<std::string> resolved;
        std::deque<std::string> pending(components.begin(), components.end());
        int links = 0;
        while (!pending.empty()) {
            std::string part = pending.front();
            pending.pop_front();
            if (part.empty() || part == ".") continue;
            if (part == "..") {
                if (!resolved.empty()) resolved.pop_back();
                continue;
            }
            resolved.push_back(part);
            struct stat st;
            if (::fstatat(AT_FDCWD, join(resolved).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
            if (!S_ISLNK(st.st_mode) || (pending.empty() && !follow_last)) continue;
            if (++links > kMaxSymlinks) fail_entry(entry_path, "too many levels of symbolic links");
            std::string target(PATH_MAX, '\0');
            ssize_t n = ::readlinkat(AT_FDCWD, join(resolved).c_str(), target.data(), target.size());
            if (n < 0) fail_entry(entry_path, std::string("readlink: ") + std::strerror(errno));
            target.resize(size_t(n));
            resolved.pop_back();
            if (!target.empty() && target.front() == '/') resolved.clear();
            auto parts = split_link_target(target);
            pending.insert(pending.begin(), parts.begin(), parts.end());
        }
        return resolved;
    }

    // Removes `path` (relative to the root; its parents hold no symlinks) and what is below it.
    static void remove_tree(const std::string& path) {
        std::error_code error;
        fs::remove_all(path, error);
        if (error) throw ImageError(path + ": cannot remove: " + error.message());
    }

    // Removes everything below `dir` that this layer did not write (an opaque directory).
    void hide_lower_entries(const std::string& dir) {
        std::error_code error;
        std::vector<std::string> children;
        for (const auto& child : fs::directory_iterator(dir, error)) children.push_back(child.path().string());
        if (error) return;  // not a directory (yet): nothing of the lower layers to hide
        for (const auto& child : children) {
            std::string normal = fs::path(child).lexically_normal().string();
            if (!m_written.contains(normal)) {
                remove_tree(normal);
            } else if (fs::is_directory(fs::symlink_status(normal, error))) {
                hide_lower_entries(normal);
            }
        }
    }

    void apply_entry(archive* reader, archive* writer, archive_entry* entry) {
        const char* raw = archive_entry_pathname(entry);
        std::string entry_path = raw ? raw : "";
        auto components = split_entry_path(entry_path);
        if (components.empty()) return;  // "./": the root itself keeps its own attributes
        std::string name = components.back();
        components.pop_back();
        auto parent = resolve(components, true, entry_path);
        std::string parent_path = parent.empty() ? "." : join(parent);

        if (name == kOpaqueMarker) {
            ++m_stats.opaque_dirs;
            hide_lower_entries(parent_path);
            return;
        }
        if (name.starts_with(kWhiteoutPrefix)) {
            if (name.starts_with(".wh..wh.")) return;  // other AUFS metadata (.wh..wh.plnk, ...)
            ++m_stats.whiteouts;
            std::string target = name.substr(kWhiteoutPrefix.size());
            if (target.empty() || target == "." || target == "..") fail_entry(entry_path, "malformed whiteout");
            std::string victim = parent_path + "/" + target;
            struct stat st;
            if (::fstatat(AT_FDCWD, victim.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) remove_tree(victim);
            return;
        }

        std::string dest = (parent.empty() ? name : parent_path + "/" + name);
        struct stat existing;
        bool exists = ::fstatat(AT_FDCWD, dest.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;
        bool is_dir = archive_entry_filetype(entry) == AE_IFDIR && !archive_entry_hardlink(entry);
        if (exists && !(is_dir && S_ISDIR(existing.st_mode))) remove_tree(dest);

        if (const char* link = archive_entry_hardlink(entry)) {
            auto link_components = split_entry_path(link);
            auto target = link_components.empty() ? link_components : resolve(link_components, false, entry_path);
            if (target.empty()) fail_entry(entry_path, "hard link to the root directory");
            archive_entry_set_hardlink(entry, join(target).c_str());
        }
        archive_entry_set_pathname(entry, dest.c_str());
        int status = archive_write_header(writer, entry);
        if (status == ARCHIVE_WARN)
            warn(archive_error_string(writer));
        else if (status != ARCHIVE_OK)
            fail_entry(entry_path, archive_error_string(writer));
        if (archive_entry_size(entry) > 0 && status >= ARCHIVE_WARN) copy_data(reader, writer, entry_path);
        status = archive_write_finish_entry(writer);
        if (status == ARCHIVE_WARN)
            warn(archive_error_string(writer));
        else if (status != ARCHIVE_OK)
            fail_entry(entry_path, archive_error_string(writer));
        m_written.insert(fs::path(dest).lexically_normal().string());
        ++m_stats.entries;
    }

    void copy_data(archive* reader, archive* writer, const std::string& entry_path) {
        for (;;) {
            const void* block = nullptr;
            size_t size = 0;
            la_int64_t offset = 0;
            int status = archive_read_data_block(reader, &block, &size, &offset);
            if (status == ARCHIVE_EOF) return;
            if (status < ARCHIVE_WARN)
                fail_entry(entry_path,
                           std::string("corrupt or truncated data: ") + (archive_error_string(reader) ?: "read error"));
            if (archive_write_data_block(writer, block, size, offset) < ARCHIVE_WARN)
                fail_entry(entry_path, archive_error_string(writer));
        }
    }

    std::string m_layer;
    const ApplyOptions& m_options;
    LayerStats m_stats;
    std::set<std::string> m_written;  // paths (relative to the root) this layer created
};

}  // namespace

std::vector<std::string> split_entry_path(const std::string& path) {
    if (path.find('\0') != std::string::npos) throw ImageError("entry path with a NUL byte");
    std::vector<std::string> components;
    for (auto& part : split_link_target(path)) {
        if (part == ".") continue;
        if (part == "..") throw ImageError("entry '" + path + "' has a '..' component");
        components.push_back(part);
    }
    if (path.empty()) throw ImageError("entry with an empty path");
    return components;
}

LayerStats apply_layer(const std::string& layer, const std::string& root, const ApplyOptions& options) {
    std::string layer_path = fs::absolute(layer).string();
    WorkingDirectory in_root(root);
    return LayerApplier(layer_path, options).run();
}

}  // namespace xos::image
