#include "fs/procfs/procfs_nodes.h"

#include <dirent.h>

#include <cstdio>
#include <cstring>

#include "mm/heap.h"
#include "sched/process.h"
#include "vfs/process.h"

namespace xos::fs {

namespace {

// A generated file's contents, fixed when it was opened.
class SnapshotFile final : public vfs::File {
public:
    SnapshotFile(RefPtr<vfs::Vnode> vnode, int flags, char* data, size_t size)
        : File(static_cast<RefPtr<vfs::Vnode>&&>(vnode), flags), m_data(data), m_size(size) {}
    ~SnapshotFile() override { mm::kfree(m_data); }

    ErrorOr<size_t> read(std::span<std::byte> buffer, std::optional<uint64_t> offset) override {
        uint64_t at = offset.value_or(position());
        size_t n = at >= m_size ? 0 : (buffer.size() < m_size - at ? buffer.size() : size_t(m_size - at));
        if (n) memcpy(buffer.data(), m_data + at, n);
        if (!offset) set_position(at + n);
        return n;
    }
    ErrorOr<size_t> write(std::span<const std::byte>, std::optional<uint64_t>) override { return error(EBADF); }
    ErrorOr<uint64_t> seek(int64_t offset, int whence) override {
        int64_t base = whence == SEEK_SET ? 0
            : whence == SEEK_CUR          ? int64_t(position())
            : whence == SEEK_END          ? int64_t(m_size)
                                          : -1;
        if (base < 0 || base + offset < 0) return error(EINVAL);
        set_position(uint64_t(base + offset));
        return position();
    }
    ErrorOr<size_t> bytes_readable() override { return position() < m_size ? m_size - position() : 0; }

private:
    char* m_data;
    size_t m_size;
};

ErrorOr<RefPtr<vfs::File>> fd_link_file(uint64_t argument) {
    vfs::Process* process = TRY(files_of(int(argument >> 32)));
    return process->fds.get(int(argument & 0xffffffff));
}

ErrorOr<KString> fd_link_text(uint64_t argument) {
    RefPtr<vfs::File> file = TRY(fd_link_file(argument));
    return describe_open_file(*TRY(files_of(int(argument >> 32))), *file);
}

ErrorOr<RefPtr<vfs::Vnode>> fd_link_follow(uint64_t argument) {
    RefPtr<vfs::File> file = TRY(fd_link_file(argument));
    return RefPtr<vfs::Vnode>(file->vnode());
}

}  // namespace

ErrorOr<vfs::Process*> files_of(int pid) {
    sched::Process* process = sched::find_process(pid);
    if (!process || !process->files) return error(ENOENT);
    return process->files;
}

ErrorOr<KString> describe_open_file(vfs::Process& process, vfs::File& file) {
    if (auto name = file.anonymous_name()) return name;
    char path[vfs::PATH_MAX_BYTES];
    if (file.vnode()->is_directory()) {
        TRY(vfs::directory_path(process.context(), file.vnode(), path));
        return KString::from(path);
    }
    if (!file.origin_parent()) return error(ENOENT);
    size_t length = TRY(vfs::directory_path(process.context(), file.origin_parent(), path)) - 1;
    int written =
        snprintf(path + length, sizeof path - length, "%s%.*s%s", length > 1 ? "/" : "", int(file.origin_name().size()),
                 file.origin_name().data(), file.vnode()->m_attr.nlink == 0 ? " (deleted)" : "");
    if (written < 0 || size_t(written) >= sizeof path - length) return error(ENAMETOOLONG);
    return KString::from(path);
}

ErrorOr<RefPtr<vfs::File>> ProcTextFile::open(int flags) {
    if ((flags & O_ACCMODE) != O_RDONLY) return error(EACCES);
    TextBuffer text;
    if (m_generator_for)
        TRY(m_generator_for(text, m_argument));
    else
        TRY(m_generator(text));
    size_t size = text.view().size();
    char* data = text.take();
    vfs::File* file =
        mm::kcreate<SnapshotFile>(RefPtr<vfs::Vnode>(this), flags & (O_ACCMODE | vfs::FILE_STATUS_FLAGS), data, size);
    if (!file) {
        mm::kfree(data);
        return error(ENOMEM);
    }
    return RefPtr<vfs::File>(file);
}

ErrorOr<void> ProcDir::add(const char* name, RefPtr<vfs::Vnode> child) {
    if (!child) return error(ENOMEM);
    if (m_count == MAX_CHILDREN) return error(ENOSPC);
    if (child->is_directory()) ++m_attr.nlink;
    m_names[m_count] = name;
    m_children[m_count++] = static_cast<RefPtr<vfs::Vnode>&&>(child);
    return {};
}

ErrorOr<RefPtr<vfs::Vnode>> ProcDir::lookup(std::string_view name) {
    if (name == "..") return RefPtr<vfs::Vnode>(m_parent ? static_cast<vfs::Vnode*>(m_parent) : this);
    for (size_t i = 0; i < m_count; ++i)
        if (name == m_names[i]) return m_children[i];
    if (m_fallback) return m_fallback(*this, name);
    return error(ENOENT);
}

ErrorOr<void> ProcDir::readdir(uint64_t& cookie, vfs::DirSink& sink) {
    if (cookie >= m_count + 2) {
        if (m_lister) {
            uint64_t rest = cookie - (m_count + 2);
            m_lister(*this, rest, sink);
            cookie = rest + m_count + 2;
        }
        return {};
    }
    for (; cookie < m_count + 2; ++cookie) {
        vfs::DirEntry entry{0, cookie + 1, DT_DIR, {}};
        if (cookie == 0)
            entry = {ino(), 1, DT_DIR, "."};
        else if (cookie == 1)
            entry = {m_parent ? m_parent->ino() : ino(), 2, DT_DIR, ".."};
        else {
            vfs::Vnode& child = *m_children[cookie - 2];
            entry = {child.ino(), cookie + 1, vfs::dirent_type(child.mode()), m_names[cookie - 2]};
        }
        if (!sink.emit(entry)) return {};
    }
    if (m_lister) {
        uint64_t rest = 0;
        m_lister(*this, rest, sink);
        cookie = rest + m_count + 2;
    }
    return {};
}

ErrorOr<RefPtr<vfs::Vnode>> ProcFdDir::lookup(std::string_view name) {
    if (name == "..") {
        char pid[12];
        int length = snprintf(pid, sizeof pid, "%d", m_pid);
        return static_cast<ProcFs&>(fs()).m_root->lookup({pid, size_t(length)});
    }
    int fd = 0;
    if (name.empty() || name.size() > 5 || (name.size() > 1 && name[0] == '0')) return error(ENOENT);
    for (char c : name) {
        if (c < '0' || c > '9') return error(ENOENT);
        fd = fd * 10 + (c - '0');
    }
    if (!TRY(files_of(m_pid))->fds.is_open(fd)) return error(ENOENT);
    auto* link = mm::kcreate<ProcLink>(static_cast<ProcFs&>(fs()), &fd_link_text, &fd_link_follow,
                                       uint64_t(m_pid) << 32 | uint64_t(fd));
    if (!link) return error(ENOMEM);
    link->m_attr.mode = S_IFLNK | 0700;
    return RefPtr<vfs::Vnode>(link);
}

ErrorOr<void> ProcFdDir::readdir(uint64_t& cookie, vfs::DirSink& sink) {
    if (cookie == 0) {
        if (!sink.emit({ino(), 1, DT_DIR, "."})) return {};
        cookie = 1;
    }
    if (cookie == 1) {
        if (!sink.emit({m_parent_ino, 2, DT_DIR, ".."})) return {};
        cookie = 2;
    }
    // Cookie 2 + fd: resume after the last descriptor emitted.
    vfs::Process* process = TRY(files_of(m_pid));
    for (int fd = int(cookie - 2); fd < vfs::FdTable::MAX_FDS; ++fd) {
        if (!process->fds.is_open(fd)) continue;
        char name[12];
        int length = snprintf(name, sizeof name, "%d", fd);
        if (!sink.emit({uint64_t(1000 + fd), uint64_t(fd) + 3, DT_LNK, {name, size_t(length)}})) return {};
        cookie = uint64_t(fd) + 3;
    }
    cookie = vfs::FdTable::MAX_FDS + 2;
    return {};
}

}  // namespace xos::fs
