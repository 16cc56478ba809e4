// Robust and priority-inheritance futexes (issue 16 part 5): set_robust_list/get_robust_list,
// the robust list walked when a thread or a process ends (FUTEX_OWNER_DIED, EOWNERDEAD from
// pthread_mutex_lock, across processes through a shared mapping), and FUTEX_LOCK_PI /
// UNLOCK_PI / TRYLOCK_PI / LOCK_PI2 with the owner tid and FUTEX_WAITERS bits. Natively and on
// xos: the same output. (Priority inheritance itself does nothing on xos: one priority.)
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../conformance/show.h"

// <linux/futex.h>'s values (musl-gcc has no kernel headers).
enum {
    FUTEX_WAIT = 0,
    FUTEX_LOCK_PI = 6,
    FUTEX_UNLOCK_PI = 7,
    FUTEX_TRYLOCK_PI = 8,
    FUTEX_LOCK_PI2 = 13,
    FUTEX_PRIVATE_FLAG = 128,
    FUTEX_CLOCK_REALTIME = 256,
};
#define FUTEX_WAITERS 0x80000000u
#define FUTEX_OWNER_DIED 0x40000000u
#define FUTEX_TID_MASK 0x3fffffffu
struct robust_list {
    struct robust_list* next;
};
struct robust_list_head {
    struct robust_list list;
    long futex_offset;
    struct robust_list* list_op_pending;
};

static long futex(volatile uint32_t* word, int op, uint32_t value, const struct timespec* timeout) {
    return syscall(SYS_futex, word, op, value, timeout, NULL, 0);
}
static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static void test_robust_list_calls(void) {
    struct robust_list_head* head = (void*)1;
    size_t length = 0;
    SHOW("get_robust_list(0)", syscall(SYS_get_robust_list, 0, &head, &length));
    printf("length %zu\n", length);
    SHOW("get_robust_list(bad tid)", syscall(SYS_get_robust_list, 999999, &head, &length));
    SHOW("get_robust_list(bad pointer)", syscall(SYS_get_robust_list, 0, (void*)8, &length));
    static struct robust_list_head mine;
    mine.list.next = &mine.list;
    SHOW("set_robust_list(bad length)", syscall(SYS_set_robust_list, &mine, 7));
    // Keep musl's own head: only compare it after setting ours and putting it back.
    struct robust_list_head* musl_head;
    syscall(SYS_get_robust_list, 0, &musl_head, &length);
    SHOW("set_robust_list(mine)", syscall(SYS_set_robust_list, &mine, sizeof mine));
    syscall(SYS_get_robust_list, 0, &head, &length);
    printf("get_robust_list returns mine: %d\n", head == &mine);
    syscall(SYS_set_robust_list, musl_head, sizeof mine);
    syscall(SYS_get_robust_list, getpid(), &head, &length);
    printf("get_robust_list(getpid()) is the same thread's: %d\n", head == musl_head);
}

// A raw robust list in a child process: the words hold the child's tid; when it exits the
// kernel sets FUTEX_OWNER_DIED, clears the tid and wakes a waiter (FUTEX_WAITERS set).
struct raw_lock {
    struct robust_list list;
    uint32_t word;
};
struct raw_area {
    struct robust_list_head head;
    struct raw_lock a, b, pending;
};

