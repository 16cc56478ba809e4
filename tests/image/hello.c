// The C hello world: stdio on the console, exit status 0.
#include <stdio.h>

int main(void) {
    printf("Hello, %s!\n", "C on xos");
    return 0;
}
