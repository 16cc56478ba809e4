// Syscall-site rewriting (libos/rewrite): code copied into an executable page of the app's
// memory, with `mov $N,%eax; syscall; ret` sites, is called in a loop. The first call of a site
// traps; the trap rewrites the site into a jump to a trampoline (first byte 0xe9), or with
// XOS_REWRITE=0 leaves it (0xb8). Either way every call returns the right result, preserves what
// the syscall ABI preserves (rbx rbp rdi rsi rdx r8-r10 r12-r15, the 128-byte red zone, the
// flags) and leaves %rcx = the address after the `syscall`, %r11 = RFLAGS, as a real syscall
// does. A site that does not match (`mov %edi,%eax; syscall`) stays on the trap path, and so
// does one on a page shared with another mapping (a memfd mapped twice), while a MAP_PRIVATE
// mapping of that file is patched in its own copy of the page; the `syscall` of a
// patched site still works when entered directly (a thread stopped between the two
// instructions when the site was patched). The other patterns (docs/syscall-rewriting.md) run
// their exact bytes too: `mov $N,%rax; syscall`, and sites whose `syscall` and the instructions
// after it move into the trampoline: glibc's read (`xor %eax,%eax; syscall; cmp $-4096,%rax`),
// `mov %r9d,%eax; syscall; cmp $-4095,%rax`, `mov $N,%eax; mov $8,%r10d; syscall; cmp`,
// `syscall; mov %eax,%eax; test %rax,%rax`, each checked for the flags the cmp/test leaves; such
// a site first called while a second thread lives stays trapped until the thread is gone; and
// musl's `mov %r8,%rax; syscall; ret`, `mov %esi,%eax; syscall; ret`, `mov %r11,8(%rsp);
// syscall; ret`, where the instruction before the syscall moves too.
// Usage: syscall_rewrite patched|trapped   (what the sites are expected to become)
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

// run_site's frame: registers in, registers out (after the call), the red zone below the site's
// stack pointer before and after.
enum {
    IN_FLAGS,
    IN_RBX,
    IN_RBP,
    IN_RDI,
    IN_RSI,
    IN_RDX,
    IN_R8,
    IN_R9,
    IN_R10,
    IN_R12,
    IN_R13,
    IN_R14,
    IN_R15,
    IN_COUNT
};
enum {
    OUT_RAX,
    OUT_RBX,
    OUT_RBP,
    OUT_RCX,
    OUT_RDX,
    OUT_RSI,
    OUT_RDI,
    OUT_R8,
    OUT_R9,
    OUT_R10,
    OUT_R11,
    OUT_R12,
    OUT_R13,
    OUT_R14,
    OUT_R15,
    OUT_FLAGS,
    OUT_COUNT
};
struct Frame {
    uint64_t in[IN_COUNT];  // offset 0
    uint64_t out[OUT_COUNT];  // offset 104
    uint64_t red_zone_in[16];  // offset 232
    uint64_t red_zone_out[16];  // offset 360
};
_Static_assert(sizeof(struct Frame) == 488, "offsets used by run_site");