static void test_raw_robust(void) {
    struct raw_area* area = mmap(NULL, sizeof *area, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int ready[2];
    pipe(ready);
    pid_t child = fork();
    if (child == 0) {
        uint32_t tid = (uint32_t)gettid_();
        area->head.list.next = &area->a.list;
        area->a.list.next = &area->b.list;
        area->b.list.next = &area->head.list;
        area->head.futex_offset = offsetof(struct raw_lock, word);
        area->head.list_op_pending = &area->pending.list;  // being taken: handled too
        area->a.word = tid;
        area->b.word = tid | FUTEX_WAITERS;
        area->pending.word = tid;
        syscall(SYS_set_robust_list, &area->head, sizeof area->head);
        write(ready[1], "x", 1);
        usleep(200000);  // the parent waits on b meanwhile
        _exit(0);
    }
    char c;
    read(ready[0], &c, 1);
    long r = futex(&area->b.word, FUTEX_WAIT, (uint32_t)child | FUTEX_WAITERS, NULL);
    printf("waiter on b: woken %d\n", r == 0 || errno == EAGAIN);
    waitpid(child, NULL, 0);
    printf("a: OWNER_DIED %d, tid cleared %d\n", (area->a.word & FUTEX_OWNER_DIED) != 0,
           (area->a.word & FUTEX_TID_MASK) == 0);
    printf("b: OWNER_DIED %d, tid cleared %d, WAITERS kept %d\n", (area->b.word & FUTEX_OWNER_DIED) != 0,
           (area->b.word & FUTEX_TID_MASK) == 0, (area->b.word & FUTEX_WAITERS) != 0);
    printf("pending: OWNER_DIED %d\n", (area->pending.word & FUTEX_OWNER_DIED) != 0);
    munmap(area, sizeof *area);
}

static pthread_mutex_t robust_mutex;

static void* lock_and_return(void* arg) {
    (void)arg;
    pthread_mutex_lock(&robust_mutex);
    return NULL;
}

static void test_robust_threads(void) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&robust_mutex, &attr);
    pthread_t t;
    pthread_create(&t, NULL, lock_and_return, NULL);
    pthread_join(t, NULL);
    int r = pthread_mutex_lock(&robust_mutex);
    printf("lock after the owner thread returned (musl's walk): %s\n", r ? errname(r) : "0");
    pthread_mutex_unlock(&robust_mutex);  // without pthread_mutex_consistent
    r = pthread_mutex_lock(&robust_mutex);
    printf("lock once unlocked without consistent: %s\n", r ? errname(r) : "0");
}

// A child process whose second thread holds `m` (process-shared, robust) when the process
// exits: the kernel walks every thread's robust list.
static pthread_mutex_t* shared_mutex;
static void* hold_shared(void* arg) {
    pthread_mutex_lock(shared_mutex);
    write(*(int*)arg, "x", 1);
    for (;;) pause();
    return NULL;
}

static void lock_in_thread_and_exit(pthread_mutex_t* m, int ready) {
    shared_mutex = m;
    pthread_t t;
    pthread_create(&t, NULL, hold_shared, &ready);
    for (;;) pause();
}

// A process-shared robust mutex in a MAP_SHARED mapping; a child takes it and exits.
static void test_robust_processes(void) {
    pthread_mutex_t* m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(m, &attr);
    int ready[2];
    pipe(ready);
    pid_t child = fork();
    if (child == 0) {
        pthread_mutex_lock(m);
        write(ready[1], "x", 1);
        usleep(200000);  // the parent blocks in pthread_mutex_lock meanwhile
        _exit(0);  // no unlock: the kernel releases it
    }
    char c;
    read(ready[0], &c, 1);
    int r = pthread_mutex_lock(m);
    printf("parent's lock after the child exited holding it: %s\n", r ? errname(r) : "0");
    int consistent = pthread_mutex_consistent(m);
    printf("consistent: %d, unlock: %d\n", consistent, pthread_mutex_unlock(m));
    int status;
    waitpid(child, &status, 0);
    // The same with the child killed by a signal.
    child = fork();
    if (child == 0) {
        pthread_mutex_lock(m);
        write(ready[1], "x", 1);
        for (;;) pause();
    }
    read(ready[0], &c, 1);
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    r = pthread_mutex_lock(m);
    printf("lock after the owner was killed: %s\n", r ? errname(r) : "0");
    pthread_mutex_consistent(m);
    pthread_mutex_unlock(m);
    // Held by the child's second thread when the child is killed.
    child = fork();
    if (child == 0) lock_in_thread_and_exit(m, ready[1]);
    read(ready[0], &c, 1);
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    r = pthread_mutex_lock(m);
    printf("lock after a process whose other thread held it was killed: %s\n", r ? errname(r) : "0");
    pthread_mutex_consistent(m);
    pthread_mutex_unlock(m);
    munmap(m, sizeof *m);
}

