#include "status_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr off_t kTailBytes = 64 * 1024;

std::string temp_dir() {
    const char* dir = std::getenv("TMPDIR");
    return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

}  // namespace

std::string StatusFile::dry_run_path() { return temp_dir() + "/xos-run-status"; }

StatusFile::StatusFile() {
    std::string path = temp_dir() + "/xos-run-status.XXXXXX";
    // No O_CLOEXEC: QEMU, the only child, inherits the descriptor.
    m_fd = ::mkstemp(path.data());
    if (m_fd < 0) throw std::runtime_error("cannot create status file in " + temp_dir() + ": " + std::strerror(errno));
    ::unlink(path.c_str());
}

StatusFile::~StatusFile() { ::close(m_fd); }

std::string StatusFile::path_for_child() const { return "/proc/self/fd/" + std::to_string(m_fd); }

std::string StatusFile::read_tail() const {
    struct stat st;
    if (::fstat(m_fd, &st) != 0) return {};
    off_t start = st.st_size > kTailBytes ? st.st_size - kTailBytes : 0;
    std::string data(static_cast<std::size_t>(st.st_size - start), '\0');
    ssize_t n = ::pread(m_fd, data.data(), data.size(), start);
    data.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    // A tail that starts mid-line would look like a truncated record.
    if (start > 0) {
        auto nl = data.find('\n');
        data.erase(0, nl == std::string::npos ? data.size() : nl + 1);
    }
    return data;
}
