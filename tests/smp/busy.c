// Two CPU-bound threads (no syscalls while they work), then "busy: done" and a wait for a line on
// stdin, so that run_busy_test.py can read how much CPU time each host thread of the hosted
// image got (/proc/PID/task/TID/stat): with two vCPUs both vCPU threads must have worked.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long g_sink[2];
static unsigned long g_iterations;

static void* work(void* argument) {
    unsigned long index = (unsigned long)argument, x = index + 1;
    for (unsigned long i = 0; i < g_iterations; ++i) x = x * 6364136223846793005ul + 1442695040888963407ul;
    g_sink[index] = x;
    return 0;
}

int main(int argc, char** argv) {
    g_iterations = argc > 1 ? strtoul(argv[1], 0, 10) : 400000000ul;
    pthread_t threads[2];
    for (unsigned long i = 0; i < 2; ++i)
        if (pthread_create(&threads[i], 0, work, (void*)i) != 0) return 2;
    for (int i = 0; i < 2; ++i) pthread_join(threads[i], 0);
    printf("busy: done\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 3;
    return 0;
}
