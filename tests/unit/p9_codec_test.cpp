// 9P2000.L: message encoding and decoding, and the client over a scripted fake channel.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "fs/9p/client.h"
#include "fs/9p/codec.h"

using namespace xos;
using namespace xos::p9;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values) {
    std::vector<std::byte> out;
    for (int v : values) out.push_back(std::byte(v));
    return out;
}

// Builds a server reply the way a server would.
std::vector<std::byte> reply(uint8_t type, uint16_t tag, const std::function<void(Writer&)>& body) {
    std::vector<std::byte> buffer(1 << 16);
    Writer w(buffer, type, tag);
    body(w);
    buffer.resize(*w.finish());
    return buffer;
}

}  // namespace

TEST(P9Codec, EncodesTwalkByteForByte) {
    std::vector<std::byte> buffer(64);
    Writer w(buffer, Twalk, 0x0102);
    w.u32(7).u32(8).u16(2).str("ab").str("c");
    auto length = w.finish();
    ASSERT_TRUE(length);
    buffer.resize(*length);
    EXPECT_EQ(buffer, bytes({24, 0, 0, 0, 110, 0x02, 0x01, 7, 0, 0, 0, 8, 0, 0, 0, 2, 0, 2, 0, 'a', 'b', 1, 0, 'c'}));
}

TEST(P9Codec, WriterReportsOverflowAndLongNames) {
    std::vector<std::byte> small(10);
    Writer w(small, Tclunk, 1);
    w.u32(1).u64(2);
    auto overflow = w.finish();
    ASSERT_FALSE(overflow);
    EXPECT_EQ(overflow.error().code, EMSGSIZE);

    std::vector<std::byte> big(1 << 17);
    Writer w2(big, Twalk, 1);
    w2.str(std::string(70000, 'x'));
    EXPECT_EQ(w2.finish().error().code, ENAMETOOLONG);
}

TEST(P9Codec, RepliesAreCheckedAndRlerrorIsTheErrno) {
    auto ok = reply(Rclunk, 5, [](Writer&) {});
    EXPECT_TRUE(open_reply(ok, Rclunk, 5));

    auto wrong_tag = open_reply(ok, Rclunk, 6);
    ASSERT_FALSE(wrong_tag);
    EXPECT_EQ(wrong_tag.error().code, EPROTO);
    EXPECT_EQ(open_reply(ok, Rwalk, 5).error().code, EPROTO);

    auto lerror = reply(Rlerror, 5, [](Writer& w) { w.u32(ENOTEMPTY); });
    EXPECT_EQ(open_reply(lerror, Rclunk, 5).error().code, ENOTEMPTY);
    auto bad_errno = reply(Rlerror, 5, [](Writer& w) { w.u32(0); });
    EXPECT_EQ(open_reply(bad_errno, Rclunk, 5).error().code, EPROTO);

    // A size field larger than what arrived, or smaller than a header.
    auto truncated = ok;
    truncated[0] = std::byte(100);
    EXPECT_EQ(open_reply(truncated, Rclunk, 5).error().code, EPROTO);
    truncated[0] = std::byte(3);
    EXPECT_EQ(open_reply(truncated, Rclunk, 5).error().code, EPROTO);
    EXPECT_EQ(open_reply(std::span<const std::byte>(ok).first(4), Rclunk, 5).error().code, EPROTO);
}

