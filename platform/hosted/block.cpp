// Disks on hosted (xos/block.h): host files or host block devices named by XOS_DISK_<n>=PATH[:ro]
// (xos-run --disk), each opened at start-up, before the seccomp filter goes on (O_RDWR, or
// O_RDONLY with :ro), and served by pread64/pwrite64/fdatasync on that descriptor; the filter
// allows those three on exactly these descriptors (seccomp.cpp). The disk's size is the file's
// (a block device's) size at start, rounded down to whole 512-byte sectors. Disks are listed
// in the order of <n>, which libos makes /dev/vda, /dev/vdb, ...
#include "xos/block.h"

#include "hosted/host.h"  // before <errno.h>: it names its own EINTR

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>

namespace xos::hosted {

namespace {

using enum host::Syscall;  // the host syscall numbers (host.h)
using host::AT_FDCWD_VALUE;
constexpr size_t MAX_DISKS = 16;
constexpr size_t SECTOR = platform::BlockDevice::SECTOR_SIZE;

long call(host::Syscall number, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0) {
    for (;;) {
        long r = host::call(number, a1, a2, a3, a4);
        if (r != -EINTR) return r;  // the platform's signals do not use SA_RESTART
    }
}

class HostDisk final : public platform::BlockDevice {
public:
    void init(int fd, uint64_t sectors, bool read_only, const char* kind, const char* path) {
        m_fd = fd;
        m_sectors = sectors;
        m_read_only = read_only;
        snprintf(m_name, sizeof m_name, "host %s %s", kind, path);
    }
    int fd() const { return m_fd; }

    const char* name() const override { return m_name; }
    uint64_t sector_count() const override { return m_sectors; }
    bool read_only() const override { return m_read_only; }

    long read(uint64_t sector, void* buffer, size_t count) override {
        if (sector > m_sectors || count > m_sectors - sector) return -EINVAL;
        auto* out = static_cast<char*>(buffer);
        size_t total = count * SECTOR, done = 0;
        while (done < total) {
            long n = call(PREAD64, m_fd, long(out + done), long(total - done), long(sector * SECTOR + done));
            if (n < 0) return n;
            if (n == 0) {  // the file shrank on the host since the start: reads as zeros
                memset(out + done, 0, total - done);
                break;
            }
            done += size_t(n);
        }
        return 0;
    }

    long write(uint64_t sector, const void* data, size_t count) override {
        if (m_read_only) return -EROFS;
        if (sector > m_sectors || count > m_sectors - sector) return -EINVAL;
        auto* in = static_cast<const char*>(data);
        size_t total = count * SECTOR, done = 0;
        while (done < total) {
            long n = call(PWRITE64, m_fd, long(in + done), long(total - done), long(sector * SECTOR + done));
            if (n < 0) return n;
            if (n == 0) return -EIO;
            done += size_t(n);
        }
        return 0;
    }

    long flush() override {
        if (m_read_only) return 0;
        return call(FDATASYNC, m_fd);
    }

private:
    int m_fd = -1;
    uint64_t m_sectors = 0;
    bool m_read_only = false;
    char m_name[128] = {};
};

struct Entry {
    unsigned long number = 0;  // the <n> of XOS_DISK_<n>
    HostDisk disk;
};
constinit Entry g_entries[MAX_DISKS];  // in the order of the environment
platform::BlockDevice* g_list[MAX_DISKS];  // sorted by <n>
unsigned long g_numbers[MAX_DISKS];  // g_list's <n>
size_t g_count;

}  // namespace

// XOS_DISK_<n>=PATH[:ro] (start.cpp), before the seccomp filter.
void add_disk(const char* variable, const char* value) {
    const char* digits = variable + strlen("XOS_DISK_");
    unsigned long number = 0;
    const char* p = digits;
    for (; *p >= '0' && *p <= '9' && p - digits < 9; ++p) number = number * 10 + unsigned(*p - '0');
    if (p == digits || *p != '=') setup_failed("XOS_DISK_<n>: <n> must be a number (XOS_DISK_0=PATH[:ro])", 0);
    if (g_count == MAX_DISKS) setup_failed("more than 16 XOS_DISK_<n> disks", 0);
    for (size_t i = 0; i < g_count; ++i)
        if (g_entries[i].number == number) setup_failed("XOS_DISK_<n>: the same <n> twice", 0);

    static char path[4096];
    size_t length = strlen(value);
    bool read_only = length > 3 && strcmp(value + length - 3, ":ro") == 0;
    if (read_only) length -= 3;
    if (length == 0 || length >= sizeof path) setup_failed("XOS_DISK_<n>: expected PATH or PATH:ro", 0);
    memcpy(path, value, length);
    path[length] = 0;

    long fd = call(OPENAT, AT_FDCWD_VALUE, long(path), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        char what[4200];
        snprintf(what, sizeof what, "cannot open the disk %s%s", path,
                 fd == -EACCES || fd == -EROFS ? " for writing (add :ro for a read-only disk)" : "");
        setup_failed(what, fd);
    }
    fd = place_fd(fd, host::FD_FIRST_DISK + int(g_count), "cannot move a disk to its descriptor number");
    struct stat st;
    long r = call(NEWFSTATAT, fd, long(""), long(&st), AT_EMPTY_PATH);
    if (r < 0) setup_failed("stat of a disk failed", r);
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        char what[4200];
        snprintf(what, sizeof what, "the disk %s is not a regular file or a block device", path);
        setup_failed(what, 0);
    }
    long size = call(LSEEK, fd, 0, SEEK_END);  // a block device's st_size is 0
    if (size < 0) setup_failed("cannot find the size of a disk", size);

    Entry& entry = g_entries[g_count];
    entry.number = number;
    entry.disk.init(int(fd), uint64_t(size) / SECTOR, read_only, S_ISBLK(st.st_mode) ? "block device" : "file", path);
    // The list stays sorted by <n>.
    size_t at = g_count++;
    for (; at > 0 && g_numbers[at - 1] > number; --at) {
        g_list[at] = g_list[at - 1];
        g_numbers[at] = g_numbers[at - 1];
    }
    g_list[at] = &entry.disk;
    g_numbers[at] = number;
}

size_t disk_count() { return g_count; }
int disk_fd(size_t index) { return g_entries[index].disk.fd(); }

}  // namespace xos::hosted

namespace xos::platform {

std::span<BlockDevice* const> host_block_devices() { return {hosted::g_list, hosted::g_count}; }

}  // namespace xos::platform
