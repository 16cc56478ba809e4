// The overlay file system (libos/fs/overlay) over two ramfs instances: lookup and merge rules,
// whiteouts, opaque directories, copy-up, rename, links, the size limit; the lower layer is
// checked unchanged after every test.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/sysmacros.h>

#include <optional>
#include <set>
#include <string>

#include "fs/overlay/overlay.h"
#include "fs/ramfs/ramfs.h"
#include "vfs/operations.h"
#include "vfs/path_walk.h"

namespace xos::fs {
namespace {

using vfs::Follow;
using vfs::RemoveKind;

struct Names final : vfs::DirSink {
    std::set<std::string> names;
    std::set<uint64_t> inos;
    bool emit(const vfs::DirEntry& entry) override {
        if (entry.name != "." && entry.name != "..") {
            names.insert(std::string(entry.name));
            inos.insert(entry.ino);
        }
        return true;
    }
};

// Takes two entries per call, as a small getdents64 buffer would.
struct TwoAtATime final : vfs::DirSink {
    std::set<std::string> names;
    int room = 2;
    bool emit(const vfs::DirEntry& entry) override {
        if (room == 0) return false;
        --room;
        if (entry.name != "." && entry.name != "..") names.insert(std::string(entry.name));
        return true;
    }
};

class Overlay : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(m_lower.initialize());
        m_lower_root = m_lower.root();
        lower = {m_lower_root.get(), m_lower_root.get()};
        ASSERT_TRUE(vfs::make_directory(lower, "/etc", 0755));
        ASSERT_TRUE(vfs::make_directory(lower, "/etc/sub", 0700));
        ASSERT_TRUE(vfs::make_directory(lower, "/empty", 0755));
        ASSERT_TRUE(vfs::make_directory(lower, "/full", 0755));
        put(lower, "/etc/hosts", "127.0.0.1 localhost\n");
        put(lower, "/etc/sub/deep", "deep");
        put(lower, "/full/a", "a");
        put(lower, "/full/b", "b");
        put(lower, "/top", "top file");
        ASSERT_TRUE(vfs::make_symlink("etc/hosts", lower, "/link"));
        vfs::AttrChange times;
        times.mask = vfs::ATTR_MTIME | vfs::ATTR_UID;
        times.uid = 42;
        times.mtime = {1234, 5};
        ASSERT_TRUE((*vfs::resolve(lower, "/etc/hosts", Follow::Yes))->setattr(times));
        m_lower_snapshot = snapshot(lower, "/");

        ASSERT_TRUE(m_upper.initialize());
        m_overlay.emplace(m_lower.root(), m_upper);
        ASSERT_TRUE(m_overlay->initialize());
        m_root = m_overlay->root();
        ctx = {m_root.get(), m_root.get()};
    }
    void TearDown() override { EXPECT_EQ(snapshot(lower, "/"), m_lower_snapshot) << "the lower layer changed"; }

