// Host directory shares (xos/hostfs.h): the share roots, opened at start-up from XOS_SHARE*
// before the seccomp filter goes on, and one wrapper per host file operation. Every wrapper
// takes handles the platform opened and single path components it checks itself (see the
// header), so a libos bug cannot name a host path outside a share: the filter cannot check
// openat's path (a pointer), these checks are the guard.
//
// Operations on a file's inode (reopen for I/O, chmod, utimes, link) go through the platform's
// handle on /proc/self/fd (opened at start-up): openat(proc_fd, "12", ...) follows the magic
// link to exactly the file path handle 12 names, the documented way to upgrade an O_PATH
// descriptor, and never a symlink's target (the jump is terminal).
#include "xos/hostfs.h"

#include "hosted/host.h"  // before <errno.h>: it names its own EINTR
#include "xos/libos.h"
#include "xos/platform.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>

#include <cstring>
#include <utility>

namespace xos::hosted {

namespace {

using enum host::Syscall;  // the host syscall numbers (host.h)
using host::AT_FDCWD_VALUE;
constexpr size_t NAME_MAX_BYTES = 255, PATH_MAX_BYTES = 4096;

struct ShareEntry {
    const char* guest_path;
    int root;
    uint64_t dev, ino;  // of the root: lookup_parent never leaves it
    platform::hostfs::ShareMode mode;
    bool read_only;
};
constexpr size_t MAX_SHARES = 16;
ShareEntry g_shares[MAX_SHARES];
char g_share_host_dirs[MAX_SHARES][PATH_MAX_BYTES];  // as given: the sandbox bind-mounts them
size_t g_share_count;
int g_proc_fd = -1;  // /proc/self/fd

long call(host::Syscall number, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) {
    for (;;) {
        long r = host::call(number, a1, a2, a3, a4, a5);
        if (r != -EINTR) return r;  // the platform's signals do not use SA_RESTART
    }
}

// A path component as a NUL-terminated string, or false (the confinement check).
struct Component {
    char text[NAME_MAX_BYTES + 1];
    bool set(std::string_view name) {
        if (name.empty() || name.size() > NAME_MAX_BYTES || name == "." || name == "..") return false;
        if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) return false;
        memcpy(text, name.data(), name.size());
        text[name.size()] = 0;
        return true;
    }
    long arg() const { return long(text); }
};

// Handles the hostfs may pass: not the console, the status pipe, the RAM memfd or /proc/self/fd.
bool is_share_handle(int fd) { return fd > 2 && fd != g_status_fd && fd != g_ram_fd && fd != g_proc_fd; }

// "12": the name of handle 12 in /proc/self/fd.
struct FdName {
    char text[12];
    explicit FdName(int fd) {
        char digits[12];
        int n = 0;
        do digits[n++] = char('0' + fd % 10);
        while ((fd /= 10) && n < 11);
        for (int i = 0; i < n; ++i) text[i] = digits[n - 1 - i];
        text[n] = 0;
    }
    long arg() const { return long(text); }
};

// The host cannot demand-page: pread/pwrite on app pages not touched yet fail with EFAULT. Maps
// those pages as a fault would; false if none needed it or one may not be accessed so (the
// app then gets EFAULT, as from Linux).
bool fault_in(uintptr_t address, size_t count, mm::FaultAccess access) {
    platform::MemoryRange app = platform::app_region();
    bool mapped_any = false;
    for (uintptr_t page = address & ~uintptr_t(4095); page < address + count; page += 4096) {
        if (page < app.base || page >= app.end()) continue;
        platform::InterruptGuard guard;
        if (platform::mapped_page(page)) {
            // Present: only a write to a copy-on-write page (a private file mapping) resolves.
            if (access == mm::FaultAccess::Write && mm::handle_page_fault(page, access, mm::FaultSource::UserCopy))
                mapped_any = true;
            continue;
        }
        if (!mm::handle_page_fault(page, access, mm::FaultSource::UserCopy)) return false;
        mapped_any = true;
    }
    return mapped_any;
}

long transfer(host::Syscall number, int io, uintptr_t buffer, size_t count, uint64_t offset, mm::FaultAccess access) {
    for (;;) {
        long r = call(number, io, long(buffer), long(count), long(offset));
        if (r != -EFAULT || !fault_in(buffer, count, access)) return r;
    }
}

// "/proc/self/fd/12": a path to exactly the file handle 12 names, for the path-only xattr calls
// (getxattr/setxattr; fgetxattr refuses O_PATH handles).
struct FdPath {
    char text[32] = "/proc/self/fd/";
    explicit FdPath(int fd) {
        FdName name(fd);
        memcpy(text + 14, name.text, strlen(name.text) + 1);
    }
    long arg() const { return long(text); }
};

// Only the mapped mode's attributes (user.virtfs.uid/gid/mode/rdev) are read or written.
bool is_mapped_attribute(const char* name) {
    constexpr char PREFIX[] = "user.virtfs.";
    return strncmp(name, PREFIX, sizeof PREFIX - 1) == 0 && strlen(name) < 32 && !strchr(name, '/');
}

// "XOS_SHARE_1" of "XOS_SHARE_1=...".
const char* variable_name(const char* variable) {
    static char name[64];
    size_t n = 0;
    for (; variable[n] && variable[n] != '=' && n + 1 < sizeof name; ++n) name[n] = variable[n];
    name[n] = 0;
    return name;
}

}  // namespace

