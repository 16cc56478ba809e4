// bench/startup/init.c: /init of the Linux microVM in bench/startup/run.py. Linked with
// bench/programs/linux_vm_init.c, which configures the network (xos_bench_net=...) before main
// and powers the VM off when main returns. Runs the program named by its arguments (the kernel
// command line after "--") as its child with a small environment, and returns its status.
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "startup init: no program (kernel command line: ... -- /path/prog args)\n");
        return 127;
    }
    // What a program expects of a root: /proc, /dev (devtmpfs), /tmp.
    mount("proc", "/proc", "proc", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
    char* env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/", "LANG=C.UTF-8", NULL};
    pid_t child = fork();
    if (child == 0) {
        execve(argv[1], argv + 1, env);
        perror(argv[1]);
        _exit(127);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
