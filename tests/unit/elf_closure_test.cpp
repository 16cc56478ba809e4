// tools/elf-closure: a program's interpreter and library closure, read from the ELF files of a
// fake root made here (small hand-made ELF files with PT_INTERP and a dynamic section).
#include "elf_closure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <elf.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using xos::elf_closure::Closure;
using xos::elf_closure::ClosureError;
using xos::elf_closure::Entry;

namespace {

struct ElfSpec {
    std::string interpreter;
    std::vector<std::string> needed;
    std::string runpath;
    std::string rpath;
    std::uint16_t machine = EM_X86_64;
    unsigned char elf_class = ELFCLASS64;
};

// A minimal ELF64 object: header, PT_LOAD over the whole file, PT_INTERP, PT_DYNAMIC with
// DT_NEEDED / DT_RUNPATH / DT_RPATH into a string table (addresses equal file offsets).
std::string make_elf(const ElfSpec& spec) {
    constexpr std::size_t kInterpAt = 256, kStrtabAt = 512, kDynamicAt = 2048;
    std::string strtab(1, '\0');
    auto add_string = [&](const std::string& s) {
        std::size_t at = strtab.size();
        strtab += s + '\0';
        return at;
    };
    std::vector<Elf64_Dyn> dynamic;
    for (const auto& name : spec.needed) dynamic.push_back({DT_NEEDED, {add_string(name)}});
    if (!spec.runpath.empty()) dynamic.push_back({DT_RUNPATH, {add_string(spec.runpath)}});
    if (!spec.rpath.empty()) dynamic.push_back({DT_RPATH, {add_string(spec.rpath)}});
    dynamic.push_back({DT_STRTAB, {kStrtabAt}});
    dynamic.push_back({DT_STRSZ, {strtab.size()}});
    dynamic.push_back({DT_NULL, {0}});
    std::size_t size = kDynamicAt + dynamic.size() * sizeof(Elf64_Dyn);
    std::string file(size, '\0');

    Elf64_Ehdr ehdr{};
    std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
    ehdr.e_ident[EI_CLASS] = spec.elf_class;
    ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
    ehdr.e_ident[EI_VERSION] = EV_CURRENT;
    ehdr.e_type = ET_DYN;
    ehdr.e_machine = spec.machine;
    ehdr.e_version = EV_CURRENT;
    ehdr.e_phoff = sizeof ehdr;
    ehdr.e_ehsize = sizeof ehdr;
    ehdr.e_phentsize = sizeof(Elf64_Phdr);
    std::vector<Elf64_Phdr> phdrs;
    phdrs.push_back({PT_LOAD, PF_R, 0, 0, 0, size, size, 4096});
    if (!spec.interpreter.empty())
        phdrs.push_back({PT_INTERP, PF_R, kInterpAt, kInterpAt, kInterpAt, spec.interpreter.size() + 1,
                         spec.interpreter.size() + 1, 1});
    phdrs.push_back({PT_DYNAMIC, PF_R, kDynamicAt, kDynamicAt, kDynamicAt, dynamic.size() * sizeof(Elf64_Dyn),
                     dynamic.size() * sizeof(Elf64_Dyn), 8});
    ehdr.e_phnum = static_cast<std::uint16_t>(phdrs.size());
    std::memcpy(file.data(), &ehdr, sizeof ehdr);
    std::memcpy(file.data() + sizeof ehdr, phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr));
    std::memcpy(file.data() + kInterpAt, spec.interpreter.c_str(), spec.interpreter.size() + 1);
    std::memcpy(file.data() + kStrtabAt, strtab.data(), strtab.size());
    std::memcpy(file.data() + kDynamicAt, dynamic.data(), dynamic.size() * sizeof(Elf64_Dyn));
    return file;
}

class ElfClosureTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/elf-closure-test.XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_root = pattern;
        // A merged-/usr root as Debian's: /lib -> usr/lib, /lib64/ld-linux... an absolute symlink.
        symlink("usr/lib", "/lib");
        write("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", make_elf({}));
        symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2");
        write("/usr/lib/x86_64-linux-gnu/libc.so.6", make_elf({}));
    }
    void TearDown() override { fs::remove_all(m_root); }

    void write(const std::string& path, const std::string& data, fs::perms perms = fs::perms(0755)) {
        fs::create_directories(fs::path(m_root + path).parent_path());
        std::ofstream(m_root + path, std::ios::binary) << data;
        fs::permissions(m_root + path, perms);
    }
    void symlink(const std::string& target, const std::string& path) {
        fs::create_directories(fs::path(m_root + path).parent_path());
        fs::create_symlink(target, m_root + path);
    }
    static bool has(const Closure& closure, const Entry& entry) {
        return std::find(closure.entries.begin(), closure.entries.end(), entry) != closure.entries.end();
    }
    static Entry file(const std::string& path) { return {path, Entry::Kind::File, ""}; }
    static Entry link(const std::string& path, const std::string& target) {
        return {path, Entry::Kind::Symlink, target};
    }

    std::string m_root;
};

constexpr const char* kInterp = "/lib64/ld-linux-x86-64.so.2";

TEST_F(ElfClosureTest, InterpreterAndLibrariesThroughSymlinks) {
    write("/usr/bin/prog", make_elf({kInterp, {"libfoo.so.1", "libc.so.6"}}));
    symlink("prog", "/usr/bin/prog-alias");
    write("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3", make_elf({"", {"libc.so.6"}}));
    symlink("libfoo.so.1.2.3", "/usr/lib/x86_64-linux-gnu/libfoo.so.1");

    Closure closure = xos::elf_closure::collect(m_root, "/usr/bin/prog-alias");
    EXPECT_EQ(closure.interpreter, kInterp);
    // /lib is searched before /usr/lib: the library is found through the /lib symlink.
    EXPECT_EQ(
        closure.libraries,
        (std::vector<std::string>{"/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3", "/usr/lib/x86_64-linux-gnu/libc.so.6"}));
    EXPECT_TRUE(has(closure, link("/usr/bin/prog-alias", "prog")));
    EXPECT_TRUE(has(closure, file("/usr/bin/prog")));
    EXPECT_TRUE(has(closure, link("/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")));
    EXPECT_TRUE(has(closure, link("/lib", "usr/lib")));
    EXPECT_TRUE(has(closure, file("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")));
    EXPECT_TRUE(has(closure, link("/usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo.so.1.2.3")));
    EXPECT_TRUE(has(closure, file("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3")));
    EXPECT_TRUE(has(closure, file("/usr/lib/x86_64-linux-gnu/libc.so.6")));
    // Each path once.
    std::vector<std::string> paths;
    for (const auto& entry : closure.entries) paths.push_back(entry.path);
    std::sort(paths.begin(), paths.end());
    EXPECT_EQ(std::adjacent_find(paths.begin(), paths.end()), paths.end());
}

TEST_F(ElfClosureTest, RunpathWithOrigin) {
    write("/opt/app/bin/app", make_elf({kInterp, {"libapp.so"}, "$ORIGIN/../lib"}));
    write("/opt/app/lib/libapp.so", make_elf({"", {"libhelper.so", "libc.so.6"}, "${ORIGIN}/private"}));
    write("/opt/app/lib/private/libhelper.so", make_elf({}));
    Closure closure = xos::elf_closure::collect(m_root, "/opt/app/bin/app");
    EXPECT_EQ(closure.libraries,
              (std::vector<std::string>{"/opt/app/lib/libapp.so", "/opt/app/lib/private/libhelper.so",
                                        "/usr/lib/x86_64-linux-gnu/libc.so.6"}));
}

TEST_F(ElfClosureTest, RunpathIsNotInheritedButRpathIs) {
    // DT_RUNPATH applies to the object's own DT_NEEDED only; the executable's DT_RPATH also to
    // its libraries' (ld.so's rules).
    write("/opt/a/bin/app", make_elf({kInterp, {"liba.so"}, "$ORIGIN/../lib"}));
    write("/opt/a/lib/liba.so", make_elf({"", {"libb.so"}}));
    write("/opt/a/lib/libb.so", make_elf({}));
    EXPECT_THROW(xos::elf_closure::collect(m_root, "/opt/a/bin/app"), ClosureError);
    write("/opt/r/bin/app", make_elf({kInterp, {"liba.so"}, "", "$ORIGIN/../lib"}));
    write("/opt/r/lib/liba.so", make_elf({"", {"libb.so"}}));
    write("/opt/r/lib/libb.so", make_elf({}));
    Closure closure = xos::elf_closure::collect(m_root, "/opt/r/bin/app");
    EXPECT_EQ(closure.libraries, (std::vector<std::string>{"/opt/r/lib/liba.so", "/opt/r/lib/libb.so"}));
}

