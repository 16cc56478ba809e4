// tools/xos-image: layer application (whiteouts, opaque directories, links, modes, owners,
// xattrs, confinement to the root), image sources (OCI layouts: digests, platforms) and the
// docker-run rules of image_config, on synthetic archives written with libarchive.
#include "digest.h"
#include "from_image.h"
#include "image_config.h"
#include "image_error.h"
#include "image_source.h"
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using namespace xos::image;

struct Entry {
    std::string path;
    mode_t type = AE_IFREG;
    mode_t mode = 0644;
    std::string content;
    std::string link;  // symlink target
    std::string hardlink;  // hard link target (a path in the image)
    int uid = 0, gid = 0;
    std::string xattr_name, xattr_value;
};

Entry file(std::string path, std::string content, mode_t mode = 0644) {
    return Entry{.path = path, .mode = mode, .content = content};
}
Entry dir(std::string path, mode_t mode = 0755) { return Entry{.path = path, .type = AE_IFDIR, .mode = mode}; }
Entry symlink(std::string path, std::string target) {
    return Entry{.path = path, .type = AE_IFLNK, .mode = 0777, .link = target};
}
Entry hardlink(std::string path, std::string target) { return Entry{.path = path, .hardlink = target}; }

enum class Compression { None, Gzip, Zstd };

void write_tar(const std::string& path, const std::vector<Entry>& entries, Compression compression) {
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (compression == Compression::Gzip) archive_write_add_filter_gzip(a);
    if (compression == Compression::Zstd) archive_write_add_filter_zstd(a);
    ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
    for (const auto& e : entries) {
        archive_entry* entry = archive_entry_new();
        archive_entry_set_pathname(entry, e.path.c_str());
        archive_entry_set_filetype(entry, e.type);
        archive_entry_set_perm(entry, e.mode);
        archive_entry_set_uid(entry, e.uid);
        archive_entry_set_gid(entry, e.gid);
        archive_entry_set_mtime(entry, 1700000000, 0);
        if (!e.link.empty()) archive_entry_set_symlink(entry, e.link.c_str());
        if (!e.hardlink.empty()) archive_entry_set_hardlink(entry, e.hardlink.c_str());
        if (!e.xattr_name.empty())
            archive_entry_xattr_add_entry(entry, e.xattr_name.c_str(), e.xattr_value.data(), e.xattr_value.size());
        archive_entry_set_size(entry, e.type == AE_IFREG && e.hardlink.empty() ? la_int64_t(e.content.size()) : 0);
        ASSERT_EQ(archive_write_header(a, entry), ARCHIVE_OK) << e.path;
        if (!e.content.empty()) archive_write_data(a, e.content.data(), e.content.size());
        archive_entry_free(entry);
    }
    archive_write_close(a);
    archive_write_free(a);
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

class LayerTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/xos-image-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_temp = pattern;
        m_root = m_temp / "root";
        fs::create_directory(m_root);
    }
    void TearDown() override { fs::remove_all(m_temp); }

    LayerStats apply(const std::vector<Entry>& entries, Compression compression = Compression::Gzip) {
        std::string layer = (m_temp / ("layer" + std::to_string(m_layers++) + ".tar")).string();
        write_tar(layer, entries, compression);
        ApplyOptions options;
        options.keep_owners = ::geteuid() == 0;
        return apply_layer(layer, m_root.string(), options);
    }

    fs::path m_temp, m_root;
    int m_layers = 0;
};

