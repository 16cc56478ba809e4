#include <gtest/gtest.h>

#include <string>

#include "fs/ramfs/ramfs.h"
#include "vfs/operations.h"
#include "vfs/path_walk.h"

namespace xos::vfs {
namespace {

class PathWalk : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(m_fs.initialize());
        m_root = m_fs.root();
        ctx = {m_root.get(), m_root.get()};
        ASSERT_TRUE(make_directory(ctx, "/a", 0755));
        ASSERT_TRUE(make_directory(ctx, "/a/b", 0755));
        ASSERT_TRUE(open(ctx, "/a/b/file", O_CREAT | O_WRONLY, 0644));
        ASSERT_TRUE(make_symlink("b", ctx, "/a/to_b"));
        ASSERT_TRUE(make_symlink("/a/b/file", ctx, "/abs"));
        ASSERT_TRUE(make_symlink("loop2", ctx, "/loop1"));
        ASSERT_TRUE(make_symlink("loop1", ctx, "/loop2"));
    }
    int err(ErrorOr<RefPtr<Vnode>> result) { return result ? 0 : result.error().code; }

    fs::RamFs m_fs;
    RefPtr<Vnode> m_root;
    WalkContext ctx;
};

TEST_F(PathWalk, DotsAndSymlinks) {
    auto file = resolve(ctx, "/a/b/file", Follow::Yes);
    ASSERT_TRUE(file);
    EXPECT_EQ(resolve(ctx, "/a/./b/../b/file", Follow::Yes)->get(), file->get());
    EXPECT_EQ(resolve(ctx, "/../../a/to_b/file", Follow::Yes)->get(), file->get());
    EXPECT_EQ(resolve(ctx, "abs", Follow::Yes)->get(), file->get());
    EXPECT_TRUE((*resolve(ctx, "abs", Follow::No))->is_symlink());
    EXPECT_TRUE((*resolve(ctx, "/a/to_b/", Follow::No))->is_directory());  // trailing slash follows
    EXPECT_EQ(resolve(ctx, "..", Follow::Yes)->get(), m_root.get());
}

TEST_F(PathWalk, Errors) {
    EXPECT_EQ(err(resolve(ctx, "/missing", Follow::Yes)), ENOENT);
    EXPECT_EQ(err(resolve(ctx, "", Follow::Yes)), ENOENT);
    EXPECT_EQ(err(resolve(ctx, "/a/b/file/x", Follow::Yes)), ENOTDIR);
    EXPECT_EQ(err(resolve(ctx, "/a/b/file/", Follow::Yes)), ENOTDIR);
    EXPECT_EQ(err(resolve(ctx, "/loop1", Follow::Yes)), ELOOP);
    EXPECT_EQ(err(resolve(ctx, "/loop1", Follow::No)), 0);
    EXPECT_EQ(err(resolve(ctx, "/" + std::string(256, 'x'), Follow::Yes)), ENAMETOOLONG);
    EXPECT_EQ(err(resolve(ctx, std::string(5000, 'a'), Follow::Yes)), ENAMETOOLONG);
}

TEST_F(PathWalk, ParentLookup) {
    auto lookup = resolve_parent(ctx, "/a/b/new/");
    ASSERT_TRUE(lookup);
    EXPECT_EQ(lookup->name, "new");
    EXPECT_TRUE(lookup->trailing_slash);
    EXPECT_EQ(lookup->parent.get(), resolve(ctx, "/a/b", Follow::Yes)->get());
    auto root = resolve_parent(ctx, "///");
    ASSERT_TRUE(root);
    EXPECT_TRUE(root->name.empty());
    EXPECT_EQ(resolve_parent(ctx, "/a/b/file/x").error().code, ENOTDIR);
}

TEST_F(PathWalk, DirectoryPathAndRename) {
    char path[PATH_MAX_BYTES];
    auto b = resolve(ctx, "/a/b", Follow::Yes);
    ASSERT_TRUE(directory_path(ctx, *b, path));
    EXPECT_STREQ(path, "/a/b");
    ASSERT_TRUE(rename(ctx, "/a/b", ctx, "/c", 0));
    ASSERT_TRUE(directory_path(ctx, *b, path));
    EXPECT_STREQ(path, "/c");
    EXPECT_EQ(rename(ctx, "/a", ctx, "/a/x", 0).error().code, EINVAL);
    EXPECT_EQ(remove(ctx, "/c", RemoveKind::Directory).error().code, ENOTEMPTY);
    ASSERT_TRUE(remove(ctx, "/c/file", RemoveKind::File));
    ASSERT_TRUE(remove(ctx, "/c", RemoveKind::Directory));
    EXPECT_EQ(directory_path(ctx, *b, path).error().code, ENOENT);
}

