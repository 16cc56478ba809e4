// The EROFS reader (libos/fs/erofs) against images mkfs.erofs makes at test time from a tree
// this test creates: every entry's type, mode, owners, nlink, size, contents, link target and
// device number is compared with the host's lstat/read/readlink of the same tree, for each
// layout mkfs.erofs can be asked for (inline tails, plain blocks, chunks, compact and extended
// inodes, LZ4 with compacted and legacy indexes); then the errors: not EROFS, bad checksum, truncation, unknown features, bad
// directory blocks, damaged compressed clusters, big clusters.
#include <gtest/gtest.h>

#include <dirent.h>
#include <cstdarg>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <map>
#include <set>

#include "erofs_image.h"
#include "vfs/operations.h"
#include "vfs/path_walk.h"

namespace xos {

// The kernel's klog() prints to the console; here the lines are kept for the tests.
void klog(const char* format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    erofs::test::log_lines().push_back(line);
}

}  // namespace xos

namespace xos::erofs::test {

std::vector<std::string>& log_lines() {
    static std::vector<std::string> lines;
    return lines;
}

namespace {

namespace fs = std::filesystem;
using vfs::Follow;

struct Collect final : vfs::DirSink {
    std::vector<std::pair<std::string, unsigned char>> entries;
    std::vector<uint64_t> inos;
    size_t room = SIZE_MAX;
    bool emit(const vfs::DirEntry& entry) override {
        if (room == 0) return false;
        --room;
        entries.emplace_back(std::string(entry.name), entry.type);
        inos.push_back(entry.ino);
        return true;
    }
};

unsigned char host_type(mode_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return DT_REG;
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    case S_IFIFO: return DT_FIFO;
    case S_IFSOCK: return DT_SOCK;
    }
    return DT_UNKNOWN;
}

std::string host_contents(const std::string& path) {
    auto bytes = read_file(path);
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Reads the whole file through Vnode::read in `chunk`-byte pieces.
std::string erofs_contents(vfs::Vnode& vnode, size_t chunk) {
    std::string out;
    std::vector<std::byte> buffer(chunk);
    for (uint64_t offset = 0;;) {
        auto n = vnode.read(offset, buffer);
        if (!n) return "<errno " + std::to_string(n.error().code) + ">";
        if (*n == 0) return out;
        out.append(reinterpret_cast<const char*>(buffer.data()), *n);
        offset += *n;
    }
}

struct Variant {
    const char* name;
    std::vector<std::string> options;
    bool build_time_mtimes;  // compact inodes: every mtime is the build time (-T), owners < 65536
    bool compressed = false;  // st_blocks counts compressed blocks
};

class ErofsImage : public ::testing::TestWithParam<Variant> {
protected:
    void SetUp() override {
        build_tree(m_tree.path() + "/root", 600, !GetParam().build_time_mtimes);
        std::vector<std::byte> image = make_image(m_tree.path() + "/root", GetParam().options, m_tree.path() + "/img");
        ASSERT_FALSE(image.empty());
        m_device.emplace(std::move(image));
        m_fs.emplace(*m_device);
        auto mounted = m_fs->initialize();
        ASSERT_TRUE(mounted) << "errno " << mounted.error().code << ": " << last_log();
        m_root = m_fs->root();
        m_ctx = {m_root.get(), m_root.get()};
    }

    static std::string last_log() { return log_lines().empty() ? "" : log_lines().back(); }

    // Checks the entry `relative` (and below it, for a directory) against the host tree.
    void check(const std::string& relative) {
        SCOPED_TRACE(relative);
        std::string host = m_tree.path() + "/root" + relative;
        struct stat st;
        ASSERT_EQ(lstat(host.c_str(), &st), 0);
        auto found = vfs::resolve(m_ctx, relative.empty() ? "/" : relative, Follow::No);
        ASSERT_TRUE(found) << "errno " << found.error().code;
        RefPtr<vfs::Vnode> vnode = *found;
        vfs::Attributes attr = *vnode->getattr();
        EXPECT_EQ(attr.mode, st.st_mode);
        EXPECT_EQ(attr.uid, st.st_uid);
        EXPECT_EQ(attr.gid, st.st_gid);
        EXPECT_EQ(attr.ino, vnode->ino());
        if (!S_ISDIR(st.st_mode)) {  // (host directories' nlink varies by file system)
            EXPECT_EQ(attr.nlink, st.st_nlink);
        }
        EXPECT_EQ(attr.mtime.sec, GetParam().build_time_mtimes ? 1234567 : st.st_mtim.tv_sec);
        if (S_ISREG(st.st_mode)) {
            EXPECT_EQ(attr.size, uint64_t(st.st_size));
            if (!GetParam().compressed) {
                EXPECT_EQ(attr.blocks, (uint64_t(st.st_size) + 4095) / 4096 * 8);
            }
            std::string expected = host_contents(host);
            EXPECT_TRUE(erofs_contents(*vnode, 65536) == expected) << "contents differ (64 KiB reads)";
            if (st.st_size < (1 << 20)) {
                EXPECT_TRUE(erofs_contents(*vnode, 1000) == expected) << "contents differ";
            }
            // Unaligned reads across the block boundaries and a read past the end.
            std::byte buffer[300];
            for (uint64_t offset : {uint64_t(4000), uint64_t(4096 * 2 - 150), uint64_t(st.st_size) - 1}) {
                if (offset >= uint64_t(st.st_size)) continue;
                auto n = vnode->read(offset, buffer);
                ASSERT_TRUE(n);
                size_t want = std::min<size_t>(sizeof buffer, size_t(st.st_size - offset));
                ASSERT_EQ(*n, want);
                EXPECT_EQ(memcmp(buffer, expected.data() + offset, want), 0) << "at " << offset;
            }
            auto past = vnode->read(uint64_t(st.st_size) + 10, buffer);
            ASSERT_TRUE(past);
            EXPECT_EQ(*past, 0u);
            EXPECT_TRUE(vnode->mappable());
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlink(host.c_str(), target, sizeof target);
            auto link = vnode->readlink();
            ASSERT_TRUE(link);
            EXPECT_EQ(link->view(), std::string_view(target, size_t(n)));
            EXPECT_EQ(attr.size, uint64_t(n));
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
            EXPECT_EQ(attr.rdev, st.st_rdev);
        } else if (S_ISDIR(st.st_mode)) {
            std::map<std::string, unsigned char> expected{{".", DT_DIR}, {"..", DT_DIR}};
            for (const auto& entry : fs::directory_iterator(host)) {
                struct stat child;
                ASSERT_EQ(lstat(entry.path().c_str(), &child), 0);
                expected[entry.path().filename().string()] = host_type(child.st_mode);
            }
            Collect all;
            uint64_t cookie = 0;
            ASSERT_TRUE(vnode->readdir(cookie, all));
            std::map<std::string, unsigned char> got(all.entries.begin(), all.entries.end());
            EXPECT_EQ(got, expected);
            EXPECT_EQ(all.entries.size(), expected.size()) << "an entry came twice";
            // Resuming from each cookie, one entry at a time, gives the same sequence.
            Collect one_by_one;
            cookie = 0;
            for (size_t calls = 0; calls <= all.entries.size(); ++calls) {
                one_by_one.room = 1;
                ASSERT_TRUE(vnode->readdir(cookie, one_by_one));
            }
            EXPECT_EQ(one_by_one.entries, all.entries);
            // Names that are not there, before, between and after the real ones.
            for (const char* missing : {"", "!", "entry-", "zzzz", "dir0", "hello2", "~"}) {
                if (expected.count(missing)) continue;
                auto none = vnode->lookup(missing);
                ASSERT_FALSE(none) << missing;
                EXPECT_EQ(none.error().code, ENOENT) << missing;
            }
            for (const auto& [name, type] : expected) {
                if (name == "." || name == "..") continue;
                auto child = vnode->lookup(name);
                ASSERT_TRUE(child) << name;
                EXPECT_EQ(vfs::dirent_type((*child)->mode()), type) << name;
                check(relative + "/" + name);
            }
        }
        // A read-only file system.
        vfs::AttrChange change;
        change.mask = vfs::ATTR_MODE;
        change.mode = 0777;
        EXPECT_EQ(vnode->setattr(change).error().code, EROFS);
        if (S_ISDIR(st.st_mode)) {
            EXPECT_EQ(vnode->create("new", S_IFREG | 0644, 0, 0, 0).error().code, EROFS);
            EXPECT_EQ(vnode->remove("x", vfs::RemoveKind::File).error().code, EROFS);
        }
        if (S_ISREG(st.st_mode)) {
            const std::byte data[1] = {};
            EXPECT_EQ(vnode->write(0, data).error().code, EROFS);
        }
    }

    ScratchDir m_tree;
    std::optional<MemoryDevice> m_device;
    std::optional<ErofsFs> m_fs;
    RefPtr<vfs::Vnode> m_root;
    vfs::Start m_ctx;
};

TEST_P(ErofsImage, EveryEntryMatchesTheHostTree) {
    check("");
    // Hard links are one inode, and one vnode while referenced.
    auto a = vfs::resolve(m_ctx, "/hello", Follow::No);
    auto b = vfs::resolve(m_ctx, "/dir/hard-link", Follow::No);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->get(), b->get());
    // Paths through symlinks and "..".
    auto deep = vfs::resolve(m_ctx, "/deep-link", Follow::Yes);
    ASSERT_TRUE(deep);
    EXPECT_EQ(erofs_contents(**deep, 100), "deep\n");
    auto up = vfs::resolve(m_ctx, "/dir/sub/../sub/deeper/../../../hello", Follow::Yes);
    ASSERT_TRUE(up);
    EXPECT_EQ(up->get(), a->get());
    auto stats = m_fs->statfs();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->magic, 0xE0F5E1E2u);
    EXPECT_EQ(stats->blocks * 4096, m_device->size());
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, ErofsImage,
    ::testing::Values(Variant{"Default", {}, false},  // extended inodes (per-file mtimes), inline tails
                      Variant{"Compact", {"-T1234567", "-Eforce-inode-compact"}, true},
                      Variant{"Extended", {"-Eforce-inode-extended"}, false},
                      Variant{"NoInline", {"-Enoinline_data"}, false},  // flat-plain only
                      Variant{"Chunks4K", {"--chunksize=4096"}, false},
                      Variant{"Chunks64K", {"--chunksize=65536", "-T1234567", "-Eforce-inode-compact"}, true},
                      Variant{"Lz4", {"-zlz4"}, false, true},  // compacted indexes
                      Variant{"Lz4hcLegacy", {"-zlz4hc", "-Elegacy-compress"}, false, true},
                      Variant{"Lz4hcCompact", {"-zlz4hc,12", "-T1234567", "-Eforce-inode-compact"}, true, true}),
    [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

// --- errors ---

class ErofsErrors : public ::testing::Test {
protected:
    void SetUp() override {
        fs::create_directories(m_tree.path() + "/root/d");
        write_text(m_tree.path() + "/root/d/file", "contents\n");
        for (int i = 0; i < 400; ++i) write_text(m_tree.path() + "/root/d/f" + std::to_string(i), "x");
        m_image = make_image(m_tree.path() + "/root", {}, m_tree.path() + "/img");
        ASSERT_FALSE(m_image.empty());
    }
    // Mounts `bytes`: the errno (0: mounted) and the last log line.
    int mount(std::vector<std::byte> bytes) {
        log_lines().clear();
        m_device.emplace(std::move(bytes));
        m_fs.emplace(*m_device);
        auto result = m_fs->initialize();
        return result ? 0 : result.error().code;
    }
    static std::string log() { return log_lines().empty() ? "<no log line>" : log_lines().back(); }
    static void fix_checksum(std::vector<std::byte>& image) {
        memset(image.data() + 1024 + 4, 0, 4);
        uint32_t crc = crc32c(~0u, {image.data() + 1024, 4096 - 1024});
        memcpy(image.data() + 1024 + 4, &crc, 4);
    }

    ScratchDir m_tree;
    std::vector<std::byte> m_image;
    std::optional<MemoryDevice> m_device;
    std::optional<ErofsFs> m_fs;
};

TEST_F(ErofsErrors, TheChecksumIsMkfsErofs) {
    std::vector<std::byte> image = m_image;
    uint32_t stored;
    memcpy(&stored, image.data() + 1024 + 4, 4);
    fix_checksum(image);
    uint32_t computed;
    memcpy(&computed, image.data() + 1024 + 4, 4);
    EXPECT_EQ(stored, computed);
    EXPECT_EQ(mount(m_image), 0) << log();
}

TEST_F(ErofsErrors, NotEroFs) {
    EXPECT_EQ(mount(std::vector<std::byte>(8192)), EINVAL);
    EXPECT_NE(log().find("not an EROFS image"), std::string::npos) << log();
    EXPECT_EQ(mount(std::vector<std::byte>(100)), EINVAL);
}

TEST_F(ErofsErrors, BadChecksum) {
    std::vector<std::byte> image = m_image;
    image[1024 + 64] ^= std::byte{1};  // the volume name
    EXPECT_EQ(mount(image), EIO);
    EXPECT_NE(log().find("checksum"), std::string::npos) << log();
}

TEST_F(ErofsErrors, Truncated) {
    std::vector<std::byte> image(m_image.begin(), m_image.end() - 4096);
    EXPECT_EQ(mount(image), EIO);
    EXPECT_NE(log().find("truncated"), std::string::npos) << log();
    EXPECT_EQ(mount({m_image.begin(), m_image.begin() + 2000}), EIO);  // inside the superblock's block
}

TEST_F(ErofsErrors, UnknownIncompatibleFeature) {
    std::vector<std::byte> image = m_image;
    image[1024 + 80 + 1] |= std::byte{0x80};  // feature_incompat bit 15
    fix_checksum(image);
    EXPECT_EQ(mount(image), EINVAL);
    EXPECT_NE(log().find("unsupported incompatible feature"), std::string::npos) << log();
}

TEST_F(ErofsErrors, UnsupportedBlockSize) {
    std::vector<std::byte> image = m_image;
    image[1024 + 12] = std::byte{9};
    fix_checksum(image);
    EXPECT_EQ(mount(image), EINVAL);
    EXPECT_NE(log().find("block size"), std::string::npos) << log();
}

// Every directory block's first nameoff, made impossible in turn: lookups and readdir of that
// directory fail with EIO and a log line; the rest of the image still works.
TEST_F(ErofsErrors, BadDirectoryBlock) {
    ASSERT_EQ(mount(m_image), 0) << log();
    auto d = m_fs->root()->lookup("d");
    ASSERT_TRUE(d);
    uint64_t nid = static_cast<ErofsVnode&>(**d).nid();
    // Find the directory's first block: the block whose first dirent is "." with nid `nid`.
    std::vector<std::byte> image = m_image;
    size_t patched = 0;
    for (size_t block = 1; block < image.size() / 4096; ++block) {
        std::byte* b = image.data() + block * 4096;
        uint16_t nameoff;
        memcpy(&nameoff, b + 8, 2);
        uint64_t first_nid;
        memcpy(&first_nid, b, 8);
        if (first_nid == nid && nameoff >= 24 && nameoff < 4096 && nameoff % 12 == 0 && b[nameoff] == std::byte{'.'}) {
            uint16_t bad = 4095;
            memcpy(b + 8, &bad, 2);
            ++patched;
        }
    }
    ASSERT_EQ(patched, 1u);
    d = error(ENOENT);  // no vnode may outlive its file system
    ASSERT_EQ(mount(image), 0) << log();
    d = m_fs->root()->lookup("d");
    ASSERT_TRUE(d);
    log_lines().clear();
    Collect names;
    uint64_t cookie = 0;
    auto listed = (*d)->readdir(cookie, names);
    ASSERT_FALSE(listed);
    EXPECT_EQ(listed.error().code, EIO);
    EXPECT_NE(log().find("bad first entry"), std::string::npos) << log();
    EXPECT_EQ((*d)->lookup(".").error().code, EIO);
    EXPECT_TRUE(m_fs->root()->lookup("d"));
}

// Big pclusters (mkfs.erofs -C) need the compr_cfgs feature, refused at mount with a hint.
TEST_F(ErofsErrors, BigPclustersAreRefused) {
    write_text(m_tree.path() + "/root/compressible", std::string(200000, 'a'));
    std::vector<std::byte> image = make_image(m_tree.path() + "/root", {"-zlz4", "-C65536"}, m_tree.path() + "/big");
    ASSERT_FALSE(image.empty());
    EXPECT_EQ(mount(image), EINVAL);
    EXPECT_NE(log().find("compr_cfgs"), std::string::npos) << log();
}

// A compressed file whose pcluster is damaged: EIO and a log line, the other files still read.
TEST_F(ErofsErrors, DamagedPcluster) {
    std::string text;
    for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i % 97) + "\n";
    write_text(m_tree.path() + "/root/text", text);
    std::vector<std::byte> image = make_image(m_tree.path() + "/root", {"-zlz4"}, m_tree.path() + "/lz4");
    ASSERT_FALSE(image.empty());
    ASSERT_EQ(mount(image), 0) << log();
    auto file = m_fs->root()->lookup("text");
    ASSERT_TRUE(file);
    EXPECT_EQ(erofs_contents(**file, 8192), text);
    // Zero the last block that holds compressed data of the file: find it by decompressing.
    file = error(ENOENT);
    size_t damaged = 0;
    for (size_t block = image.size() / 4096; block-- > 1 && !damaged;) {
        std::vector<std::byte> copy = image;
        memset(copy.data() + block * 4096, 0xff, 4096);
        if (mount(copy) != 0) continue;
        auto text_file = m_fs->root()->lookup("text");
        if (!text_file) continue;
        std::string got = erofs_contents(**text_file, 8192);
        if (got == "<errno 5>") {
            damaged = block;
            EXPECT_NE(log().find("erofs memory: inode"), std::string::npos) << log();
        }
    }
    EXPECT_NE(damaged, 0u);
}

}  // namespace
}  // namespace xos::erofs::test
