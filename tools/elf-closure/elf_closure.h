// The files a Linux program needs to start, found by reading ELF files (not by running ldd, which
// executes the program and cannot look into a foreign root): the program, its PT_INTERP, the
// closure of its DT_NEEDED libraries resolved as glibc's ld.so does, and for a `#!` script the
// interpreter and its closure. Shared by `xos-run /usr/bin/prog` (a temporary root from the
// host's /) and `xos-build --exec` (an initrd from a ROOTFS). docs/unmodified-binaries.md.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace xos::elf_closure {

// What cannot be collected; what() is a complete message naming the file (and who needs it).
struct ClosureError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One path of the closure, inside the root (absolute, as the program sees it). Every path's
// parent directories are real directories of the root (symlinks along the way are entries of
// their own), so the entries can be recreated in any order after their parents.
struct Entry {
    enum class Kind { File, Symlink };
    std::string path;
    Kind kind = Kind::File;
    std::string link_target;  // Symlink: readlink(2) of the path, kept as it is (relative or absolute)

    bool operator==(const Entry&) const = default;
};

struct Closure {
    std::string program;  // as given (absolute, inside the root)
    std::string interpreter;  // PT_INTERP of the program (or of a script's interpreter); "" if static
    std::vector<std::string> libraries;  // resolved DT_NEEDED paths, in breadth-first order
    std::vector<Entry> entries;  // everything to copy, each path once, in the order found
};

// The default directories of x86_64 glibc's ld.so, searched after DT_RUNPATH and ld.so.conf.
extern const std::vector<std::string> kDefaultLibraryDirs;

// Collects `program` (an absolute path inside `root`; root "/" is the host's own root).
// Symlinks are followed inside the root (an absolute link target means root + target; ".." never
// leaves the root). Library search for an object O needing NAME (no '/' in NAME): O's DT_RPATH
// and then the executable's (only where O, resp. the executable, has no DT_RUNPATH), O's
// DT_RUNPATH, the directories of the root's /etc/ld.so.conf (with `include` globs), then
// kDefaultLibraryDirs; $ORIGIN, ${ORIGIN}, $LIB (lib/x86_64-linux-gnu) and $PLATFORM (x86_64)
// are expanded; a candidate that is not ELF64 x86_64 is skipped as ld.so skips it.
// LD_LIBRARY_PATH and glibc-hwcaps subdirectories are not used.
// Throws ClosureError: the program missing, not ELF and not a `#!` script, for another machine
// or class, truncated; an interpreter or a library not found (naming it and who needs it).
Closure collect(const std::string& root, const std::string& program);

// Adds `path` (inside `root`) with the symlinks leading to it, if it exists; returns whether it
// did. For the small files a program expects (/etc/passwd, ...) and xos-build --exec's extras.
bool add_optional(const std::string& root, const std::string& path, Closure& closure);

// The files besides the closure that programs expect and a collected root gets if the source
// root has them: /etc/passwd, /etc/group, /etc/nsswitch.conf, /etc/hosts, /etc/localtime (and
// the zoneinfo file it links to), /etc/ld.so.cache (its entries name the same paths the
// closure keeps, so ld.so finds libraries from ld.so.conf directories through it).
extern const std::vector<std::string> kEtcFiles;

enum class CopyMode {
    HardLinkOrCopy,  // a hard link where the file system allows it, else a copy
    Copy,
};

// Recreates the entries of `closure` (files of `root`) under `dest` (an existing directory):
// parent directories (mode 0755), symlinks with their own targets, files as hard links or copies
// with their modes. Throws ClosureError naming the file that cannot be read or written.
void materialize(const std::string& root, const Closure& closure, const std::string& dest, CopyMode mode);

// Copies the host file or directory tree `source` to `dest_path` (absolute, inside `dest`),
// creating parent directories; symlinks inside stay symlinks. For `xos-build --add SRC[:DEST]`.
void add_host_tree(const std::string& source, const std::string& dest, const std::string& dest_path);

}  // namespace xos::elf_closure