// void run_site(struct Frame* frame, void (*site)(void))
// Loads every register from frame->in, fills the 128 bytes below the site's %rsp (the red zone
// of the code it calls) from red_zone_in, calls `site` with RFLAGS = in[IN_FLAGS], and stores
// every register, RFLAGS and that red zone afterwards.
__asm__(".text\n"
        ".globl run_site\n"
        "run_site:\n"
        "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
        "  sub $512, %rsp\n"
        "  mov %rdi, 400(%rsp)\n"
        "  mov %rsi, 408(%rsp)\n"
        "  lea 232(%rdi), %rsi\n"  // red_zone_in -> [rsp-136, rsp-8): the callee's red zone
        "  lea -136(%rsp), %rdi\n"
        "  mov $16, %ecx\n"
        "  cld\n"
        "  rep movsq\n"
        "  mov 400(%rsp), %rax\n"
        "  pushq 0(%rax)\n"  // writes rsp-8 only: where the call's return address goes
        "  popfq\n"
        "  mov 408(%rsp), %r11\n"
        "  mov 8(%rax), %rbx\n"
        "  mov 16(%rax), %rbp\n"
        "  mov 24(%rax), %rdi\n"
        "  mov 32(%rax), %rsi\n"
        "  mov 40(%rax), %rdx\n"
        "  mov 48(%rax), %r8\n"
        "  mov 56(%rax), %r9\n"
        "  mov 64(%rax), %r10\n"
        "  mov 72(%rax), %r12\n"
        "  mov 80(%rax), %r13\n"
        "  mov 88(%rax), %r14\n"
        "  mov 96(%rax), %r15\n"
        "  mov $0x7777, %eax\n"
        "  call *%r11\n"
        "  mov %rax, 392(%rsp)\n"
        "  pushfq\n"
        "  mov 408(%rsp), %rax\n"  // 400 + the 8 bytes of pushfq
        "  popq 224(%rax)\n"  // out[OUT_FLAGS]
        "  mov %rbx, 112(%rax)\n"
        "  mov %rbp, 120(%rax)\n"
        "  mov %rcx, 128(%rax)\n"
        "  mov %rdx, 136(%rax)\n"
        "  mov %rsi, 144(%rax)\n"
        "  mov %rdi, 152(%rax)\n"
        "  mov %r8, 160(%rax)\n"
        "  mov %r9, 168(%rax)\n"
        "  mov %r10, 176(%rax)\n"
        "  mov %r11, 184(%rax)\n"
        "  mov %r12, 192(%rax)\n"
        "  mov %r13, 200(%rax)\n"
        "  mov %r14, 208(%rax)\n"
        "  mov %r15, 216(%rax)\n"
        "  mov 392(%rsp), %rcx\n"
        "  mov %rcx, 104(%rax)\n"
        "  cld\n"
        "  lea -136(%rsp), %rsi\n"
        "  lea 360(%rax), %rdi\n"
        "  mov $16, %ecx\n"
        "  rep movsq\n"
        "  add $512, %rsp\n"
        "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
        "  ret\n");
void run_site(struct Frame* frame, const void* site);

