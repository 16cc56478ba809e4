// bench/programs/context_switch.c: two threads hand a token back and forth through futexes;
// one round trip is two context switches (each side blocks in FUTEX_WAIT and is woken by the
// other's FUTEX_WAKE). Reported per switch.
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

// <linux/futex.h> is not on musl-gcc's include path.
enum { FUTEX_WAIT_PRIVATE = 128, FUTEX_WAKE_PRIVATE = 129 };

static _Atomic int turn;  // 0: main's turn, 1: partner's turn
static _Atomic long rounds_left;

static void futex_wait(_Atomic int* word, int value) {
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}
static void futex_wake(_Atomic int* word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void* partner(void* arg) {
    (void)arg;
    for (;;) {
        while (atomic_load(&turn) != 1) futex_wait(&turn, 0);
        if (atomic_load(&rounds_left) < 0) return NULL;
        atomic_store(&turn, 0);
        futex_wake(&turn);
    }
}

static void ping_pong(long n) {
    // n round trips = 2n switches; the body is timed per switch by passing 2n below.
    for (long i = 0; i < n; i += 2) {
        atomic_store(&turn, 1);
        futex_wake(&turn);
        while (atomic_load(&turn) != 0) futex_wait(&turn, 1);
    }
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, partner, NULL);
    bench_timed_loop("context_switch.futex", "ns/switch", ping_pong, 200e6);
    atomic_store(&rounds_left, -1);
    atomic_store(&turn, 1);
    futex_wake(&turn);
    pthread_join(t, NULL);
    return 0;
}
