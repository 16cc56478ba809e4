// bench/programs/thread_create.c: pthread_create + pthread_join of a thread that does nothing.
#include <pthread.h>

#include "bench.h"

static void* nothing(void* arg) { return arg; }

static void create_join(long n) {
    for (long i = 0; i < n; i++) {
        pthread_t t;
        pthread_create(&t, NULL, nothing, NULL);
        pthread_join(t, NULL);
    }
}

int main(void) {
    bench_timed_loop("thread.create_join", "ns/thread", create_join, 400e6);
    return 0;
}
