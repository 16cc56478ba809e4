// Processes on xos and on Linux: the same program prints the same lines on both (see
// run_processes_test.py). fork/exec/wait, posix_spawn, pipes, signals between processes, exit
// statuses, zombies and reaping, stop/continue, process groups, CLOEXEC, `#!` scripts, errors.
// Nothing printed depends on pids or timing.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;
static const char* self_path = "/bin/procs";

static void describe(const char* what, int status) {
    if (WIFEXITED(status))
        printf("%s: exited %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", what, WTERMSIG(status));
    else if (WIFSTOPPED(status))
        printf("%s: stopped by signal %d\n", what, WSTOPSIG(status));
    else if (WIFCONTINUED(status))
        printf("%s: continued\n", what);
    else
        printf("%s: status %#x\n", what, status);
    fflush(stdout);
}

static int wait_for(pid_t pid, const char* what) {
    int status = 0;
    pid_t got = waitpid(pid, &status, 0);
    if (got != pid) {
        printf("%s: waitpid returned %d (%s)\n", what, (int)got, strerror(errno));
        return -1;
    }
    describe(what, status);
    return status;
}

static void errno_line(const char* what, long result) {
    printf("%s: %s\n", what, result < 0 ? strerrorname_np(errno) : "ok");
}

// --- modes run as exec'd children ------------------------------------------------------------

static int child_echo(int argc, char** argv) {
    printf("child-echo argc=%d", argc);
    for (int i = 1; i < argc; ++i) printf(" [%s]", argv[i]);
    printf(" ppid-is-parent=%d\n", getppid() == atoi(getenv("PROCS_PARENT") ? getenv("PROCS_PARENT") : "0"));
    return 4;
}

static int child_upper(void) {
    char buffer[256];
    ssize_t n;
    while ((n = read(0, buffer, sizeof buffer)) > 0) {
        for (ssize_t i = 0; i < n; ++i)
            if (buffer[i] >= 'a' && buffer[i] <= 'z') buffer[i] -= 32;
        if (write(1, buffer, n) != n) return 1;
    }
    return 0;
}

static int child_fds(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
        int fd = atoi(argv[i]);
        printf("fd %s: %s\n", argv[i], fcntl(fd, F_GETFD) < 0 ? "closed" : "open");
    }
    return 0;
}

static int interpreter(int argc, char** argv) {
    // Run as a `#!` interpreter: argv[0] is the interpreter's path, then the optional argument,
    // the script's path and the script's arguments.
    printf("interpreter argc=%d", argc);
    for (int i = 1; i < argc; ++i) printf(" [%s]", argv[i]);
    printf("\n");
    return 0;
}

// --- cases ---------------------------------------------------------------------------------

static void fork_and_wait(void) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) _exit(getppid() == parent ? 3 : 99);
    wait_for(pid, "fork, child exits 3 (99 if getppid is wrong)");
    int value = 1;
    pid = fork();
    if (pid == 0) {
        value = 2;  // the parent's copy stays 1
        _exit(value);
    }
    wait_for(pid, "fork, child writes its copy");
    printf("parent's copy after the child wrote: %d\n", value);
}

static void exit_statuses(void) {
    int signals[] = {SIGTERM, SIGKILL, SIGUSR1, SIGSEGV, SIGABRT};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; ++i) {
        pid_t pid = fork();
        if (pid == 0) {
            if (signals[i] == SIGABRT) abort();
            kill(getpid(), signals[i]);
            _exit(100);
        }
        char what[64];
        snprintf(what, sizeof what, "child sends itself %s", sigabbrev_np(signals[i]));
        int status;
        waitpid(pid, &status, 0);
        // A core dump flag depends on the host's core settings: leave it out.
        if (WIFSIGNALED(status))
            printf("%s: killed by signal %d\n", what, WTERMSIG(status));
        else
            describe(what, status);
    }
    pid_t pid = fork();
    if (pid == 0) exit(256 + 7);
    wait_for(pid, "exit(263)");
}

