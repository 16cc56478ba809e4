#include "rootfs.h"

#include "toolchain.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <limits>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace xos::driver {

namespace {

std::string errno_text() { return std::strerror(errno); }

// Closes a descriptor or a DIR* on scope exit.
struct FdCloser {
    int fd;
    ~FdCloser() {
        if (fd >= 0) close(fd);
    }
};
struct DirCloser {
    void operator()(DIR* dir) const { closedir(dir); }
};

// newc: "070701", then 13 fields of 8 hex digits, the name with its NUL, padding to 4 bytes,
// the data, padding to 4 bytes.
class CpioWriter {
public:
    explicit CpioWriter(const std::string& path) : m_path(path), m_file(std::fopen(path.c_str(), "wb")) {
        if (!m_file) throw Error("cannot write " + path + ": " + errno_text());
    }
    ~CpioWriter() {
        if (m_file) std::fclose(m_file);
    }
    CpioWriter(const CpioWriter&) = delete;
    CpioWriter& operator=(const CpioWriter&) = delete;

    struct Header {
        uint32_t mode, uid, gid, nlink;
        uint64_t mtime;
        uint64_t size;
    };

    // Writes a header; the caller then writes exactly `header.size` bytes with data().
    void begin(const std::string& name, const Header& header) {
        char fields[6 + 13 * 8 + 1];
        std::snprintf(fields, sizeof fields, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                      m_next_inode++, header.mode, header.uid, header.gid, header.nlink,
                      static_cast<uint32_t>(header.mtime), static_cast<uint32_t>(header.size), 0u, 0u, 0u, 0u,
                      static_cast<uint32_t>(name.size() + 1), 0u);
        raw(fields, sizeof fields - 1);
        raw(name.c_str(), name.size() + 1);
        pad();
        m_data_left = header.size;
    }
    void data(const void* bytes, size_t size) {
        raw(bytes, size);
        m_data_left -= size;
        if (m_data_left == 0) pad();
    }
    void finish() {
        begin("TRAILER!!!", {0, 0, 0, 1, 0, 0});
        if (std::fflush(m_file) != 0 || std::ferror(m_file))
            throw Error("cannot write " + m_path + ": " + errno_text());
    }

private:
    void raw(const void* bytes, size_t size) {
        if (size && std::fwrite(bytes, 1, size, m_file) != size)
            throw Error("cannot write " + m_path + ": " + errno_text());
        m_offset += size;
    }
    void pad() {
        static const char zeros[4] = {};
        raw(zeros, (4 - m_offset % 4) % 4);
    }

    std::string m_path;
    std::FILE* m_file;
    uint64_t m_offset{0};
    uint64_t m_data_left{0};
    uint32_t m_next_inode{1};
};

class Packer {
public:
    Packer(CpioWriter& writer, const std::function<void(const std::string&)>& warn) : m_writer(writer), m_warn(warn) {}

    // `host_path` is the file on this machine, `name` its path in the archive.
    void pack(const std::string& host_path, const std::string& name) {
        struct stat st{};
        if (lstat(host_path.c_str(), &st) != 0)
            throw Error("cannot read rootfs entry " + host_path + ": " + errno_text());
        auto header = header_of(st);
        switch (st.st_mode & S_IFMT) {
        case S_IFDIR: pack_directory(host_path, name, header); break;
        case S_IFREG: pack_file(host_path, name, header, st); break;
        case S_IFLNK: pack_symlink(host_path, name, header, st); break;
        case S_IFIFO:
            header.size = 0;
            m_writer.begin(name, header);
            ++m_entries;
            break;
        case S_IFCHR:
        case S_IFBLK: m_warn("rootfs: skipping device node " + host_path + " (the image's /dev is devfs)"); break;
        case S_IFSOCK: m_warn("rootfs: skipping socket " + host_path); break;
        default: m_warn("rootfs: skipping " + host_path + " (unknown file type)"); break;
        }
    }

    size_t entries() const { return m_entries; }

private:
    static CpioWriter::Header header_of(const struct stat& st) {
        // newc has 32 bits for the mtime: clamp times before 1970 and after 2106.
        uint64_t mtime = st.st_mtime < 0 ? 0 : std::min<uint64_t>(st.st_mtime, UINT32_MAX);
        return {static_cast<uint32_t>(st.st_mode),
                static_cast<uint32_t>(st.st_uid),
                static_cast<uint32_t>(st.st_gid),
                S_ISDIR(st.st_mode) ? 2u : 1u,
                mtime,
                0};
    }

