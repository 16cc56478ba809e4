// SMP stress (issue 17): 64 threads hammer mutexes, condition variables, raw futexes,
// malloc/free, mmap/munmap and pipes for a bounded time, across every CPU the image has; then
// every count is checked against what the threads did. Exit status 0 = every check passed.
// Usage: stress [SECONDS] (default 3).
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../image/check.h"

#define THREADS 64
#define KINDS 6

static atomic_int g_stop;
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static long g_mutex_counter;  // under g_mutex
static long g_mutex_increments[THREADS];

// A bounded queue under a mutex with two condition variables: producers and consumers.
static pthread_mutex_t g_queue_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_not_empty = PTHREAD_COND_INITIALIZER, g_not_full = PTHREAD_COND_INITIALIZER;
static long g_queue[16];
static int g_queue_count;
static long g_produced_sum, g_consumed_sum;  // under g_queue_mutex
static atomic_int g_producers_left;

// A lock made of a raw futex word (0 free, 1 taken, 2 taken with waiters), as Drepper's mutex.
static atomic_int g_futex_word;
static long g_futex_counter;
static long g_futex_increments[THREADS];

static long g_malloc_rounds[THREADS], g_mmap_rounds[THREADS], g_pipe_bytes[THREADS];
static int g_pipe[2];
static atomic_long g_pipe_read;
static int g_cpu_seen[64];

static long futex(atomic_int* word, int op, int value) { return syscall(SYS_futex, word, op, value, NULL, NULL, 0); }

static void futex_lock(void) {
    int c = 0;
    if (atomic_compare_exchange_strong(&g_futex_word, &c, 1)) return;
    if (c != 2) c = atomic_exchange(&g_futex_word, 2);
    while (c != 0) {
        futex(&g_futex_word, FUTEX_WAIT_PRIVATE, 2);
        c = atomic_exchange(&g_futex_word, 2);
    }
}

static void futex_unlock(void) {
    if (atomic_fetch_sub(&g_futex_word, 1) != 1) {
        atomic_store(&g_futex_word, 0);
        futex(&g_futex_word, FUTEX_WAKE_PRIVATE, 1);
    }
}

static void note_cpu(void) {
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu < 64) __atomic_store_n(&g_cpu_seen[cpu], 1, __ATOMIC_RELAXED);
}

static void* worker(void* arg) {
    int id = (int)(intptr_t)arg;
    int kind = id % KINDS;
    unsigned seed = (unsigned)id * 2654435761u;
    long rounds = 0;
    while (!atomic_load(&g_stop)) {
        if ((++rounds & 63) == 0) note_cpu();
        switch (kind) {
        case 0:  // mutex
            pthread_mutex_lock(&g_mutex);
            ++g_mutex_counter;
            pthread_mutex_unlock(&g_mutex);
            ++g_mutex_increments[id];
            break;
        case 1: {  // producer
            long value = (long)(rand_r(&seed) % 1000) + 1;
            pthread_mutex_lock(&g_queue_mutex);
            while (g_queue_count == 16 && !atomic_load(&g_stop)) pthread_cond_wait(&g_not_full, &g_queue_mutex);
            if (g_queue_count < 16) {
                g_queue[g_queue_count++] = value;
                g_produced_sum += value;
                pthread_cond_signal(&g_not_empty);
            }
            pthread_mutex_unlock(&g_queue_mutex);
            break;
        }
        case 2: {  // consumer
            pthread_mutex_lock(&g_queue_mutex);
            while (g_queue_count == 0 && !(atomic_load(&g_stop) || atomic_load(&g_producers_left) == 0))
                pthread_cond_wait(&g_not_empty, &g_queue_mutex);
            if (g_queue_count > 0) {
                g_consumed_sum += g_queue[--g_queue_count];
                pthread_cond_signal(&g_not_full);
            }
            pthread_mutex_unlock(&g_queue_mutex);
            break;
        }
        case 3:  // raw futex lock
            futex_lock();
            ++g_futex_counter;
            futex_unlock();
            ++g_futex_increments[id];
            break;
        case 4: {  // malloc/free and mmap/munmap, each filled and checked
            size_t size = 16 + rand_r(&seed) % 8192;
            unsigned char* block = malloc(size);
            CHECK(block != NULL);
            if (block) {
                memset(block, id, size);
                for (size_t i = 0; i < size; i += 97) CHECK(block[i] == (unsigned char)id);
                free(block);
            }
            size_t pages = 1 + rand_r(&seed) % 8;
            unsigned char* map = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            CHECK(map != MAP_FAILED);
            if (map != MAP_FAILED) {
                for (size_t p = 0; p < pages; ++p) {
                    CHECK(map[p * 4096] == 0);  // fresh anonymous memory is zero
                    map[p * 4096] = (unsigned char)(id + 1);
                }
                for (size_t p = 0; p < pages; ++p) CHECK(map[p * 4096] == (unsigned char)(id + 1));
                CHECK(munmap(map, pages * 4096) == 0);
            }
            ++g_malloc_rounds[id];
            ++g_mmap_rounds[id];
            break;
        }
        case 5: {  // pipe writers and readers, alternately; non-blocking, waits in poll
            char buffer[256];
            if ((id / KINDS) % 2 == 0) {
                memset(buffer, 'x', sizeof buffer);
                ssize_t n = write(g_pipe[1], buffer, 1 + rand_r(&seed) % sizeof buffer);
                if (n > 0)
                    g_pipe_bytes[id] += n;
                else if (n < 0 && errno == EAGAIN)
                    poll(&(struct pollfd){g_pipe[1], POLLOUT, 0}, 1, 20);
                else
                    CHECK(n > 0);
            } else {
                ssize_t n = read(g_pipe[0], buffer, sizeof buffer);
                if (n > 0) {
                    for (ssize_t i = 0; i < n; ++i) CHECK(buffer[i] == 'x');
                    atomic_fetch_add(&g_pipe_read, n);
                } else if (n < 0 && errno == EAGAIN) {
                    poll(&(struct pollfd){g_pipe[0], POLLIN, 0}, 1, 20);
                } else {
                    CHECK(n > 0);
                }
            }
            break;
        }
        }
    }
    if (kind == 1) {
        pthread_mutex_lock(&g_queue_mutex);
        atomic_fetch_sub(&g_producers_left, 1);
        pthread_cond_broadcast(&g_not_empty);
        pthread_mutex_unlock(&g_queue_mutex);
    }
    return NULL;
}