static void exec_child(void) {
    char parent[32];
    snprintf(parent, sizeof parent, "PROCS_PARENT=%d", (int)getpid());
    pid_t pid = fork();
    if (pid == 0) {
        char* argv[] = {"procs", "child-echo", "a b", "", "c", NULL};
        char* envp[] = {parent, NULL};
        execve(self_path, argv, envp);
        _exit(127);
    }
    wait_for(pid, "fork + execve");
    pid = vfork();
    if (pid == 0) {
        char* argv[] = {"procs", "child-echo", "from vfork", NULL};
        char* envp[] = {parent, NULL};
        execve(self_path, argv, envp);
        _exit(127);
    }
    wait_for(pid, "vfork + execve");
    pid = vfork();
    if (pid == 0) _exit(5);
    wait_for(pid, "vfork + _exit(5)");
}

static void spawn(void) {
    char parent[32];
    snprintf(parent, sizeof parent, "PROCS_PARENT=%d", (int)getpid());
    char* argv[] = {"procs", "child-echo", "spawned", NULL};
    char* envp[] = {parent, NULL};
    pid_t pid;
    int error = posix_spawn(&pid, self_path, NULL, NULL, argv, envp);
    if (!error) wait_for(pid, "posix_spawn child");
    printf("posix_spawn: %s\n", error ? strerrorname_np(error) : "ok");
    error = posix_spawn(&pid, "/bin/missing", NULL, NULL, argv, envp);
    printf("posix_spawn of a missing file: %s\n", error ? strerrorname_np(error) : "ok");
    if (!error) wait_for(pid, "posix_spawn of a missing file");
    // File actions: the child's stdout into a pipe.
    int fds[2];
    pipe(fds);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    char* argv2[] = {"procs", "child-echo", "into a pipe", NULL};
    error = posix_spawn(&pid, self_path, &actions, NULL, argv2, envp);
    close(fds[1]);
    char buffer[256] = {0};
    ssize_t total = 0, n;
    while ((n = read(fds[0], buffer + total, sizeof buffer - 1 - total)) > 0) total += n;
    close(fds[0]);
    printf("posix_spawn with file actions: %s, read: %s", error ? strerrorname_np(error) : "ok", buffer);
    if (!error) wait_for(pid, "posix_spawn with file actions");
    posix_spawn_file_actions_destroy(&actions);
}

static void pipes(void) {
    int fds[2];
    pipe(fds);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        char block[4096];
        for (int i = 0; i < 64; ++i) {
            memset(block, 'a' + i % 26, sizeof block);
            if (write(fds[1], block, sizeof block) != sizeof block) _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    char buffer[1000];
    long total = 0, sum = 0;
    ssize_t n;
    while ((n = read(fds[0], buffer, sizeof buffer)) > 0) {
        total += n;
        for (ssize_t i = 0; i < n; ++i) sum += buffer[i];
    }
    close(fds[0]);
    printf("pipe from a child: %ld bytes, sum %ld, then end of file\n", total, sum);
    wait_for(pid, "pipe writer");

    // A pipeline: this process | procs child-upper | this process.
    int in[2], out[2];
    pipe(in);
    pipe(out);
    pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        char* argv[] = {"procs", "child-upper", NULL};
        execve(self_path, argv, environ);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    const char* text = "a pipeline through an exec'd filter\n";
    write(in[1], text, strlen(text));
    close(in[1]);
    char result[128] = {0};
    total = 0;
    while ((n = read(out[0], result + total, sizeof result - 1 - total)) > 0) total += n;
    close(out[0]);
    printf("filter: %s", result);
    wait_for(pid, "filter");
}

static volatile sig_atomic_t got_signal;
static void on_signal(int signal) { got_signal = signal; }

static void signals(void) {
    int ready[2];
    pipe(ready);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGUSR1, on_signal);
        write(ready[1], "r", 1);
        while (!got_signal) pause();
        _exit(got_signal == SIGUSR1 ? 11 : 12);
    }
    char c;
    read(ready[0], &c, 1);
    kill(pid, SIGUSR1);
    wait_for(pid, "child pausing for SIGUSR1 (11: its handler ran)");

    int never[2];
    pipe(never);
    pid = fork();
    if (pid == 0) {
        write(ready[1], "r", 1);
        read(never[0], &c, 1);  // blocks: nobody writes
        _exit(0);
    }
    read(ready[0], &c, 1);
    kill(pid, SIGTERM);
    wait_for(pid, "child blocked in read, sent SIGTERM");
    close(never[0]);
    close(never[1]);

    // A child signals its parent, which waits in sigsuspend.
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, &old);
    signal(SIGUSR2, on_signal);
    got_signal = 0;
    pid = fork();
    if (pid == 0) {
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    while (got_signal != SIGUSR2) sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("parent got SIGUSR2 from its child in sigsuspend\n");
    wait_for(pid, "child that signalled its parent");

    // SIGCHLD arrives when a child exits.
    signal(SIGCHLD, on_signal);
    got_signal = 0;
    sigprocmask(SIG_BLOCK, &(sigset_t){0}, &old);
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid = fork();
    if (pid == 0) _exit(0);
    while (got_signal != SIGCHLD) sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("SIGCHLD handler ran\n");
    wait_for(pid, "child whose exit raised SIGCHLD");
    signal(SIGCHLD, SIG_DFL);
    close(ready[0]);
    close(ready[1]);
}

