#include <gtest/gtest.h>

#include "fs/ramfs/ramfs.h"
#include "mm/heap.h"
#include "vfs/fd_table.h"

namespace xos::vfs {
namespace {

RefPtr<File> make_file(fs::RamFs& fs) { return RefPtr<File>(mm::kcreate<File>(fs.root(), O_RDONLY | O_DIRECTORY)); }

TEST(FdTable, LowestFreeDescriptorAndReuse) {
    fs::RamFs fs;
    ASSERT_TRUE(fs.initialize());
    FdTable table;
    EXPECT_EQ(*table.allocate(make_file(fs), false), 0);
    EXPECT_EQ(*table.allocate(make_file(fs), false), 1);
    EXPECT_EQ(*table.allocate(make_file(fs), false), 2);
    ASSERT_TRUE(table.close(1));
    EXPECT_EQ(*table.allocate(make_file(fs), false), 1);
    EXPECT_EQ(*table.allocate(make_file(fs), false, 10), 10);
    EXPECT_EQ(*table.allocate(make_file(fs), false), 3);
    EXPECT_EQ(table.close(7).error().code, EBADF);
    EXPECT_EQ(table.get(-1).error().code, EBADF);
    EXPECT_EQ(table.allocate(make_file(fs), false, FdTable::MAX_FDS).error().code, EINVAL);
}

TEST(FdTable, CloexecAndInstall) {
    fs::RamFs fs;
    ASSERT_TRUE(fs.initialize());
    FdTable table;
    int fd = *table.allocate(make_file(fs), true);
    EXPECT_TRUE(*table.cloexec(fd));
    ASSERT_TRUE(table.set_cloexec(fd, false));
    EXPECT_FALSE(*table.cloexec(fd));
    RefPtr<File> shared = *table.get(fd);
    ASSERT_TRUE(table.install(5, shared, true));
    EXPECT_EQ(table.get(5)->get(), shared.get());
    EXPECT_TRUE(*table.cloexec(5));
    EXPECT_EQ(table.install(FdTable::MAX_FDS, shared, false).error().code, EBADF);
    EXPECT_EQ(table.open_count(), 2);
}

TEST(FdTable, FullTableIsEmfile) {
    fs::RamFs fs;
    ASSERT_TRUE(fs.initialize());
    FdTable table;
    RefPtr<File> file = make_file(fs);
    for (int i = 0; i < FdTable::MAX_FDS; ++i) ASSERT_EQ(*table.allocate(file, false), i);
    EXPECT_EQ(table.allocate(file, false).error().code, EMFILE);
    table.close_all();
    EXPECT_EQ(table.open_count(), 0);
    EXPECT_EQ(file->ref_count(), 1u);
}

}  // namespace
}  // namespace xos::vfs
