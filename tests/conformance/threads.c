// Differential conformance: threads on musl's pthreads, natively on Linux and on xos.
// Prints only deterministic results.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

// 1. Many threads, one mutex.
enum { THREADS = 64, INCREMENTS = 1000 };
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void* incrementer(void* arg) {
    for (int i = 0; i < INCREMENTS; ++i) {
        pthread_mutex_lock(&counter_lock);
        ++counter;
        pthread_mutex_unlock(&counter_lock);
        if (i % 100 == 0) sched_yield();
    }
    return arg;
}

// 2. Producer/consumer with a condition variable and a bounded buffer.
enum { ITEMS = 2000, CAPACITY = 8 };
static pthread_mutex_t buffer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static int buffer[CAPACITY], head, count;
static void* producer(void* arg) {
    for (int i = 1; i <= ITEMS; ++i) {
        pthread_mutex_lock(&buffer_lock);
        while (count == CAPACITY) pthread_cond_wait(&not_full, &buffer_lock);
        buffer[(head + count++) % CAPACITY] = i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&buffer_lock);
    }
    return arg;
}
static void* consumer(void* arg) {
    long sum = 0;
    for (int i = 0; i < ITEMS; ++i) {
        pthread_mutex_lock(&buffer_lock);
        while (count == 0) pthread_cond_wait(&not_empty, &buffer_lock);
        sum += buffer[head];
        head = (head + 1) % CAPACITY;
        --count;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&buffer_lock);
    }
    *(long*)arg = sum;
    return NULL;
}

// 3. Thread-local storage and key destructors.
static __thread int tls_value = 7;
static pthread_key_t key;
static atomic_int destructor_calls;
static void key_destructor(void* value) {
    (void)value;
    atomic_fetch_add(&destructor_calls, 1);
}
static void* tls_worker(void* arg) {
    long id = (long)arg;
    if (tls_value != 7) return (void*)-1;
    tls_value = (int)id;
    pthread_setspecific(key, (void*)(id + 1));
    usleep(1000);
    return (void*)(long)(tls_value == id && pthread_getspecific(key) == (void*)(id + 1));
}

// 4. Cancellation of a thread blocked in nanosleep.
static atomic_int sleeper_started;
static void* sleeper(void* arg) {
    (void)arg;
    atomic_store(&sleeper_started, 1);
    struct timespec long_time = {30, 0};
    nanosleep(&long_time, NULL);  // a cancellation point
    return (void*)1;
}

// 5. Preemption: spinning threads that never yield all make progress.
static atomic_long spins[2];
static atomic_int stop_spinning;
static void* spinner(void* arg) {
    long id = (long)arg;
    while (!atomic_load_explicit(&stop_spinning, memory_order_relaxed))
        atomic_fetch_add_explicit(&spins[id], 1, memory_order_relaxed);
    return NULL;
}

// 6. Signals between threads.
static atomic_int usr1_thread;
static void on_usr1(int sig) {
    (void)sig;
    atomic_store(&usr1_thread, 1);
}
static void* signal_target(void* arg) {
    (void)arg;
    while (!atomic_load(&usr1_thread)) usleep(1000);
    return (void*)2;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; ++i)
        if (pthread_create(&threads[i], NULL, incrementer, (void*)i) != 0) printf("pthread_create failed\n");
    long joined_ok = 0;
    for (long i = 0; i < THREADS; ++i) {
        void* result;
        pthread_join(threads[i], &result);
        joined_ok += result == (void*)i;
    }
    printf("mutex counter: %ld (expected %d), join results ok: %ld\n", counter, THREADS * INCREMENTS, joined_ok);

    pthread_t p, c;
    long sum = 0;
    pthread_create(&c, NULL, consumer, &sum);
    pthread_create(&p, NULL, producer, NULL);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    printf("producer/consumer sum: %ld (expected %d)\n", sum, ITEMS * (ITEMS + 1) / 2);

    pthread_key_create(&key, key_destructor);
    pthread_t tls_threads[8];
    for (long i = 0; i < 8; ++i) pthread_create(&tls_threads[i], NULL, tls_worker, (void*)(i + 100));
    long tls_ok = 0;
    for (int i = 0; i < 8; ++i) {
        void* r;
        pthread_join(tls_threads[i], &r);
        tls_ok += r == (void*)1;
    }
    printf("thread-local ok: %ld/8, key destructors: %d, main's value still %d\n", tls_ok,
           atomic_load(&destructor_calls), tls_value);

    pthread_t s;
    pthread_create(&s, NULL, sleeper, NULL);
    while (!atomic_load(&sleeper_started)) usleep(1000);
    usleep(20000);
    int64_t cancel_start = now_ns();
    pthread_cancel(s);
    void* cancel_result;
    pthread_join(s, &cancel_result);
    printf("cancelled a sleeping thread: %s, within 5 s: %s\n", cancel_result == PTHREAD_CANCELED ? "yes" : "no",
           now_ns() - cancel_start < 5000000000ll ? "yes" : "no");

    pthread_t spinners[2];
    for (long i = 0; i < 2; ++i) pthread_create(&spinners[i], NULL, spinner, (void*)i);
    int64_t spin_start = now_ns();
    while ((atomic_load(&spins[0]) < 1000 || atomic_load(&spins[1]) < 1000) && now_ns() - spin_start < 20000000000ll)
        usleep(5000);
    atomic_store(&stop_spinning, 1);
    for (int i = 0; i < 2; ++i) pthread_join(spinners[i], NULL);
    printf("both spinning threads progressed: %s\n",
           atomic_load(&spins[0]) >= 1000 && atomic_load(&spins[1]) >= 1000 ? "yes" : "no");

    int64_t sleep_start = now_ns();
    usleep(50000);
    int64_t slept = now_ns() - sleep_start;
    printf("usleep(50 ms): at least 50 ms: %s, under 1 s: %s\n", slept >= 50000000 ? "yes" : "no",
           slept < 1000000000 ? "yes" : "no");

    signal(SIGUSR1, on_usr1);
    pthread_t target;
    pthread_create(&target, NULL, signal_target, NULL);
    pthread_kill(target, SIGUSR1);
    void* target_result;
    pthread_join(target, &target_result);
    printf("pthread_kill delivered: %s\n", target_result == (void*)2 && atomic_load(&usr1_thread) ? "yes" : "no");

    struct timespec bad = {0, -1};
    printf("pthread_mutex_timedlock with bad timeout: %s\n",
           pthread_mutex_lock(&counter_lock) == 0 && pthread_mutex_timedlock(&counter_lock, &bad) == EINVAL ? "EINVAL"
                                                                                                            : "other");
    pthread_mutex_unlock(&counter_lock);
    struct timespec past;
    clock_gettime(CLOCK_REALTIME, &past);
    past.tv_sec -= 1;
    pthread_mutex_lock(&counter_lock);
    pthread_t holder = pthread_self();
    (void)holder;
    pthread_cond_t never = PTHREAD_COND_INITIALIZER;
    printf("pthread_cond_timedwait in the past: %s\n",
           pthread_cond_timedwait(&never, &counter_lock, &past) == ETIMEDOUT ? "ETIMEDOUT" : "other");
    pthread_mutex_unlock(&counter_lock);
    return 0;
}