#define MOV_SYSCALL_RET(n) 0xb8, (n) & 0xff, ((n) >> 8) & 0xff, 0, 0, 0x0f, 0x05, 0xc3
#define PAD8 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc
enum {
    SITE_GETPID = 0,
    SITE_GETPPID = 16,
    SITE_WRITE = 32,
    SITE_MMAP = 48,
    SITE_NONMATCHING = 64,
    SITE_MIDDLE = 80,
    SITE_MOV_RAX = 96,
    SITE_READ = 112,
    SITE_MOV_REG = 128,
    SITE_BETWEEN = 144,
    SITE_TEST_AFTER = 176,
    SITE_READ_THREADS = 192,
    SITE_MUSL = 208,
    SITE_MOV_ESI = 224,
    SITE_CP = 240,
    SITE_MISDECODED = 256,
};
// clang-format off
static const uint8_t code[] = {
    MOV_SYSCALL_RET(SYS_getpid),  PAD8,
    MOV_SYSCALL_RET(SYS_getppid), PAD8,
    MOV_SYSCALL_RET(SYS_write),   PAD8,
    MOV_SYSCALL_RET(SYS_mmap),    PAD8,
    0x89, 0xf8, 0x0f, 0x05, 0xeb, 0x00, 0xc3,  // mov %edi,%eax; syscall; jmp .+2; ret
    0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // mov %edi,%eax; jmp SITE_GETPID+5: as a thread that was stopped between the mov and the
    // syscall of a site when it was patched, and resumes at the `syscall`.
    0x89, 0xf8, 0xeb, (uint8_t)(SITE_GETPID + 5 - (SITE_MIDDLE + 4)),
    0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // mov $SYS_getppid,%rax; syscall; ret (glibc's rt_sigreturn has the mov $N,%rax form)
    0x48, 0xc7, 0xc0, SYS_getppid, 0, 0, 0, 0x0f, 0x05, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // glibc's read: xor %eax,%eax; syscall; cmp $-4096,%rax; ret
    0x31, 0xc0, 0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // mov %r9d,%eax; syscall; cmp $-4095,%rax; ret (glibc's cancellable syscalls: mov %r8d,%eax)
    0x44, 0x89, 0xc8, 0x0f, 0x05, 0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc,
    // mov $SYS_getppid,%eax; mov $8,%r10d; syscall; cmp $-4096,%rax; ret (rt_sigprocmask's shape)
    0xb8, SYS_getppid, 0, 0, 0, 0x41, 0xba, 0x08, 0, 0, 0, 0x0f, 0x05, 0x48, 0x3d, 0x00,
    0xf0, 0xff, 0xff, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // mov %r9d,%eax; syscall; mov %eax,%eax; test %rax,%rax; ret
    0x44, 0x89, 0xc8, 0x0f, 0x05, 0x89, 0xc0, 0x48, 0x85, 0xc0, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // the read site again, first called while a second thread lives
    0x31, 0xc0, 0x0f, 0x05, 0x48, 0x3d, 0x00, 0xf0, 0xff, 0xff, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // musl's __syscall5 and the like: mov %r8,%rax; syscall; ret (the mov moves too)
    0x4c, 0x89, 0xc0, 0x0f, 0x05, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // mov %esi,%eax; syscall; ret (the mov and the ret move)
    0x89, 0xf0, 0x0f, 0x05, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // musl's __syscall_cp_asm ends: mov %r8,%rax; mov %r11,8(%rsp); syscall; ret (the store moves)
    0x4c, 0x89, 0xc0, 0x4c, 0x89, 0x5c, 0x24, 0x08, 0x0f, 0x05, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
    // mov $0xc289,%ax; syscall; ret: the bytes before the syscall end in 89 c2, `mov %eax,%edx`
    // read backwards, which %edx at the trap belies: left trapped (patching from the 89 would cut
    // the real instruction in two).
    0x66, 0xb8, 0x89, 0xc2, 0x0f, 0x05, 0xc3, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc,
};
// clang-format on
_Static_assert(sizeof code == SITE_MISDECODED + 16, "the SITE_ offsets match code[]");

// What a site's flags are after it returns: the caller's (kept by the syscall), or those of the
// instruction after the syscall applied to the result.
enum { AFTER_NOTHING, AFTER_CMP_4096, AFTER_CMP_4095, AFTER_TEST };
struct SiteShape {
    int offset;  // in code[]
    int syscall_end;  // the address after the `syscall`, as an offset in code[]
    int after;  // AFTER_*
    int xor_before;  // xor %eax,%eax before the syscall: %r11 has its flags
};
static const struct SiteShape shapes[] = {
    {SITE_GETPID, SITE_GETPID + 7, AFTER_NOTHING, 0},
    {SITE_GETPPID, SITE_GETPPID + 7, AFTER_NOTHING, 0},
    {SITE_WRITE, SITE_WRITE + 7, AFTER_NOTHING, 0},
    {SITE_MMAP, SITE_MMAP + 7, AFTER_NOTHING, 0},
    {SITE_NONMATCHING, SITE_NONMATCHING + 4, AFTER_NOTHING, 0},
    {SITE_MIDDLE, SITE_GETPID + 7, AFTER_NOTHING, 0},
    {SITE_MOV_RAX, SITE_MOV_RAX + 9, AFTER_NOTHING, 0},
    {SITE_READ, SITE_READ + 4, AFTER_CMP_4096, 1},
    {SITE_MOV_REG, SITE_MOV_REG + 5, AFTER_CMP_4095, 0},
    {SITE_BETWEEN, SITE_BETWEEN + 13, AFTER_CMP_4096, 0},
    {SITE_TEST_AFTER, SITE_TEST_AFTER + 5, AFTER_TEST, 0},
    {SITE_READ_THREADS, SITE_READ_THREADS + 4, AFTER_CMP_4096, 1},
    {SITE_MUSL, SITE_MUSL + 5, AFTER_NOTHING, 0},
    {SITE_MOV_ESI, SITE_MOV_ESI + 4, AFTER_NOTHING, 0},
    {SITE_CP, SITE_CP + 10, AFTER_NOTHING, 0},
    {SITE_MISDECODED, SITE_MISDECODED + 6, AFTER_NOTHING, 0},
};
static const uint8_t* g_code;  // where code[] runs

