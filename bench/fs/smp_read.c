// bench/fs/smp_read.py's guest program: THREADS threads each read a 268 KiB file on the root
// file system (ramfs: the size of apps/httpd's /big.txt) from start to end ROUNDS times,
// through open/read (64 KiB)/close, and the program prints the aggregate rate by the guest's
// clock as a JSON line, then what /proc/xos/cpus counted meanwhile (bench/smp/cpu_counters.h).
// The file is written once at start (/big.txt).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../smp/cpu_counters.h"

#define FILE_SIZE (268 * 1024)
#define CHUNK (64 * 1024)

static long g_rounds;
static int g_failed;
static int g_open_once;  // argument 3 "once": one open per thread, pread from 0 each round

static void* reader(void* unused) {
    (void)unused;
    char* buffer = malloc(CHUNK);
    int once = g_open_once ? open("/big.txt", O_RDONLY) : -1;
    for (long round = 0; round < g_rounds; ++round) {
        int fd = g_open_once ? once : open("/big.txt", O_RDONLY);
        if (fd < 0) {
            g_failed = 1;
            break;
        }
        long total = 0, n;
        if (g_open_once)
            while ((n = pread(fd, buffer, CHUNK, total)) > 0) total += n;
        else
            while ((n = read(fd, buffer, CHUNK)) > 0) total += n;
        if (!g_open_once) close(fd);
        if (total != FILE_SIZE) g_failed = 1;
    }
    if (g_open_once) close(once);
    free(buffer);
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    g_rounds = argc > 2 ? atol(argv[2]) : 200;
    g_open_once = argc > 3 && !strcmp(argv[3], "once");
    if (threads < 1 || threads > 64) return 2;
    char* data = malloc(FILE_SIZE);
    for (long i = 0; i < FILE_SIZE; ++i) data[i] = (char)('a' + i % 26);
    int fd = open("/big.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, FILE_SIZE) != FILE_SIZE) return 1;
    close(fd);
    pthread_t ids[64];
    static struct counters before;
    int have_counters = read_counters(&before);
    double start = now();
    for (int i = 0; i < threads; ++i) pthread_create(&ids[i], NULL, reader, NULL);
    for (int i = 0; i < threads; ++i) pthread_join(ids[i], NULL);
    double seconds = now() - start;
    if (g_failed) return 1;
    printf("{\"figure\": \"read_mib_s\", \"value\": %.1f}\n",
           (double)threads * g_rounds * FILE_SIZE / seconds / 1048576.0);
    if (have_counters) print_counter_deltas("read", &before);
    return 0;
}
