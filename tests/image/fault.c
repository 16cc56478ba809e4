// Expected crashes: each mode must end the image with a clear report and status 139.
//   stack-overflow: unbounded recursion in a thread runs into its guard page
//   write-rodata:   a write to a string literal (the image's read-only data)
//   write-readonly: a write to memory mprotect'ed PROT_READ
//   exec-data:      a jump into non-executable memory (a heap buffer)
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

__attribute__((noinline)) static int recurse(volatile char* previous, int depth) {
    volatile char frame[512];
    frame[0] = (char)depth;
    if (previous) frame[1] = previous[0];
    return recurse(frame, depth + 1) + frame[1];
}

static void* overflow(void* arg) {
    (void)arg;
    recurse(NULL, 0);
    return NULL;
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "";
    printf("mode %s\n", mode);
    fflush(stdout);
    if (!strcmp(mode, "stack-overflow")) {
        pthread_t t;
        pthread_create(&t, NULL, overflow, NULL);
        pthread_join(t, NULL);
    } else if (!strcmp(mode, "write-rodata")) {
        volatile char* literal = (volatile char*)"constant";
        literal[0] = 'C';
    } else if (!strcmp(mode, "write-readonly")) {
        char* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[0] = 1;
        mprotect(p, 4096, PROT_READ);
        p[0] = 2;
    } else if (!strcmp(mode, "exec-data")) {
        static unsigned char code[16] = {0xc3};  // ret, in .data
        ((void (*)(void))code)();
    }
    printf("survived?!\n");
    return 0;
}