    void pack_directory(const std::string& host_path, const std::string& name, const CpioWriter::Header& header) {
        std::unique_ptr<DIR, DirCloser> dir(opendir(host_path.c_str()));
        if (!dir) throw Error("cannot read rootfs directory " + host_path + ": " + errno_text());
        std::vector<std::string> children;
        errno = 0;
        while (struct dirent* entry = readdir(dir.get())) {
            std::string child = entry->d_name;
            if (child != "." && child != "..") children.push_back(std::move(child));
            errno = 0;
        }
        if (errno != 0) throw Error("cannot read rootfs directory " + host_path + ": " + errno_text());
        std::sort(children.begin(), children.end());

        m_writer.begin(name, header);
        ++m_entries;
        for (const auto& child : children) pack(host_path + "/" + child, name == "." ? child : name + "/" + child);
        // Creating the children changed the directory's mtime in the image: set it again.
        if (!children.empty()) m_writer.begin(name, header);
    }

    void pack_file(const std::string& host_path, const std::string& name, CpioWriter::Header header,
                   const struct stat& st) {
        if (static_cast<uint64_t>(st.st_size) > UINT32_MAX)
            throw Error("rootfs file " + host_path + " is too large (the cpio format holds up to 4 GiB)");
        FdCloser fd{open(host_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
        if (fd.fd < 0) throw Error("cannot read rootfs file " + host_path + ": " + errno_text());
        header.size = static_cast<uint64_t>(st.st_size);
        m_writer.begin(name, header);
        ++m_entries;
        std::vector<char> buffer(1 << 20);
        uint64_t left = header.size;
        while (left > 0) {
            ssize_t got = read(fd.fd, buffer.data(), std::min<uint64_t>(left, buffer.size()));
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) throw Error("cannot read rootfs file " + host_path + ": " + errno_text());
            if (got == 0) throw Error("rootfs file " + host_path + " shrank while it was being packed");
            m_writer.data(buffer.data(), static_cast<size_t>(got));
            left -= static_cast<uint64_t>(got);
        }
    }

    void pack_symlink(const std::string& host_path, const std::string& name, CpioWriter::Header header,
                      const struct stat& st) {
        std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 0) + 1, '\0');
        ssize_t length;
        for (;;) {
            length = readlink(host_path.c_str(), target.data(), target.size());
            if (length < 0) throw Error("cannot read rootfs symlink " + host_path + ": " + errno_text());
            if (static_cast<size_t>(length) < target.size()) break;
            target.resize(target.size() * 2);  // the link changed, or st_size was 0 (some file systems)
        }
        target.resize(static_cast<size_t>(length));
        header.size = target.size();
        m_writer.begin(name, header);
        ++m_entries;
        if (!target.empty()) m_writer.data(target.data(), target.size());
    }

    CpioWriter& m_writer;
    const std::function<void(const std::string&)>& m_warn;
    size_t m_entries{0};
};

}  // namespace

void require_rootfs_dir(const std::string& dir) {
    struct stat st{};
    if (stat(dir.c_str(), &st) != 0) throw Error("rootfs directory " + dir + ": " + errno_text());
    if (!S_ISDIR(st.st_mode)) throw Error("rootfs " + dir + " is not a directory");
}

size_t write_rootfs_archive(const std::string& dir, const std::string& archive_path,
                            const std::function<void(const std::string&)>& warn) {
    require_rootfs_dir(dir);
    CpioWriter writer(archive_path);
    Packer packer(writer, warn);
    // Follow a symlink given as DIR itself (stat above); inside the tree, links are stored.
    std::string root = dir;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    struct stat st{};
    if (lstat(root.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) root += "/.";
    packer.pack(root, ".");
    writer.finish();
    return packer.entries();
}

std::string rootfs_assembly(const std::string& archive_path) {
    std::string quoted;
    for (char c : archive_path) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return "# Generated by xos-build --rootfs: the cpio archive libos/fs/boot.cpp unpacks into /.\n"
           "\t.section .rodata.xos.rootfs,\"a\",@progbits\n"
           "\t.balign 16\n"
           "\t.globl xos_rootfs_start\n"
           "\t.type xos_rootfs_start, @object\n"
           "xos_rootfs_start:\n"
           "\t.incbin \"" +
        quoted +
        "\"\n"
        "\t.globl xos_rootfs_end\n"
        "\t.type xos_rootfs_end, @object\n"
        "xos_rootfs_end:\n"
        "\t.size xos_rootfs_start, xos_rootfs_end - xos_rootfs_start\n"
        "\t.section .note.GNU-stack,\"\",@progbits\n";
}

}  // namespace xos::driver
