// personality, clock_settime/settimeofday/adjtimex, getrusage, interval timers and alarm,
// sysinfo, prctl and rt_sigsuspend (issue 16 part 5), natively and on xos: the same output.
// Values that differ between machines are printed as checks (a CPU time of at least what was
// burnt, a plausible uptime), never as numbers.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../conformance/show.h"

static long long ns_of(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static volatile unsigned long sink;
static void burn_cpu_ms(int ms) {
    long long until = ns_of(CLOCK_THREAD_CPUTIME_ID) + ms * 1000000ll;
    while (ns_of(CLOCK_THREAD_CPUTIME_ID) < until)
        for (int i = 0; i < 10000; ++i) sink += i;
}

static long long tv_ms(struct timeval t) { return t.tv_sec * 1000ll + t.tv_usec / 1000; }

static void test_personality(void) {
    SHOW("personality(query)", personality(0xffffffff));
    SHOW("personality(PER_LINUX)", personality(PER_LINUX));
    SHOW("personality(ADDR_NO_RANDOMIZE)", personality(PER_LINUX | ADDR_NO_RANDOMIZE));
    SHOW("personality(query)", personality(0xffffffff));
    pid_t child = fork();
    if (child == 0) _exit(personality(0xffffffff) == ADDR_NO_RANDOMIZE ? 0 : 1);
    int status;
    waitpid(child, &status, 0);
    printf("inherited by fork: %d\n", WEXITSTATUS(status) == 0);
    SHOW("personality(PER_LINUX) again", personality(PER_LINUX));
    SHOW("personality(query)", personality(0xffffffff));
}

// Drops CAP_SYS_TIME from the effective set, as a container has it: natively the test may run
// as a root with it. xos has no capabilities to drop (capget: ENOSYS) and answers as such a
// container does.
static void drop_sys_time(void) {
    enum { CAPABILITY_VERSION_3 = 0x20080522, CAP_SYS_TIME = 25 };
    struct {
        unsigned version;
        int pid;
    } header = {CAPABILITY_VERSION_3, 0};
    struct {
        unsigned effective, permitted, inheritable;
    } data[2];
    if (syscall(SYS_capget, &header, data) != 0) return;
    data[CAP_SYS_TIME / 32].effective &= ~(1u << (CAP_SYS_TIME % 32));
    syscall(SYS_capset, &header, data);
}

static void test_clock_setting(void) {
    drop_sys_time();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    SHOW("clock_settime(REALTIME)", clock_settime(CLOCK_REALTIME, &now));
    SHOW("clock_settime(MONOTONIC)", clock_settime(CLOCK_MONOTONIC, &now));
    struct timespec bad = {now.tv_sec, 2000000000};
    SHOW("clock_settime(bad nsec)", clock_settime(CLOCK_REALTIME, &bad));
    SHOW("clock_settime(bad clock)", clock_settime(99, &now));
    struct timeval tv = {now.tv_sec, 0};
    SHOW("settimeofday", settimeofday(&tv, NULL));
    SHOW("settimeofday(NULL, NULL)", syscall(SYS_settimeofday, NULL, NULL));
    struct timex tx = {0};
    errno = 0;
    int state = adjtimex(&tx);
    printf("adjtimex(read): %s\n", state >= 0 && state <= 5 ? "a clock state" : errname(errno));
    tx.modes = ADJ_OFFSET;
    SHOW("adjtimex(ADJ_OFFSET)", adjtimex(&tx));
    tx.modes = 0x12345678;
    SHOW("adjtimex(bad modes)", adjtimex(&tx));
    SHOW("clock_adjtime(REALTIME, read)", (tx.modes = 0, clock_adjtime(CLOCK_REALTIME, &tx) >= 0));
}

static void test_rusage(void) {
    burn_cpu_ms(300);
    struct rusage self, thread, children;
    SHOW("getrusage(SELF)", getrusage(RUSAGE_SELF, &self));
    long long self_ms = tv_ms(self.ru_utime) + tv_ms(self.ru_stime);
    printf("self CPU >= 250 ms: %d, maxrss > 0: %d\n", self_ms >= 250, self.ru_maxrss > 0);
    SHOW("getrusage(THREAD)", getrusage(RUSAGE_THREAD, &thread));
    printf("thread CPU >= 250 ms: %d\n", tv_ms(thread.ru_utime) + tv_ms(thread.ru_stime) >= 250);
    SHOW("getrusage(CHILDREN)", getrusage(RUSAGE_CHILDREN, &children));
    long long before = tv_ms(children.ru_utime) + tv_ms(children.ru_stime);
    pid_t child = fork();
    if (child == 0) {
        burn_cpu_ms(300);
        _exit(0);
    }
    struct rusage waited;
    int status;
    SHOW("wait4 with rusage", wait4(child, &status, 0, &waited) == child);
    printf("wait4 rusage CPU >= 250 ms: %d\n", tv_ms(waited.ru_utime) + tv_ms(waited.ru_stime) >= 250);
    getrusage(RUSAGE_CHILDREN, &children);
    printf("children CPU grew by >= 250 ms: %d\n", tv_ms(children.ru_utime) + tv_ms(children.ru_stime) - before >= 250);
    SHOW("getrusage(5)", getrusage(5, &self));
    SHOW("getrusage(bad pointer)", syscall(SYS_getrusage, RUSAGE_SELF, (void*)8));
    struct tms t;
    clock_t ticks = times(&t);
    printf("times: utime+stime >= 25 ticks: %d, cutime >= 25: %d, ticks > 0: %d\n", t.tms_utime + t.tms_stime >= 25,
           t.tms_cutime + t.tms_cstime >= 25, ticks > 0);
}

static volatile sig_atomic_t alarms, vtalarms, profs;
static void on_signal(int signal) {
    if (signal == SIGALRM) ++alarms;
    if (signal == SIGVTALRM) ++vtalarms;
    if (signal == SIGPROF) ++profs;
}

static void test_timers(void) {
    struct sigaction action = {.sa_handler = on_signal};
    sigaction(SIGALRM, &action, NULL);
    sigaction(SIGVTALRM, &action, NULL);
    sigaction(SIGPROF, &action, NULL);
    struct itimerval value = {{0, 0}, {0, 100000}}, old;
    // The wait is timed from before the timer is armed, and SIGALRM is blocked until the
    // sigsuspend: the output in between may take long on a loaded host (the console of a VM
    // whose vCPU the host does not run), which must neither shorten the measured wait nor let
    // the signal come before the wait starts.
    sigset_t alarm_only, unblocked;
    sigemptyset(&alarm_only);
    sigaddset(&alarm_only, SIGALRM);
    sigprocmask(SIG_BLOCK, &alarm_only, &unblocked);
    long long start = ns_of(CLOCK_MONOTONIC);
    SHOW("setitimer(REAL, 100 ms)", setitimer(ITIMER_REAL, &value, NULL));
    struct itimerval now;
    SHOW("getitimer(REAL)", getitimer(ITIMER_REAL, &now));
    printf("armed: 0 < value <= 100 ms: %d, no interval: %d\n",
           (now.it_value.tv_sec || now.it_value.tv_usec) && tv_ms(now.it_value) <= 100, !now.it_interval.tv_usec);
    sigsuspend(&unblocked);
    sigprocmask(SIG_SETMASK, &unblocked, NULL);
    long long waited_ms = (ns_of(CLOCK_MONOTONIC) - start) / 1000000;
    printf("SIGALRM after pause: %d, waited >= 90 ms: %d\n", alarms, waited_ms >= 90);
    SHOW("getitimer(REAL) after it fired", getitimer(ITIMER_REAL, &now));
    printf("disarmed: %d\n", !now.it_value.tv_sec && !now.it_value.tv_usec);
    // Periodic: three signals, then disarm and read back the old value.
    alarms = 0;
    struct itimerval periodic = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &periodic, NULL);
    sigset_t none;
    sigemptyset(&none);
    while (alarms < 3) sigsuspend(&none);
    struct itimerval off = {{0, 0}, {0, 0}};
    SHOW("setitimer(REAL, off)", setitimer(ITIMER_REAL, &off, &old));
    printf("periodic signals: %d, old interval 20 ms: %d\n", alarms >= 3, tv_ms(old.it_interval) == 20);
    // Virtual and profiling timers count CPU time.
    struct itimerval cpu = {{0, 0}, {0, 50000}};
    SHOW("setitimer(VIRTUAL, 50 ms)", setitimer(ITIMER_VIRTUAL, &cpu, NULL));
    SHOW("setitimer(PROF, 50 ms)", setitimer(ITIMER_PROF, &cpu, NULL));
    SHOW("getitimer(VIRTUAL)", getitimer(ITIMER_VIRTUAL, &now));
    printf("virtual armed: %d\n", now.it_value.tv_sec || now.it_value.tv_usec);
    for (int i = 0; i < 100 && (!vtalarms || !profs); ++i) burn_cpu_ms(10);
    printf("SIGVTALRM: %d, SIGPROF: %d\n", vtalarms, profs);
    SHOW("setitimer(3)", setitimer(3, &value, NULL));
    struct itimerval bad = {{0, 0}, {0, 1000000}};
    SHOW("setitimer(usec 1000000)", setitimer(ITIMER_REAL, &bad, NULL));
    // alarm: the seconds left of the previous one (rounded), SIGALRM when it expires.
    SHOW("alarm(10)", alarm(10));
    SHOW("alarm(0) after alarm(10)", alarm(0));
    alarms = 0;
    SHOW("alarm(1)", alarm(1));
    pause();
    printf("SIGALRM from alarm: %d\n", alarms);
    // A child does not inherit its parent's timers.
    setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {10, 0}}, NULL);
    pid_t child = fork();
    if (child == 0) {
        struct itimerval mine;
        getitimer(ITIMER_REAL, &mine);
        _exit(mine.it_value.tv_sec || mine.it_value.tv_usec ? 1 : 0);
    }
    int status;
    waitpid(child, &status, 0);
    printf("child's ITIMER_REAL disarmed: %d\n", WEXITSTATUS(status) == 0);
    alarm(0);
}