TEST(P9Codec, DecodesGetattrDirentsAndStatfs) {
    auto getattr = reply(Rgetattr, 1, [](Writer& w) {
        w.u64(GETATTR_BASIC).u8(0x80).u32(3).u64(0x1234);  // valid, qid
        w.u32(040755).u32(1000).u32(100).u64(2).u64(0).u64(4096).u64(4096).u64(8);
        for (int i = 0; i < 8; ++i) w.u64(uint64_t(i + 1));  // times
        w.u64(0).u64(0);
    });
    auto body = open_reply(getattr, Rgetattr, 1);
    ASSERT_TRUE(body);
    Attr a = read_attr(*body);
    ASSERT_TRUE(body->ok());
    EXPECT_EQ(a.qid.type, 0x80);
    EXPECT_EQ(a.qid.path, 0x1234u);
    EXPECT_EQ(a.mode, 040755u);
    EXPECT_EQ(a.uid, 1000u);
    EXPECT_EQ(a.size, 4096u);
    EXPECT_EQ(a.mtime_sec, 3u);
    EXPECT_EQ(a.btime_nsec, 8u);
    EXPECT_EQ(body->remaining(), 0u);

    // A body one byte short is detected at the end of the parse.
    auto short_body = getattr;
    short_body.pop_back();
    short_body[0] = std::byte(uint8_t(short_body.size()));
    auto shorter = open_reply(short_body, Rgetattr, 1);
    ASSERT_TRUE(shorter);
    read_attr(*shorter);
    EXPECT_FALSE(shorter->ok());

    std::vector<std::byte> entries(64);
    Writer e(entries, 0, 0);  // only for its field encoders; the 7-byte header is skipped below
    e.u8(0).u32(0).u64(42).u64(17).u8(8).str("file");
    Reader r(std::span<const std::byte>(entries).subspan(HEADER_SIZE, 13 + 8 + 1 + 6));
    Dirent d = read_dirent(r);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(d.qid.path, 42u);
    EXPECT_EQ(d.offset, 17u);
    EXPECT_EQ(d.type, 8);
    EXPECT_EQ(d.name, "file");

    auto statfs = reply(Rstatfs, 2, [](Writer& w) {
        w.u32(0xef53).u32(4096).u64(100).u64(50).u64(40).u64(1000).u64(900).u64(7).u32(255);
    });
    auto sbody = open_reply(statfs, Rstatfs, 2);
    ASSERT_TRUE(sbody);
    StatFs s = read_statfs(*sbody);
    EXPECT_TRUE(sbody->ok());
    EXPECT_EQ(s.block_size, 4096u);
    EXPECT_EQ(s.blocks_available, 40u);
    EXPECT_EQ(s.name_max, 255u);
}

namespace {

// A channel whose "server" is a function from request bytes to reply bytes.
class ScriptedChannel final : public Channel {
public:
    using Server = std::function<std::vector<std::byte>(Reader& request, uint8_t type, uint16_t tag)>;

    explicit ScriptedChannel(size_t size) : m_request(size), m_reply(size) { m_slot = {m_request, m_reply, 3}; }

    Server server;
    std::vector<uint8_t> types_seen;

    size_t buffer_size() const override { return m_request.size(); }
    ErrorOr<Slot*> acquire() override { return &m_slot; }
    void release(Slot&) override {}
    ErrorOr<size_t> transact(Slot& slot, size_t length) override {
        Reader header(slot.request.first(length));
        uint32_t size = header.u32();
        uint8_t type = header.u8();
        uint16_t tag = header.u16();
        EXPECT_EQ(size, length);
        types_seen.push_back(type);
        Reader body(slot.request.subspan(HEADER_SIZE, length - HEADER_SIZE));
        auto out = server(body, type, tag);
        EXPECT_LE(out.size(), slot.reply.size());
        memcpy(slot.reply.data(), out.data(), out.size());
        return out.size();
    }

private:
    std::vector<std::byte> m_request, m_reply;
    Slot m_slot;
};

}  // namespace

TEST(P9Client, NegotiatesVersionAndAttaches) {
    ScriptedChannel channel(8192);
    uint32_t attached_fid = 0;
    channel.server = [&](Reader& r, uint8_t type, uint16_t tag) {
        if (type == Tversion) {
            EXPECT_EQ(r.u32(), 8192u);
            EXPECT_EQ(r.str(), "9P2000.L");
            return reply(Rversion, tag, [](Writer& w) { w.u32(4096).str("9P2000.L"); });
        }
        EXPECT_EQ(type, Tattach);
        attached_fid = r.u32();
        EXPECT_EQ(r.u32(), NOFID);
        r.str();
        EXPECT_EQ(r.str(), "share");
        EXPECT_EQ(r.u32(), 0u);
        return reply(Rattach, tag, [](Writer& w) { w.u8(0x80).u32(0).u64(99); });
    };
    Client client(channel);
    Qid root;
    auto fid = client.connect("share", 0, &root);
    ASSERT_TRUE(fid);
    EXPECT_EQ(*fid, attached_fid);
    EXPECT_EQ(root.path, 99u);
    EXPECT_EQ(client.msize(), 4096u);
}

TEST(P9Client, RefusesServersWithoutDotL) {
    ScriptedChannel channel(8192);
    channel.server = [](Reader&, uint8_t, uint16_t tag) {
        return reply(Rversion, tag, [](Writer& w) { w.u32(8192).str("unknown"); });
    };
    Client client(channel);
    EXPECT_EQ(client.connect("", 0).error().code, EPROTONOSUPPORT);
}