TEST_F(ElfClosureTest, LdSoConfIncludes) {
    write("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
    write("/etc/ld.so.conf.d/local.conf", "# a comment\n/usr/local/lib\n");
    write("/usr/local/lib/liblocal.so.3", make_elf({}));
    write("/usr/bin/prog", make_elf({kInterp, {"liblocal.so.3"}}));
    Closure closure = xos::elf_closure::collect(m_root, "/usr/bin/prog");
    EXPECT_EQ(closure.libraries, (std::vector<std::string>{"/usr/local/lib/liblocal.so.3"}));
}

TEST_F(ElfClosureTest, SkipsLibrariesOfAnotherClassOrMachine) {
    write("/lib/x86_64-linux-gnu/libz.so.1", make_elf({"", {}, "", "", EM_X86_64, ELFCLASS32}));
    write("/usr/lib/x86_64-linux-gnu/libz.so.1.bak", "");
    write("/lib64/libz.so.1", make_elf({"", {}, "", "", EM_AARCH64}));
    write("/usr/lib/libz.so.1", make_elf({}));
    write("/usr/bin/prog", make_elf({kInterp, {"libz.so.1"}}));
    Closure closure = xos::elf_closure::collect(m_root, "/usr/bin/prog");
    EXPECT_EQ(closure.libraries, (std::vector<std::string>{"/usr/lib/libz.so.1"}));
}

std::string error_of(const std::string& root, const std::string& program) {
    try {
        xos::elf_closure::collect(root, program);
    } catch (const ClosureError& error) {
        return error.what();
    }
    return "";
}

TEST_F(ElfClosureTest, MissingLibraryNamesItAndWhoNeedsIt) {
    write("/usr/lib/x86_64-linux-gnu/libfoo.so.1", make_elf({"", {"libgone.so.7"}}));
    write("/usr/bin/prog", make_elf({kInterp, {"libfoo.so.1"}}));
    std::string message = error_of(m_root, "/usr/bin/prog");
    EXPECT_NE(message.find("libgone.so.7: library not found"), std::string::npos) << message;
    EXPECT_NE(message.find("needed by /lib/x86_64-linux-gnu/libfoo.so.1"), std::string::npos) << message;
}

TEST_F(ElfClosureTest, MissingInterpreter) {
    write("/usr/bin/prog", make_elf({"/lib/ld-musl-x86_64.so.1", {}}));
    std::string message = error_of(m_root, "/usr/bin/prog");
    EXPECT_NE(message.find("/lib/ld-musl-x86_64.so.1: interpreter not found"), std::string::npos) << message;
}

TEST_F(ElfClosureTest, NotElfWrongMachineMissingProgram) {
    write("/usr/bin/text", "just some text\n");
    write("/usr/bin/arm", make_elf({"", {}, "", "", EM_AARCH64}));
    write("/usr/bin/short", std::string(ELFMAG) + "\x02\x01");
    EXPECT_NE(error_of(m_root, "/usr/bin/text").find("/usr/bin/text: not an ELF"), std::string::npos);
    EXPECT_NE(error_of(m_root, "/usr/bin/arm").find("this file is for aarch64"), std::string::npos);
    EXPECT_NE(error_of(m_root, "/usr/bin/short").find("truncated"), std::string::npos);
    EXPECT_NE(error_of(m_root, "/usr/bin/none").find("/usr/bin/none: no such file"), std::string::npos);
    EXPECT_NE(error_of(m_root, "/usr").find("not a regular file"), std::string::npos);
    EXPECT_NE(error_of(m_root, "relative").find("not an absolute path"), std::string::npos);
    EXPECT_NE(error_of(m_root + "/nonexistent-root", "/usr/bin/prog").find("not a directory"), std::string::npos);
}

TEST_F(ElfClosureTest, ScriptsBringTheirInterpreter) {
    write("/usr/bin/dash", make_elf({kInterp, {"libc.so.6"}}));
    symlink("usr/bin", "/bin");
    symlink("dash", "/usr/bin/sh");
    write("/usr/local/bin/tool", "#!/bin/sh -e\necho hi\n");
    Closure closure = xos::elf_closure::collect(m_root, "/usr/local/bin/tool");
    EXPECT_TRUE(has(closure, file("/usr/local/bin/tool")));
    EXPECT_TRUE(has(closure, link("/bin", "usr/bin")));
    EXPECT_TRUE(has(closure, link("/usr/bin/sh", "dash")));
    EXPECT_TRUE(has(closure, file("/usr/bin/dash")));
    EXPECT_EQ(closure.interpreter, kInterp);
    // #!/usr/bin/env NAME: env and NAME from PATH.
    write("/usr/bin/env", make_elf({kInterp, {"libc.so.6"}}));
    write("/usr/bin/python9", make_elf({kInterp, {"libc.so.6"}}));
    write("/srv/script.py", "#!/usr/bin/env python9\n");
    closure = xos::elf_closure::collect(m_root, "/srv/script.py");
    EXPECT_TRUE(has(closure, file("/usr/bin/env")));
    EXPECT_TRUE(has(closure, file("/usr/bin/python9")));
    write("/srv/loop", "#!/srv/loop\n");
    EXPECT_NE(error_of(m_root, "/srv/loop").find("too many levels"), std::string::npos);
}

TEST_F(ElfClosureTest, MaterializeKeepsSymlinksAndModes) {
    write("/usr/bin/prog", make_elf({kInterp, {"libc.so.6"}}), fs::perms(0750));
    write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n", fs::perms(0644));
    Closure closure = xos::elf_closure::collect(m_root, "/usr/bin/prog");
    EXPECT_TRUE(xos::elf_closure::add_optional(m_root, "/etc/passwd", closure));
    EXPECT_FALSE(xos::elf_closure::add_optional(m_root, "/etc/group", closure));
    for (auto mode : {xos::elf_closure::CopyMode::Copy, xos::elf_closure::CopyMode::HardLinkOrCopy}) {
        std::string dest = m_root + "-out";
        fs::create_directory(dest);
        xos::elf_closure::materialize(m_root, closure, dest, mode);
        EXPECT_TRUE(fs::is_symlink(dest + "/lib"));
        EXPECT_EQ(fs::read_symlink(dest + "/lib"), "usr/lib");
        EXPECT_TRUE(fs::is_symlink(dest + "/lib64/ld-linux-x86-64.so.2"));
        EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dest + "/usr/lib/x86_64-linux-gnu/libc.so.6")));
        EXPECT_EQ(fs::status(dest + "/usr/bin/prog").permissions(), fs::perms(0750));
        EXPECT_EQ(fs::file_size(dest + "/etc/passwd"), 26u);
        EXPECT_FALSE(fs::exists(dest + "/etc/group"));
        // --add: a host file into the new root, never through one of its symlinks.
        xos::elf_closure::add_host_tree(m_root + "/etc/passwd", dest, "/srv/conf/passwd.copy");
        EXPECT_TRUE(fs::is_regular_file(dest + "/srv/conf/passwd.copy"));
        EXPECT_THROW(xos::elf_closure::add_host_tree(m_root + "/etc/passwd", dest, "/lib/x"), ClosureError);
        fs::remove_all(dest);
    }
}

TEST(ElfClosureHost, HostSortHasLibc) {
    // The host's own root (this test runs on a glibc Linux): sort's closure names libc.so.6.
    Closure closure = xos::elf_closure::collect("/", "/usr/bin/sort");
    EXPECT_FALSE(closure.interpreter.empty());
    EXPECT_TRUE(std::any_of(closure.libraries.begin(), closure.libraries.end(),
                            [](const std::string& path) { return path.find("/libc.so.6") != std::string::npos; }));
}

}  // namespace
