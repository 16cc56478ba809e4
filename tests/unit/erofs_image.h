// Helpers of the EROFS tests (tests/unit/erofs_test.cpp, tests/fuzz/erofs_corruption_test.cpp):
// a scratch directory, images made by mkfs.erofs (erofs-utils, installed by bootstrap.sh) from
// it, and an ErofsDevice over the image's bytes. klog lines are collected for the tests.
#pragma once

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/user_ptr.h"
#include "fs/erofs/erofs.h"

namespace xos::erofs::test {

// Every klog line of the process (the EROFS reader's corruption reports), most recent last.
std::vector<std::string>& log_lines();

// A directory under $TMPDIR, removed with everything in it.
class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "xos-erofs-XXXXXX").string();
        char* made = mkdtemp(pattern.data());
        if (!made) throw std::runtime_error("mkdtemp failed");
        m_path = made;
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

inline std::vector<std::byte> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(bytes.size());
    if (!bytes.empty()) memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

// Runs mkfs.erofs `options` IMAGE `tree` and returns the image's bytes (empty on failure, with a
// gtest failure).
inline std::vector<std::byte> make_image(const std::string& tree, const std::vector<std::string>& options,
                                         const std::string& image) {
    std::vector<std::string> args{"mkfs.erofs", "--quiet"};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(image);
    args.push_back(tree);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        execvp("mkfs.erofs", argv.data());
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ADD_FAILURE() << "mkfs.erofs failed (status " << status << "; is erofs-utils installed?)";
        return {};
    }
    return read_file(image);
}

inline void write_text(const std::string& path, const std::string& text, mode_t mode = 0644) {
    std::ofstream(path, std::ios::binary) << text;
    chmod(path.c_str(), mode);
}

// Deterministic bytes (xorshift), so that every test run checks the same contents.
inline std::string pattern_bytes(size_t size, uint64_t seed) {
    std::string out(size, '\0');
    uint64_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < size; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = char(x);
    }
    return out;
}

// The tree the tests pack: every name, size and type the reader must get right. `many`: the
// number of entries of /many (several directory blocks); `big_owners`: owners beyond 16 bits,
// which need extended inodes.
inline void build_tree(const std::string& root, size_t many = 600, bool big_owners = true) {
    namespace fs = std::filesystem;
    fs::create_directories(root + "/dir/sub/deeper");
    fs::create_directories(root + "/many");
    fs::create_directories(root + "/empty");
    write_text(root + "/empty-file", "");
    write_text(root + "/one", "1");
    write_text(root + "/hello", "hello, erofs\n");
    for (size_t size : {4095, 4096, 4097, 8191, 12288, 100000, (1 << 20) + 1})
        write_text(root + "/size-" + std::to_string(size), pattern_bytes(size, size), 0600);
    write_text(root + "/dir/sub/deeper/file", "deep\n", 0444);
    write_text(root + "/setuid", "#!/bin/sh\n", 04755);
    write_text(root + "/dir/exec", pattern_bytes(5000, 7), 0751);
    std::string long_name(254, 'n');  // (mkfs.erofs 1.5 fails on 255-byte names)
    write_text(root + "/dir/" + long_name, "long name");
    write_text(root + "/dir/\xc3\xa9t\xc3\xa9 sp ace", "utf-8 name");
    symlink("hello", (root + "/link").c_str());
    symlink("dir/sub/deeper/file", (root + "/deep-link").c_str());
    symlink("/absolute/target/that/dangles", (root + "/dangling").c_str());
    symlink(std::string(3000, 'x').c_str(), (root + "/long-link").c_str());
    link((root + "/hello").c_str(), (root + "/dir/hard-link").c_str());
    mkfifo((root + "/fifo").c_str(), 0640);
    // A sparse file: 2 MiB with data at 0, in the middle and at the end.
    {
        std::fstream sparse(root + "/sparse", std::ios::out | std::ios::binary);
        sparse << "start";
        sparse.seekp(1 << 20);
        sparse << "middle";
        sparse.seekp((2 << 20) - 3);
        sparse << "end";
    }
    for (size_t i = 0; i < many; ++i)
        write_text(root + "/many/entry-" + std::to_string(i * 7919 % 100003), std::to_string(i));
    chown((root + "/one").c_str(), 1234, 5678);
    if (big_owners) chown((root + "/hello").c_str(), 100000, 200000);
    // Device nodes only where the test may make them (root).
    mknod((root + "/chardev").c_str(), S_IFCHR | 0600, makedev(1, 3));
    mknod((root + "/blockdev").c_str(), S_IFBLK | 0600, makedev(259, 70000));
}

// An image in memory. read() copies with user_copy, as a real device does.
class MemoryDevice final : public ErofsDevice {
public:
    explicit MemoryDevice(std::vector<std::byte> bytes) : m_bytes(std::move(bytes)) {}
    uint64_t size() const override { return m_bytes.size(); }
    ErrorOr<void> read(uint64_t offset, std::span<std::byte> buffer) override {
        ++reads;
        if (offset > m_bytes.size() || buffer.size() > m_bytes.size() - offset) {
            ADD_FAILURE() << "read beyond the device: " << offset << "+" << buffer.size();
            return error(EIO);
        }
        if (user_copy(buffer.data(), m_bytes.data() + offset, buffer.size())) return error(EFAULT);
        return {};
    }
    const char* name() const override { return "memory"; }
    std::vector<std::byte>& bytes() { return m_bytes; }
    size_t reads = 0;

private:
    std::vector<std::byte> m_bytes;
};

}  // namespace xos::erofs::test
