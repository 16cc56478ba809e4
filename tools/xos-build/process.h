// Running child processes, temporary files and directories, command-line quoting.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace xos::driver {

// `argv` rendered so that a shell would run the same command.
std::string shell_quote(const std::vector<std::string>& argv);

// Prints `argv` to stderr (for --verbose).
void print_command(const std::vector<std::string>& argv);

// Starts argv[0] (a path, or a name looked up in PATH). When `stderr_path` is not empty the
// child's stderr goes to that file. Throws Error if the program cannot be started.
pid_t spawn(const std::vector<std::string>& argv, const std::string& stderr_path = {});

// Waits until one of `running` (not empty) ends; returns its pid and sets `succeeded` when it
// exited with status 0. Throws Interrupted if a termination signal arrived while waiting (all
// of `running` are terminated and reaped first).
pid_t wait_any(const std::vector<pid_t>& running, bool& succeeded);

// Sends SIGTERM to each of `running` and reaps them (for cleanup after an error).
void terminate_children(const std::vector<pid_t>& running);

// Runs argv to completion; true on success.
bool run(const std::vector<std::string>& argv, bool verbose);

// Runs argv to completion with its stderr collected into `stderr_text`; true on success.
bool run_capturing_stderr(const std::vector<std::string>& argv, std::string& stderr_text);

// Replaces this process with argv (for the compiler wrappers). Only returns by throwing.
[[noreturn]] void exec(const std::vector<std::string>& argv);

// Thrown when SIGINT/SIGTERM/SIGHUP arrived; main unwinds (cleaning up) and re-raises it.
struct Interrupted {
    int signal;
};

// Installs handlers that turn SIGINT/SIGTERM/SIGHUP into Interrupted at the next wait.
void install_interrupt_handlers();
// Whether a signal arrived; check_interrupted() throws Interrupted then.
bool interrupted();
void check_interrupted();
// Re-raises a signal with its default action (so the parent sees us killed by it).
[[noreturn]] void reraise(int signal);

// A private directory removed with everything in it when this object goes away.
class TempDir {
public:
    explicit TempDir(const std::string& prefix);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};

// A path next to `final_path` that is written first and renamed over `final_path` by commit();
// unlinked on destruction otherwise, so the final file is never left half-written. When
// `final_path` exists and is not a regular file (`-o /dev/null` in a Makefile's probe, a FIFO),
// the temporary file is in $TMPDIR and commit() copies it into `final_path` as a compiler
// writing there would: renaming over /dev/null as root would replace the device with a file.
class PendingFile {
public:
    explicit PendingFile(const std::string& final_path);
    ~PendingFile();
    PendingFile(const PendingFile&) = delete;
    PendingFile& operator=(const PendingFile&) = delete;
    const std::string& path() const { return m_temp_path; }
    void commit();

private:
    std::string m_final_path;
    std::string m_temp_path;
    bool m_into_existing{false};
    bool m_committed{false};
};

// Online CPUs (at least 1).
unsigned cpu_count();

// Copies a file to stderr (for diagnostics captured from parallel compiles).
void copy_to_stderr(const std::string& path);

bool file_exists(const std::string& path);
bool directory_exists(const std::string& path);

// The directory holding the running executable (from /proc/self/exe).
std::string executable_dir();

}  // namespace xos::driver