// A read-only mount refuses every change with EROFS after what Linux checks first (EEXIST for
// an existing name, EXDEV); reads and an O_CREAT open of an existing file still work. nodev
// refuses opening a device node (EACCES).
TEST_F(PathWalk, ReadOnlyAndNodevMounts) {
    ASSERT_TRUE(make_node(ctx, "/a/null", S_IFCHR | 0666, 0x103));
    m_fs.set_mount_flags(MOUNT_READ_ONLY);
    auto code = [](auto result) { return result ? 0 : result.error().code; };
    EXPECT_EQ(code(open(ctx, "/a/b/file", O_WRONLY, 0)), EROFS);
    EXPECT_EQ(code(open(ctx, "/a/b/file", O_RDONLY | O_TRUNC, 0)), EROFS);
    EXPECT_EQ(code(open(ctx, "/a/b/file", O_RDONLY, 0)), 0);
    EXPECT_EQ(code(open(ctx, "/a/b/file", O_RDONLY | O_CREAT, 0644)), 0);
    EXPECT_EQ(code(open(ctx, "/a/b/new", O_WRONLY | O_CREAT, 0644)), EROFS);
    EXPECT_EQ(code(make_directory(ctx, "/a/new", 0755)), EROFS);
    EXPECT_EQ(code(make_directory(ctx, "/a", 0755)), EEXIST);
    EXPECT_EQ(code(make_node(ctx, "/a/fifo", S_IFIFO | 0644, 0)), EROFS);
    EXPECT_EQ(code(make_symlink("x", ctx, "/a/link")), EROFS);
    EXPECT_EQ(code(make_link(ctx, "/a/b/file", ctx, "/a/hard", Follow::No)), EROFS);
    EXPECT_EQ(code(rename(ctx, "/a/b/file", ctx, "/a/b/moved", 0)), EROFS);
    EXPECT_EQ(code(remove(ctx, "/a/b/file", RemoveKind::File)), EROFS);
    EXPECT_EQ(code(remove(ctx, "/a/b/missing", RemoveKind::File)), EROFS);
    EXPECT_EQ(code(remove(ctx, "/a/b", RemoveKind::Directory)), EROFS);
    EXPECT_TRUE(resolve(ctx, "/a/b/file", Follow::Yes));
    m_fs.set_mount_flags(MOUNT_NO_DEV);
    EXPECT_EQ(code(open(ctx, "/a/null", O_RDWR, 0)), EACCES);
    EXPECT_EQ(code(open(ctx, "/a/b/new", O_WRONLY | O_CREAT, 0644)), 0);
}

TEST(Ramfs, SparseFileCostsOnlyWrittenPages) {
    fs::RamFs fs;
    ASSERT_TRUE(fs.initialize());
    WalkContext ctx{fs.root().get(), fs.root().get()};
    auto file = open(ctx, "/sparse", O_CREAT | O_RDWR, 0644);
    ASSERT_TRUE(file);
    const std::byte data[4] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    ASSERT_TRUE((*file)->write(data, uint64_t(1) << 40));
    EXPECT_EQ(fs.data_pages(), 1u);
    std::byte back[8] = {};
    ASSERT_EQ(*(*file)->read(back, (uint64_t(1) << 40) - 4), 8u);
    EXPECT_EQ(back[0], std::byte{0});
    EXPECT_EQ(back[4], std::byte{1});
    ASSERT_TRUE((*file)->vnode()->truncate(0));
    EXPECT_EQ(fs.data_pages(), 0u);
}

// The size limit (tmpfs' size=): a write that crosses it is short, the next one fails with
// ENOSPC, overwriting pages a file has costs nothing, statfs reports the limit, freeing gives back.
TEST(Ramfs, SizeLimit) {
    fs::RamFs fs;
    ASSERT_TRUE(fs.initialize());
    fs.set_size_limit(4);
    WalkContext ctx{fs.root().get(), fs.root().get()};
    auto stats = fs.statfs();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->blocks, 4u);
    EXPECT_EQ(stats->blocks_free, 4u);
    auto file = open(ctx, "/full", O_CREAT | O_RDWR, 0644);
    ASSERT_TRUE(file);
    static std::byte data[5 * 4096];
    auto written = (*file)->write(data, 100);  // pages 0..5: only 0..3 fit
    ASSERT_TRUE(written);
    EXPECT_EQ(*written, 4 * 4096u - 100);
    EXPECT_EQ(fs.data_pages(), 4u);
    EXPECT_EQ((*file)->write(data, 4 * 4096).error().code, ENOSPC);
    EXPECT_EQ((*file)->vnode()->allocate(0, 4 * 4096, 4096).error().code, ENOSPC);
    EXPECT_EQ(*(*file)->write({data, 4096}, 4096), 4096u);  // an existing page: no new space needed
    stats = fs.statfs();
    EXPECT_EQ(stats->blocks, 4u);
    EXPECT_EQ(stats->blocks_free, 0u);
    EXPECT_EQ(stats->blocks_available, 0u);
    ASSERT_TRUE((*file)->vnode()->truncate(4096));
    EXPECT_EQ(fs.statfs()->blocks_free, 3u);
    EXPECT_TRUE((*file)->vnode()->allocate(0, 4096, 3 * 4096));
    EXPECT_EQ(fs.statfs()->blocks_free, 0u);
}

}  // namespace
}  // namespace xos::vfs
