// Signal delivery with a real ucontext (docs/processes.md, "Signal delivery"), run natively and
// on xos (tests/signals/run_signals_test.py compares the output): a thread spinning without
// syscalls gets SIGUSR1 from another thread and from another process; a SIGSEGV handler checks
// the registers set by inline asm before the fault and skips the faulting instruction by
// editing RIP (and a register); SSE state is preserved across a handler that clobbers it and
// can be changed through the frame; nested signals and sa_mask; SA_NODEFER, SA_RESETHAND;
// uc_sigmask restored by rt_sigreturn; SA_RESTART vs EINTR on a blocking pipe read; sigaltstack;
// a fault without a handler in a child process ends only the child.
// Exit status 0 when every check passed; the output is the same natively and on xos.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                                     \
            printf(__VA_ARGS__);                                                                                       \
            printf("\n");                                                                                              \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

static void set_handler(int signal, void (*handler)(int, siginfo_t*, void*), int flags, const sigset_t* mask) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = handler;
    action.sa_flags = SA_SIGINFO | flags;
    if (mask) action.sa_mask = *mask;
    sigaction(signal, &action, NULL);
}

// 1. A thread spinning without syscalls.
static volatile sig_atomic_t spin_flag;
static volatile int spin_signal, spin_code;
static void on_spin_signal(int signal, siginfo_t* info, void* context) {
    (void)context;
    spin_signal = signal;
    spin_code = info->si_code;
    spin_flag = 1;
}
static void* spinner(void* arg) {
    (void)arg;
    while (!spin_flag) asm volatile("" ::: "memory");
    return NULL;
}
static void test_spinning(void) {
    set_handler(SIGUSR1, on_spin_signal, 0, NULL);
    pthread_t thread;
    spin_flag = 0;
    pthread_create(&thread, NULL, spinner, NULL);
    usleep(50000);
    pthread_kill(thread, SIGUSR1);
    pthread_join(thread, NULL);
    printf("spin thread: signal %d code %s\n", spin_signal, spin_code == SI_TKILL ? "SI_TKILL" : "other");
    // From another process, while this one spins.
    spin_flag = 0;
    pid_t child = fork();
    if (child == 0) {
        usleep(50000);
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    while (!spin_flag) asm volatile("" ::: "memory");
    int status;
    waitpid(child, &status, 0);
    printf("spin process: signal %d code %s\n", spin_signal, spin_code == SI_USER ? "SI_USER" : "other");
}

// 2. A fault: registers in the ucontext, RIP skipped by the handler.
static volatile uint64_t fault_regs[8];
static volatile uintptr_t fault_addr;
static volatile int fault_code, fault_trapno;
static volatile uint64_t fault_err;
static void on_segv(int signal, siginfo_t* info, void* context) {
    (void)signal;
    ucontext_t* uc = context;
    greg_t* g = uc->uc_mcontext.gregs;
    fault_addr = (uintptr_t)info->si_addr;
    fault_code = info->si_code;
    fault_trapno = (int)g[REG_TRAPNO];
    fault_err = (uint64_t)g[REG_ERR];
    fault_regs[0] = (uint64_t)g[REG_RBX];
    fault_regs[1] = (uint64_t)g[REG_R12];
    fault_regs[2] = (uint64_t)g[REG_R13];
    fault_regs[3] = (uint64_t)g[REG_R14];
    fault_regs[4] = (uint64_t)g[REG_R15];
    fault_regs[5] = (uint64_t)g[REG_RSI];
    fault_regs[6] = (uint64_t)g[REG_RDI];
    fault_regs[7] = (uint64_t)g[REG_RCX];
    g[REG_RIP] += 3;  // mov (%rcx),%rdx: 48 8b 11
    g[REG_RDX] = 0x4242;
}
static void test_fault(void) {
    set_handler(SIGSEGV, on_segv, 0, NULL);
    register uint64_t rbx asm("rbx") = 0x1111;
    register uint64_t r12 asm("r12") = 0x1212;
    register uint64_t r13 asm("r13") = 0x1313;
    register uint64_t r14 asm("r14") = 0x1414;
    register uint64_t r15 asm("r15") = 0x1515;
    register uint64_t rsi asm("rsi") = 0x5151;
    register uint64_t rdi asm("rdi") = 0xd1d1;
    register uint64_t rcx asm("rcx") = 0x10;
    uint64_t rdx = 0;
    asm volatile("xor %%edx,%%edx; .byte 0x48, 0x8b, 0x11; mov %%rdx,%[got]" /* mov (%%rcx),%%rdx */
                 : [got] "=m"(rdx)
                 : "r"(rbx), "r"(r12), "r"(r13), "r"(r14), "r"(r15), "r"(rsi), "r"(rdi), "r"(rcx)
                 : "rdx", "memory");
    printf("fault: si_addr %#lx code %s trapno %d err %#lx\n", (unsigned long)fault_addr,
           fault_code == SEGV_MAPERR ? "SEGV_MAPERR" : "other", fault_trapno, (unsigned long)fault_err);
    printf("fault: rbx %#lx r12 %#lx r13 %#lx r14 %#lx r15 %#lx rsi %#lx rdi %#lx rcx %#lx\n",
           (unsigned long)fault_regs[0], (unsigned long)fault_regs[1], (unsigned long)fault_regs[2],
           (unsigned long)fault_regs[3], (unsigned long)fault_regs[4], (unsigned long)fault_regs[5],
           (unsigned long)fault_regs[6], (unsigned long)fault_regs[7]);
    printf("fault: skipped, rdx from the handler %#lx\n", (unsigned long)rdx);
    CHECK(rdx == 0x4242, "rdx %#lx", (unsigned long)rdx);
}

// 3. SSE state across a handler (SIGILL from ud2).
static volatile int fpu_frame_ok = -1, fpu_magic = -1;
static void on_ill(int signal, siginfo_t* info, void* context) {
    (void)signal, (void)info;
    ucontext_t* uc = context;
    struct _libc_fpstate* fp = uc->uc_mcontext.fpregs;
    int ok = fp != NULL;
    for (int i = 0; ok && i < 16; i++) ok = fp->_xmm[i].element[0] == (uint32_t)(0x1000 + i);
    fpu_frame_ok = ok;
    if (fp) {
        uint32_t magic;
        memcpy(&magic, (char*)fp + 464, 4);
        fpu_magic = (uc->uc_flags & 1) ? magic == 0x46505853 : 1;
        fp->_xmm[5].element[0] = 0x5555;  // rt_sigreturn loads it
    }
    asm volatile("pxor %%xmm0,%%xmm0; pxor %%xmm1,%%xmm1; pxor %%xmm5,%%xmm5; pxor %%xmm15,%%xmm15" ::
                     : "xmm0", "xmm1", "xmm5", "xmm15");
    uc->uc_mcontext.gregs[REG_RIP] += 2;  // ud2
}
static void test_fpu(void) {
    set_handler(SIGILL, on_ill, 0, NULL);
    uint32_t in[16][4], out[16][4];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 16; i++) in[i][0] = 0x1000 + i;
#define LOADS                                                                                                          \
    "movdqu 0(%0),%%xmm0; movdqu 16(%0),%%xmm1; movdqu 32(%0),%%xmm2; movdqu 48(%0),%%xmm3; movdqu 64(%0),%%xmm4;"     \
    "movdqu 80(%0),%%xmm5; movdqu 96(%0),%%xmm6; movdqu 112(%0),%%xmm7; movdqu 128(%0),%%xmm8; movdqu 144(%0),%%xmm9;" \
    "movdqu 160(%0),%%xmm10; movdqu 176(%0),%%xmm11; movdqu 192(%0),%%xmm12; movdqu 208(%0),%%xmm13;"                  \
    "movdqu 224(%0),%%xmm14; movdqu 240(%0),%%xmm15;"
#define STORES                                                                                                         \
    "movdqu %%xmm0,0(%1); movdqu %%xmm1,16(%1); movdqu %%xmm2,32(%1); movdqu %%xmm3,48(%1); movdqu %%xmm4,64(%1);"     \
    "movdqu %%xmm5,80(%1); movdqu %%xmm6,96(%1); movdqu %%xmm7,112(%1); movdqu %%xmm8,128(%1); movdqu %%xmm9,144(%1);" \
    "movdqu %%xmm10,160(%1); movdqu %%xmm11,176(%1); movdqu %%xmm12,192(%1); movdqu %%xmm13,208(%1);"                  \
    "movdqu %%xmm14,224(%1); movdqu %%xmm15,240(%1);"
    asm volatile(LOADS "ud2;" STORES
                 :
                 : "r"(in), "r"(out)
                 : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                   "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    int kept = 1;
    for (int i = 0; i < 16; i++)
        if (i != 5 && out[i][0] != in[i][0]) kept = 0;
    printf("fpu: frame has the registers %d, xstate magic %d, kept across the handler %d, xmm5 from the frame %#x\n",
           fpu_frame_ok, fpu_magic, kept, out[5][0]);
    CHECK(fpu_frame_ok == 1 && fpu_magic == 1 && kept && out[5][0] == 0x5555, "fpu");
}

// 4. Nested signals, sa_mask, SA_NODEFER, SA_RESETHAND, uc_sigmask.
static volatile char order[64];
static volatile int order_length;
static volatile int nodefer_depth, nodefer_max, nodefer_calls;
static void note(char c) { order[order_length++] = c; }
static void on_usr2(int signal, siginfo_t* info, void* context) {
    (void)signal, (void)info, (void)context;
    note('2');
}
static void on_usr1_raise(int signal, siginfo_t* info, void* context) {
    (void)signal, (void)info, (void)context;
    note('1');
    raise(SIGUSR2);
    note('1');
}
static void on_nodefer(int signal, siginfo_t* info, void* context) {
    (void)info, (void)context;
    int depth = ++nodefer_depth;
    if (depth > nodefer_max) nodefer_max = depth;
    if (++nodefer_calls < 3) raise(signal);
    --nodefer_depth;
}
static void on_mask_edit(int signal, siginfo_t* info, void* context) {
    (void)signal, (void)info;
    ucontext_t* uc = context;
    note(sigismember(&uc->uc_sigmask, SIGTERM) ? 't' : '-');
    sigaddset(&uc->uc_sigmask, SIGHUP);
}
static void test_nesting(void) {
    set_handler(SIGUSR2, on_usr2, 0, NULL);
    set_handler(SIGUSR1, on_usr1_raise, 0, NULL);
    raise(SIGUSR1);  // 1 2 1: SIGUSR2 runs inside
    note('|');
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    set_handler(SIGUSR1, on_usr1_raise, 0, &mask);
    raise(SIGUSR1);  // 1 1 2: SIGUSR2 blocked until the handler returns
    note('|');
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    set_handler(SIGWINCH, on_mask_edit, 0, NULL);
    raise(SIGWINCH);
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    note(sigismember(&now, SIGHUP) ? 'h' : '-');
    sigprocmask(SIG_UNBLOCK, &now, NULL);
    order[order_length] = 0;
    printf("nesting: %s\n", (const char*)order);
    CHECK(strcmp((const char*)order, "121|112|th") == 0, "order %s", (const char*)order);

    set_handler(SIGUSR1, on_nodefer, 0, NULL);
    raise(SIGUSR1);  // three calls, one after the other
    int deferred_max = nodefer_max;
    nodefer_max = 0, nodefer_calls = 0;
    set_handler(SIGUSR1, on_nodefer, SA_NODEFER, NULL);
    raise(SIGUSR1);  // three calls, nested
    printf("nodefer: depth %d with SA_NODEFER, %d without\n", nodefer_max, deferred_max);
    CHECK(nodefer_max == 3 && deferred_max == 1, "nodefer");

    set_handler(SIGUSR2, on_usr2, SA_RESETHAND, NULL);
    raise(SIGUSR2);
    struct sigaction after;
    sigaction(SIGUSR2, NULL, &after);
    printf("resethand: handler afterwards %s\n", after.sa_handler == SIG_DFL ? "SIG_DFL" : "still set");
}

// 5. SA_RESTART vs EINTR on a blocking pipe read.
static int pipe_fds[2];
static volatile int read_result, read_errno, reader_started, alarms;
static void on_alarm(int signal, siginfo_t* info, void* context) {
    (void)signal, (void)info, (void)context;
    alarms++;
}
static void* reader(void* arg) {
    (void)arg;
    char c;
    reader_started = 1;
    read_result = (int)read(pipe_fds[0], &c, 1);
    read_errno = errno;
    return NULL;
}
static void test_restart(void) {
    pipe(pipe_fds);
    for (int restart = 0; restart <= 1; restart++) {
        set_handler(SIGALRM, on_alarm, restart ? SA_RESTART : 0, NULL);
        read_result = -2, read_errno = 0, reader_started = 0, alarms = 0;
        pthread_t thread;
        pthread_create(&thread, NULL, reader, NULL);
        while (!reader_started) usleep(1000);
        if (restart) {
            for (int i = 0; i < 3; i++) {
                usleep(100000);
                pthread_kill(thread, SIGALRM);
            }
            usleep(100000);
            write(pipe_fds[1], "x", 1);
        } else {
            // Until the read ends: a signal that came before it blocked only ran the handler.
            while (read_result == -2) {
                usleep(100000);
                pthread_kill(thread, SIGALRM);
            }
        }
        pthread_join(thread, NULL);
        printf("read with%s SA_RESTART: result %d%s\n", restart ? "" : "out", read_result,
               read_result < 0 && read_errno == EINTR ? " EINTR" : "");
        CHECK(restart ? read_result == 1 && alarms == 3 : read_result == -1 && read_errno == EINTR, "restart %d",
              restart);
    }
}

// 6. sigaltstack.
static char alt_stack[65536] __attribute__((aligned(16)));
static volatile int alt_on_stack, alt_ss_flags, alt_uc_flags;
static void on_alt(int signal, siginfo_t* info, void* context) {
    (void)signal, (void)info;
    ucontext_t* uc = context;
    char local;
    alt_on_stack = &local >= alt_stack && &local < alt_stack + sizeof alt_stack;
    stack_t now;
    sigaltstack(NULL, &now);
    alt_ss_flags = now.ss_flags;
    alt_uc_flags = uc->uc_stack.ss_flags;
    CHECK(uc->uc_stack.ss_sp == alt_stack && uc->uc_stack.ss_size == sizeof alt_stack, "uc_stack");
}
static void test_altstack(void) {
    stack_t stack = {.ss_sp = alt_stack, .ss_flags = 0, .ss_size = sizeof alt_stack};
    sigaltstack(&stack, NULL);
    set_handler(SIGUSR2, on_alt, SA_ONSTACK, NULL);
    raise(SIGUSR2);
    stack_t after;
    sigaltstack(NULL, &after);
    printf("altstack: handler on it %d, ss_flags in it %s, uc_stack.ss_flags %d, afterwards %d\n", alt_on_stack,
           alt_ss_flags == SS_ONSTACK ? "SS_ONSTACK" : "other", alt_uc_flags, after.ss_flags);
    CHECK(alt_on_stack && alt_ss_flags == SS_ONSTACK && after.ss_flags == 0, "altstack");
}

// 7. A fault without a handler ends only the process it happened in.
static void test_child_fault(void) {
    pid_t child = fork();
    if (child == 0) {
        signal(SIGSEGV, SIG_DFL);
        *(volatile int*)16 = 1;
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("child fault: %s %d\n", WIFSIGNALED(status) ? "killed by signal" : "exited",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "child fault");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_spinning();
    test_fault();
    test_fpu();
    test_nesting();
    test_restart();
    test_altstack();
    test_child_fault();
    printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
