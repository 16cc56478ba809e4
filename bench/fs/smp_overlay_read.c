// bench/fs/smp_overlay_read.py's guest program, a static Linux binary run from an EROFS root
// image (xos-run --root-image: the root is the overlay over the image): THREADS threads each
// read /big.txt (268 KiB, in the image) from start to end ROUNDS times through open/read (64
// KiB)/close, and the program prints the aggregate rate by the guest's clock as a JSON line.
// "upper": the file is copied up first (opened for writing once), so the reads are the
// overlay's over its ramfs upper layer; "lower": they go through to EROFS (its device reads).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FILE_SIZE (268 * 1024)
#define CHUNK (64 * 1024)

static long g_rounds;
static int g_failed;

static void* reader(void* unused) {
    (void)unused;
    char* buffer = malloc(CHUNK);
    for (long round = 0; round < g_rounds; ++round) {
        int fd = open("/big.txt", O_RDONLY);
        if (fd < 0) {
            g_failed = 1;
            break;
        }
        long total = 0, n;
        while ((n = read(fd, buffer, CHUNK)) > 0) total += n;
        close(fd);
        if (total != FILE_SIZE) g_failed = 1;
    }
    free(buffer);
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
    if (argc < 4) return 2;
    int upper = !strcmp(argv[1], "upper");
    int threads = atoi(argv[2]);
    g_rounds = atol(argv[3]);
    if (threads < 1 || threads > 64) return 2;
    if (upper) {  // copy-up
        int fd = open("/big.txt", O_RDWR);
        if (fd < 0) return 1;
        close(fd);
    }
    pthread_t ids[64];
    double start = now();
    for (int i = 0; i < threads; ++i) pthread_create(&ids[i], NULL, reader, NULL);
    for (int i = 0; i < threads; ++i) pthread_join(ids[i], NULL);
    double seconds = now() - start;
    if (g_failed) return 1;
    printf("{\"figure\": \"read_mib_s\", \"value\": %.1f}\n",
           (double)threads * g_rounds * FILE_SIZE / seconds / 1048576.0);
    return 0;
}
