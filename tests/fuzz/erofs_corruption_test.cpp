// The EROFS reader (libos/fs/erofs) on damaged images, under AddressSanitizer and UBSan: a real
// image made by mkfs.erofs, then thousands of variants with bytes flipped (in the metadata, where
// damage matters; with the superblock checksum fixed up half of the time, so that the damage
// reaches the inodes, directories and compressed indexes), overwritten with boundary values, or cut short. Each
// variant is mounted and walked whole (readdir, lookup of every name, getattr, read of every file,
// readlink): every operation must return data or an error; no crash, no read outside the device
// (MemoryDevice fails the test), no hang (the walk is bounded by depth and count, and the test
// has a timeout). Deterministic: the seeds are fixed.
#include <gtest/gtest.h>

#include <cstdarg>
#include <random>

#include "erofs_image.h"

namespace xos {

void klog(const char*, ...) {}  // the corruption reports, thousands of them

void panic(const char* format, ...) {  // VERIFY: a failed one ends the test with status 134
    va_list args;
    va_start(args, format);
    std::vfprintf(stderr, format, args);
    va_end(args);
    std::_Exit(134);
}

}  // namespace xos

namespace xos::erofs::test {

std::vector<std::string>& log_lines() {
    static std::vector<std::string> lines;
    return lines;
}

namespace {

struct Sink final : vfs::DirSink {
    std::vector<std::string> names;
    bool emit(const vfs::DirEntry& entry) override {
        if (names.size() >= 4096) return false;
        names.emplace_back(entry.name);
        return true;
    }
};

struct Walk {
    size_t visited = 0;
    size_t errors = 0;
    size_t bytes = 0;
};

void walk(vfs::Vnode& vnode, int depth, Walk& stats) {
    if (++stats.visited > 3000 || depth > 12) return;
    auto attr = vnode.getattr();
    ASSERT_TRUE(attr);
    if (vnode.is_regular()) {
        std::vector<std::byte> buffer(65536);
        uint64_t offset = 0;
        for (int i = 0; i < 64; ++i) {  // up to 4 MiB per file
            auto n = vnode.read(offset, buffer);
            if (!n) {
                ++stats.errors;
                break;
            }
            if (*n == 0) break;
            stats.bytes += *n;
            offset += *n;
        }
        // A read at an arbitrary offset, too.
        if (attr->size > 1) (void)vnode.read(attr->size / 2 + 1, {buffer.data(), 100});
    } else if (vnode.is_symlink()) {
        if (!vnode.readlink()) ++stats.errors;
    } else if (vnode.is_directory()) {
        Sink sink;
        uint64_t cookie = 0;
        for (int calls = 0; calls < 8; ++calls) {
            size_t before = sink.names.size();
            if (!vnode.readdir(cookie, sink)) {
                ++stats.errors;
                break;
            }
            if (sink.names.size() == before) break;
        }
        for (const std::string& name : sink.names) {
            if (name == "." || name == ".." || name.empty()) continue;
            auto child = vnode.lookup(name);
            if (!child) {
                ++stats.errors;
                continue;
            }
            walk(**child, depth + 1, stats);
        }
        (void)vnode.lookup("..");
        (void)vnode.lookup("no such name");
    }
}

// Mounts `bytes` and walks everything; returns whether it mounted.
bool mount_and_walk(std::vector<std::byte> bytes, Walk& stats) {
    MemoryDevice device(std::move(bytes));
    bool mounted = false;
    {
        ErofsFs fs(device);
        if (fs.initialize()) {
            mounted = true;
            RefPtr<vfs::Vnode> root = fs.root();
            walk(*root, 0, stats);
            (void)fs.statfs();
        }
    }
    return mounted;
}

void fix_checksum(std::vector<std::byte>& image) {
    if (image.size() < 4096) return;
    memset(image.data() + 1024 + 4, 0, 4);
    uint32_t crc = crc32c(~0u, {image.data() + 1024, 4096 - 1024});
    memcpy(image.data() + 1024 + 4, &crc, 4);
}

class ErofsCorruption : public ::testing::Test {
protected:
    void SetUp() override {
        build_tree(m_tree.path() + "/root", 300, false);  // (compact inodes: 16-bit owners)
        m_plain = make_image(m_tree.path() + "/root", {"-T1000", "-Eforce-inode-compact", "-Enoinline_data"},
                             m_tree.path() + "/plain");
        m_inline = make_image(m_tree.path() + "/root", {}, m_tree.path() + "/inline");
        m_chunked = make_image(m_tree.path() + "/root", {"--chunksize=8192"}, m_tree.path() + "/chunked");
        m_lz4 = make_image(m_tree.path() + "/root", {"-zlz4hc"}, m_tree.path() + "/lz4");
        ASSERT_FALSE(m_plain.empty() || m_inline.empty() || m_chunked.empty() || m_lz4.empty());
    }