static void zombies(void) {
    int fds[2];
    pipe(fds);
    pid_t pid = fork();
    if (pid == 0) _exit(6);
    // Until it is reaped the child is a zombie: it still exists for kill(pid, 0).
    int status;
    siginfo_t info = {0};
    errno_line("waitid WEXITED|WNOWAIT", waitid(P_PID, pid, &info, WEXITED | WNOWAIT));
    printf("waitid: si_code %s, si_status %d, si_pid is the child: %d\n",
           info.si_code == CLD_EXITED ? "CLD_EXITED" : "other", info.si_status, info.si_pid == pid);
    printf("zombie: kill(pid, 0) %s\n", kill(pid, 0) == 0 ? "succeeds" : strerrorname_np(errno));
    printf("zombie: waitpid WNOHANG reaps it: %s\n", waitpid(pid, &status, WNOHANG) == pid ? "yes" : "no");
    describe("zombie", status);
    errno_line("reaped: kill(pid, 0)", kill(pid, 0));
    errno_line("reaped: waitpid again", waitpid(pid, &status, 0));
    close(fds[0]);
    close(fds[1]);

    // SIGCHLD ignored: children are reaped at once; wait waits for them, then ECHILD.
    signal(SIGCHLD, SIG_IGN);
    pid = fork();
    if (pid == 0) _exit(0);
    errno_line("SIGCHLD ignored: waitpid", waitpid(pid, &status, 0));
    signal(SIGCHLD, SIG_DFL);

    // An orphan is adopted by PID 1... or by a subreaper: only its continuing to run is shown.
    int ready[2];
    pipe(ready);
    pid = fork();
    if (pid == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            char c;
            read(ready[0], &c, 1);  // runs on after its parent exited
            write(ready[1], "g", 1);
            _exit(0);
        }
        _exit(0);
    }
    wait_for(pid, "parent of an orphan");
    write(ready[1], "p", 1);
    usleep(1000);
    char c = 0;
    while (read(ready[0], &c, 1) == 1 && c != 'g') write(ready[1], &c, 1);
    printf("orphan ran after its parent exited: %c\n", c);
    close(ready[0]);
    close(ready[1]);
}

static void stop_and_continue(void) {
    int go[2];
    pipe(go);
    pid_t pid = fork();
    if (pid == 0) {
        raise(SIGSTOP);
        char c;
        read(go[0], &c, 1);  // exits only once the parent has seen it continue
        _exit(8);
    }
    int status;
    waitpid(pid, &status, WUNTRACED);
    describe("WUNTRACED", status);
    kill(pid, SIGCONT);
    waitpid(pid, &status, WCONTINUED);
    describe("WCONTINUED", status);
    write(go[1], "g", 1);
    wait_for(pid, "continued child");
    close(go[0]);
    close(go[1]);
}