static volatile uint32_t pi_word;
static volatile int pi_stage;

static void* pi_contender(void* arg) {
    (void)arg;
    pi_stage = 1;
    long r = futex(&pi_word, FUTEX_LOCK_PI, 0, NULL);
    int owned = (pi_word & FUTEX_TID_MASK) == (uint32_t)gettid_();
    pi_stage = 2;
    long u = futex(&pi_word, FUTEX_UNLOCK_PI, 0, NULL);
    return (void*)(long)(r == 0 && owned && u == 0);
}

static void* pi_checker(void* arg) {
    long* out = arg;
    struct timespec rt, mono;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    rt.tv_nsec += 50000000;
    if (rt.tv_nsec >= 1000000000) rt.tv_sec++, rt.tv_nsec -= 1000000000;
    mono.tv_nsec += 50000000;
    if (mono.tv_nsec >= 1000000000) mono.tv_sec++, mono.tv_nsec -= 1000000000;
    out[0] = futex(&pi_word, FUTEX_TRYLOCK_PI, 0, NULL);
    out[1] = errno;
    out[2] = futex(&pi_word, FUTEX_LOCK_PI, 0, &rt);
    out[3] = errno;
    out[4] = futex(&pi_word, FUTEX_LOCK_PI2, 0, &mono);
    out[5] = errno;
    out[6] = futex(&pi_word, FUTEX_UNLOCK_PI, 0, NULL);
    out[7] = errno;
    return NULL;
}