static const struct SiteShape* shape_of(const uint8_t* at) {
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i)
        if (at - g_code == shapes[i].offset) return &shapes[i];
    return NULL;
}

// The flags `after` leaves for result `rax`, from `in` (DF and the rest kept).
static uint64_t flags_after(int after, uint64_t in, uint64_t rax) {
    uint64_t out;
    if (after == AFTER_NOTHING) return in;
    // Below the red zone: the compiler may keep locals in it.
    __asm__ volatile("lea -128(%%rsp), %%rsp\n"
                     "cmp $1, %2; je 1f; cmp $2, %2; je 2f\n"
                     "test %1, %1; jmp 3f\n"
                     "1: cmp $-4096, %1; jmp 3f\n"
                     "2: cmp $-4095, %1\n"
                     "3: pushfq; pop %0\n"
                     "lea 128(%%rsp), %%rsp"
                     : "=r"(out)
                     : "r"(rax), "r"((uint64_t)after)
                     : "cc", "memory");
    uint64_t changed = 0x8d5;  // CF PF AF ZF SF OF
    return (in & ~changed) | (out & changed);
}

static const uint64_t CF = 1, PF = 4, ZF = 0x40, SF = 0x80, OF = 0x800, DF = 0x400, ARITHMETIC_AND_DF = 0xcd5;

// Calls the site at `at` with the arguments a1..a6 and distinct values in every other register,
// checks what the syscall ABI promises and returns %rax.
static long call_site(const uint8_t* at, long a1, long a2, long a3, long a4, long a5, long a6, int line) {
    static uint64_t round;
    ++round;
    struct Frame f;
    memset(&f, 0, sizeof f);
    f.in[IN_FLAGS] = 0x202 | CF | ((round & 1) ? DF : 0);
    uint64_t values[IN_COUNT] = {0,
                                 0xb0b0 + round,
                                 0xbe7e + round,
                                 (uint64_t)a1,
                                 (uint64_t)a2,
                                 (uint64_t)a3,
                                 (uint64_t)a5,
                                 (uint64_t)a6,
                                 (uint64_t)a4,
                                 0x1212 + round,
                                 0x1313 + round,
                                 0x1414 + round,
                                 0x1515 + round};
    for (int i = IN_RBX; i < IN_COUNT; ++i) f.in[i] = values[i];
    for (int i = 0; i < 16; ++i) f.red_zone_in[i] = 0x5a5a000000000000ull + round * 64 + (uint64_t)i;
    run_site(&f, at);
    int failures = check_failures;
    CHECK(f.out[OUT_RBX] == f.in[IN_RBX] && f.out[OUT_RBP] == f.in[IN_RBP]);
    CHECK(f.out[OUT_RDI] == f.in[IN_RDI] && f.out[OUT_RSI] == f.in[IN_RSI] && f.out[OUT_RDX] == f.in[IN_RDX]);
    CHECK(f.out[OUT_R8] == f.in[IN_R8] && f.out[OUT_R9] == f.in[IN_R9] && f.out[OUT_R10] == f.in[IN_R10]);
    CHECK(f.out[OUT_R12] == f.in[IN_R12] && f.out[OUT_R13] == f.in[IN_R13] && f.out[OUT_R14] == f.in[IN_R14] &&
          f.out[OUT_R15] == f.in[IN_R15]);
    CHECK(memcmp(f.red_zone_in, f.red_zone_out, sizeof f.red_zone_in) == 0);
    const struct SiteShape* shape = shape_of(at);
    CHECK(shape != NULL);
    if (!shape) return -1;
    // The flags come back as they were (sysret restores them from %r11), DF included, then
    // changed by what the site runs after the syscall (a cmp, a test) as natively.
    uint64_t expected = flags_after(shape->after, f.in[IN_FLAGS], f.out[OUT_RAX]);
    CHECK((f.out[OUT_FLAGS] & ARITHMETIC_AND_DF) == (expected & ARITHMETIC_AND_DF));
    // %r11 = RFLAGS at the syscall, %rcx = the address after the `syscall` instruction.
    if (shape->xor_before) {  // xor: CF OF SF cleared, ZF PF set (AF undefined)
        uint64_t mask = CF | PF | ZF | SF | OF | DF;
        CHECK((f.out[OUT_R11] & mask) == ((f.in[IN_FLAGS] & DF) | ZF | PF));
    } else {
        CHECK((f.out[OUT_R11] & ARITHMETIC_AND_DF) == (f.in[IN_FLAGS] & ARITHMETIC_AND_DF));
    }
    CHECK(f.out[OUT_RCX] == (uint64_t)(uintptr_t)(g_code + shape->syscall_end));
    if (check_failures != failures) printf("  (in the call from line %d, round %lu)\n", line, (unsigned long)round);
    return (long)f.out[OUT_RAX];
}
#define CALL(at, a1, a2, a3, a4, a5, a6) call_site(at, a1, a2, a3, a4, a5, a6, __LINE__)

