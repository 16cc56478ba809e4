// A 9P2000.L client: one call per protocol operation, fids allocated and recycled here, errors
// (Rlerror) returned as the server's errno. It runs over a Channel (virtio-9p in the kernel, a
// fake server in the unit tests) that carries one request and its reply per slot; several
// threads may have requests in flight, one per slot. Portable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include "base/error.h"
#include "base/kstring.h"
#include "fs/9p/codec.h"

namespace xos::p9 {

class Channel {
public:
    struct Slot {
        std::span<std::byte> request;  // msize bytes each
        std::span<std::byte> reply;
        uint16_t tag;
    };

    // The largest message either side may send (before Tversion: the channel's buffer size).
    virtual size_t buffer_size() const = 0;
    // Waits for a free slot.
    virtual ErrorOr<Slot*> acquire() = 0;
    // Sends slot.request[0..length) and waits for the reply; returns the reply's length.
    virtual ErrorOr<size_t> transact(Slot& slot, size_t length) = 0;
    virtual void release(Slot& slot) = 0;

protected:
    ~Channel() = default;
};

// Linux open flags as 9P2000.L carries them (the x86_64 values).
constexpr uint32_t L_RDONLY = 0, L_WRONLY = 1, L_RDWR = 2, L_CREAT = 0100, L_EXCL = 0200, L_TRUNC = 01000,
                   L_DIRECTORY = 0200000, L_NOFOLLOW = 0400000;
constexpr uint32_t AT_REMOVEDIR_FLAG = 0x200;

struct Opened {
    Qid qid;
    uint32_t iounit;
};

struct SetAttr {
    uint32_t valid = 0;  // SETATTR_*
    uint32_t mode = 0, uid = 0, gid = 0;
    uint64_t size = 0;
    uint64_t atime_sec = 0, atime_nsec = 0, mtime_sec = 0, mtime_nsec = 0;
};

class Client {
public:
    explicit Client(Channel& channel) : m_channel(channel) {}
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Tversion ("9P2000.L", msize at most the channel's buffers) then Tattach of `aname` as
    // uid `uid`; returns the root's fid. EPROTONOSUPPORT if the server does not speak 9P2000.L.
    ErrorOr<uint32_t> connect(std::string_view aname, uint32_t uid, Qid* root_qid = nullptr);
    uint32_t msize() const { return m_msize; }

    // Fids.
    ErrorOr<uint32_t> allocate_fid();
    void release_fid(uint32_t fid);  // only for a fid the server never saw

    // Walks `names` (at most MAX_WALK_NAMES; none clones the fid) from `fid` to a new fid.
    // ENOENT (or the server's error) if the walk stops early; the new fid is then not made.
    ErrorOr<uint32_t> walk(uint32_t fid, std::span<const std::string_view> names, Qid* qid = nullptr);
    ErrorOr<void> clunk(uint32_t fid);  // the fid is free afterwards whatever the server says
    // Clunks `fid` before the next request (or at once when too many wait): for a vnode's
    // destructor, which runs wherever the last reference goes (a process's memory freed in
    // wait4, a file description's end) and must not block there (cpus2 busybox: a clunk that
    // slept in ~VirtualMemory let the scheduler's reaper run in the middle of that teardown).
    void clunk_later(uint32_t fid);
    // Sends the clunks clunk_later deferred (call() does, before any other request).
    void flush_clunks();

    ErrorOr<Attr> getattr(uint32_t fid, uint64_t mask = GETATTR_BASIC);
    ErrorOr<void> setattr(uint32_t fid, const SetAttr& change);
    ErrorOr<Opened> lopen(uint32_t fid, uint32_t flags);
    // Creates `name` in the directory `fid` and opens it; `fid` then stands for the new file.
    ErrorOr<Opened> lcreate(uint32_t fid, std::string_view name, uint32_t flags, uint32_t mode, uint32_t gid);
    // Reads/writes at most one message's worth; the count done.
    ErrorOr<size_t> read(uint32_t fid, uint64_t offset, std::span<std::byte> buffer);
    ErrorOr<size_t> write(uint32_t fid, uint64_t offset, std::span<const std::byte> data);
    // Calls fn(const Dirent&) for each entry of one Rreaddir from `offset`; returns how many
    // entries the reply had (0: the end). fn returns false to stop early.
    template <typename Fn>
    ErrorOr<size_t> readdir(uint32_t fid, uint64_t offset, Fn&& fn);
    ErrorOr<Qid> mkdir(uint32_t dir_fid, std::string_view name, uint32_t mode, uint32_t gid);
    ErrorOr<Qid> mknod(uint32_t dir_fid, std::string_view name, uint32_t mode, uint32_t major, uint32_t minor,
                       uint32_t gid);
    ErrorOr<Qid> symlink(uint32_t dir_fid, std::string_view name, std::string_view target, uint32_t gid);
    ErrorOr<void> link(uint32_t dir_fid, uint32_t target_fid, std::string_view name);
    ErrorOr<KString> readlink(uint32_t fid);
    ErrorOr<void> unlinkat(uint32_t dir_fid, std::string_view name, uint32_t flags);
    ErrorOr<void> renameat(uint32_t old_dir_fid, std::string_view old_name, uint32_t new_dir_fid,
                           std::string_view new_name);
    ErrorOr<void> fsync(uint32_t fid, bool data_only);
    ErrorOr<StatFs> statfs(uint32_t fid);

    // One round trip: build(Writer&) fills the request, parse(Reader&) reads the reply's body
    // (and returns the call's result). EPROTO if the reply was shorter than parse read.
    template <typename Build, typename Parse>
    auto call(uint8_t type, Build&& build, Parse&& parse) -> ErrorOr<decltype(parse(std::declval<Reader&>()))>;

private:
    Channel& m_channel;
    uint32_t m_msize = 0;
    uint32_t m_next_fid = 1;
    static constexpr size_t FREE_FIDS = 64;
    uint32_t m_free_fids[FREE_FIDS];
    size_t m_free_fid_count = 0;
    static constexpr size_t PENDING_CLUNKS = 64;
    uint32_t m_pending_clunks[PENDING_CLUNKS];
    size_t m_pending_clunk_count = 0;
};

template <typename Build, typename Parse>
auto Client::call(uint8_t type, Build&& build, Parse&& parse) -> ErrorOr<decltype(parse(std::declval<Reader&>()))> {
    if (m_pending_clunk_count && type != Tclunk && type != Tversion) flush_clunks();
    Channel::Slot* slot = TRY(m_channel.acquire());
    struct Release {
        Channel& channel;
        Channel::Slot& slot;
        ~Release() { channel.release(slot); }
    } release{m_channel, *slot};
    size_t limit = m_msize ? m_msize : m_channel.buffer_size();
    uint16_t tag = type == Tversion ? NOTAG : slot->tag;  // the protocol's rule for Tversion
    Writer writer(slot->request.first(limit < slot->request.size() ? limit : slot->request.size()), type, tag);
    build(writer);
    size_t length = TRY(writer.finish());
    size_t reply_length = TRY(m_channel.transact(*slot, length));
    Reader reader = TRY(open_reply(slot->reply.first(reply_length), uint8_t(type + 1), tag));
    if constexpr (std::is_void_v<decltype(parse(reader))>) {
        parse(reader);
        if (!reader.ok()) return error(EPROTO);
        return {};
    } else {
        auto result = parse(reader);
        if (!reader.ok()) return error(EPROTO);
        return result;
    }
}

template <typename Fn>
ErrorOr<size_t> Client::readdir(uint32_t fid, uint64_t offset, Fn&& fn) {
    uint32_t count = m_msize - uint32_t(READDIR_OVERHEAD);
    return call(
        Treaddir, [&](Writer& w) { w.u32(fid).u64(offset).u32(count); },
        [&](Reader& r) -> size_t {
            uint32_t length = r.u32();
            Reader entries(r.bytes(length));
            size_t n = 0;
            bool more = true;
            while (r.ok() && entries.remaining() > 0) {
                Dirent entry = read_dirent(entries);
                if (!entries.ok()) {
                    r.bytes(r.remaining() + 1);  // poison: malformed entry
                    break;
                }
                ++n;
                if (more) more = fn(entry);
            }
            return n;
        });
}

}  // namespace xos::p9