    static void put(const vfs::Start& at, const char* path, std::string_view text) {
        auto file = vfs::open(at, path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        ASSERT_TRUE(file) << path;
        ASSERT_TRUE((*file)->write({reinterpret_cast<const std::byte*>(text.data()), text.size()}, std::nullopt));
    }
    static std::string get(const vfs::Start& at, const char* path) {
        auto file = vfs::open(at, path, O_RDONLY, 0);
        if (!file) return "<errno " + std::to_string(file.error().code) + ">";
        char buffer[4096];
        auto n = (*file)->read({reinterpret_cast<std::byte*>(buffer), sizeof buffer}, std::nullopt);
        return n ? std::string(buffer, *n) : "<read error>";
    }
    static std::set<std::string> list(const vfs::Start& at, const char* path) {
        Names names;
        auto dir = vfs::resolve(at, path, Follow::Yes);
        if (!dir) return {"<errno " + std::to_string(dir.error().code) + ">"};
        uint64_t cookie = 0;
        EXPECT_TRUE((*dir)->readdir(cookie, names));
        return names.names;
    }
    // Every path, type, mode and content below `path`: the lower layer must never change.
    static std::string snapshot(const vfs::Start& at, const std::string& path) {
        auto node = vfs::resolve(at, path, Follow::No);
        if (!node) return "?";
        auto attributes = *(*node)->getattr();
        std::string out = path + " " + std::to_string(attributes.mode) + " " + std::to_string(attributes.mtime.sec);
        if ((*node)->is_regular()) out += " " + get(at, path.c_str());
        if ((*node)->is_directory())
            for (const auto& name : list(at, path.c_str()))
                out += "\n" + snapshot(at, (path == "/" ? "" : path) + "/" + name);
        return out;
    }
    int err(ErrorOr<void> result) { return result ? 0 : result.error().code; }
    int err(ErrorOr<RefPtr<vfs::Vnode>> result) { return result ? 0 : result.error().code; }

    RamFs m_lower;
    RefPtr<vfs::Vnode> m_lower_root;
    vfs::Start lower;
    std::string m_lower_snapshot;
    RamFs m_upper;
    std::optional<OverlayFs> m_overlay;
    RefPtr<vfs::Vnode> m_root;
    vfs::Start ctx;
};

TEST_F(Overlay, LowerFilesShowThrough) {
    EXPECT_EQ(get(ctx, "/etc/hosts"), "127.0.0.1 localhost\n");
    EXPECT_EQ(get(ctx, "/link"), "127.0.0.1 localhost\n");
    EXPECT_EQ(list(ctx, "/"), (std::set<std::string>{"etc", "empty", "full", "top", "link"}));
    auto attributes = *(*vfs::resolve(ctx, "/etc/hosts", Follow::Yes))->getattr();
    EXPECT_EQ(attributes.uid, 42u);
    EXPECT_EQ(attributes.dev, m_overlay->dev());
    // One vnode per name while referenced (mount points and flock rely on it).
    auto a = vfs::resolve(ctx, "/etc/hosts", Follow::Yes);
    EXPECT_EQ(a->get(), vfs::resolve(ctx, "/etc/../etc/hosts", Follow::Yes)->get());
    EXPECT_EQ(m_upper.nodes(), 0u);  // reading copies nothing up
}

TEST_F(Overlay, WritingCopiesUp) {
    put(ctx, "/etc/hosts", "replaced\n");
    EXPECT_EQ(get(ctx, "/etc/hosts"), "replaced\n");
    auto file = vfs::open(ctx, "/etc/sub/deep", O_WRONLY | O_APPEND, 0);
    ASSERT_TRUE(file);
    ASSERT_TRUE((*file)->write({reinterpret_cast<const std::byte*>("er"), 2}, std::nullopt));
    EXPECT_EQ(get(ctx, "/etc/sub/deep"), "deeper");
    // The copy keeps mode, owner and times; the parents were copied up with their modes.
    auto sub = *(*vfs::resolve(ctx, "/etc/sub", Follow::Yes))->getattr();
    EXPECT_EQ(sub.mode & 07777, 0700u);
    EXPECT_EQ(list(ctx, "/etc"), (std::set<std::string>{"hosts", "sub"}));
    EXPECT_EQ(get(ctx, "/top"), "top file");
}

TEST_F(Overlay, AttributeChangesCopyUp) {
    auto node = *vfs::resolve(ctx, "/top", Follow::Yes);
    uint64_t ino_before = node->ino();
    vfs::AttrChange chmod;
    chmod.mask = vfs::ATTR_MODE;
    chmod.mode = 0600;
    ASSERT_TRUE(node->setattr(chmod));
    EXPECT_EQ(get(ctx, "/top"), "top file");
    auto attributes = *node->getattr();
    EXPECT_EQ(attributes.mode, S_IFREG | 0600u);
    EXPECT_NE(attributes.ino, ino_before);  // documented: st_ino is the upper file's after copy-up
    EXPECT_TRUE(attributes.ino & OVERLAY_UPPER_INO_BIT);
    auto hosts = *vfs::resolve(ctx, "/etc/hosts", Follow::Yes);
    vfs::AttrChange truncate;
    truncate.mask = vfs::ATTR_SIZE;
    truncate.size = 3;
    ASSERT_TRUE(hosts->setattr(truncate));
    EXPECT_EQ(get(ctx, "/etc/hosts"), "127");
    EXPECT_EQ(hosts->getattr()->mtime.sec, vfs::now().sec);
}

TEST_F(Overlay, UnlinkLeavesWhiteout) {
    ASSERT_TRUE(vfs::remove(ctx, "/top", RemoveKind::File));
    EXPECT_EQ(err(vfs::resolve(ctx, "/top", Follow::Yes)), ENOENT);
    EXPECT_EQ(list(ctx, "/"), (std::set<std::string>{"etc", "empty", "full", "link"}));
    put(ctx, "/top", "new");  // over the whiteout
    EXPECT_EQ(get(ctx, "/top"), "new");
    ASSERT_TRUE(vfs::remove(ctx, "/top", RemoveKind::File));
    EXPECT_EQ(err(vfs::resolve(ctx, "/top", Follow::Yes)), ENOENT);  // the whiteout came back
    // A file created in the overlay only leaves no whiteout.
    put(ctx, "/fresh", "x");
    ASSERT_TRUE(vfs::remove(ctx, "/fresh", RemoveKind::File));
    EXPECT_EQ(err(m_upper.root()->lookup("fresh")), ENOENT);
}

TEST_F(Overlay, RemovingDirectories) {
    EXPECT_EQ(err(vfs::remove(ctx, "/full", RemoveKind::Directory)), ENOTEMPTY);
    ASSERT_TRUE(vfs::remove(ctx, "/full/a", RemoveKind::File));
    EXPECT_EQ(err(vfs::remove(ctx, "/full", RemoveKind::Directory)), ENOTEMPTY);
    ASSERT_TRUE(vfs::remove(ctx, "/full/b", RemoveKind::File));
    EXPECT_EQ(list(ctx, "/full"), std::set<std::string>{});
    ASSERT_TRUE(vfs::remove(ctx, "/full", RemoveKind::Directory));  // holds only whiteouts
    EXPECT_EQ(err(vfs::resolve(ctx, "/full", Follow::Yes)), ENOENT);
    // Made again: opaque, the lower entries stay hidden.
    ASSERT_TRUE(vfs::make_directory(ctx, "/full", 0755));
    EXPECT_EQ(list(ctx, "/full"), std::set<std::string>{});
    EXPECT_EQ(err(vfs::resolve(ctx, "/full/a", Follow::Yes)), ENOENT);
    EXPECT_EQ(err(vfs::resolve(ctx, "/full/.wh..wh..opq", Follow::Yes)), ENOENT);
    auto marker = vfs::open(ctx, "/full/.wh..wh..opq", O_CREAT | O_WRONLY, 0644);
    ASSERT_FALSE(marker);
    EXPECT_EQ(marker.error().code, EPERM);
    put(ctx, "/full/c", "c");
    EXPECT_EQ(list(ctx, "/full"), std::set<std::string>{"c"});
    ASSERT_TRUE(vfs::remove(ctx, "/empty", RemoveKind::Directory));
    ASSERT_TRUE(vfs::make_directory(ctx, "/new", 0755));
    ASSERT_TRUE(vfs::remove(ctx, "/new", RemoveKind::Directory));
    EXPECT_EQ(list(ctx, "/"), (std::set<std::string>{"etc", "full", "top", "link"}));
}

TEST_F(Overlay, Rename) {
    ASSERT_TRUE(vfs::rename(ctx, "/top", ctx, "/etc/moved", 0));
    EXPECT_EQ(get(ctx, "/etc/moved"), "top file");
    EXPECT_EQ(err(vfs::resolve(ctx, "/top", Follow::Yes)), ENOENT);
    // Over a lower file, and back over the whiteout.
    ASSERT_TRUE(vfs::rename(ctx, "/etc/moved", ctx, "/etc/hosts", 0));
    EXPECT_EQ(get(ctx, "/etc/hosts"), "top file");
    EXPECT_EQ(list(ctx, "/etc"), (std::set<std::string>{"hosts", "sub"}));
    ASSERT_TRUE(vfs::rename(ctx, "/etc/hosts", ctx, "/top", 0));
    EXPECT_EQ(get(ctx, "/top"), "top file");
    EXPECT_EQ(list(ctx, "/etc"), (std::set<std::string>{"sub"}));
    // Lower directories do not move (overlayfs without redirect_dir); new ones do, even over an
    // empty lower directory, which they then hide.
    EXPECT_EQ(err(vfs::rename(ctx, "/etc", ctx, "/etc2", 0)), EXDEV);
    ASSERT_TRUE(vfs::make_directory(ctx, "/mine", 0755));
    put(ctx, "/mine/x", "x");
    EXPECT_EQ(err(vfs::rename(ctx, "/mine", ctx, "/full", 0)), ENOTEMPTY);
    ASSERT_TRUE(vfs::rename(ctx, "/mine", ctx, "/empty", 0));
    EXPECT_EQ(list(ctx, "/empty"), std::set<std::string>{"x"});
    EXPECT_EQ(get(ctx, "/empty/x"), "x");
    EXPECT_EQ(err(vfs::rename(ctx, "/top", ctx, "/full", 0)), EISDIR);
    EXPECT_EQ(err(vfs::rename(ctx, "/empty", ctx, "/top", 0)), ENOTDIR);
}

TEST_F(Overlay, HardLinkCopiesUp) {
    ASSERT_TRUE(vfs::make_link(ctx, "/etc/hosts", ctx, "/hosts2", Follow::Yes));
    EXPECT_EQ(get(ctx, "/hosts2"), "127.0.0.1 localhost\n");
    put(ctx, "/hosts2", "shared");
    EXPECT_EQ(get(ctx, "/etc/hosts"), "shared");
    EXPECT_EQ((*vfs::resolve(ctx, "/hosts2", Follow::Yes))->getattr()->nlink, 2u);
}

TEST_F(Overlay, ReaddirResumes) {
    for (int i = 0; i < 5; ++i) put(ctx, ("/full/n" + std::to_string(i)).c_str(), "n");
    ASSERT_TRUE(vfs::remove(ctx, "/full/a", RemoveKind::File));
    auto dir = *vfs::resolve(ctx, "/full", Follow::Yes);
    std::set<std::string> seen;
    uint64_t cookie = 0;
    for (int calls = 0; calls < 20; ++calls) {
        TwoAtATime sink;
        ASSERT_TRUE(dir->readdir(cookie, sink));
        if (sink.room == 2) break;
        seen.insert(sink.names.begin(), sink.names.end());
    }
    EXPECT_EQ(seen, (std::set<std::string>{"b", "n0", "n1", "n2", "n3", "n4"}));
    // The numbers readdir gives are the ones stat gives (getcwd depends on it).
    Names names;
    cookie = 0;
    ASSERT_TRUE(m_root->readdir(cookie, names));
    for (const char* path : {"/full", "/etc", "/top"})
        EXPECT_TRUE(names.inos.count((*vfs::resolve(ctx, path, Follow::Yes))->ino())) << path;
    char cwd[256];
    auto length = vfs::directory_path(ctx, *vfs::resolve(ctx, "/etc/sub", Follow::Yes), cwd);
    ASSERT_TRUE(length);
    EXPECT_STREQ(cwd, "/etc/sub");
}

// rm -r: unlink what was listed while listing on. The first unlink copies the lower directory
// up; the listing must go on where it was.
TEST_F(Overlay, UnlinkWhileListing) {
    for (int i = 0; i < 20; ++i) put(lower, ("/full/f" + std::to_string(i)).c_str(), "f");
    m_lower_snapshot = snapshot(lower, "/");
    auto dir = *vfs::resolve(ctx, "/full", Follow::Yes);
    std::set<std::string> seen;
    uint64_t cookie = 0;
    for (int calls = 0; calls < 100; ++calls) {
        TwoAtATime sink;
        ASSERT_TRUE(dir->readdir(cookie, sink));
        if (sink.room == 2) break;
        for (const auto& name : sink.names) {
            seen.insert(name);
            ASSERT_TRUE(vfs::remove(ctx, ("/full/" + name).c_str(), RemoveKind::File)) << name;
        }
    }
    EXPECT_EQ(seen.size(), 22u);  // a, b, f0..f19
    EXPECT_EQ(list(ctx, "/full"), std::set<std::string>{});
    EXPECT_TRUE(vfs::remove(ctx, "/full", RemoveKind::Directory));
}

// Two open descriptions of one directory keep a snapshot each (Vnode::readdir_open): a listing
// started through one, while the other is half way and names come and go, does not move the
// other's cookies (with one snapshot per directory, the second listing's start rebuilt the list
// the first one's cookies indexed: names seen twice or never).
TEST_F(Overlay, ListingsThroughTwoDescriptions) {
    for (int i = 0; i < 6; ++i) put(lower, ("/full/f" + std::to_string(i)).c_str(), "f");
    m_lower_snapshot = snapshot(lower, "/");
    auto dir = *vfs::resolve(ctx, "/full", Follow::Yes);
    RefPtr<RefCounted> first, second;
    std::multiset<std::string> seen;
    uint64_t cookie = 0, other_cookie = 0;
    for (int calls = 0; calls < 20; ++calls) {
        TwoAtATime sink;
        ASSERT_TRUE(dir->readdir_open(cookie, sink, first));
        if (sink.room == 2) break;
        seen.insert(sink.names.begin(), sink.names.end());
        // Meanwhile: new names in front of the lower ones, and another listing from the start.
        put(ctx, ("/full/new" + std::to_string(calls)).c_str(), "n");
        Names all;
        other_cookie = 0;
        ASSERT_TRUE(dir->readdir_open(other_cookie, all, second));
    }
    EXPECT_EQ(seen, (std::multiset<std::string>{"a", "b", "f0", "f1", "f2", "f3", "f4", "f5"}));
}

TEST_F(Overlay, SizeLimitIsTheUppers) {
    m_upper.set_size_limit(2);
    std::string page(4096, 'p');
    put(ctx, "/a", page);
    auto file = vfs::open(ctx, "/b", O_CREAT | O_WRONLY, 0644);
    ASSERT_TRUE(file);
    std::string big(3 * 4096, 'b');
    auto written = (*file)->write({reinterpret_cast<const std::byte*>(big.data()), big.size()}, std::nullopt);
    EXPECT_TRUE(!written || *written < big.size());
    auto stats = m_overlay->statfs();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->magic, OVERLAYFS_SUPER_MAGIC);
    EXPECT_EQ(stats->blocks, 2u);
}

