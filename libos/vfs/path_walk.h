// Path resolution: `.`, `..` (never above the root, across mount points), symbolic links
// (at most 40 per resolution, then ELOOP), magic links (/proc/self/fd/N), trailing slashes
// (the path must then name a directory). Portable; unit-tested on the host over ramfs.
#pragma once

#include <cstddef>
#include <string_view>

#include "base/error.h"
#include "base/ref_ptr.h"
#include "vfs/vnode.h"

namespace xos::vfs {

constexpr size_t PATH_MAX_BYTES = 4096;  // including the NUL, like Linux's PATH_MAX
constexpr size_t NAME_MAX_BYTES = 255;
constexpr int MAX_SYMLINK_FOLLOWS = 40;

enum class Follow { Yes, No };  // whether a symlink in the last component is followed

struct WalkContext {
    Vnode* root;  // where "/" and ".." stop
    Vnode* start;  // where relative paths begin (cwd or a dirfd)
};

// The vnode `path` names. Empty paths are ENOENT.
ErrorOr<RefPtr<Vnode>> resolve(const WalkContext& context, std::string_view path, Follow follow_last);

// For operations that create or remove the last component: its parent directory and name.
struct ParentLookup {
    RefPtr<Vnode> parent;
    std::string_view name;  // points into the path; may be "." or ".."; empty for "/"
    bool trailing_slash;  // the path ended in '/'
};
ErrorOr<ParentLookup> resolve_parent(const WalkContext& context, std::string_view path);

// One step of a walk: `name` inside `directory`, crossing mount points both ways.
ErrorOr<RefPtr<Vnode>> step(const WalkContext& context, const RefPtr<Vnode>& directory, std::string_view name);

// The absolute path of a directory (getcwd), found by walking ".." and looking each name up in
// its parent. Fails with ENOENT when the directory was removed, ERANGE when `out` is too small.
ErrorOr<size_t> directory_path(const WalkContext& context, RefPtr<Vnode> directory, std::span<char> out);

}  // namespace xos::vfs
