#include "executable_root.h"

#include "elf_closure.h"
#include "generic_kernel.h"
#include "image_check.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
namespace closure = xos::elf_closure;

namespace {

// `name` looked up in $PATH as execvp would: the first executable regular file.
std::optional<std::string> find_in_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        std::size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        std::string dir = dirs.substr(start, end - start);
        start = end + 1;
        if (dir.empty()) continue;
        std::string candidate = dir + "/" + name;
        struct stat st;
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
            return fs::absolute(candidate).lexically_normal().string();
    }
    return std::nullopt;
}

// Blocks until `pipe_read` reaches end of file (every write end closed: xos-run is gone), then
// removes `dir`. In its own session, deaf to the terminal's signals.
[[noreturn]] void reap_when_closed(int pipe_read, const std::string& dir) {
    ::setsid();
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) ::signal(signal, SIG_IGN);
    ::dup2(pipe_read, 0);
    ::close_range(1, ~0U, 0);
    for (char byte;;)
        if (::read(0, &byte, 1) >= 0 || errno != EINTR) break;
    std::error_code error;
    fs::remove_all(dir, error);
    ::_exit(0);
}

}  // namespace

std::optional<std::string> program_instead_of_image(const std::string& image) {
    struct stat st;
    if (::stat(image.c_str(), &st) != 0) {
        if (image.find('/') == std::string::npos)
            if (auto found = find_in_path(image)) return found;
        throw ProgramError(image + ": no such file (neither an xos image nor a program in PATH)", 127);
    }
    try {
        check_xos_image(image);
        return std::nullopt;
    } catch (const UsageError&) {
        // Not an xos image: a program (the collector says why if it cannot run).
    }
    if (S_ISDIR(st.st_mode)) throw ProgramError(image + ": is a directory", 126);
    return fs::absolute(image).lexically_normal().string();
}

TemporaryRoot::TemporaryRoot(const std::string& program, bool verbose) {
    closure::Closure files;
    try {
        files = closure::collect("/", program);
        for (const auto& path : closure::kEtcFiles) closure::add_optional("/", path, files);
    } catch (const closure::ClosureError& error) {
        bool missing = std::strstr(error.what(), ": no such file") != nullptr;
        throw ProgramError(error.what(), missing ? 127 : 126);
    }
    const char* tmpdir = std::getenv("TMPDIR");
    std::string pattern = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/xos-run-root.XXXXXX";
    if (!::mkdtemp(pattern.data()))
        throw UsageError("cannot create a temporary root from " + pattern + ": " + std::strerror(errno));
    m_path = pattern;
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        fs::remove_all(m_path);
        throw UsageError(std::string("pipe: ") + std::strerror(errno));
    }
    std::fflush(nullptr);
    m_reaper = ::fork();
    if (m_reaper == 0) reap_when_closed(pipe_fds[0], m_path);
    ::close(pipe_fds[0]);
    m_reaper_pipe = pipe_fds[1];
    if (m_reaper < 0) {
        ::close(m_reaper_pipe);
        fs::remove_all(m_path);
        throw UsageError(std::string("fork: ") + std::strerror(errno));
    }
    try {
        closure::materialize("/", files, m_path, closure::CopyMode::HardLinkOrCopy);
    } catch (const closure::ClosureError& error) {
        throw UsageError(std::string("collecting ") + program + ": " + error.what());
    }
    if (verbose)
        std::fprintf(stderr, "xos-run: %s: %zu files and links (interpreter %s, %zu libraries) in %s\n",
                     program.c_str(), files.entries.size(),
                     files.interpreter.empty() ? "none" : files.interpreter.c_str(), files.libraries.size(),
                     m_path.c_str());
}

TemporaryRoot::~TemporaryRoot() {
    std::error_code error;
    fs::remove_all(m_path, error);
    if (m_reaper_pipe >= 0) ::close(m_reaper_pipe);
    if (m_reaper > 0)
        while (::waitpid(m_reaper, nullptr, 0) < 0 && errno == EINTR) {}
}

void apply_program(Options& opts, const std::string& program, const TemporaryRoot& root) {
    opts.rootfs = root.path();
    opts.app_args.insert(opts.app_args.begin(), program);
    // --share needs nothing more: libos moves every share into the program's root at its path
    // (xos.root=, libos/fs/boot.cpp).
}
