// bench/programs/hello.c: the boot benchmark's program. Prints one line and exits 0; the
// harness times the VM from start to that line and to exit.
#include <stdio.h>

int main(void) {
    puts("{\"bench\":\"hello\",\"ok\":true}");
    return 0;
}
