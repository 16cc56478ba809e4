// bench/rewrite/raw_getppid.c: the cost of getppid through a raw `syscall` site in the app's
// memory (`mov $110,%eax; syscall; ret`, copied into an executable page as an unmodified binary
// or a JIT would have it), next to getppid through libc (on xos a function call into libxos).
// On xos the raw site traps (VM: MSR_LSTAR; hosted: SIGSYS) unless libos rewrote it into a jump
// to a trampoline (libos/rewrite; XOS_REWRITE=0 keeps it trapped). A second site, `mov
// %edi,%eax; syscall; jmp .+2; ret`, matches no pattern and traps either way: with rewriting on
// it should cost what it costs with rewriting off (the rewriter remembers it). bench/rewrite/run.py
// runs it.
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../programs/bench.h"

static long (*raw_getppid)(void);
static long (*unpatchable)(long number);

static void raw_loop(long n) {
    for (long i = 0; i < n; i++) raw_getppid();
}

static void unpatchable_loop(long n) {
    for (long i = 0; i < n; i++) unpatchable(SYS_getppid);
}

static void libc_loop(long n) {
    for (long i = 0; i < n; i++) syscall(SYS_getppid);
}

int main(void) {
    static const unsigned char code[] = {0xb8, SYS_getppid, 0, 0, 0, 0x0f, 0x05, 0xc3};
    void* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) return 1;
    static const unsigned char other[] = {0x89, 0xf8, 0x0f, 0x05, 0xeb, 0x00, 0xc3};
    memcpy(page, code, sizeof code);
    memcpy((char*)page + 16, other, sizeof other);
    if (mprotect(page, 4096, PROT_READ | PROT_EXEC) != 0) return 1;
    raw_getppid = (long (*)(void))page;
    unpatchable = (long (*)(long))((char*)page + 16);
    if (raw_getppid() != getppid() || unpatchable(SYS_getppid) != getppid()) return 1;
    bench_timed_loop("getppid.raw_site", "ns/call", raw_loop, 200e6);
    bench_timed_loop("getppid.libc", "ns/call", libc_loop, 200e6);
    bench_timed_loop("getppid.unpatchable_site", "ns/call", unpatchable_loop, 200e6);
    printf("{\"figure\":\"site.first_byte\",\"unit\":\"byte\",\"value\":%d}\n", *(unsigned char*)page);
    return 0;
}
