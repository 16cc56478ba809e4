// A write through a null pointer: a page fault the image reports (address, RIP, backtrace)
// before exiting with 139, the status of a SIGSEGV on Linux.
#include <stdio.h>

__attribute__((noinline)) static void store(volatile int* p) { *p = 42; }

int main(void) {
    printf("about to write through a null pointer\n");
    fflush(stdout);
    store((volatile int*)0);
    printf("survived?!\n");
    return 0;
}
