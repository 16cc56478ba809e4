// Starting a child process whose stdout xos-run reads.
#pragma once

#include "unique_fd.h"

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

// The program could not be executed; `error` is the errno from execvp.
struct SpawnError {
    int error;
};

struct Child {
    pid_t pid;
    UniqueFd stdout_read;
};

// Runs argv (argv[0] looked up in PATH like execvp) with stdin from `stdin_fd`, stdout into a
// new pipe, stderr shared, and the signal mask `child_mask`. The child is SIGKILLed if
// xos-run dies first. Throws SpawnError, or std::system_error if a system call fails.
Child spawn_with_stdout_pipe(const std::vector<std::string>& argv, int stdin_fd, const sigset_t& child_mask);