static void test_pi(void) {
    pid_t me = gettid_();
    SHOW("LOCK_PI (free)", futex(&pi_word, FUTEX_LOCK_PI, 0, NULL));
    printf("word is my tid: %d\n", pi_word == (uint32_t)me);
    SHOW("LOCK_PI again (mine)", futex(&pi_word, FUTEX_LOCK_PI, 0, NULL));
    SHOW("TRYLOCK_PI (mine)", futex(&pi_word, FUTEX_TRYLOCK_PI, 0, NULL));
    SHOW("UNLOCK_PI", futex(&pi_word, FUTEX_UNLOCK_PI, 0, NULL));
    printf("word after unlock: %u\n", pi_word);
    SHOW("UNLOCK_PI (not mine)", futex(&pi_word, FUTEX_UNLOCK_PI, 0, NULL));
    SHOW("TRYLOCK_PI (free)", futex(&pi_word, FUTEX_TRYLOCK_PI, 0, NULL));
    printf("word is my tid: %d\n", pi_word == (uint32_t)me);
    // A contender blocks: the kernel sets FUTEX_WAITERS; unlocking hands the lock over.
    pthread_t t;
    pthread_create(&t, NULL, pi_contender, NULL);
    while (!(pi_word & FUTEX_WAITERS)) usleep(10000);
    printf("waiters bit set, owner still me: %d\n", (pi_word & FUTEX_TID_MASK) == (uint32_t)me);
    SHOW("UNLOCK_PI with a waiter", futex(&pi_word, FUTEX_UNLOCK_PI, 0, NULL));
    void* ok;
    pthread_join(t, &ok);
    printf("contender got it and released it: %d, word %u\n", ok != NULL, pi_word);
    // Held by another (live) thread, the main one: TRYLOCK is EAGAIN, a timed LOCK_PI times
    // out (LOCK_PI: absolute CLOCK_REALTIME; LOCK_PI2: CLOCK_MONOTONIC), UNLOCK_PI is EPERM.
    pi_word = (uint32_t)me;
    long results[8];
    pthread_create(&t, NULL, pi_checker, results);
    pthread_join(t, NULL);
    printf("other thread: TRYLOCK_PI %ld %s\n", results[0], results[0] ? errname((int)results[1]) : "");
    printf("other thread: LOCK_PI with a realtime deadline %ld %s\n", results[2],
           results[2] ? errname((int)results[3]) : "");
    printf("other thread: LOCK_PI2 with a monotonic deadline %ld %s\n", results[4],
           results[4] ? errname((int)results[5]) : "");
    printf("other thread: UNLOCK_PI %ld %s\n", results[6], results[6] ? errname((int)results[7]) : "");
    printf("still mine: %d\n", (pi_word & FUTEX_TID_MASK) == (uint32_t)me);
    SHOW("UNLOCK_PI", futex(&pi_word, FUTEX_UNLOCK_PI, 0, NULL));
    // An owner that no longer exists: ESRCH; a word with only FUTEX_OWNER_DIED (what the robust
    // walk leaves): taken, the bit kept.
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    pi_word = (uint32_t)child;
    SHOW("LOCK_PI (owner gone)", futex(&pi_word, FUTEX_LOCK_PI, 0, NULL));
    pi_word = FUTEX_OWNER_DIED;
    SHOW("LOCK_PI (OWNER_DIED)", futex(&pi_word, FUTEX_LOCK_PI, 0, NULL));
    printf("word: mine with OWNER_DIED %d\n", pi_word == ((uint32_t)me | FUTEX_OWNER_DIED));
    SHOW("UNLOCK_PI", futex(&pi_word, FUTEX_UNLOCK_PI, 0, NULL));
    printf("word after unlock: %u\n", pi_word);
    SHOW("LOCK_PI (unaligned)", futex((uint32_t*)((char*)&pi_word + 1), FUTEX_LOCK_PI, 0, NULL));
    SHOW("LOCK_PI (bad pointer)", futex((uint32_t*)8, FUTEX_LOCK_PI, 0, NULL));
    SHOW("LOCK_PI2 | CLOCK_REALTIME (free)", futex(&pi_word, FUTEX_LOCK_PI2 | FUTEX_CLOCK_REALTIME, 0, NULL));
    SHOW("UNLOCK_PI | PRIVATE", futex(&pi_word, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL));
}

// musl's priority-inheritance mutexes (FUTEX_LOCK_PI underneath), robust too.
static pthread_mutex_t pi_mutex;
static volatile long pi_counter;

static void* pi_worker(void* arg) {
    (void)arg;
    for (int i = 0; i < 2000; ++i) {
        pthread_mutex_lock(&pi_mutex);
        long v = pi_counter;
        if (i % 100 == 0) sched_yield();
        pi_counter = v + 1;
        pthread_mutex_unlock(&pi_mutex);
    }
    return NULL;
}

static void test_pi_mutex(void) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    printf("setprotocol(PRIO_INHERIT): %d\n", pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT));
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&pi_mutex, &attr);
    pthread_t a, b;
    pthread_create(&a, NULL, pi_worker, NULL);
    pthread_create(&b, NULL, pi_worker, NULL);
    pi_worker(NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("PI mutex counter: %ld\n", pi_counter);
    // Shared between processes: a child's thread holds it when the child is killed.
    pthread_mutex_t* m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(m, &attr);
    int ready[2];
    pipe(ready);
    pid_t child = fork();
    if (child == 0) lock_in_thread_and_exit(m, ready[1]);
    char c;
    read(ready[0], &c, 1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    int r = pthread_mutex_lock(m);
    printf("robust PI mutex after its owner's process was killed: %s\n", r ? errname(r) : "0");
    pthread_mutex_consistent(m);
    printf("unlock: %d\n", pthread_mutex_unlock(m));
    munmap(m, sizeof *m);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_robust_list_calls();
    test_raw_robust();
    test_robust_threads();
    test_robust_processes();
    test_pi();
    test_pi_mutex();
    puts("done");
    return 0;
}
