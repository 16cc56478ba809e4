// hostfs: a host directory shared into a hosted image (xos-run --share on the hosted platform,
// docs/hosted.md), through the platform's host file calls (xos/hostfs.h). The VM's shares are
// 9p (fs/9p); this file system gives the same semantics with host syscalls instead of messages.
//
// Each vnode holds a host path handle (O_PATH) on its file, so it keeps naming that file across
// renames and unlinks, and opens I/O handles lazily (read-write when the host allows it, else
// read-only or write-only as needed; a directory handle for readdir). All are closed when the
// vnode's last reference goes: the host descriptors in use follow the vnodes in use. Vnodes are
// cached by host (device, inode) while referenced, so one host file is one vnode (flock, hard
// links, mount points behave). Nothing else is cached: attributes and data always come from the
// host, so the host sees every write at once.
//
// What the guest sets (owners, modes, file types) is kept as the share's mode says
// (xos/hostfs.h): by default in user.virtfs.* attributes of plain host files (fs/hostfs/mapped.h,
// QEMU's mapped-xattr format), with passthrough on the host files themselves.
//
// Names reach the host one component at a time; ".." is the platform's lookup_parent, which
// refuses to leave a share's root. Symlinks are returned as symlinks and followed by the VFS in
// the guest's namespace, never by the host.
#pragma once

#include <sys/stat.h>

#include "base/intrusive_list.h"
#include "vfs/vnode.h"
#include "xos/hostfs.h"

namespace xos::hostfs {

class HostFs;

class HostVnode final : public vfs::Vnode {
public:
    HostVnode(HostFs& fs, int handle, const struct stat& st);
    ~HostVnode() override;

    int handle() const { return m_handle; }
    uint64_t host_dev() const { return m_host_dev; }
    void apply(const struct stat& st);  // refreshes m_attr from the host's attributes

    ErrorOr<vfs::Attributes> getattr() override;
    ErrorOr<void> setattr(const vfs::AttrChange& change) override;

    ErrorOr<RefPtr<vfs::Vnode>> lookup(std::string_view name) override;
    ErrorOr<RefPtr<vfs::Vnode>> create(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid) override;
    ErrorOr<void> symlink(std::string_view name, std::string_view target, uid_t uid, gid_t gid) override;
    ErrorOr<void> link(std::string_view name, vfs::Vnode& target) override;
    ErrorOr<void> remove(std::string_view name, vfs::RemoveKind kind) override;
    ErrorOr<void> rename(std::string_view old_name, vfs::Vnode& new_dir, std::string_view new_name,
                         unsigned flags) override;
    ErrorOr<void> readdir(uint64_t& cookie, vfs::DirSink& sink) override;

    ErrorOr<size_t> read(uint64_t offset, std::span<std::byte> buffer) override;
    bool mappable() const override { return is_regular(); }  // through the page cache (mm/file_cache.h)
    ErrorOr<size_t> write(uint64_t offset, std::span<const std::byte> data) override;
    ErrorOr<void> truncate(uint64_t size) override;
    ErrorOr<void> allocate(int mode, uint64_t offset, uint64_t length) override;
    ErrorOr<void> sync() override;
    ErrorOr<KString> readlink() override;
    ErrorOr<RefPtr<vfs::File>> open(int flags) override;

    // Adopts a handle already open read-write (from create_file).
    void adopt_io_handle(int io);

    IntrusiveListNode cache_node;

private:
    enum class Access { Read, Write };
    HostFs& hostfs() const;
    ErrorOr<int> io_handle(Access access);
    int any_io_handle() const;
    ErrorOr<RefPtr<vfs::Vnode>> created(long handle, mode_t mode);
    ErrorOr<RefPtr<vfs::Vnode>> create_mapped(std::string_view name, mode_t mode, dev_t rdev, uid_t uid, gid_t gid,
                                              std::string_view content = {});
    ErrorOr<bool> is_host_symlink() const;  // a symlink on the host (not one the mapped mode made)

    int m_handle;
    int m_rw = -1, m_read = -1, m_write = -1, m_dir = -1;
    bool m_rw_refused = false;
    uint64_t m_host_dev = 0;
};

class HostFs final : public vfs::Filesystem {
public:
    // `magic`: the host file system's f_type, which statfs reports (as a bind mount would).
    // `read_only`: every change fails with EROFS (xos-run --rootfs's share, XOS_SHARE...:ro).
    HostFs(uint64_t magic, platform::hostfs::ShareMode mode, bool read_only = false)
        : Filesystem("hostfs", magic), m_mode(mode) {
        if (read_only) set_mount_flags(vfs::MOUNT_READ_ONLY);
    }

    // Takes the share's root handle (owned by the platform: never closed).
    ErrorOr<void> initialize(int root_handle);
    RefPtr<vfs::Vnode> root() override;
    ErrorOr<vfs::FsStats> statfs() override;

    // The vnode for a fresh path handle (consumed: kept by a new vnode, or closed when the file
    // already has one).
    ErrorOr<RefPtr<HostVnode>> vnode_for(int handle);
    void forget(HostVnode& vnode) { decltype(m_vnodes)::remove(vnode); }

    bool mapped() const { return m_mode == platform::hostfs::ShareMode::Mapped; }
    // The attributes of what `handle` names, as the guest sees them (mapped: with the stored ones).
    ErrorOr<void> stat(int handle, struct stat& st);

private:
    platform::hostfs::ShareMode m_mode;
    RefPtr<HostVnode> m_root;
    IntrusiveList<HostVnode, &HostVnode::cache_node> m_vnodes;
};

// Mounts every share the platform has (xos/hostfs.h) at its guest path; panics on failure.
void mount_host_shares();

}  // namespace xos::hostfs