static void groups(void) {
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int leader = getpgrp() == getpid();
        pid_t member = fork();
        if (member == 0) {
            pause();
            _exit(0);
        }
        kill(-getpgrp(), SIGTERM);  // the group: the member and this process
        _exit(leader ? 0 : 1);
    }
    wait_for(pid, "group leader signalling its group");
    pid = fork();
    if (pid == 0) {
        pid_t sid = setsid();
        _exit(sid == getpid() && getsid(0) == getpid() && getpgrp() == getpid() ? 0 : 1);
    }
    wait_for(pid, "setsid in a child (0: new session and group)");
    errno_line("setsid as a group leader", setpgid(0, 0) == 0 ? setsid() : -1);
    errno_line("getpgid of a missing process", getpgid(999999));
    errno_line("getsid of a missing process", getsid(999999));
}

static void cloexec(void) {
    int kept = open("/bin/procs", O_RDONLY);
    int closed = open("/bin/procs", O_RDONLY | O_CLOEXEC);
    int dup_closed = fcntl(kept, F_DUPFD_CLOEXEC, 20);
    pid_t pid = fork();
    if (pid == 0) {
        char a[16], b[16], d[16];
        snprintf(a, sizeof a, "%d", kept);
        snprintf(b, sizeof b, "%d", closed);
        snprintf(d, sizeof d, "%d", dup_closed);
        char* argv[] = {"procs", "child-fds", a, b, d, NULL};
        execve(self_path, argv, environ);
        _exit(127);
    }
    wait_for(pid, "child-fds");
    close(kept), close(closed), close(dup_closed);
}

static void scripts(void) {
    // Made by run_processes_test.py in the root (it may be read-only): see SCRIPTS there.
    const char* files[] = {"/scripts/with-argument",  "/scripts/plain", "/scripts/missing-interpreter",
                           "/scripts/not-executable", "/scripts/text",  "/scripts/nested"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; ++i) {
        pid_t pid = fork();
        if (pid == 0) {
            char* argv[] = {(char*)files[i], "one", "two", NULL};
            execve(files[i], argv, environ);
            printf("execve %s: %s\n", files[i], strerrorname_np(errno));
            fflush(stdout);
            _exit(126);
        }
        wait_for(pid, files[i]);
    }
}

static void errors(void) {
    int status;
    errno_line("waitpid with no children", waitpid(-1, &status, 0));
    errno_line("waitpid WNOHANG with no children", waitpid(-1, &status, WNOHANG));
    errno_line("kill of a missing process", kill(999999, 0));
    errno_line("kill of a missing group", kill(-999999, SIGTERM));
    errno_line("kill with a bad signal", kill(getpid(), 999));
    errno_line("execve of a missing file", execve("/bin/missing", (char*[]){"x", NULL}, environ));
    errno_line("execve of a directory", execve("/bin", (char*[]){"x", NULL}, environ));
    errno_line("waitid without WEXITED", waitid(P_ALL, 0, &(siginfo_t){0}, WNOHANG));
}

static int nproc(void) {
    // RLIMIT_NPROC: fork fails with EAGAIN once the limit is reached. Root is exempt (Linux and
    // xos), so the mode runs as nobody: natively started so, on xos it becomes nobody here.
    if (getuid() == 0 && setuid(65534) < 0) printf("setuid: %s\n", strerrorname_np(errno));
    struct rlimit limit = {1, 1};
    if (setrlimit(RLIMIT_NPROC, &limit) < 0) printf("setrlimit: %s\n", strerrorname_np(errno));
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    printf("fork at RLIMIT_NPROC: %s\n", pid < 0 ? strerrorname_np(errno) : "ok");
    if (pid > 0) waitpid(pid, NULL, 0);
    return 0;
}

// The sigaltstack: a fork child inherits it, execve clears it (as Linux).
static int child_altstack(void) {
    stack_t s;
    sigaltstack(NULL, &s);
    printf("after exec: altstack %s, size %zu\n", s.ss_flags == SS_DISABLE ? "disabled" : "enabled", s.ss_size);
    return 0;
}

static void altstack(void) {
    static char stack[65536];
    stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        stack_t s;
        sigaltstack(NULL, &s);
        printf("fork child: altstack size %zu, same stack %d\n", s.ss_size, s.ss_sp == stack);
        fflush(stdout);
        execl(self_path, "procs", "child-altstack", (char*)NULL);
        _exit(127);
    }
    wait_for(pid, "altstack child");
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
}

