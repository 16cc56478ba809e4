// Processes on xos and on Linux: the same program prints the same lines on both (see
// run_processes_test.py). fork/exec/wait, posix_spawn, pipes, signals between processes, exit
// statuses, zombies and reaping, stop/continue, process groups, CLOEXEC, `#!` scripts, errors.
// Nothing printed depends on pids or timing.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
    // RLIMIT_NPROC: fork fails with EAGAIN once the limit is reached (run as a non-root user
    // natively: root is exempt on Linux; xos enforces it for everyone).
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
    if (argc > 1 && (strcmp(argv[1], "interp-arg") == 0 || strncmp(argv[1], "/scripts/", 9) == 0))
        return interpreter(argc, argv);
    struct {
        const char* name;
        void (*run)(void);
    } cases[] = {
        {"fork", fork_and_wait}, {"status", exit_statuses}, {"exec", exec_child}, {"spawn", spawn},
        {"pipes", pipes},        {"signals", signals},      {"zombies", zombies}, {"stop", stop_and_continue},
        {"groups", groups},      {"cloexec", cloexec},      {"scripts", scripts}, {"errors", errors},
        {"altstack", altstack},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) continue;
        printf("== %s\n", cases[i].name);
        cases[i].run();
    }
    return 0;
}
