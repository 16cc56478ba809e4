#include "fs/initrd/initrd.h"

#include <sys/sysmacros.h>

#include <cstring>

#include "fs/initrd/cpio.h"
#include "vfs/operations.h"
#include "vfs/process.h"

namespace xos::fs {

namespace {

ErrorOr<void> write_all(vfs::Vnode& file, std::span<const std::byte> data) {
    size_t done = 0;
    while (done < data.size()) done += TRY(file.write(done, data.subspan(done)));
    return {};
}

ErrorOr<void> apply_metadata(vfs::Vnode& node, const CpioEntry& entry) {
    vfs::AttrChange change;
    change.mask = vfs::ATTR_UID | vfs::ATTR_GID | vfs::ATTR_MTIME | vfs::ATTR_ATIME;
    if (!node.is_symlink()) change.mask |= vfs::ATTR_MODE;
    change.mode = entry.mode & 07777;
    change.uid = entry.uid;
    change.gid = entry.gid;
    change.mtime = change.atime = {int64_t(entry.mtime), 0};
    return node.setattr(change);
}

ErrorOr<void> unpack_entry(const vfs::WalkContext& at, const CpioEntry& entry) {
    if (entry.name.empty() || entry.name == ".") {
        RefPtr<vfs::Vnode> root(at.root);
        return apply_metadata(*root, entry);
    }
    vfs::ParentLookup lookup = TRY(vfs::resolve_parent(at, entry.name));
    auto existing = lookup.parent->lookup(lookup.name);
    mode_t type = entry.mode & S_IFMT;
    if (existing) {
        if (type == S_IFDIR && (*existing)->is_directory()) return apply_metadata(**existing, entry);
        TRY(lookup.parent->remove(lookup.name,
                                  (*existing)->is_directory() ? vfs::RemoveKind::Directory : vfs::RemoveKind::File));
    }
    if (type == S_IFLNK) {
        std::string_view target(reinterpret_cast<const char*>(entry.data.data()), entry.data.size());
        TRY(lookup.parent->symlink(lookup.name, target, entry.uid, entry.gid));
        RefPtr<vfs::Vnode> link = TRY(lookup.parent->lookup(lookup.name));
        return apply_metadata(*link, entry);
    }
    dev_t rdev = makedev(entry.rdev_major, entry.rdev_minor);
    RefPtr<vfs::Vnode> node =
        TRY(lookup.parent->create(lookup.name, type | (entry.mode & 07777), rdev, entry.uid, entry.gid));
    if (type == S_IFREG) TRY(write_all(*node, entry.data));
    return apply_metadata(*node, entry);
}

ErrorOr<void> write_default(const vfs::WalkContext& at, const char* path, const char* text) {
    if (vfs::resolve(at, path, vfs::Follow::No)) return {};
    RefPtr<vfs::File> file = TRY(vfs::open(at, path, O_CREAT | O_WRONLY | O_EXCL, 0644));
    return write_all(*file->vnode(), {reinterpret_cast<const std::byte*>(text), strlen(text)});
}

}  // namespace

ErrorOr<void> unpack_cpio(const vfs::WalkContext& at, std::span<const std::byte> archive) {
    CpioReader reader(archive);
    CpioEntry entry;
    while (TRY(reader.next(entry))) TRY(unpack_entry(at, entry));
    return {};
}

ErrorOr<void> create_default_etc(const vfs::WalkContext& at) {
    if (!vfs::resolve(at, "/etc", vfs::Follow::Yes)) TRY(vfs::make_directory(at, "/etc", 0755));
    TRY(write_default(at, "/etc/hostname", "xos\n"));
    TRY(write_default(at, "/etc/hosts",
                      "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\txos\n"));
    TRY(write_default(at, "/etc/resolv.conf", "nameserver 10.0.2.3\n"));
    TRY(write_default(at, "/etc/passwd",
                      "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"));
    TRY(write_default(at, "/etc/group", "root:x:0:\nnogroup:x:65534:\n"));
    return {};
}

}  // namespace xos::fs
