#include "fs/hostfs/mapped.h"

#include <cstring>

#include "xos/hostfs.h"

namespace xos::hostfs {

namespace host = platform::hostfs;

namespace {

// x86_64 is little-endian: the values are stored as they are in memory.
template <typename T>
bool load(int handle, const char* name, T& out) {
    T value{};
    if (host::get_attribute(handle, name, &value, sizeof value) != long(sizeof value)) return false;
    out = value;
    return true;
}

template <typename T>
ErrorOr<void> store(int handle, const char* name, T value) {
    if (long r = host::set_attribute(handle, name, &value, sizeof value); r < 0) return error(int(-r));
    return {};
}

}  // namespace

void load_mapped(int handle, struct stat& st) {
    if (S_ISLNK(st.st_mode)) return;
    uint32_t uid, gid, mode;
    uint64_t rdev;
    if (load(handle, "user.virtfs.uid", uid)) st.st_uid = uid;
    if (load(handle, "user.virtfs.gid", gid)) st.st_gid = gid;
    if (load(handle, "user.virtfs.mode", mode)) st.st_mode = mode;
    if (load(handle, "user.virtfs.rdev", rdev)) st.st_rdev = rdev;
}

ErrorOr<void> store_mapped(int handle, const MappedAttributes& a) {
    if (a.valid & MappedAttributes::UID) TRY(store(handle, "user.virtfs.uid", a.uid));
    if (a.valid & MappedAttributes::GID) TRY(store(handle, "user.virtfs.gid", a.gid));
    if (a.valid & MappedAttributes::MODE) TRY(store(handle, "user.virtfs.mode", a.mode));
    if (a.valid & MappedAttributes::RDEV) TRY(store(handle, "user.virtfs.rdev", a.rdev));
    return {};
}

}  // namespace xos::hostfs
