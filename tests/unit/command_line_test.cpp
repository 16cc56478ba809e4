#include "boot/command_line.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cmdline.h"  // tools/xos-run: the encoder this decoder must match

using xos::boot::CommandLine;
using xos::boot::parse_command_line;

TEST(CommandLine, DecodesArgvEnvAndKeepsPlatformTokens) {
    auto out = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line(
        "xos.argv0=hello.xos xos.arg=a%20b xos.arg= xos.env=K%3DV virtio_mmio.device=512@0xfeb00e00:12", *out));
    ASSERT_EQ(out->argc, 3u);
    EXPECT_STREQ(out->argv[0], "hello.xos");
    EXPECT_STREQ(out->argv[1], "a b");
    EXPECT_STREQ(out->argv[2], "");
    EXPECT_EQ(out->argv[3], nullptr);
    ASSERT_EQ(out->envc, 1u);
    EXPECT_STREQ(out->envp[0], "K=V");
    ASSERT_EQ(out->other_count, 1u);
    EXPECT_EQ(out->other[0], "virtio_mmio.device=512@0xfeb00e00:12");
}

TEST(CommandLine, DefaultsAndErrors) {
    auto out = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line("", *out));
    EXPECT_EQ(out->argc, 1u);
    EXPECT_STREQ(out->argv[0], "app");
    EXPECT_EQ(out->envc, 0u);

    for (const char* bad : {"xos.arg=%", "xos.arg=%4", "xos.arg=%zz", "xos.env=%G0"}) {
        auto fresh = std::make_unique<CommandLine>();
        auto result = parse_command_line(bad, *fresh);
        ASSERT_FALSE(result) << bad;
        EXPECT_EQ(result.error().code, EINVAL) << bad;
    }
    auto unknown = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line("xos.frobnicate=1 xos.arg=x", *unknown));
    EXPECT_EQ(unknown->unknown_xos_tokens, 1u);
    EXPECT_EQ(unknown->argc, 2u);
}

// Whatever xos-run encodes, libos decodes to the same bytes.
TEST(CommandLine, RoundTripsWithTheXosRunEncoder) {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        auto random_string = [&] {
            std::string s(rng() % 12, '\0');
            for (char& c : s) c = char(1 + rng() % 255);  // any byte but NUL
            return s;
        };
        std::string argv0 = random_string();
        std::vector<std::string> args(rng() % 5), env(rng() % 4);
        for (auto& a : args) a = random_string();
        for (auto& e : env) e = "K" + random_string() + "=" + random_string();
        std::string line = xos_encode_cmdline(argv0, args, env) + " virtio_mmio.device=1@2:3";

        auto out = std::make_unique<CommandLine>();
        ASSERT_TRUE(parse_command_line(line, *out)) << line;
        ASSERT_EQ(out->argc, args.size() + 1);
        EXPECT_EQ(std::string(out->argv[0]), argv0);
        for (size_t i = 0; i < args.size(); ++i) EXPECT_EQ(std::string(out->argv[i + 1]), args[i]);
        ASSERT_EQ(out->envc, env.size());
        for (size_t i = 0; i < env.size(); ++i) EXPECT_EQ(std::string(out->envp[i]), env[i]);
        EXPECT_EQ(out->other_count, 1u);
    }
}

// xos-run's --share tokens decode to the mount tag and the guest path, byte for byte.
TEST(CommandLine, SharesRoundTripWithTheXosRunEncoder) {
    std::string line = xos_encode_cmdline("app", {}, {}) + " " + xos_encode_share_token("xos0", "/mnt") + " " +
        xos_encode_share_token("xos1", "/data/with space/%:x", true) + " virtio_mmio.device=512@0xfeb00e00:12";
    auto out = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line(line, *out)) << line;
    ASSERT_EQ(out->share_count, 2u);
    EXPECT_STREQ(out->shares[0].tag, "xos0");
    EXPECT_STREQ(out->shares[0].path, "/mnt");
    EXPECT_STREQ(out->shares[1].tag, "xos1");
    EXPECT_STREQ(out->shares[1].path, "/data/with space/%:x");
    EXPECT_FALSE(out->shares[0].read_only);
    EXPECT_TRUE(out->shares[1].read_only);
    EXPECT_EQ(out->unknown_xos_tokens, 0u);
    EXPECT_EQ(out->other_count, 1u);

    for (const char* bad :
         {"xos.share=xos0", "xos.share=:/mnt", "xos.share=xos0:relative", "xos.share=xos0:ro:relative"}) {
        auto fresh = std::make_unique<CommandLine>();
        auto result = parse_command_line(bad, *fresh);
        ASSERT_FALSE(result) << bad;
        EXPECT_EQ(result.error().code, EINVAL) << bad;
    }
}