TEST(P9Client, WalkReadReaddirAndErrors) {
    ScriptedChannel channel(8192);
    std::vector<uint32_t> clunked;
    channel.server = [&](Reader& r, uint8_t type, uint16_t tag) -> std::vector<std::byte> {
        switch (type) {
        case Tversion: return reply(Rversion, tag, [](Writer& w) { w.u32(8192).str("9P2000.L"); });
        case Tattach: return reply(Rattach, tag, [](Writer& w) { w.u8(0x80).u32(0).u64(1); });
        case Twalk: {
            r.u32();
            r.u32();
            uint16_t n = r.u16();
            std::vector<std::string> names;
            for (uint16_t i = 0; i < n; ++i) names.emplace_back(r.str());
            if (n == 1 && names[0] == "missing") return reply(Rlerror, tag, [](Writer& w) { w.u32(ENOENT); });
            size_t found = (n == 2 && names[1] == "missing") ? 1 : n;  // partial walk
            return reply(Rwalk, tag, [&](Writer& w) {
                w.u16(uint16_t(found));
                for (size_t i = 0; i < found; ++i) w.u8(0).u32(0).u64(100 + i);
            });
        }
        case Tread: {
            r.u32();
            uint64_t offset = r.u64();
            uint32_t count = r.u32();
            EXPECT_LE(count, 8192u - READ_OVERHEAD);
            return reply(Rread, tag, [&](Writer& w) {
                uint32_t n = offset >= 10000 ? 0 : count;
                w.u32(n);
                for (uint32_t i = 0; i < n; ++i) w.u8(uint8_t(offset + i));
            });
        }
        case Twrite: {
            r.u32();
            r.u64();
            uint32_t count = r.u32();
            EXPECT_EQ(r.bytes(count).size(), count);
            EXPECT_LE(count + WRITE_OVERHEAD, 8192u);
            return reply(Rwrite, tag, [&](Writer& w) { w.u32(count); });
        }
        case Treaddir:
            return reply(Rreaddir, tag, [](Writer& w) {
                std::vector<std::byte> data(256);
                Writer entries(data, 0, 0);
                entries.u8(0).u32(0).u64(5).u64(1).u8(4).str(".");
                entries.u8(0).u32(0).u64(6).u64(2).u8(8).str("a.txt");
                size_t length = *entries.finish() - HEADER_SIZE;
                w.u32(uint32_t(length)).bytes(std::span<const std::byte>(data).subspan(HEADER_SIZE, length));
            });
        case Tclunk: clunked.push_back(r.u32()); return reply(Rclunk, tag, [](Writer&) {});
        case Treadlink: return reply(Rreadlink, tag, [](Writer& w) { w.str("target/path"); });
        default: return reply(Rlerror, tag, [](Writer& w) { w.u32(EOPNOTSUPP); });
        }
    };
    Client client(channel);
    uint32_t root = *client.connect("", 0);

    const std::string_view one[] = {"dir"};
    Qid qid;
    auto fid = client.walk(root, one, &qid);
    ASSERT_TRUE(fid);
    EXPECT_EQ(qid.path, 100u);

    const std::string_view missing[] = {"missing"};
    EXPECT_EQ(client.walk(root, missing).error().code, ENOENT);
    const std::string_view partial[] = {"dir", "missing"};
    EXPECT_EQ(client.walk(root, partial).error().code, ENOENT);
    // The fids of the failed walks were recycled: the next walk reuses one.
    auto again = client.walk(root, one);
    ASSERT_TRUE(again);
    EXPECT_NE(*again, *fid);
    EXPECT_LT(*again, *fid + 3);

    std::vector<std::byte> big(20000);
    auto n = client.read(*fid, 0, big);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 8192u - READ_OVERHEAD) << "one message's worth";
    EXPECT_EQ(big[300], std::byte(300 & 0xff));
    EXPECT_EQ(*client.read(*fid, 10000, big), 0u);

    auto written = client.write(*fid, 0, big);
    ASSERT_TRUE(written);
    EXPECT_EQ(*written, 8192u - WRITE_OVERHEAD);

    std::vector<std::string> names;
    std::vector<uint64_t> offsets;
    auto entries = client.readdir(*fid, 0, [&](const Dirent& d) {
        names.emplace_back(d.name);
        offsets.push_back(d.offset);
        return true;
    });
    ASSERT_TRUE(entries);
    EXPECT_EQ(*entries, 2u);
    EXPECT_EQ(names, (std::vector<std::string>{".", "a.txt"}));
    EXPECT_EQ(offsets, (std::vector<uint64_t>{1, 2}));

    auto link = client.readlink(*fid);
    ASSERT_TRUE(link);
    EXPECT_EQ(link->view(), "target/path");

    EXPECT_EQ(client.fsync(*fid, false).error().code, EOPNOTSUPP);
    EXPECT_TRUE(client.clunk(*fid));
    EXPECT_EQ(clunked, std::vector<uint32_t>{*fid});
}
