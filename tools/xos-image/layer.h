// Applying one image layer (a tar changeset, plain or compressed with anything libarchive reads:
// gzip, zstd, xz, ...) onto a directory, as the OCI image-spec's layer.md says:
// - entries are created with their types, modes, owners (numeric), mtimes and extended
//   attributes (the PAX SCHILY.xattr.* records); hard links point at a path of the image;
// - an entry replaces what a lower layer had at its path (a directory over a directory merges);
// - `.wh.NAME` deletes NAME of the lower layers; `.wh..wh..opq` in a directory hides everything
//   the lower layers had in it (entries of the same layer stay); neither appears in the tree;
// - paths are confined to the root: a symlink met on the way is resolved inside the root (an
//   absolute target starts at the root, `..` stops at it), as container runtimes do, so a
//   hostile layer cannot write or delete outside; an entry with a `..` component is an error.
// A truncated or corrupt layer is an ImageError naming the layer and the entry.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace xos::image {

struct ApplyOptions {
    // Set the entries' owners (needs root, or CAP_CHOWN). Without it files belong to the caller.
    bool keep_owners = true;
    // Called with each warning (an xattr the host file system refuses, ...).
    std::function<void(const std::string&)> warn;
};

struct LayerStats {
    std::size_t entries = 0;  // created or replaced
    std::size_t whiteouts = 0;  // .wh.NAME
    std::size_t opaque_dirs = 0;  // .wh..wh..opq
};

// Applies the layer in file `layer` to the directory `root` (which must exist). Changes the
// process's working directory while it runs (restored before it returns or throws): not for
// use from several threads at once.
LayerStats apply_layer(const std::string& layer, const std::string& root, const ApplyOptions& options);

// Splits an entry's path into components, dropping empty ones, "." and a leading "/" (so "./"
// gives none: the root). Throws ImageError for "..", an empty path, or a NUL byte.
std::vector<std::string> split_entry_path(const std::string& path);

}  // namespace xos::image