static long proc_counter(const char* name) {
    FILE* file = fopen("/proc/xos/rewrite", "r");
    if (!file) return -1;
    char key[64];
    long value = -1, found = -1;
    while (fscanf(file, "%63s %ld%*[^\n]", key, &value) == 2)
        if (strcmp(key, name) == 0) found = value;
    fclose(file);
    return found;
}

static void* block_on_pipe(void* fd) {
    char byte;
    return read(*(int*)fd, &byte, 1) == 1 ? NULL : (void*)1;
}

int main(int argc, char** argv) {
    int expect_patched = argc > 1 && strcmp(argv[1], "patched") == 0;
    uint8_t first_byte = expect_patched ? 0xe9 : 0xb8;
    uint8_t first_byte_rax = expect_patched ? 0xe9 : 0x48;
    uint8_t moved_byte = expect_patched ? 0xe9 : 0x0f;
    const char* mode = expect_patched ? "patched" : "trapped";

    uint8_t* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED);
    if (page == MAP_FAILED) return 1;
    memset(page, 0xcc, 4096);
    memcpy(page, code, sizeof code);
    CHECK(mprotect(page, 4096, PROT_READ | PROT_EXEC) == 0);  // W^X (hosted: XOS_EXEC=wx)
    g_code = page;
    int pipe_fds[2];
    CHECK(pipe(pipe_fds) == 0);

    long pid = getpid(), ppid = getppid();
    const char message[] = "written through a syscall site\n";
    for (int i = 0; i < 1000; ++i) {
        CHECK(CALL(page + SITE_GETPID, 1, 2, 3, 4, 5, 6) == pid);
        CHECK(CALL(page + SITE_GETPPID, 11, 12, 13, 14, 15, 16) == ppid);
        long wrote = CALL(page + SITE_WRITE, 1, (long)message, i < 2 ? (long)strlen(message) : 0, 7, 8, 9);
        CHECK(wrote == (i < 2 ? (long)strlen(message) : 0));
        CHECK(CALL(page + SITE_WRITE, 99, (long)message, 1, 0, 0, 0) == -9);  // -EBADF
        if (i < 4) {  // six arguments: mmap(NULL, 4096, RW, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
            long mapped = CALL(page + SITE_MMAP, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            CHECK(mapped > 0 && (mapped & 4095) == 0);
            if (mapped > 0) {
                ((volatile char*)mapped)[100] = 42;
                CHECK(munmap((void*)mapped, 4096) == 0);
            }
            // A bad sixth argument (offset not page-aligned) reaches the handler too.
            CHECK(CALL(page + SITE_MMAP, 0, 4096, PROT_READ, MAP_PRIVATE, 0, 1) == -22);  // -EINVAL
        }
        // The patterns glibc's sites have besides `mov $N,%eax; syscall` (docs/syscall-rewriting.md).
        CHECK(CALL(page + SITE_MOV_RAX, 1, 2, 3, 4, 5, 6) == ppid);
        char byte = 0;
        CHECK(write(pipe_fds[1], "r", 1) == 1);
        CHECK(CALL(page + SITE_READ, pipe_fds[0], (long)&byte, 1, 4, 5, 6) == 1 && byte == 'r');
        CHECK(CALL(page + SITE_READ, 99, (long)&byte, 1, 4, 5, 6) == -9);  // -EBADF: cmp says "error"
        CHECK(CALL(page + SITE_MOV_REG, 1, 2, 3, 4, 5, SYS_getpid) == pid);
        CHECK(CALL(page + SITE_BETWEEN, 1, 2, 3, 8, 5, 6) == ppid);  // %r10 = 8 by the site
        CHECK(CALL(page + SITE_TEST_AFTER, 1, 2, 3, 4, 5, SYS_getppid) == ppid);
        CHECK(CALL(page + SITE_MUSL, 1, 2, 3, 4, SYS_getppid, 6) == ppid);
        CHECK(CALL(page + SITE_MOV_ESI, 1, SYS_getpid, 3, 4, 5, 6) == pid);
        CHECK(CALL(page + SITE_CP, 1, 2, 3, 4, SYS_getppid, 6) == ppid);
        CHECK(CALL(page + SITE_NONMATCHING, SYS_getpid, 0, 0, 0, 0, 0) == pid);
        CHECK(CALL(page + SITE_MIDDLE, SYS_getpid, 0, 0, 0, 0, 0) == pid);
        if (i == 0 || i == 999) {
            CHECK(page[SITE_GETPID] == first_byte);
            CHECK(page[SITE_GETPPID] == first_byte);
            CHECK(page[SITE_WRITE] == first_byte);
            CHECK(page[SITE_MMAP] == first_byte);
            CHECK(page[SITE_NONMATCHING] == 0x89);  // never patched
            CHECK(page[SITE_MOV_RAX] == first_byte_rax);
            CHECK(page[SITE_READ] == 0x31 && page[SITE_READ + 2] == moved_byte);  // the syscall moved
            CHECK(page[SITE_MOV_REG + 3] == moved_byte);
            CHECK(page[SITE_BETWEEN] == 0xb8 && page[SITE_BETWEEN + 11] == moved_byte);
            CHECK(page[SITE_TEST_AFTER + 3] == moved_byte);
            CHECK(page[SITE_MUSL] == (expect_patched ? 0xe9 : 0x4c));  // the jump starts at the mov
            CHECK(page[SITE_MOV_ESI] == (expect_patched ? 0xe9 : 0x89));
            CHECK(page[SITE_CP] == 0x4c && page[SITE_CP + 3] == (expect_patched ? 0xe9 : 0x4c));
            CHECK(page[SITE_GETPID + 5] == 0x0f && page[SITE_GETPID + 6] == 0x05);  // the syscall stays
        }
        if (check_failures > 20) break;
    }

    // A site whose syscall would move (the read site's shape) is left trapped while another
    // thread lives (it could be inside a syscall from that site), and patched once it is gone.
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, block_on_pipe, &pipe_fds[0]) == 0);
    for (int i = 0; i < 3; ++i) CHECK(CALL(page + SITE_READ_THREADS, 99, 0, 1, 4, 5, 6) == -9);
    CHECK(page[SITE_READ_THREADS + 2] == 0x0f);
    CHECK(write(pipe_fds[1], "t", 1) == 1);
    CHECK(pthread_join(thread, NULL) == 0);
    for (int i = 0; i < 3; ++i) CHECK(CALL(page + SITE_READ_THREADS, 99, 0, 1, 4, 5, 6) == -9);
    CHECK(page[SITE_READ_THREADS + 2] == moved_byte);

    for (int i = 0; i < 3; ++i) CHECK(CALL(page + SITE_MISDECODED, 1, 2, 3, 4, 5, 6) == -38);  // -ENOSYS
    CHECK(page[SITE_MISDECODED + 2] == 0x89 && page[SITE_MISDECODED + 4] == 0x0f);

    // A site on a page shared with another mapping of the same memfd is never patched.
    int shared_ran = 0, private_ran = 0;
    int fd = (int)syscall(SYS_memfd_create, "rewrite-test", 0);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 4096) == 0);
    uint8_t* writable = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (writable == MAP_FAILED) {
        printf("shared site: skipped (no file mmap here: errno %d)\n", errno);
    } else {
        memcpy(writable, code, sizeof code);
        munmap(writable, 4096);
        uint8_t* shared = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
        uint8_t* view = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        CHECK(shared != MAP_FAILED && view != MAP_FAILED);
        if (shared != MAP_FAILED && view != MAP_FAILED) {
            g_code = shared;
            for (int i = 0; i < 10; ++i) CHECK(CALL(shared + SITE_GETPID, 0, 0, 0, 0, 0, 0) == pid);
            CHECK(shared[SITE_GETPID] == 0xb8 && view[SITE_GETPID] == 0xb8);
            shared_ran = 1;
            printf("shared site: still trapped\n");
            // A MAP_PRIVATE mapping of the same file (as ld.so maps a library's code): patched in
            // the mapping's own copy of the page, the file's page (seen through `view`) untouched.
            uint8_t* private_code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
            CHECK(private_code != MAP_FAILED);
            if (private_code != MAP_FAILED) {
                g_code = private_code;
                for (int i = 0; i < 10; ++i) CHECK(CALL(private_code + SITE_GETPID, 0, 0, 0, 0, 0, 0) == pid);
                CHECK(private_code[SITE_GETPID] == first_byte);
                CHECK(view[SITE_GETPID] == 0xb8 && shared[SITE_GETPID] == 0xb8);
                private_ran = 1;
                printf("private file site: %s, the file unchanged\n", mode);
            }
        }
    }
    close(fd);

    long patched = proc_counter("patched"), traps = proc_counter("traps");
    long left_pattern = proc_counter("left_pattern"), left_disabled = proc_counter("left_disabled");
    long left_not_private = proc_counter("left_not_private"), left_threads = proc_counter("left_threads");
    long moved = proc_counter("patched_moved"), mov_rax = proc_counter("patched_mov_rax");
    printf("/proc/xos/rewrite: traps %ld patched %ld (moved %ld mov_rax %ld) left_pattern %ld left_disabled %ld "
           "left_not_private %ld left_threads %ld\n",
           traps, patched, moved, mov_rax, left_pattern, left_disabled, left_not_private, left_threads);
    if (expect_patched) {
        CHECK(patched == 13 + private_ran);  // + the private file mapping's site
        CHECK(moved == 8 && mov_rax == 1);
        CHECK(left_threads == 1);
        CHECK(left_pattern == 3);  // the non-matching site, the patched one entered at its syscall, the misdecoded one
        CHECK(left_not_private == shared_ran);  // the shared site, refused for being shared
        CHECK(traps >= 2000 && traps < 2100);  // those two sites' 2000, a few first calls
    } else {
        CHECK(patched == 0);
        CHECK(traps > 14000);
    }
    printf("%s: %d failure(s)\n", mode, check_failures);
    return check_failures ? 1 : 0;
}
