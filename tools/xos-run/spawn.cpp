#include "spawn.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <system_error>

namespace {

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

void make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
}

// Child side of fork(): only async-signal-safe calls until exec.
[[noreturn]] void exec_child(char* const* argv, int stdin_fd, int stdout_fd, int error_fd, pid_t parent,
                             const sigset_t& child_mask) {
    // The child must not outlive xos-run, even if xos-run is SIGKILLed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(stdin_fd, STDIN_FILENO);
    ::dup2(stdout_fd, STDOUT_FILENO);
    // Ignored signals and the blocked mask survive exec; the child gets them as we found them.
    ::signal(SIGPIPE, SIG_DFL);
    ::sigprocmask(SIG_SETMASK, &child_mask, nullptr);
    ::execvp(argv[0], argv);
    int err = errno;
    ssize_t ignored = ::write(error_fd, &err, sizeof err);
    (void)ignored;
    ::_exit(127);
}

}  // namespace

Child spawn_with_stdout_pipe(const std::vector<std::string>& argv, int stdin_fd, const sigset_t& child_mask) {
    std::vector<char*> c_argv;
    for (const auto& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
    c_argv.push_back(nullptr);

    UniqueFd stdout_read, stdout_write, error_read, error_write;
    make_pipe(stdout_read, stdout_write);
    // exec closes the CLOEXEC write end on success; on failure the child writes errno to it.
    make_pipe(error_read, error_write);

    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid == 0) exec_child(c_argv.data(), stdin_fd, stdout_write.get(), error_write.get(), parent, child_mask);
    stdout_write.reset();
    error_write.reset();

    int exec_errno = 0;
    ssize_t n;
    do {
        n = ::read(error_read.get(), &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    if (n == sizeof exec_errno) {
        ::waitpid(pid, nullptr, 0);
        throw SpawnError{exec_errno};
    }
    return {pid, std::move(stdout_read)};
}