TEST_F(Overlay, FailedCopyUpLeavesNothing) {
    put(lower, "/big", std::string(3 * 4096, 'b'));
    m_lower_snapshot = snapshot(lower, "/");
    m_upper.set_size_limit(2);
    auto file = vfs::open(ctx, "/big", O_WRONLY, 0);
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().code, ENOSPC);
    EXPECT_EQ(get(ctx, "/big"), std::string(3 * 4096, 'b').substr(0, 4096));  // still the lower file
    Names upper;
    uint64_t cookie = 0;
    ASSERT_TRUE(m_upper.root()->readdir(cookie, upper));
    EXPECT_EQ(upper.names, std::set<std::string>{});  // no copy, no temporary left behind
    put(ctx, "/top", "fits");
    ASSERT_TRUE(m_upper.root()->readdir(cookie = 0, upper));
    EXPECT_EQ(upper.names, std::set<std::string>{"top"});
}

TEST_F(Overlay, ReservedNamesAreHidden) {
    put(lower, "/.wh..wh.lower", "hidden");
    m_lower_snapshot = snapshot(lower, "/");
    EXPECT_EQ(err(vfs::resolve(ctx, "/.wh..wh.lower", Follow::Yes)), ENOENT);
    EXPECT_EQ(list(ctx, "/").count(".wh..wh.lower"), 0u);
    EXPECT_EQ(err(vfs::make_directory(ctx, "/.wh..wh.mine", 0755)), EPERM);
    put(ctx, "/etc/new", "x");  // a merged directory now
    EXPECT_EQ(list(ctx, "/").count(".wh..wh.lower"), 0u);
}

