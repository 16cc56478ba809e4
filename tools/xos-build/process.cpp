#include "process.h"

#include "toolchain.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace xos::driver {

namespace {

volatile std::sig_atomic_t g_pending_signal = 0;

void on_signal(int signal) { g_pending_signal = signal; }

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
    std::vector<char*> result;
    result.reserve(argv.size() + 1);
    for (const auto& arg : argv) result.push_back(const_cast<char*>(arg.c_str()));
    result.push_back(nullptr);
    return result;
}

std::string errno_text(int error) { return std::strerror(error); }

}  // namespace

std::string shell_quote(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& arg : argv) {
        if (!out.empty()) out += ' ';
        bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./=:,+@%", c);
        });
        if (plain) {
            out += arg;
            continue;
        }
        out += '\'';
        for (char c : arg) {
            if (c == '\'')
                out += "'\\''";
            else
                out += c;
        }
        out += '\'';
    }
    return out;
}

void print_command(const std::vector<std::string>& argv) { std::cerr << shell_quote(argv) << std::endl; }

pid_t spawn(const std::vector<std::string>& argv, const std::string& stderr_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!stderr_path.empty())
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
    auto args = c_argv(argv);
    pid_t pid = 0;
    int error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) throw Error("cannot run " + argv[0] + ": " + errno_text(error));
    return pid;
}

pid_t wait_any(const std::vector<pid_t>& running, bool& succeeded) {
    for (;;) {
        if (g_pending_signal != 0) {
            terminate_children(running);
            throw Interrupted{g_pending_signal};
        }
        int status = 0;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            throw Error("waitpid: " + errno_text(errno));
        }
        if (std::find(running.begin(), running.end(), pid) == running.end())
            continue;  // not one of ours (cannot happen: we start no other children)
        succeeded = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        return pid;
    }
}

void terminate_children(const std::vector<pid_t>& running) {
    for (pid_t pid : running) kill(pid, SIGTERM);
    for (pid_t pid : running) {
        int ignored = 0;
        while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {}
    }
}

bool run(const std::vector<std::string>& argv, bool verbose) {
    check_interrupted();
    if (verbose) print_command(argv);
    pid_t pid = spawn(argv);
    bool succeeded = false;
    wait_any({pid}, succeeded);
    return succeeded;
}

bool run_capturing_stderr(const std::vector<std::string>& argv, std::string& stderr_text) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error("pipe: " + errno_text(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    auto args = c_argv(argv);
    pid_t pid = 0;
    int error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (error != 0) {
        close(fds[0]);
        throw Error("cannot run " + argv[0] + ": " + errno_text(error));
    }
    char buffer[4096];
    for (;;) {
        ssize_t n = read(fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        stderr_text.append(buffer, static_cast<size_t>(n));
    }
    close(fds[0]);
    bool succeeded = false;
    wait_any({pid}, succeeded);
    return succeeded;
}

void exec(const std::vector<std::string>& argv) {
    auto args = c_argv(argv);
    execvp(args[0], args.data());
    throw Error("cannot run " + argv[0] + ": " + errno_text(errno));
}

void install_interrupt_handlers() {
    struct sigaction action{};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: waitpid returns EINTR so we notice
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &action, nullptr);
}

bool interrupted() { return g_pending_signal != 0; }

void check_interrupted() {
    if (g_pending_signal != 0) throw Interrupted{g_pending_signal};
}

void reraise(int signal) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    std::_Exit(128 + signal);
}

TempDir::TempDir(const std::string& prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + prefix + ".XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (!mkdtemp(buffer.data()))
        throw Error("cannot create a temporary directory " + pattern + ": " + errno_text(errno));
    m_path = buffer.data();
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
}

PendingFile::PendingFile(const std::string& final_path) : m_final_path(final_path) {
    std::filesystem::path path(final_path);
    auto name = "." + path.filename().string() + ".tmp." + std::to_string(getpid());
    struct stat st;
    m_into_existing = stat(final_path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
    if (m_into_existing) {
        const char* base = std::getenv("TMPDIR");
        m_temp_path = std::string(base && *base ? base : "/tmp") + "/xos-output" + name;
    } else {
        m_temp_path = (path.parent_path() / name).string();
    }
}

PendingFile::~PendingFile() {
    if (!m_committed || m_into_existing) unlink(m_temp_path.c_str());
}

void PendingFile::commit() {
    if (m_into_existing) {
        int in = open(m_temp_path.c_str(), O_RDONLY | O_CLOEXEC);
        if (in < 0) throw Error("cannot open " + m_temp_path + ": " + errno_text(errno));
        int out = open(m_final_path.c_str(), O_WRONLY | O_CLOEXEC);
        if (out < 0) {
            int error = errno;
            close(in);
            throw Error("cannot open " + m_final_path + " for writing: " + errno_text(error));
        }
        char buffer[65536];
        for (;;) {
            ssize_t n = read(in, buffer, sizeof buffer);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                int error = errno;
                close(in);
                close(out);
                throw Error("cannot read " + m_temp_path + ": " + errno_text(error));
            }
            if (n == 0) break;
            for (ssize_t done = 0; done < n;) {
                ssize_t w = write(out, buffer + done, static_cast<size_t>(n - done));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                    int error = w < 0 ? errno : EIO;
                    close(in);
                    close(out);
                    throw Error("cannot write " + m_final_path + ": " + errno_text(error));
                }
                done += w;
            }
        }
        close(in);
        if (close(out) != 0) throw Error("cannot write " + m_final_path + ": " + errno_text(errno));
        m_committed = true;
        return;
    }
    if (rename(m_temp_path.c_str(), m_final_path.c_str()) != 0)
        throw Error("cannot rename " + m_temp_path + " to " + m_final_path + ": " + errno_text(errno));
    m_committed = true;
}

unsigned cpu_count() {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<unsigned>(n) : 1u;
}

void copy_to_stderr(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    std::cerr.flush();
    char buffer[8192];
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(STDERR_FILENO, buffer + done, static_cast<size_t>(n - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            done += w;
        }
    }
    close(fd);
}

bool file_exists(const std::string& path) {
    struct stat st{};
    return stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

bool directory_exists(const std::string& path) {
    struct stat st{};
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string executable_dir() {
    std::error_code error;
    auto self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) return {};
    return self.parent_path().string();
}

}  // namespace xos::driver