// --- execve from a multithreaded process, execveat, /proc ---------------------------------------

// Exec'd by the thread cases: the process that exec'd (PROCS_PID) is this one, single-threaded,
// with the pid as thread id.
static int child_after_threads(void) {
    const char* expected = getenv("PROCS_PID");
    int threads = -1;
    FILE* status = fopen("/proc/self/status", "r");
    char line[256];
    while (status && fgets(line, sizeof line, status))
        if (strncmp(line, "Threads:", 8) == 0) threads = atoi(line + 8);
    if (status) fclose(status);
    printf("after exec: same pid %d, tid is the pid %d, threads %d\n", expected && atoi(expected) == getpid(),
           (pid_t)syscall(SYS_gettid) == getpid(), threads);
    return 0;
}

static int block_pipe[2];

static void* blocked_thread(void* arg) {
    (void)arg;
    char c;
    read(block_pipe[0], &c, 1);  // never written: ends only with the process
    return NULL;
}

static void* spinning_thread(void* arg) {
    (void)arg;
    for (volatile unsigned long i = 0;; ++i) {}
    return NULL;
}

static void* exec_thread(void* arg) {
    (void)arg;
    char* argv[] = {"procs", "child-after-threads", NULL};
    execve(self_path, argv, environ);
    printf("exec from a thread: %s\n", strerrorname_np(errno));
    _exit(1);
}

// One process with a blocked thread and a busy thread execs from `from_thread` (else the main
// thread); the first exec tries a missing file, which fails with the threads left running.
static void threads_exec_child(int from_thread) {
    char pid[16];
    snprintf(pid, sizeof pid, "%d", getpid());
    setenv("PROCS_PID", pid, 1);
    pipe(block_pipe);
    pthread_t blocked, spinning, execer;
    pthread_create(&blocked, NULL, blocked_thread, NULL);
    pthread_create(&spinning, NULL, spinning_thread, NULL);
    char* missing_argv[] = {"missing", NULL};
    execve("/bin/no-such-program", missing_argv, environ);
    printf("exec of a missing file with 3 threads: %s\n", strerrorname_np(errno));
    fflush(stdout);
    if (from_thread) {
        pthread_create(&execer, NULL, exec_thread, NULL);
        pthread_join(execer, NULL);  // does not return: the exec ends this thread
    } else {
        char* argv[] = {"procs", "child-after-threads", NULL};
        execve(self_path, argv, environ);
    }
    printf("exec: %s\n", strerrorname_np(errno));
    _exit(1);
}

static void thread_exec(void) {
    for (int from_thread = 0; from_thread < 2; ++from_thread) {
        pid_t pid = fork();
        if (pid == 0) threads_exec_child(from_thread);
        wait_for(pid, from_thread ? "exec from a second thread" : "exec from the main thread of 3");
    }
}

static void execveat_cases(void) {
    char* argv[] = {"procs", "child-echo", "via-execveat", NULL};
    char parent[16];
    snprintf(parent, sizeof parent, "%d", getpid());
    setenv("PROCS_PARENT", parent, 1);
    // fexecve: the file behind a descriptor (close-on-exec, as fexecve users open it).
    int fd = open(self_path, O_RDONLY | O_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
        fexecve(fd, argv, environ);
        printf("fexecve: %s\n", strerrorname_np(errno));
        _exit(127);
    }
    wait_for(pid, "fexecve");
    pid = fork();
    if (pid == 0) {
        char* exe_argv[] = {"procs", "child-exe", NULL};
        syscall(SYS_execveat, fd, "", exe_argv, environ, AT_EMPTY_PATH);
        _exit(127);
    }
    wait_for(pid, "execveat AT_EMPTY_PATH, /proc/self/exe");
    close(fd);
    // Relative to a directory descriptor.
    int bin = open("/bin", O_RDONLY | O_DIRECTORY);
    pid = fork();
    if (pid == 0) {
        syscall(SYS_execveat, bin, "procs", argv, environ, 0);
        printf("execveat relative: %s\n", strerrorname_np(errno));
        _exit(127);
    }
    wait_for(pid, "execveat relative to /bin");
    // AT_SYMLINK_NOFOLLOW: a symbolic link is ELOOP; the file itself runs.
    errno_line("execveat AT_SYMLINK_NOFOLLOW on a link",
               syscall(SYS_execveat, bin, "procs-link", argv, environ, AT_SYMLINK_NOFOLLOW));
    pid = fork();
    if (pid == 0) {
        syscall(SYS_execveat, bin, "procs", argv, environ, AT_SYMLINK_NOFOLLOW);
        _exit(127);
    }
    wait_for(pid, "execveat AT_SYMLINK_NOFOLLOW on the file");
    errno_line("execveat AT_EMPTY_PATH on a directory", syscall(SYS_execveat, bin, "", argv, environ, AT_EMPTY_PATH));
    errno_line("execveat with a bad descriptor", syscall(SYS_execveat, 999, "procs", argv, environ, 0));
    errno_line("execveat with bad flags", syscall(SYS_execveat, bin, "procs", argv, environ, 0x4));
    close(bin);
}