TEST_F(LayerTest, CreatesFilesDirectoriesLinksWithModes) {
    auto exe = file("usr/bin/tool", "#!/bin/sh\n", 04755);
    exe.uid = 1000;
    exe.gid = 1001;
    apply({dir("usr"), dir("usr/bin"), exe, symlink("bin", "usr/bin"), hardlink("usr/bin/tool2", "usr/bin/tool"),
           dir("tmp", 01777)});
    struct stat st;
    ASSERT_EQ(::lstat((m_root / "usr/bin/tool").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, ::geteuid() == 0 ? 04755u : 0755u);
    if (::geteuid() == 0) {
        EXPECT_EQ(st.st_uid, 1000u);
        EXPECT_EQ(st.st_gid, 1001u);
    }
    struct stat linked;
    ASSERT_EQ(::lstat((m_root / "usr/bin/tool2").c_str(), &linked), 0);
    EXPECT_EQ(st.st_ino, linked.st_ino);
    EXPECT_EQ(fs::read_symlink(m_root / "bin"), "usr/bin");
    ASSERT_EQ(::lstat((m_root / "tmp").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 01777u);
    EXPECT_EQ(st.st_mtime, 1700000000);
}

TEST_F(LayerTest, KeepsExtendedAttributes) {
    auto e = file("f", "x");
    e.xattr_name = "user.xos-test";
    e.xattr_value = "value";
    apply({e});
    char buffer[16] = {};
    ssize_t n = ::lgetxattr((m_root / "f").c_str(), "user.xos-test", buffer, sizeof buffer);
    if (n < 0 && errno == ENOTSUP) GTEST_SKIP() << "no user xattrs on /tmp";
    EXPECT_EQ(std::string(buffer, size_t(n > 0 ? n : 0)), "value");
}

TEST_F(LayerTest, WhiteoutDeletesLowerFilesAndDirectories) {
    apply({dir("etc"), file("etc/a", "a"), file("etc/b", "b"), dir("var"), dir("var/cache"), file("var/cache/x", "x")});
    auto stats = apply({dir("etc"), file("etc/.wh.a", ""), file("var/.wh.cache", "")});
    EXPECT_EQ(stats.whiteouts, 2u);
    EXPECT_FALSE(fs::exists(m_root / "etc/a"));
    EXPECT_TRUE(fs::exists(m_root / "etc/b"));
    EXPECT_FALSE(fs::exists(m_root / "var/cache"));
    EXPECT_TRUE(fs::is_directory(m_root / "var"));
    EXPECT_FALSE(fs::exists(m_root / "etc/.wh.a"));
}

TEST_F(LayerTest, OpaqueDirectoryHidesOnlyLowerEntries) {
    apply({dir("d"), file("d/old", "o"), dir("d/sub"), file("d/sub/old", "o"), file("keep", "k")});
    // The marker after entries of the same layer: those stay, the lower ones go (also below d/sub).
    auto stats =
        apply({dir("d"), dir("d/sub"), file("d/sub/new", "n"), file("d/new", "n"), file("d/.wh..wh..opq", "")});
    EXPECT_EQ(stats.opaque_dirs, 1u);
    EXPECT_FALSE(fs::exists(m_root / "d/old"));
    EXPECT_FALSE(fs::exists(m_root / "d/sub/old"));
    EXPECT_TRUE(fs::exists(m_root / "d/sub/new"));
    EXPECT_TRUE(fs::exists(m_root / "d/new"));
    EXPECT_FALSE(fs::exists(m_root / "d/.wh..wh..opq"));
    EXPECT_TRUE(fs::exists(m_root / "keep"));
}

TEST_F(LayerTest, EntryReplacesAnotherType) {
    apply({dir("x"), file("x/inner", "i"), file("y", "file"), symlink("z", "y")});
    apply({file("x", "now a file"), dir("y"), file("y/inside", "i"), file("z", "not a link")});
    EXPECT_EQ(read_file(m_root / "x"), "now a file");
    EXPECT_TRUE(fs::is_directory(fs::symlink_status(m_root / "y")));
    EXPECT_EQ(read_file(m_root / "y/inside"), "i");
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(m_root / "z")));
    EXPECT_EQ(read_file(m_root / "y"), "");
}

