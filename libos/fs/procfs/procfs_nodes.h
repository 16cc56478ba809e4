// procfs vnode kinds: generated text files, fixed directories, links, the fd directory.
#pragma once

#include "fs/procfs/text_buffer.h"
#include "vfs/file.h"
#include "vfs/vnode.h"

namespace xos::vfs {
struct Process;
}

namespace xos::fs {

using TextGenerator = ErrorOr<void> (*)(TextBuffer& out);
using TextGeneratorFor = ErrorOr<void> (*)(TextBuffer& out, int argument);  // e.g. of one pid

class ProcFs final : public vfs::Filesystem {
public:
    ProcFs() : Filesystem("proc", 0x9fa0) {}
    RefPtr<vfs::Vnode> root() override { return m_root; }
    bool walks_without_big_lock() const override { return true; }  // no vnode cache: lookups make nodes
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

// A symlink whose text is computed; with `follow` set it is a magic link. The argument says
// what it names (a pid; for fd/N, pid << 32 | N).
class ProcLink final : public vfs::Vnode {
public:
    using TextFn = ErrorOr<KString> (*)(uint64_t argument);
    using FollowFn = ErrorOr<RefPtr<vfs::Vnode>> (*)(uint64_t argument);
    ProcLink(ProcFs& fs, TextFn text, FollowFn follow, uint64_t argument)
        : Vnode(fs, fs.allocate_ino(), S_IFLNK | 0777), m_text(text), m_follow(follow), m_argument(argument) {}
    ErrorOr<KString> readlink() override { return m_text(m_argument); }
    ErrorOr<RefPtr<vfs::Vnode>> follow_magic_link() override {
        if (!m_follow) return RefPtr<vfs::Vnode>();
        return m_follow(m_argument);
    }

private:
    TextFn m_text;
    FollowFn m_follow;
    uint64_t m_argument;
};

class ProcDir final : public vfs::Vnode {
public:
    static constexpr size_t MAX_CHILDREN = 24;
    ProcDir(ProcFs& fs, ProcDir* parent) : Vnode(fs, fs.allocate_ino(), S_IFDIR | 0555), m_parent(parent) {}
    ErrorOr<void> add(const char* name, RefPtr<vfs::Vnode> child);
    ErrorOr<RefPtr<vfs::Vnode>> lookup(std::string_view name) override;
    // Names not among the children (/proc/PID): looked up here, if set.
    using Fallback = ErrorOr<RefPtr<vfs::Vnode>> (*)(ProcDir& directory, std::string_view name);
    void set_fallback(Fallback fallback) { m_fallback = fallback; }
    // Entries listed after the children (/proc's pids): `cookie` counts from 0 past them.
    using Lister = void (*)(ProcDir& directory, uint64_t& cookie, vfs::DirSink& sink);
    void set_lister(Lister lister) { m_lister = lister; }
    ErrorOr<void> readdir(uint64_t& cookie, vfs::DirSink& sink) override;
    size_t child_count() const { return m_count; }

private:
    ProcDir* m_parent;
    const char* m_names[MAX_CHILDREN];
    RefPtr<vfs::Vnode> m_children[MAX_CHILDREN];
    size_t m_count = 0;
    Fallback m_fallback = nullptr;
    Lister m_lister = nullptr;
};

// /proc/PID/fd: one magic link per open descriptor of process `pid`.
class ProcFdDir final : public vfs::Vnode {
public:
    // `parent` (/proc/PID) is not referenced: it holds this directory, and may go first.
    ProcFdDir(ProcFs& fs, ProcDir* parent, int pid)
        : Vnode(fs, fs.allocate_ino(), S_IFDIR | 0500), m_parent_ino(parent->ino()), m_pid(pid) {}
    ErrorOr<RefPtr<vfs::Vnode>> lookup(std::string_view name) override;
    ErrorOr<void> readdir(uint64_t& cookie, vfs::DirSink& sink) override;

private:
    uint64_t m_parent_ino;
    int m_pid;
};

// The file-system state (descriptors, root, cwd) of process `pid`: ENOENT once it has exited.
ErrorOr<vfs::Process*> files_of(int pid);

// The path an open file of `process` was opened by, as /proc/PID/fd/N shows it.
ErrorOr<KString> describe_open_file(vfs::Process& process, vfs::File& file);

}  // namespace xos::fs