// XOS_SHARE*=HOSTDIR:GUESTPATH[:mapped|:passthrough][:ro] (start.cpp): opens HOSTDIR, before the
// seccomp filter.
void add_share(const char* variable, const char* value) {
    using platform::hostfs::ShareMode;
    ShareMode mode = ShareMode::Mapped;
    size_t value_length = strlen(value);
    bool read_only = value_length > 3 && strcmp(value + value_length - 3, ":ro") == 0;
    if (read_only) value_length -= 3;
    for (auto [suffix, suffix_mode] :
         {std::pair{":passthrough", ShareMode::Passthrough}, std::pair{":mapped", ShareMode::Mapped}}) {
        size_t n = strlen(suffix);
        if (value_length > n && strncmp(value + value_length - n, suffix, n) == 0) {
            value_length -= n;
            mode = suffix_mode;
            break;
        }
    }
    if (g_share_count == MAX_SHARES) setup_failed("more than 16 shares", 0);
    static char guest_paths[MAX_SHARES][PATH_MAX_BYTES];
    if (value_length >= PATH_MAX_BYTES) setup_failed("XOS_SHARE*: too long", 0);
    char* own = guest_paths[g_share_count];  // the value without its mode suffix
    memcpy(own, value, value_length);
    own[value_length] = 0;
    value = own;
    const char* colon = nullptr;
    for (const char* p = value; *p; ++p)
        if (p[0] == ':' && p[1] == '/') colon = p;  // the last ":/", as xos-run parses --share
    if (!colon || colon == value)
        setup_failed("XOS_SHARE*: expected HOSTDIR:GUESTPATH[:passthrough] with an absolute GUESTPATH", 0);
    const char* guest = colon + 1;
    if (!guest[strspn(guest, "/")]) setup_failed("XOS_SHARE*: GUESTPATH cannot be /", 0);
    char host_dir[PATH_MAX_BYTES];
    size_t length = size_t(colon - value);
    if (length >= sizeof host_dir) setup_failed("a share's HOSTDIR is too long", 0);
    memcpy(host_dir, value, length);
    host_dir[length] = 0;
    long fd = call(OPENAT, AT_FDCWD_VALUE, long(host_dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        static char message[PATH_MAX_BYTES + 64];
        size_t used = 0;
        for (const char* part : {variable_name(variable), ": cannot open the shared directory ", (const char*)host_dir})
            for (; *part && used + 1 < sizeof message; ++part) message[used++] = *part;
        message[used] = 0;
        setup_failed(message, fd);
    }
    fd = place_fd(fd, host::FD_FIRST_SHARE + int(g_share_count), "cannot move a share to its descriptor number");
    struct stat st{};
    if (long r = call(NEWFSTATAT, fd, long(""), long(&st), AT_EMPTY_PATH); r < 0) setup_failed("fstat of a share", r);
    memcpy(g_share_host_dirs[g_share_count], host_dir, length + 1);
    g_shares[g_share_count++] = {guest, int(fd), uint64_t(st.st_dev), uint64_t(st.st_ino), mode, read_only};
}

// After the shares are known: /proc/self/fd, umask 0 (modes as the guest gives them), and the
// soft descriptor limit raised to the hard one (every referenced file holds a host handle).
void init_shares() {
    if (!g_share_count) return;
    long fd = call(OPENAT, AT_FDCWD_VALUE, long("/proc/self/fd"), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) setup_failed("shares need the host's /proc: cannot open /proc/self/fd", fd);
    g_proc_fd = place_fd(fd, host::FD_PROC, "cannot move /proc/self/fd to its descriptor number");
    call(UMASK, 0);
    struct {
        uint64_t soft, hard;
    } limit{};
    constexpr long RLIMIT_NOFILE_VALUE = 7;
    if (call(PRLIMIT64, 0, RLIMIT_NOFILE_VALUE, 0, long(&limit)) == 0 && limit.soft < limit.hard) {
        limit.soft = limit.hard;
        call(PRLIMIT64, 0, RLIMIT_NOFILE_VALUE, long(&limit), 0);
    }
}

bool have_shares() { return g_share_count != 0; }
size_t share_root_count() { return g_share_count; }
int share_root_fd(size_t index) { return g_shares[index].root; }
const char* share_host_dir(size_t index) { return g_share_host_dirs[index]; }
bool share_read_only(size_t index) { return g_shares[index].read_only; }
bool share_root_is(size_t index, int fd) {
    struct stat st{};
    return call(NEWFSTATAT, fd, long(""), long(&st), AT_EMPTY_PATH) == 0 &&
        uint64_t(st.st_dev) == g_shares[index].dev && uint64_t(st.st_ino) == g_shares[index].ino;
}

}  // namespace xos::hosted