TEST_F(LayerTest, SymlinksAreResolvedInsideTheRoot) {
    fs::path outside = m_temp / "outside";
    fs::create_directory(outside);
    std::ofstream(outside / "victim") << "host";
    apply({symlink("abs", outside.string()), symlink("rel", "../../../../../../" + outside.string()), dir("usr"),
           dir("usr/lib"), symlink("lib", "usr/lib")});
    apply(
        {file("abs/planted", "x"), file("rel/planted2", "x"), file("lib/libx.so", "elf"), file("abs/.wh.victim", "")});
    EXPECT_FALSE(fs::exists(outside / "planted"));
    EXPECT_FALSE(fs::exists(outside / "planted2"));
    EXPECT_TRUE(fs::exists(outside / "victim"));
    EXPECT_TRUE(fs::exists(m_root / fs::path(outside).relative_path() / "planted"));
    EXPECT_TRUE(fs::exists(m_root / fs::path(outside).relative_path() / "planted2"));
    EXPECT_EQ(read_file(m_root / "usr/lib/libx.so"), "elf");
    EXPECT_TRUE(fs::is_symlink(m_root / "lib"));
}

TEST_F(LayerTest, HardLinkTargetsStayInsideTheRoot) {
    fs::path outside = m_temp / "secret";
    std::ofstream(outside) << "secret";
    EXPECT_THROW(apply({hardlink("stolen", outside.string())}), ImageError);  // no such file in the root
    EXPECT_FALSE(fs::exists(m_root / "stolen"));
}

TEST_F(LayerTest, DotDotIsRefused) {
    EXPECT_THROW(apply({file("../escape", "x")}), ImageError);
    EXPECT_FALSE(fs::exists(m_temp / "escape"));
    EXPECT_THROW(apply({file("a/../../escape2", "x")}), ImageError);
}

TEST_F(LayerTest, ReadsZstdAndPlainLayers) {
    apply({file("z", "zstd")}, Compression::Zstd);
    apply({file("p", "plain")}, Compression::None);
    EXPECT_EQ(read_file(m_root / "z"), "zstd");
    EXPECT_EQ(read_file(m_root / "p"), "plain");
}

TEST_F(LayerTest, TruncatedOrCorruptLayerIsAnError) {
    std::string big(200000, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = char((i * 7919) >> 3);
    std::string layer = (m_temp / "t.tar.gz").string();
    write_tar(layer, {file("big", big), file("after", "a")}, Compression::Gzip);
    fs::resize_file(layer, fs::file_size(layer) / 2);
    ApplyOptions options;
    EXPECT_THROW(apply_layer(layer, m_root.string(), options), ImageError);
    std::string garbage = (m_temp / "g.tar").string();
    std::ofstream(garbage) << std::string(1024, 'x');
    EXPECT_THROW(apply_layer(garbage, m_root.string(), options), ImageError);
    // The working directory is restored after a failure.
    EXPECT_NE(fs::current_path(), m_root);
}

// --- image sources: a synthetic OCI layout ---

class OciLayoutTest : public LayerTest {
protected:
    std::string add_blob(const std::string& bytes) {
        std::string hex = sha256_hex(bytes);
        fs::create_directories(m_layout / "blobs/sha256");
        std::ofstream(m_layout / "blobs/sha256" / hex, std::ios::binary) << bytes;
        return "sha256:" + hex;
    }
    void make_layout(const std::string& architecture, const std::string& index_platform = "") {
        m_layout = m_temp / "layout";
        std::string layer_path = (m_temp / "l.tar.gz").string();
        write_tar(layer_path, {file("hello", "world")}, Compression::Gzip);
        std::string layer_bytes = read_file(layer_path);
        std::string layer_digest = add_blob(layer_bytes);
        nlohmann::json config{{"architecture", architecture},
                              {"os", "linux"},
                              {"config", {{"Cmd", {"/hello"}}, {"Env", {"A=1"}}, {"ExposedPorts", {{"80/tcp", {}}}}}},
                              {"rootfs", {{"type", "layers"}, {"diff_ids", {"sha256:00"}}}}};
        std::string config_digest = add_blob(config.dump());
        nlohmann::json manifest{
            {"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", config_digest}}},
            {"layers",
             {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
               {"digest", layer_digest},
               {"size", layer_bytes.size()}}}}};
        m_manifest_digest = add_blob(manifest.dump());
        nlohmann::json descriptor{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                  {"digest", m_manifest_digest}};
        if (!index_platform.empty()) descriptor["platform"] = {{"os", "linux"}, {"architecture", index_platform}};
        std::ofstream(m_layout / "index.json") << nlohmann::json{{"schemaVersion", 2}, {"manifests", {descriptor}}};
        std::ofstream(m_layout / "oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
    }
    fs::path m_layout;
    std::string m_manifest_digest;
};