static void test_sysinfo(void) {
    struct sysinfo info;
    SHOW("sysinfo", sysinfo(&info));
    struct timespec boot;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    printf("uptime matches CLOCK_BOOTTIME: %d\n", info.uptime >= boot.tv_sec - 1 && info.uptime <= boot.tv_sec + 1);
    printf("ram: total > 16 MiB %d, free <= total %d, mem_unit %d\n",
           (unsigned long long)info.totalram * info.mem_unit > (16ull << 20), info.freeram <= info.totalram,
           info.mem_unit);
    printf("procs >= 1: %d\n", info.procs >= 1);
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    struct sysinfo more;
    sysinfo(&more);
    printf("procs grew with a child: %d\n", more.procs >= info.procs + 1 || more.procs > 1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    SHOW("sysinfo(bad pointer)", syscall(SYS_sysinfo, (void*)8));
}

static void* name_thread(void* arg) {
    (void)arg;
    prctl(PR_SET_NAME, "worker");
    char name[16];
    prctl(PR_GET_NAME, name);
    printf("thread name: %s\n", name);
    return NULL;
}

static void test_prctl(void) {
    SHOW("PR_SET_NAME", prctl(PR_SET_NAME, "a-very-long-thread-name"));
    char name[16] = {0};
    SHOW("PR_GET_NAME", prctl(PR_GET_NAME, name));
    printf("name: %s\n", name);
    pthread_t thread;
    pthread_create(&thread, NULL, name_thread, NULL);
    pthread_join(thread, NULL);
    prctl(PR_GET_NAME, name);
    printf("main's name unchanged: %s\n", name);
    SHOW("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE));
    SHOW("PR_SET_DUMPABLE 0", prctl(PR_SET_DUMPABLE, 0));
    SHOW("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE));
    SHOW("PR_SET_DUMPABLE 2", prctl(PR_SET_DUMPABLE, 2));
    prctl(PR_SET_DUMPABLE, 1);
    int sig = -1;
    SHOW("PR_SET_PDEATHSIG 65", prctl(PR_SET_PDEATHSIG, 65));
    SHOW("PR_GET_PDEATHSIG", prctl(PR_GET_PDEATHSIG, &sig));
    printf("pdeathsig %d\n", sig);
    SHOW("PR_GET_CHILD_SUBREAPER", prctl(PR_GET_CHILD_SUBREAPER, &sig));
    printf("subreaper %d\n", sig);
    SHOW("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1));
    SHOW("PR_GET_CHILD_SUBREAPER", prctl(PR_GET_CHILD_SUBREAPER, &sig));
    printf("subreaper %d\n", sig);
    // A middle process forks a grandchild that asks for SIGTERM when its parent dies, then
    // exits: the grandchild gets SIGTERM and, orphaned, is reparented to this subreaper.
    int ready[2];
    pipe(ready);
    pid_t middle = fork();
    if (middle == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            int mine = 0;
            prctl(PR_GET_PDEATHSIG, &mine);
            write(ready[1], &mine, sizeof mine);
            for (;;) pause();
        }
        int got;
        read(ready[0], &got, sizeof got);
        _exit(got == SIGTERM ? 7 : 8);
    }
    int status;
    waitpid(middle, &status, 0);
    printf("middle exited %d\n", WEXITSTATUS(status));
    pid_t reaped = waitpid(-1, &status, 0);
    printf("reaped the orphan: %d, killed by SIGTERM: %d\n", reaped > 0 && reaped != middle,
           WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    SHOW("waitpid: no more children", waitpid(-1, &status, WNOHANG));
    SHOW("PR_SET_CHILD_SUBREAPER 0", prctl(PR_SET_CHILD_SUBREAPER, 0));
    SHOW("prctl(unknown)", prctl(9999, 0, 0, 0, 0));
    SHOW("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    SHOW("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
    SHOW("PR_GET_TIMERSLACK", prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));
}

static volatile sig_atomic_t usr1;
static void on_usr1(int signal) {
    (void)signal;
    ++usr1;
}

static void test_sigsuspend(void) {
    struct sigaction action = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &action, NULL);
    sigset_t block, none, now;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, NULL);
    kill(getpid(), SIGUSR1);
    printf("handled while blocked: %d\n", usr1);
    SHOW("sigsuspend(empty) with SIGUSR1 pending", sigsuspend(&none));
    printf("handled: %d\n", usr1);
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("SIGUSR1 blocked again after: %d\n", sigismember(&now, SIGUSR1));
    // Woken by another process's signal.
    pid_t child = fork();
    if (child == 0) {
        usleep(100000);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    SHOW("sigsuspend until the child's SIGUSR1", sigsuspend(&none));
    printf("handled: %d\n", usr1);
    waitpid(child, NULL, 0);
    SHOW("rt_sigsuspend(bad size)", syscall(SYS_rt_sigsuspend, &none, 4));
    SHOW("rt_sigsuspend(bad pointer)", syscall(SYS_rt_sigsuspend, (void*)8, 8));
    sigprocmask(SIG_UNBLOCK, &block, NULL);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_personality();
    test_clock_setting();
    test_rusage();
    test_timers();
    test_sysinfo();
    test_prctl();
    test_sigsuspend();
    puts("done");
    return 0;
}
