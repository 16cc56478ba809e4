#include "vfs/path_walk.h"

#include <cstring>

namespace xos::vfs {

namespace {

bool is_fs_root(Vnode& vnode) { return vnode.fs().root().get() == &vnode; }

// Splits off the first component of `path` (after leading slashes).
std::string_view next_component(std::string_view& path) {
    size_t begin = path.find_first_not_of('/');
    if (begin == std::string_view::npos) {
        path = {};
        return {};
    }
    path.remove_prefix(begin);
    size_t end = path.find('/');
    std::string_view name = path.substr(0, end);
    path.remove_prefix(end == std::string_view::npos ? path.size() : end);
    return name;
}

ErrorOr<RefPtr<Vnode>> walk(const WalkContext& context, RefPtr<Vnode> current, std::string_view path,
                            Follow follow_last, int& links_left);

// Follows the symlink `link` found in `directory`.
ErrorOr<RefPtr<Vnode>> follow(const WalkContext& context, const RefPtr<Vnode>& directory, Vnode& link,
                              int& links_left) {
    if (--links_left < 0) return error(ELOOP);
    KString target;
    {
        BigLockUnlessSafe big_lock(link);  // magic links (procfs), other file systems' links
        RefPtr<Vnode> magic = TRY(link.follow_magic_link());
        if (magic) return magic;
        target = TRY(link.readlink());
    }
    if (target.empty()) return error(ENOENT);
    return walk(context, directory, target.view(), Follow::Yes, links_left);
}

ErrorOr<RefPtr<Vnode>> walk(const WalkContext& context, RefPtr<Vnode> current, std::string_view path,
                            Follow follow_last, int& links_left) {
    if (!path.empty() && path[0] == '/') current = context.root;
    for (;;) {
        std::string_view name = next_component(path);
        if (name.empty()) return current;
        bool last = path.find_first_not_of('/') == std::string_view::npos;
        bool trailing_slash = last && !path.empty();
        RefPtr<Vnode> node = TRY(step(context, current, name));
        if (node->is_symlink() && (!last || trailing_slash || follow_last == Follow::Yes))
            node = TRY(follow(context, current, *node, links_left));
        if (trailing_slash && !node->is_directory()) return error(ENOTDIR);
        current = static_cast<RefPtr<Vnode>&&>(node);
    }
}

}  // namespace

ErrorOr<RefPtr<Vnode>> step(const WalkContext& context, const RefPtr<Vnode>& directory, std::string_view name) {
    if (!directory->is_directory()) return error(ENOTDIR);
    if (name.size() > NAME_MAX_BYTES) return error(ENAMETOOLONG);
    if (name == ".") return directory;
    // Walks may run without the big lock (open, stat of an existing path): a directory's
    // lookup takes it unless the directory has a lock of its own (ramfs: docs/locking.md
    // "Files and directories"). Mount links are changed under the big lock only at mount time.
    BigLockUnlessSafe big_lock(*directory);
    if (name == "..") {
        RefPtr<Vnode> dir = directory;
        for (;;) {
            if (dir.get() == context.root) return dir;
            if (!is_fs_root(*dir) || !dir->fs().covered()) break;
            dir = dir->fs().covered();  // leave the mounted file system
        }
        BigLockUnlessSafe covered_lock(*dir);
        return dir->lookup("..");
    }
    RefPtr<Vnode> node = TRY(directory->lookup(name));
    while (Filesystem* mounted = node->mounted()) node = mounted->root();
    return node;
}

ErrorOr<RefPtr<Vnode>> resolve(const WalkContext& context, std::string_view path, Follow follow_last) {
    if (path.empty()) return error(ENOENT);
    if (path.size() >= PATH_MAX_BYTES) return error(ENAMETOOLONG);
    int links_left = MAX_SYMLINK_FOLLOWS;
    return walk(context, RefPtr<Vnode>(context.start), path, follow_last, links_left);
}

ErrorOr<ParentLookup> resolve_parent(const WalkContext& context, std::string_view path) {
    if (path.empty()) return error(ENOENT);
    if (path.size() >= PATH_MAX_BYTES) return error(ENAMETOOLONG);
    size_t end = path.find_last_not_of('/');
    if (end == std::string_view::npos) return ParentLookup{RefPtr<Vnode>(context.root), {}, true};
    bool trailing_slash = end + 1 < path.size();
    size_t slash = path.rfind('/', end);
    std::string_view name = path.substr(slash == std::string_view::npos ? 0 : slash + 1,
                                        end + 1 - (slash == std::string_view::npos ? 0 : slash + 1));
    if (name.size() > NAME_MAX_BYTES) return error(ENAMETOOLONG);
    RefPtr<Vnode> parent;
    int links_left = MAX_SYMLINK_FOLLOWS;
    if (slash == std::string_view::npos)
        parent = context.start;
    else
        parent = TRY(walk(context, RefPtr<Vnode>(context.start), path.substr(0, slash + 1), Follow::Yes, links_left));
    if (!parent->is_directory()) return error(ENOTDIR);
    return ParentLookup{static_cast<RefPtr<Vnode>&&>(parent), name, trailing_slash};
}

namespace {

struct FindByIno final : DirSink {
    uint64_t ino;
    char name[NAME_MAX_BYTES + 1];
    size_t length = 0;
    bool found = false;
    bool emit(const DirEntry& entry) override {
        if (!found && entry.ino == ino && entry.name != "." && entry.name != "..") {
            memcpy(name, entry.name.data(), entry.name.size());
            length = entry.name.size();
            found = true;
        }
        return true;
    }
};

}  // namespace

ErrorOr<size_t> directory_path(const WalkContext& context, RefPtr<Vnode> directory, std::span<char> out) {
    // Built right to left at the end of `out`, then moved to the front.
    size_t used = 0;
    auto prepend = [&](std::string_view text) -> ErrorOr<void> {
        if (used + text.size() + 1 > out.size()) return error(ERANGE);
        used += text.size();
        memcpy(out.data() + out.size() - used, text.data(), text.size());
        return {};
    };
    while (directory.get() != context.root) {
        // The name to look up in the parent: a mount point's root is known by its covered vnode.
        RefPtr<Vnode> named = directory;
        while (is_fs_root(*named) && named->fs().covered() && named.get() != context.root)
            named = named->fs().covered();
        if (named.get() == context.root) break;
        if (named->m_attr.nlink == 0) return error(ENOENT);
        RefPtr<Vnode> parent = TRY(named->lookup(".."));
        FindByIno finder;
        finder.ino = named->ino();
        uint64_t cookie = 0;
        TRY(parent->readdir(cookie, finder));
        if (!finder.found) return error(ENOENT);
        TRY(prepend({finder.name, finder.length}));
        TRY(prepend("/"));
        directory = static_cast<RefPtr<Vnode>&&>(parent);
    }
    if (used == 0) TRY(prepend("/"));
    memmove(out.data(), out.data() + out.size() - used, used);
    out[used] = '\0';
    return used + 1;
}

}  // namespace xos::vfs
