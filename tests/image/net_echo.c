/* Guest half of the net-echo test (run_net_echo_test.py): the image boots with a NIC, QEMU user
 * networking forwarding a host port to guest port 7, and libos's DIAGNOSTIC echo service on
 * port 7 (xos-run --net-echo 7). The app itself makes no network calls (the socket syscalls come
 * later): it waits until the host creates /mnt/done in the shared directory, then exits 0
 * (1 if that never happens within 60 s). */
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

int main(void) {
    struct stat st;
    printf("net_echo: waiting for the host\n");
    fflush(stdout);
    for (int i = 0; i < 1200; ++i) {
        if (stat("/mnt/done", &st) == 0) {
            printf("net_echo: host done\n");
            return 0;
        }
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    printf("net_echo: the host never finished\n");
    return 1;
}
