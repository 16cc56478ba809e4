// A VM has no host directory shares through xos/hostfs.h (its shares are 9p over virtio): no
// share is ever listed, so libos never calls the file operations.
#include "xos/hostfs.h"

#include <cerrno>

namespace xos::platform::hostfs {

size_t share_count() { return 0; }
Share share(size_t) { return {nullptr, -1, ShareMode::Mapped}; }

long lookup(int, std::string_view, int) { return -ENOSYS; }
long lookup_parent(int) { return -ENOSYS; }
long create_file(int, std::string_view, mode_t) { return -ENOSYS; }
long reopen(int, int) { return -ENOSYS; }
long close(int) { return -ENOSYS; }
long stat(int, struct stat*) { return -ENOSYS; }
long statfs(int, struct statfs*) { return -ENOSYS; }
long read(int, void*, size_t, uint64_t) { return -ENOSYS; }
long write(int, const void*, size_t, uint64_t) { return -ENOSYS; }
long read_directory(int, uint64_t, void*, size_t) { return -ENOSYS; }
long truncate(int, uint64_t) { return -ENOSYS; }
long allocate(int, int, uint64_t, uint64_t) { return -ENOSYS; }
long sync(int, bool) { return -ENOSYS; }
long make_directory(int, std::string_view, mode_t) { return -ENOSYS; }
long make_node(int, std::string_view, mode_t, dev_t) { return -ENOSYS; }
long make_symlink(int, std::string_view, std::string_view) { return -ENOSYS; }
long read_link(int, char*, size_t) { return -ENOSYS; }
long make_link(int, int, std::string_view) { return -ENOSYS; }
long remove(int, std::string_view, int) { return -ENOSYS; }
long rename(int, std::string_view, int, std::string_view, unsigned) { return -ENOSYS; }
long get_attribute(int, const char*, void*, size_t) { return -ENOSYS; }
long set_attribute(int, const char*, const void*, size_t) { return -ENOSYS; }
long chmod(int, mode_t) { return -ENOSYS; }
long chown(int, uid_t, gid_t) { return -ENOSYS; }
long set_times(int, const struct timespec[2]) { return -ENOSYS; }

}  // namespace xos::platform::hostfs