namespace xos::platform::hostfs {

using hosted::call;
using hosted::Component;
using hosted::FdName;
using hosted::is_share_handle;
namespace h = hosted;

size_t share_count() { return h::g_share_count; }
Share share(size_t index) {
    const h::ShareEntry& entry = h::g_shares[index];
    return {entry.guest_path, entry.root, entry.mode, entry.read_only};
}

long lookup(int dir, std::string_view name, int flags) {
    Component c;
    if (!c.set(name) || (flags & ~O_DIRECTORY)) return -EINVAL;
    if (!is_share_handle(dir)) return -EBADF;
    return call(h::OPENAT, dir, c.arg(), O_PATH | O_NOFOLLOW | O_CLOEXEC | (flags & O_DIRECTORY));
}

long lookup_parent(int dir) {
    if (!is_share_handle(dir)) return -EBADF;
    struct stat st{};
    if (long r = call(h::NEWFSTATAT, dir, long(""), long(&st), AT_EMPTY_PATH); r < 0) return r;
    for (size_t i = 0; i < h::g_share_count; ++i)
        if (uint64_t(st.st_dev) == h::g_shares[i].dev && uint64_t(st.st_ino) == h::g_shares[i].ino) return -EPERM;
    return call(h::OPENAT, dir, long(".."), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

long create_file(int dir, std::string_view name, mode_t mode) {
    Component c;
    if (!c.set(name)) return -EINVAL;
    if (!is_share_handle(dir)) return -EBADF;
    return call(h::OPENAT, dir, c.arg(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode & 07777);
}

long reopen(int handle, int flags) {
    if (flags & ~(O_ACCMODE | O_DIRECTORY | O_PATH)) return -EINVAL;
    if (!is_share_handle(handle)) return -EBADF;
    // No O_NOFOLLOW: it would refuse the magic link itself. A symlink's handle fails with ELOOP.
    return call(h::OPENAT, h::g_proc_fd, FdName(handle).arg(), flags | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
}

long close(int handle) {
    if (!is_share_handle(handle)) return -EBADF;
    return hosted::host::call(h::CLOSE, handle);  // never retried: the descriptor is gone either way
}

long stat(int handle, struct stat* out) {
    if (!is_share_handle(handle)) return -EBADF;
    return call(h::NEWFSTATAT, handle, long(""), long(out), AT_EMPTY_PATH);
}

long statfs(int handle, struct statfs* out) {
    if (!is_share_handle(handle)) return -EBADF;
    return call(h::FSTATFS, handle, long(out));
}

long read(int io, void* buffer, size_t count, uint64_t offset) {
    if (!is_share_handle(io)) return -EBADF;
    return hosted::transfer(h::PREAD64, io, uintptr_t(buffer), count, offset, mm::FaultAccess::Write);
}

long write(int io, const void* data, size_t count, uint64_t offset) {
    if (!is_share_handle(io)) return -EBADF;
    return hosted::transfer(h::PWRITE64, io, uintptr_t(data), count, offset, mm::FaultAccess::Read);
}

long read_directory(int io, uint64_t cookie, void* buffer, size_t size) {
    if (!is_share_handle(io)) return -EBADF;
    // The seek and the read belong together: no other thread may move the position between.
    InterruptGuard guard;
    if (long r = call(h::LSEEK, io, long(cookie), SEEK_SET); r < 0) return r;
    return call(h::GETDENTS64, io, long(buffer), long(size));
}

long truncate(int io, uint64_t size) {
    if (!is_share_handle(io)) return -EBADF;
    return call(h::FTRUNCATE, io, long(size));
}

long allocate(int io, int mode, uint64_t offset, uint64_t length) {
    if (!is_share_handle(io)) return -EBADF;
    return call(h::FALLOCATE, io, mode, long(offset), long(length));
}

long sync(int io, bool data_only) {
    if (!is_share_handle(io)) return -EBADF;
    return call(data_only ? h::FDATASYNC : h::FSYNC, io);
}

long make_directory(int dir, std::string_view name, mode_t mode) {
    Component c;
    if (!c.set(name)) return -EINVAL;
    if (!is_share_handle(dir)) return -EBADF;
    return call(h::MKDIRAT, dir, c.arg(), mode & 07777);
}

long make_node(int dir, std::string_view name, mode_t mode, dev_t device) {
    Component c;
    if (!c.set(name)) return -EINVAL;
    if (!is_share_handle(dir)) return -EBADF;
    return call(h::MKNODAT, dir, c.arg(), mode & (S_IFMT | 07777), long(device));
}

long make_symlink(int dir, std::string_view name, std::string_view target) {
    Component c;
    if (!c.set(name)) return -EINVAL;
    if (!is_share_handle(dir)) return -EBADF;
    // The target is stored, never resolved by the host (libos resolves it in the guest).
    char text[h::PATH_MAX_BYTES];
    if (target.empty() || target.size() >= sizeof text || target.find('\0') != std::string_view::npos)
        return target.empty() ? -ENOENT : target.size() >= sizeof text ? -ENAMETOOLONG : -EINVAL;
    memcpy(text, target.data(), target.size());
    text[target.size()] = 0;
    return call(h::SYMLINKAT, long(text), dir, c.arg());
}

long read_link(int link, char* buffer, size_t size) {
    if (!is_share_handle(link)) return -EBADF;
    return call(h::READLINKAT, link, long(""), long(buffer), long(size));
}

long make_link(int file, int dir, std::string_view name) {
    Component c;
    if (!c.set(name)) return -EINVAL;
    if (!is_share_handle(file) || !is_share_handle(dir)) return -EBADF;
    return call(h::LINKAT, h::g_proc_fd, FdName(file).arg(), dir, c.arg(), AT_SYMLINK_FOLLOW);
}

long remove(int dir, std::string_view name, int flags) {
    Component c;
    if (!c.set(name) || (flags & ~AT_REMOVEDIR)) return -EINVAL;
    if (!is_share_handle(dir)) return -EBADF;
    return call(h::UNLINKAT, dir, c.arg(), flags);
}

long rename(int old_dir, std::string_view old_name, int new_dir, std::string_view new_name, unsigned flags) {
    Component from, to;
    if (!from.set(old_name) || !to.set(new_name) || (flags & ~unsigned(RENAME_NOREPLACE | RENAME_EXCHANGE)))
        return -EINVAL;
    if (!is_share_handle(old_dir) || !is_share_handle(new_dir)) return -EBADF;
    return call(h::RENAMEAT2, old_dir, from.arg(), new_dir, to.arg(), long(flags));
}

long get_attribute(int file, const char* name, void* buffer, size_t size) {
    if (!hosted::is_mapped_attribute(name)) return -EPERM;
    if (!is_share_handle(file)) return -EBADF;
    return call(h::GETXATTR, hosted::FdPath(file).arg(), long(name), long(buffer), long(size));
}

long set_attribute(int file, const char* name, const void* value, size_t size) {
    if (!hosted::is_mapped_attribute(name)) return -EPERM;
    if (!is_share_handle(file)) return -EBADF;
    return call(h::SETXATTR, hosted::FdPath(file).arg(), long(name), long(value), long(size), 0);
}

long chmod(int file, mode_t mode) {
    if (!is_share_handle(file)) return -EBADF;
    return call(h::FCHMODAT, h::g_proc_fd, FdName(file).arg(), mode & 07777);
}

long chown(int file, uid_t uid, gid_t gid) {
    if (!is_share_handle(file)) return -EBADF;
    long r = call(h::FCHOWNAT, file, long(""), long(int(uid)), long(int(gid)), AT_EMPTY_PATH);
    // EINVAL: an id the sandbox's user namespace does not map (only the user's own): as on a host
    // without the namespace, the user may not give the file away.
    return r == -EINVAL ? -EPERM : r;
}

long set_times(int file, const struct timespec times[2]) {
    if (!is_share_handle(file)) return -EBADF;
    struct stat st{};
    if (long r = call(h::NEWFSTATAT, file, long(""), long(&st), AT_EMPTY_PATH); r < 0) return r;
    // Through /proc/self/fd for files (any kernel); a symlink's own times with AT_EMPTY_PATH.
    if (S_ISLNK(st.st_mode))
        return call(h::UTIMENSAT, file, long(""), long(times), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    return call(h::UTIMENSAT, h::g_proc_fd, FdName(file).arg(), long(times), 0);
}

}  // namespace xos::platform::hostfs
