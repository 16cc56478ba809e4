// Binary compatibility: a real `syscall` instruction (as in a prebuilt static library) lands in
// xos's dispatcher through the LSTAR trap path, with the Linux register ABI: result in %rax,
// %rcx/%r11 clobbered, every other register preserved, the red zone intact.
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

static long raw_syscall3(long n, long a, long b, long c) {
    long ret;
    register long r10 __asm__("r10") = 0x1010;
    register long r8 __asm__("r8") = 0x0808;
    register long r9 __asm__("r9") = 0x0909;
    __asm__ volatile("syscall"
                     : "=a"(ret), "+r"(r10), "+r"(r8), "+r"(r9)
                     : "a"(n), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    if (r10 != 0x1010 || r8 != 0x0808 || r9 != 0x0909) return -1000;
    return ret;
}

int main(void) {
    const char message[] = "written by a raw syscall instruction\n";
    long written = raw_syscall3(SYS_write, 1, (long)message, (long)strlen(message));
    if (written != (long)strlen(message)) {
        printf("FAIL: write returned %ld\n", written);
        return 1;
    }
    if (raw_syscall3(SYS_getpid, 0, 0, 0) != 1) {
        printf("FAIL: getpid\n");
        return 1;
    }
    if (raw_syscall3(SYS_write, 99, (long)message, 1) != -9) {  // -EBADF
        printf("FAIL: write to a bad fd did not return -EBADF\n");
        return 1;
    }
    // The red zone below %rsp survives a syscall.
    long survived;
    __asm__ volatile("movq $0x5a5a5a5a, -8(%%rsp)\n\t"
                     "movq $39, %%rax\n\t"  // getpid
                     "syscall\n\t"
                     "movq -8(%%rsp), %0"
                     : "=r"(survived)
                     :
                     : "rax", "rcx", "r11", "memory");
    if (survived != 0x5a5a5a5a) {
        printf("FAIL: red zone clobbered (%#lx)\n", survived);
        return 1;
    }
    printf("raw syscalls OK\n");
    return 0;
}
