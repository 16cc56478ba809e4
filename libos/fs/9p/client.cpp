#include "fs/9p/client.h"

#include <cstring>

#include "base/user_ptr.h"

namespace xos::p9 {

namespace {
constexpr std::string_view VERSION = "9P2000.L";
}

ErrorOr<uint32_t> Client::connect(std::string_view aname, uint32_t uid, Qid* root_qid) {
    size_t buffer = m_channel.buffer_size();
    uint32_t wanted = buffer > 0xffffffffu ? 0xffffffffu : uint32_t(buffer);
    m_msize = 0;
    struct Version {
        uint32_t msize;
        bool dotl;
    };
    // Tversion uses NOTAG; the channel's tag is overwritten in the built message.
    Version version = TRY(call(
        Tversion, [&](Writer& w) { w.u32(wanted).str(VERSION); },
        [&](Reader& r) { return Version{r.u32(), r.str() == VERSION}; }));
    if (!version.dotl) return error(EPROTONOSUPPORT);
    if (version.msize < 4096 || version.msize > wanted) return error(EPROTO);
    m_msize = version.msize;

    uint32_t fid = TRY(allocate_fid());
    auto qid = call(
        Tattach, [&](Writer& w) { w.u32(fid).u32(NOFID).str("").str(aname).u32(uid); },
        [](Reader& r) { return r.qid(); });
    if (!qid) {
        release_fid(fid);
        return std::unexpected(qid.error());
    }
    if (root_qid) *root_qid = *qid;
    return fid;
}

ErrorOr<uint32_t> Client::allocate_fid() {
    if (m_free_fid_count) return m_free_fids[--m_free_fid_count];
    if (m_next_fid == NOFID) return error(ENFILE);
    return m_next_fid++;
}

void Client::release_fid(uint32_t fid) {
    if (m_free_fid_count < FREE_FIDS) m_free_fids[m_free_fid_count++] = fid;
}

ErrorOr<uint32_t> Client::walk(uint32_t fid, std::span<const std::string_view> names, Qid* qid) {
    if (names.size() > MAX_WALK_NAMES) return error(EINVAL);
    uint32_t new_fid = TRY(allocate_fid());
    auto walked = call(
        Twalk,
        [&](Writer& w) {
            w.u32(fid).u32(new_fid).u16(uint16_t(names.size()));
            for (std::string_view name : names) w.str(name);
        },
        [&](Reader& r) {
            uint16_t count = r.u16();
            Qid last;
            for (uint16_t i = 0; i < count; ++i) last = r.qid();
            if (qid && count) *qid = last;
            return count;
        });
    if (!walked) {
        release_fid(new_fid);
        return std::unexpected(walked.error());
    }
    // A partial walk (fewer qids than names) creates no fid: the first missing name's error.
    if (*walked != names.size()) {
        release_fid(new_fid);
        return error(ENOENT);
    }
    return new_fid;
}

ErrorOr<void> Client::clunk(uint32_t fid) {
    auto result = call(Tclunk, [&](Writer& w) { w.u32(fid); }, [](Reader&) {});
    release_fid(fid);  // the fid is gone even when the server reports an error
    return result;
}

void Client::clunk_later(uint32_t fid) {
    if (m_pending_clunk_count == PENDING_CLUNKS) flush_clunks();
    m_pending_clunks[m_pending_clunk_count++] = fid;
}

void Client::flush_clunks() {
    while (m_pending_clunk_count) (void)clunk(m_pending_clunks[--m_pending_clunk_count]);
}

ErrorOr<Attr> Client::getattr(uint32_t fid, uint64_t mask) {
    return call(Tgetattr, [&](Writer& w) { w.u32(fid).u64(mask); }, [](Reader& r) { return read_attr(r); });
}

ErrorOr<void> Client::setattr(uint32_t fid, const SetAttr& c) {
    return call(
        Tsetattr,
        [&](Writer& w) {
            w.u32(fid).u32(c.valid).u32(c.mode).u32(c.uid).u32(c.gid).u64(c.size);
            w.u64(c.atime_sec).u64(c.atime_nsec).u64(c.mtime_sec).u64(c.mtime_nsec);
        },
        [](Reader&) {});
}

ErrorOr<Opened> Client::lopen(uint32_t fid, uint32_t flags) {
    return call(
        Tlopen, [&](Writer& w) { w.u32(fid).u32(flags); },
        [](Reader& r) {
            Qid qid = r.qid();
            return Opened{qid, r.u32()};
        });
}

ErrorOr<Opened> Client::lcreate(uint32_t fid, std::string_view name, uint32_t flags, uint32_t mode, uint32_t gid) {
    return call(
        Tlcreate, [&](Writer& w) { w.u32(fid).str(name).u32(flags).u32(mode).u32(gid); },
        [](Reader& r) {
            Qid qid = r.qid();
            return Opened{qid, r.u32()};
        });
}

ErrorOr<size_t> Client::read(uint32_t fid, uint64_t offset, std::span<std::byte> buffer) {
    size_t limit = m_msize - READ_OVERHEAD;
    uint32_t count = uint32_t(buffer.size() < limit ? buffer.size() : limit);
    bool faulted = false;
    size_t n = TRY(call(
        Tread, [&](Writer& w) { w.u32(fid).u64(offset).u32(count); },
        [&](Reader& r) -> size_t {
            uint32_t length = r.u32();
            if (length > count) {
                r.bytes(r.remaining() + 1);  // poison: more than we asked for
                return 0;
            }
            auto data = r.bytes(length);
            // The buffer may be the app's, unmapped by another thread while this one waited.
            if (!data.empty() && user_copy(buffer.data(), data.data(), data.size())) faulted = true;
            return data.size();
        }));
    if (faulted) return error(EFAULT);
    return n;
}

ErrorOr<size_t> Client::write(uint32_t fid, uint64_t offset, std::span<const std::byte> data) {
    size_t limit = m_msize - WRITE_OVERHEAD;
    size_t count = data.size() < limit ? data.size() : limit;
    size_t written = TRY(call(
        Twrite, [&](Writer& w) { w.u32(fid).u64(offset).u32(uint32_t(count)).bytes(data.first(count)); },
        [](Reader& r) -> size_t { return r.u32(); }));
    if (written > count) return error(EPROTO);
    return written;
}

ErrorOr<Qid> Client::mkdir(uint32_t dir_fid, std::string_view name, uint32_t mode, uint32_t gid) {
    return call(
        Tmkdir, [&](Writer& w) { w.u32(dir_fid).str(name).u32(mode).u32(gid); }, [](Reader& r) { return r.qid(); });
}

ErrorOr<Qid> Client::mknod(uint32_t dir_fid, std::string_view name, uint32_t mode, uint32_t major, uint32_t minor,
                           uint32_t gid) {
    return call(
        Tmknod, [&](Writer& w) { w.u32(dir_fid).str(name).u32(mode).u32(major).u32(minor).u32(gid); },
        [](Reader& r) { return r.qid(); });
}

ErrorOr<Qid> Client::symlink(uint32_t dir_fid, std::string_view name, std::string_view target, uint32_t gid) {
    return call(
        Tsymlink, [&](Writer& w) { w.u32(dir_fid).str(name).str(target).u32(gid); }, [](Reader& r) { return r.qid(); });
}

ErrorOr<void> Client::link(uint32_t dir_fid, uint32_t target_fid, std::string_view name) {
    return call(Tlink, [&](Writer& w) { w.u32(dir_fid).u32(target_fid).str(name); }, [](Reader&) {});
}

ErrorOr<KString> Client::readlink(uint32_t fid) {
    // The target lives in the slot's buffer only until the call returns: copy it inside.
    ErrorOr<KString> copied = error(EPROTO);
    TRY(call(Treadlink, [&](Writer& w) { w.u32(fid); }, [&](Reader& r) { copied = KString::from(r.str()); }));
    return copied;
}

ErrorOr<void> Client::unlinkat(uint32_t dir_fid, std::string_view name, uint32_t flags) {
    return call(Tunlinkat, [&](Writer& w) { w.u32(dir_fid).str(name).u32(flags); }, [](Reader&) {});
}

ErrorOr<void> Client::renameat(uint32_t old_dir_fid, std::string_view old_name, uint32_t new_dir_fid,
                               std::string_view new_name) {
    return call(
        Trenameat, [&](Writer& w) { w.u32(old_dir_fid).str(old_name).u32(new_dir_fid).str(new_name); }, [](Reader&) {});
}

ErrorOr<void> Client::fsync(uint32_t fid, bool data_only) {
    return call(Tfsync, [&](Writer& w) { w.u32(fid).u32(data_only ? 1 : 0); }, [](Reader&) {});
}

ErrorOr<StatFs> Client::statfs(uint32_t fid) {
    return call(Tstatfs, [&](Writer& w) { w.u32(fid); }, [](Reader& r) { return read_statfs(r); });
}

}  // namespace xos::p9