static int child_exe(void) {
    char link[256] = {0};
    readlink("/proc/self/exe", link, sizeof link - 1);
    printf("exe: %s\n", link);
    return 0;
}

// Waits (blocked) until its standard input closes: /proc shows it meanwhile.
static int child_wait(void) {
    if (chdir("/data") != 0) return 1;
    char c;
    while (read(0, &c, 1) > 0) {}
    return 0;
}

static int read_file(const char* path, char* out, size_t size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int total = 0, n;
    while ((n = read(fd, out + total, size - 1 - total)) > 0) total += n;
    close(fd);
    out[total] = 0;
    return total;
}

static int listed_in_proc(pid_t pid) {
    DIR* proc = opendir("/proc");
    int found = 0;
    struct dirent* entry;
    while (proc && (entry = readdir(proc)))
        if (atoi(entry->d_name) == pid && entry->d_type == DT_DIR) found = 1;
    if (proc) closedir(proc);
    return found;
}

// /proc seen by ps: the live pids in readdir, and another process's cmdline, environ, stat,
// status, exe, cwd and fd/.
static void proc_pids(void) {
    char path[64], text[4096], link[256];
    snprintf(path, sizeof path, "%d", getpid());
    ssize_t n = readlink("/proc/self", link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("/proc/self names the caller's pid: %d\n", strcmp(link, path) == 0);
    printf("/proc lists the caller: %d\n", listed_in_proc(getpid()));
    int input[2];
    pipe(input);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(input[0], 0);
        close(input[0]);
        close(input[1]);
        char* argv[] = {"/bin/procs", "child-wait", "second argument", NULL};
        char* envp[] = {"PROCS_INIT=1", "PROCS_MARK=environ-of-the-child", NULL};
        execve(self_path, argv, envp);
        _exit(127);
    }
    close(input[0]);
    // Until the child has exec'd, its cmdline is this program's: wait for the new one.
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    int length = 0;
    for (int tries = 0; tries < 2000; ++tries) {
        length = read_file(path, text, sizeof text);
        if (length > 0 && strcmp(text + strlen(text) + 1, "child-wait") == 0) break;
        usleep(5000);
    }
    printf("cmdline:");
    for (int i = 0; i < length; i += strlen(text + i) + 1) printf(" [%s]", text + i);
    printf(" (%d bytes)\n", length);
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    length = read_file(path, text, sizeof text);
    printf("environ:");
    for (int i = 0; i < length; i += strlen(text + i) + 1) printf(" [%s]", text + i);
    printf("\n");
    printf("/proc lists the child: %d\n", listed_in_proc(pid));
    // The child blocks in read: state S (after its chdir).
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    char state = '?';
    int ppid = 0;
    for (int tries = 0; tries < 2000; ++tries) {
        read_file(path, text, sizeof text);
        char* after = strrchr(text, ')');
        if (after && sscanf(after + 2, "%c %d", &state, &ppid) == 2 && state == 'S') break;
        usleep(5000);
    }
    char comm[32] = "";
    sscanf(text, "%*d (%31[^)])", comm);
    printf("stat: comm %s, state %c, ppid is the parent %d\n", comm, state, ppid == getpid());
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    read_file(path, text, sizeof text);
    char* ppid_line = strstr(text, "\nPPid:");
    printf("status: PPid is the parent %d, has Name %d, Threads %d\n", ppid_line && atoi(ppid_line + 6) == getpid(),
           strncmp(text, "Name:\tprocs\n", 12) == 0, strstr(text, "\nThreads:\t1\n") != NULL);
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("exe: %s\n", link);
    snprintf(path, sizeof path, "/proc/%d/cwd", pid);
    n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("cwd: %s\n", link);
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR* fds = opendir(path);
    int count = 0, has_stdin = 0;
    struct dirent* entry;
    while (fds && (entry = readdir(fds))) {
        if (entry->d_name[0] == '.') continue;
        ++count;
        if (strcmp(entry->d_name, "0") == 0) has_stdin = 1;
    }
    if (fds) closedir(fds);
    snprintf(path, sizeof path, "/proc/%d/fd/0", pid);
    n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("fd: %d entries, 0 is there %d, fd/0 names a pipe %d\n", count, has_stdin, strncmp(link, "pipe:[", 6) == 0);
    // Exited: a zombie, listed with state Z until reaped; then gone.
    close(input[1]);
    siginfo_t info;
    waitid(P_PID, pid, &info, WEXITED | WNOWAIT);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    read_file(path, text, sizeof text);
    char* after = strrchr(text, ')');
    printf("zombie: state %c, listed %d\n", after ? after[2] : '?', listed_in_proc(pid));
    wait_for(pid, "child-wait");
    errno_line("reaped: open /proc/PID/stat", open(path, O_RDONLY));
    printf("reaped: listed %d\n", listed_in_proc(pid));
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("PROCS_INIT") == NULL) {
        // Like a container's init (tini): the cases run in a child; this process reaps the
        // orphans they leave, which on xos come to it (it is PID 1) and natively go elsewhere.
        pid_t child = fork();
        if (child == 0) {
            setenv("PROCS_INIT", "1", 1);
            execv(self_path, argv);
            _exit(127);
        }
        int status = 0, child_status = 0;
        pid_t got;
        while ((got = wait(&status)) != -1)
            if (got == child) child_status = status;
        return WIFEXITED(child_status) ? WEXITSTATUS(child_status) : 128 + WTERMSIG(child_status);
    }
    if (argc > 1 && strcmp(argv[1], "child-echo") == 0) return child_echo(argc, argv);
    if (argc > 1 && strcmp(argv[1], "child-upper") == 0) return child_upper();
    if (argc > 1 && strcmp(argv[1], "child-fds") == 0) return child_fds(argc, argv);
    if (argc > 1 && strcmp(argv[1], "nproc") == 0) return nproc();
    if (argc > 1 && strcmp(argv[1], "child-altstack") == 0) return child_altstack();
    if (argc > 1 && strcmp(argv[1], "child-after-threads") == 0) return child_after_threads();
    if (argc > 1 && strcmp(argv[1], "child-exe") == 0) return child_exe();
    if (argc > 1 && strcmp(argv[1], "child-wait") == 0) return child_wait();
    if (argc > 1 && (strcmp(argv[1], "interp-arg") == 0 || strncmp(argv[1], "/scripts/", 9) == 0))
        return interpreter(argc, argv);
    struct {
        const char* name;
        void (*run)(void);
    } cases[] = {
        {"fork", fork_and_wait}, {"status", exit_statuses},   {"exec", exec_child},         {"spawn", spawn},
        {"pipes", pipes},        {"signals", signals},        {"zombies", zombies},         {"stop", stop_and_continue},
        {"groups", groups},      {"cloexec", cloexec},        {"scripts", scripts},         {"errors", errors},
        {"altstack", altstack},  {"threadexec", thread_exec}, {"execveat", execveat_cases}, {"proc", proc_pids},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) continue;
        printf("== %s\n", cases[i].name);
        cases[i].run();
    }
    return 0;
}