    // The last block holding metadata: the images put inodes and directories first (meta_blkaddr
    // 0) with the inline tails among them, and file data after; damage aimed at the first blocks
    // and at the superblock finds the interesting paths fastest.
    static void fuzz(const std::vector<std::byte>& image, unsigned seed, int rounds) {
        std::mt19937_64 random(seed);
        Walk clean;
        ASSERT_TRUE(mount_and_walk(image, clean));
        ASSERT_EQ(clean.errors, 0u);
        size_t mounted = 0, errors = 0;
        for (int round = 0; round < rounds; ++round) {
            std::vector<std::byte> damaged = image;
            int flips = 1 + int(random() % 8);
            for (int i = 0; i < flips; ++i) {
                size_t span = random() % 4 == 0 ? damaged.size() : std::min<size_t>(damaged.size(), 64 * 1024);
                size_t at = random() % 3 == 0 ? 1024 + random() % 128 : random() % span;
                switch (random() % 4) {
                case 0: damaged[at] ^= std::byte(1u << (random() % 8)); break;
                case 1: damaged[at] = std::byte(random()); break;
                case 2: damaged[at] = std::byte{0xff}; break;
                default: damaged[at] = std::byte{0}; break;
                }
            }
            if (random() % 2) fix_checksum(damaged);
            if (random() % 16 == 0) damaged.resize(random() % damaged.size());
            Walk stats;
            mounted += mount_and_walk(std::move(damaged), stats);
            errors += stats.errors;
            if (HasFatalFailure()) return;
        }
        // The damage reached past the superblock in a good share of the rounds.
        EXPECT_GT(mounted, size_t(rounds / 8));
        RecordProperty("mounted", int(mounted));
        RecordProperty("errors", int(errors));
    }

    ScratchDir m_tree;
    std::vector<std::byte> m_plain, m_inline, m_chunked, m_lz4;
};

TEST_F(ErofsCorruption, FlatPlainCompactInodes) { fuzz(m_plain, 1, 400); }
TEST_F(ErofsCorruption, InlineTailsExtendedInodes) { fuzz(m_inline, 2, 400); }
TEST_F(ErofsCorruption, Chunks) { fuzz(m_chunked, 3, 400); }
TEST_F(ErofsCorruption, Lz4Compressed) { fuzz(m_lz4, 4, 400); }

// Lengths the image can be cut to: every one around the superblock, then about a hundred.
TEST_F(ErofsCorruption, Truncation) {
    for (size_t length = 0; length < m_inline.size(); length += length < 4200 ? 61 : m_inline.size() / 97) {
        std::vector<std::byte> cut(m_inline.begin(), m_inline.begin() + ptrdiff_t(length));
        Walk stats;
        mount_and_walk(std::move(cut), stats);
        ASSERT_FALSE(HasFatalFailure()) << "cut at " << length;
    }
}

}  // namespace
}  // namespace xos::erofs::test
