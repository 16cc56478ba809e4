// Console input on Xen (the PV console ring's input half as standard input): run_xen.py's dom0
// writes a line to the guest's console pty (/local/domain/<domid>/console/tty) while the guest
// waits here. Exits 0 when the line read equals argv[1], 1 when it differs, 2 when standard input
// ended or failed first.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
    const char* want = argc > 1 ? argv[1] : "";
    char line[256];
    size_t length = 0;
    printf("waiting for a line on stdin (isatty %d)\n", isatty(0));
    fflush(stdout);
    for (;;) {
        char c;
        ssize_t n = read(0, &c, 1);
        if (n <= 0) {
            printf("stdin ended (read returned %zd, errno %d) after %zu byte(s)\n", n, n < 0 ? errno : 0, length);
            return 2;
        }
        if (c == '\r') continue;  // a pty in dom0 may turn \n into \r\n
        if (c == '\n') break;
        if (length < sizeof line - 1) line[length++] = c;
    }
    line[length] = 0;
    printf("read line: [%s]\n", line);
    return strcmp(line, want) == 0 ? 0 : 1;
}