int main(int argc, char** argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 3;
    CHECK(pipe2(g_pipe, O_NONBLOCK) == 0);
    for (int i = 0; i < THREADS; ++i)
        if (i % KINDS == 1) atomic_fetch_add(&g_producers_left, 1);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; ++i) CHECK(pthread_create(&threads[i], NULL, worker, (void*)(intptr_t)i) == 0);
    struct timespec pause = {seconds, 0};
    nanosleep(&pause, NULL);
    atomic_store(&g_stop, 1);
    // Wake whoever waits on the condition variables (pipe users poll with a timeout).
    pthread_mutex_lock(&g_queue_mutex);
    pthread_cond_broadcast(&g_not_empty);
    pthread_cond_broadcast(&g_not_full);
    pthread_mutex_unlock(&g_queue_mutex);
    for (int i = 0; i < THREADS; ++i) CHECK(pthread_join(threads[i], NULL) == 0);

    long mutex_sum = 0, futex_sum = 0, pipe_written = 0, malloc_rounds = 0;
    for (int i = 0; i < THREADS; ++i) {
        mutex_sum += g_mutex_increments[i];
        futex_sum += g_futex_increments[i];
        pipe_written += g_pipe_bytes[i];
        malloc_rounds += g_malloc_rounds[i];
    }
    // Drain what nobody read.
    CHECK(close(g_pipe[1]) == 0);
    char buffer[4096];
    ssize_t n;
    while ((n = read(g_pipe[0], buffer, sizeof buffer)) > 0) atomic_fetch_add(&g_pipe_read, n);
    // Whatever the producers queued and nobody consumed is still in the queue.
    long queued = 0;
    for (int i = 0; i < g_queue_count; ++i) queued += g_queue[i];

    CHECK(g_mutex_counter == mutex_sum);
    CHECK(g_futex_counter == futex_sum);
    CHECK(g_produced_sum == g_consumed_sum + queued);
    CHECK(atomic_load(&g_pipe_read) == pipe_written);
    CHECK(mutex_sum > 0 && futex_sum > 0 && malloc_rounds > 0 && g_consumed_sum > 0 && pipe_written > 0);
    int cpus = 0;
    for (int i = 0; i < 64; ++i) cpus += g_cpu_seen[i];
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    printf("stress: %d threads, %ds: mutex %ld, futex %ld, queue %ld, malloc/mmap %ld, pipe %ld bytes; "
           "ran on %d of %ld CPU(s)\n",
           THREADS, seconds, mutex_sum, futex_sum, g_consumed_sum, malloc_rounds, pipe_written, cpus, online);
    if (argc > 2) CHECK(cpus == atoi(argv[2]));  // the CPU count the run expects threads to use
    printf("stress: %d failure(s)\n", check_failures);
    return check_failures ? 1 : 0;
}
