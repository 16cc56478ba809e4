// The 9P2000.L client file system: a host directory shared into the image (xos-run --share).
//
// Each vnode holds a fid walked to its file (the "path fid": getattr, setattr, walks from
// directories, directory operations) and opens I/O fids lazily: read-write when the server
// allows it, else read-only or write-only as needed, and a directory fid for readdir. All are
// clunked when the vnode's last reference goes. Vnodes are cached by qid path while referenced,
// so one host file is one vnode (flock, hard links, mount points behave). Nothing else is
// cached: attributes and data always come from the host, so the host sees every write at once
// (fsync asks the host to make it durable). Portable; runs over any p9::Channel.
#pragma once

#include <optional>

#include "base/intrusive_list.h"
#include "fs/9p/client.h"
#include "vfs/vnode.h"

namespace xos::p9 {

class P9Fs;

class P9Vnode final : public vfs::Vnode {
public:
    P9Vnode(P9Fs& fs, uint32_t fid, const Attr& attr);
    ~P9Vnode() override;

    uint32_t fid() const { return m_fid; }
    uint64_t qid_path() const { return m_attr.ino; }
    void apply(const Attr& attr);  // refreshes m_attr from the host's attributes

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
    ErrorOr<void> sync() override;
    ErrorOr<KString> readlink() override;
    ErrorOr<RefPtr<vfs::File>> open(int flags) override;

    // Adopts an fid already opened read-write (from Tlcreate).
    void adopt_open_fid(uint32_t fid);

    IntrusiveListNode cache_node;

private:
    enum class Access { Read, Write };
    P9Fs& p9fs() const;
    Client& client() const;
    ErrorOr<uint32_t> io_fid(Access access);
    ErrorOr<uint32_t> open_clone(uint32_t flags);
    std::optional<uint64_t> qid_path_of(std::string_view name);
    uint32_t any_open_fid() const;

    uint32_t m_fid;
    uint32_t m_rw_fid = NOFID;
    uint32_t m_read_fid = NOFID;
    uint32_t m_write_fid = NOFID;
    uint32_t m_dir_fid = NOFID;
    bool m_rw_refused = false;
};

class P9Fs final : public vfs::Filesystem {
public:
    static constexpr uint64_t MAGIC = 0x01021997;  // V9FS_MAGIC

    explicit P9Fs(Client& client) : Filesystem("9p", MAGIC), m_client(client) {}

    // Takes the attached root fid.
    ErrorOr<void> initialize(uint32_t root_fid);
    RefPtr<vfs::Vnode> root() override;
    ErrorOr<vfs::FsStats> statfs() override;

    Client& client() { return m_client; }
    // The vnode for a freshly walked `fid` (consumed: kept by a new vnode, or clunked when the
    // file already has one).
    ErrorOr<RefPtr<P9Vnode>> vnode_for(uint32_t fid);
    void forget(P9Vnode& vnode) { decltype(m_vnodes)::remove(vnode); }
    // A name for the file `qid_path` went away (unlink, rename over it): its vnode, if any, is
    // no longer found by lookups (the host may reuse the inode number for a new file), though
    // it lives on for whoever still holds it.
    void forget(uint64_t qid_path);

private:
    Client& m_client;
    RefPtr<P9Vnode> m_root;
    IntrusiveList<P9Vnode, &P9Vnode::cache_node> m_vnodes;
};

}  // namespace xos::p9
