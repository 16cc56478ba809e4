// procfs vnode kinds: generated text files, fixed directories, links, the fd directory.
#pragma once

#include "fs/procfs/text_buffer.h"
#include "vfs/file.h"
#include "vfs/vnode.h"

namespace xos::fs {

using TextGenerator = ErrorOr<void> (*)(TextBuffer& out);
using TextGeneratorFor = ErrorOr<void> (*)(TextBuffer& out, int argument);  // e.g. of one pid

class ProcFs final : public vfs::Filesystem {
public:
    ProcFs() : Filesystem("proc", 0x9fa0) {}
    RefPtr<vfs::Vnode> root() override { return m_root; }
    RefPtr<vfs::Vnode> m_root;
};

class ProcTextFile final : public vfs::Vnode {
public:
    ProcTextFile(ProcFs& fs, TextGenerator generator)
        : Vnode(fs, fs.allocate_ino(), S_IFREG | 0444), m_generator(generator) {
        m_attr.block_size = 1024;
    }
    ProcTextFile(ProcFs& fs, TextGeneratorFor generator, int argument)
        : Vnode(fs, fs.allocate_ino(), S_IFREG | 0444), m_generator_for(generator), m_argument(argument) {
        m_attr.block_size = 1024;
    }
    ErrorOr<RefPtr<vfs::File>> open(int flags) override;

private:
    TextGenerator m_generator = nullptr;
    TextGeneratorFor m_generator_for = nullptr;
    int m_argument = 0;
};

// A symlink whose text is computed; with `follow` set it is a magic link.
class ProcLink final : public vfs::Vnode {
public:
    using TextFn = ErrorOr<KString> (*)(int argument);
    using FollowFn = ErrorOr<RefPtr<vfs::Vnode>> (*)(int argument);
    ProcLink(ProcFs& fs, TextFn text, FollowFn follow, int argument)
        : Vnode(fs, fs.allocate_ino(), S_IFLNK | 0777), m_text(text), m_follow(follow), m_argument(argument) {}
    ErrorOr<KString> readlink() override { return m_text(m_argument); }
    ErrorOr<RefPtr<vfs::Vnode>> follow_magic_link() override {
        if (!m_follow) return RefPtr<vfs::Vnode>();
        return m_follow(m_argument);
    }

private:
    TextFn m_text;
    FollowFn m_follow;
    int m_argument;
};

class ProcDir final : public vfs::Vnode {
public:
    static constexpr size_t MAX_CHILDREN = 16;
    ProcDir(ProcFs& fs, ProcDir* parent) : Vnode(fs, fs.allocate_ino(), S_IFDIR | 0555), m_parent(parent) {}
    ErrorOr<void> add(const char* name, RefPtr<vfs::Vnode> child);
    ErrorOr<RefPtr<vfs::Vnode>> lookup(std::string_view name) override;
    // Names not among the children (/proc/PID): looked up here, if set.
    using Fallback = ErrorOr<RefPtr<vfs::Vnode>> (*)(ProcDir& directory, std::string_view name);
    void set_fallback(Fallback fallback) { m_fallback = fallback; }
    ErrorOr<void> readdir(uint64_t& cookie, vfs::DirSink& sink) override;

private:
    ProcDir* m_parent;
    const char* m_names[MAX_CHILDREN];
    RefPtr<vfs::Vnode> m_children[MAX_CHILDREN];
    size_t m_count = 0;
    Fallback m_fallback = nullptr;
};

// /proc/1/fd: one magic link per open descriptor.
class ProcFdDir final : public vfs::Vnode {
public:
    ProcFdDir(ProcFs& fs, ProcDir* parent) : Vnode(fs, fs.allocate_ino(), S_IFDIR | 0500), m_parent(parent) {}
    ErrorOr<RefPtr<vfs::Vnode>> lookup(std::string_view name) override;
    ErrorOr<void> readdir(uint64_t& cookie, vfs::DirSink& sink) override;

private:
    ProcDir* m_parent;
};

// The path an open file was opened by, as /proc/self/fd/N shows it.
ErrorOr<KString> describe_open_file(vfs::File& file);

}  // namespace xos::fs