TEST_F(OciLayoutTest, ReadsConfigAndLayers) {
    make_layout("amd64");
    ImageSource image(m_layout.string(), m_temp.string());
    EXPECT_EQ(image.format(), SourceFormat::OciLayout);
    EXPECT_EQ(image.config().cmd, std::vector<std::string>{"/hello"});
    EXPECT_EQ(image.config().exposed_ports, std::vector<std::string>{"80/tcp"});
    ASSERT_EQ(image.layers().size(), 1u);
    ApplyOptions options;
    apply_layer(image.layers()[0], m_root.string(), options);
    EXPECT_EQ(read_file(m_root / "hello"), "world");
}

TEST_F(OciLayoutTest, AnotherPlatformIsAClearError) {
    make_layout("arm64", "arm64");
    try {
        ImageSource image(m_layout.string(), m_temp.string());
        FAIL() << "an arm64 image was accepted";
    } catch (const ImageError& error) {
        EXPECT_NE(std::string(error.what()).find("linux/arm64"), std::string::npos) << error.what();
    }
    make_layout("arm64");  // the index does not say; the config does
    EXPECT_THROW(ImageSource(m_layout.string(), m_temp.string()), ImageError);
}

TEST_F(OciLayoutTest, ACorruptBlobIsAnError) {
    make_layout("amd64");
    std::string hex = sha256_of_digest(m_manifest_digest);
    std::ofstream(m_layout / "blobs/sha256" / hex, std::ios::app) << " ";
    try {
        ImageSource image(m_layout.string(), m_temp.string());
        FAIL() << "a corrupt manifest was accepted";
    } catch (const ImageError& error) {
        EXPECT_NE(std::string(error.what()).find("does not match its digest"), std::string::npos) << error.what();
    }
}

TEST_F(OciLayoutTest, NotAnImageIsAnError) {
    std::ofstream(m_temp / "junk.tar") << "not a tar at all";
    EXPECT_THROW(ImageSource((m_temp / "junk.tar").string(), m_temp.string()), ImageError);
    EXPECT_THROW(ImageSource(m_root.string(), m_temp.string()), ImageError);  // an empty directory
}

// --- docker run's rules ---

TEST(RunSpecTest, FollowsDockerRun) {
    ImageConfig config;
    config.entrypoint = {"/entry.sh"};
    config.cmd = {"serve", "--port", "80"};
    config.env = {"A=1", "PATH=/opt/bin"};
    config.working_dir = "/srv";
    config.user = "www";
    RunSpec spec = resolve_run(config, {});
    EXPECT_EQ(spec.argv, (std::vector<std::string>{"/entry.sh", "serve", "--port", "80"}));
    EXPECT_EQ(spec.env, (std::vector<std::string>{"A=1", "PATH=/opt/bin"}));
    EXPECT_EQ(spec.working_dir, "/srv");
    EXPECT_EQ(spec.user, "www");

    RunOverrides args;
    args.cmd = std::vector<std::string>{"shell"};
    args.env = {"A=2", "B=3"};
    args.working_dir = "/tmp";
    args.user = "1000:1000";
    spec = resolve_run(config, args);
    EXPECT_EQ(spec.argv, (std::vector<std::string>{"/entry.sh", "shell"}));
    EXPECT_EQ(spec.env, (std::vector<std::string>{"PATH=/opt/bin", "A=2", "B=3"}));
    EXPECT_EQ(spec.working_dir, "/tmp");
    EXPECT_EQ(spec.user, "1000:1000");

    RunOverrides entry;
    entry.entrypoint = "/bin/sh";
    spec = resolve_run(config, entry);  // --entrypoint drops the image's Cmd
    EXPECT_EQ(spec.argv, std::vector<std::string>{"/bin/sh"});
}

