// An unimplemented syscall returns ENOSYS (logged once by xos) and the app carries on.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    for (int i = 0; i < 3; ++i) {
        long r = syscall(SYS_io_setup, 1, (void*)0);
        if (r != -1 || errno != ENOSYS) {
            printf("FAIL: io_setup returned %ld, errno %d\n", r, errno);
            return 1;
        }
    }
    long r = syscall(9999);
    if (r != -1 || errno != ENOSYS) {
        printf("FAIL: syscall 9999 returned %ld, errno %d\n", r, errno);
        return 1;
    }
    printf("ENOSYS as expected; still running\n");
    return 0;
}