TEST_F(Overlay, EmptyDirectoryHidesTheLowerOne) {
    auto root = static_cast<OverlayVnode*>(m_root.get());
    ASSERT_TRUE(root->make_empty_directory("full", 01777));
    EXPECT_EQ(list(ctx, "/full"), std::set<std::string>{});
    EXPECT_EQ((*vfs::resolve(ctx, "/full", Follow::Yes))->getattr()->mode, S_IFDIR | 01777u);
    ASSERT_TRUE(root->make_empty_directory("tmp", 01777));
    put(ctx, "/tmp/x", "x");
    EXPECT_EQ(list(ctx, "/tmp"), std::set<std::string>{"x"});
    EXPECT_EQ(err(root->make_empty_directory("tmp", 01777)), EEXIST);
}

TEST_F(Overlay, WhiteoutRules) {
    RamFs scratch;
    ASSERT_TRUE(scratch.initialize());
    auto device = scratch.root()->create("wh", S_IFCHR, 0, 0, 0);
    auto other = scratch.root()->create("tty", S_IFCHR | 0600, makedev(4, 1), 0, 0);
    auto file = scratch.root()->create("f", S_IFREG, 0, 0, 0);
    EXPECT_TRUE(is_whiteout(**device));
    EXPECT_FALSE(is_whiteout(**other));
    EXPECT_FALSE(is_whiteout(**file));
    EXPECT_TRUE(is_reserved_name(".wh..wh..opq"));
    EXPECT_FALSE(is_reserved_name(".wh.x"));
}

}  // namespace
}  // namespace xos::fs