// Network options (xos-run --ip/--gw/--dns; the diagnostic xos.echo=PORT).
TEST(CommandLine, NetworkOptions) {
    auto out = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line("xos.ip=10.1.2.3/24 xos.gw=10.1.2.1 xos.dns=fd00%3A%3A1 xos.echo=7", *out));
    EXPECT_STREQ(out->network.ip, "10.1.2.3/24");
    EXPECT_STREQ(out->network.gateway, "10.1.2.1");
    EXPECT_STREQ(out->network.dns, "fd00::1");
    EXPECT_EQ(out->network.echo_port, 7);
    EXPECT_EQ(out->unknown_xos_tokens, 0u);

    auto none = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line("xos.argv0=a", *none));
    EXPECT_EQ(none->network.ip, nullptr);
    EXPECT_EQ(none->network.echo_port, 0);

    for (const char* bad : {"xos.echo=", "xos.echo=0", "xos.echo=65536", "xos.echo=7x", "xos.echo=99999999999"}) {
        auto fresh = std::make_unique<CommandLine>();
        auto result = parse_command_line(bad, *fresh);
        ASSERT_FALSE(result) << bad;
        EXPECT_EQ(result.error().code, EINVAL) << bad;
    }
}

// The root file system's size limit (xos-run --rootfs-size): kept as text, parsed by fs/boot.cpp.
TEST(CommandLine, RootfsSize) {
    auto out = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line("xos.argv0=a xos.rootfs_size=25%25", *out));
    EXPECT_STREQ(out->rootfs_size, "25%");
    EXPECT_EQ(out->unknown_xos_tokens, 0u);
    auto none = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line("xos.argv0=a", *none));
    EXPECT_EQ(none->rootfs_size, nullptr);
}

// The program's root (xos-run --rootfs): a guest path and an optional ":rw", parsed by fs/boot.cpp.
TEST(CommandLine, Root) {
    auto out = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line("xos.argv0=a xos.root=/.xos-rootfs:rw", *out));
    EXPECT_STREQ(out->root, "/.xos-rootfs:rw");
    EXPECT_EQ(out->unknown_xos_tokens, 0u);
    auto none = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line("xos.argv0=a", *none));
    EXPECT_EQ(none->root, nullptr);
}

// The console's tokens (xos-run: what its stdio are, the terminal's size) are the platform's:
// known to libos, neither arguments nor unknown.
TEST(CommandLine, ConsoleTokensAreThePlatforms) {
    auto out = std::make_unique<CommandLine>();
    ASSERT_TRUE(parse_command_line("xos.argv0=a xos.stdio=tpf xos.winsize=24x80", *out));
    EXPECT_EQ(out->argc, 1u);
    EXPECT_EQ(out->unknown_xos_tokens, 0u);
    EXPECT_EQ(out->other_count, 0u);
}

// xos-run --tmpfs and --hostname: what the encoder writes, libos reads back.
TEST(CommandLine, TmpfsAndHostname) {
    auto out = std::make_unique<CommandLine>();
    std::string line = xos_encode_tmpfs_token("1048576", 0700, 1000, 50, 0, "/run/a dir") + " " +
        xos_encode_tmpfs_token("25%", 01777, 0, 0, 1 | 8, "/dev/shm") + " " +
        xos_encode_tmpfs_token("", 0755, 0, 0, 0, "/t") + " xos.hostname=" + xos_encode_cmdline_value("web 1");
    ASSERT_TRUE(parse_command_line(line, *out));
    ASSERT_EQ(out->tmpfs_count, 3u);
    EXPECT_STREQ(out->tmpfs[0].size, "1048576");
    EXPECT_EQ(out->tmpfs[0].mode, 0700u);
    EXPECT_EQ(out->tmpfs[0].uid, 1000u);
    EXPECT_EQ(out->tmpfs[0].gid, 50u);
    EXPECT_STREQ(out->tmpfs[0].path, "/run/a dir");
    EXPECT_EQ(out->tmpfs[0].flags, 0u);
    EXPECT_STREQ(out->tmpfs[1].size, "25%");
    EXPECT_EQ(out->tmpfs[1].flags, 9u);  // ro, noexec
    EXPECT_EQ(out->tmpfs[1].mode, 01777u);
    EXPECT_STREQ(out->tmpfs[1].path, "/dev/shm");
    EXPECT_STREQ(out->tmpfs[2].size, "");
    EXPECT_STREQ(out->hostname, "web 1");
    EXPECT_EQ(out->unknown_xos_tokens, 0u);

    for (const char* bad : {"xos.tmpfs=1:700:0:0:relative", "xos.tmpfs=1:800:0:0:/x", "xos.tmpfs=1:700:0:/x",
                            "xos.tmpfs=1:17777:0:0:/x", "xos.tmpfs=1:700:4294967296:0:/x", "xos.tmpfs=/x",
                            "xos.tmpfs=1:700:0:0:16:/x", "xos.tmpfs=1:700:0:0:1:relative"}) {
        auto fresh = std::make_unique<CommandLine>();
        auto result = parse_command_line(bad, *fresh);
        ASSERT_FALSE(result) << bad;
        EXPECT_EQ(result.error().code, EINVAL) << bad;
    }
}