TEST(RunSpecTest, DefaultsAndErrors) {
    ImageConfig config;
    EXPECT_THROW(resolve_run(config, {}), ImageError);  // nothing to run
    config.cmd = {"/bin/true"};
    RunSpec spec = resolve_run(config, {});
    EXPECT_EQ(spec.env, std::vector<std::string>{kDefaultPath});
    EXPECT_EQ(spec.working_dir, "/");
    EXPECT_EQ(spec.user, "");
    config.working_dir = "relative";
    EXPECT_THROW(resolve_run(config, {}), ImageError);
}

TEST(ImageConfigTest, ParsesAndRejects) {
    auto config = parse_image_config(
        R"({"os":"linux","architecture":"amd64","config":{"Entrypoint":["/e"],"Cmd":null,"Volumes":{"/data":{}},"StopSignal":"SIGQUIT"}})",
        "test");
    EXPECT_EQ(config.entrypoint, std::vector<std::string>{"/e"});
    EXPECT_TRUE(config.cmd.empty());
    EXPECT_EQ(config.volumes, std::vector<std::string>{"/data"});
    EXPECT_EQ(config.stop_signal, "SIGQUIT");
    EXPECT_THROW(parse_image_config("{", "test"), ImageError);
    EXPECT_THROW(parse_image_config(R"({"config":{"Cmd":"not a list"}})", "test"), ImageError);
}

TEST(FromImageTest, CompressionNames) {
    EXPECT_EQ(parse_compression("lz4"), xos::image::Compression::Lz4);
    EXPECT_EQ(parse_compression("lz4hc"), xos::image::Compression::Lz4hc);
    EXPECT_EQ(parse_compression("none"), xos::image::Compression::None);
    EXPECT_FALSE(parse_compression("zstd"));
    EXPECT_FALSE(parse_compression(""));
    for (auto c : {xos::image::Compression::None, xos::image::Compression::Lz4, xos::image::Compression::Lz4hc})
        EXPECT_EQ(parse_compression(compression_name(c)), c);
    EXPECT_EQ(xos::image::kDefaultCompression, xos::image::Compression::Lz4);
}

// OUT.json names OUT.root only when --keep-root kept it; a description without it is read.
TEST(FromImageTest, DescriptionRootDirIsOptional) {
    char pattern[] = "/tmp/xos-oci-description-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    fs::path dir = pattern;
    nlohmann::json document{
        {"format", kDescriptionFormat}, {"version", kDescriptionVersion}, {"platform", "kvm"},
        {"kernel", "app.xos"},          {"root_image", "app.xos.erofs"},  {"config", nlohmann::json::object()}};
    auto write = [&](const nlohmann::json& d) {
        std::ofstream(dir / "app.xos.json") << d.dump();
        return read_description((dir / "app.xos.json").string());
    };
    EXPECT_EQ(write(document).root_dir, "");
    EXPECT_EQ(write(document).root_image, (dir / "app.xos.erofs").string());
    document["root_dir"] = "app.xos.root";
    EXPECT_EQ(write(document).root_dir, (dir / "app.xos.root").string());
    document["root_dir"] = "../elsewhere";
    EXPECT_THROW(write(document), ImageError);
    fs::remove_all(dir);
}

}  // namespace
