// Exits with the status given as argv[1], through exit() or by returning from main.
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
    if (argc < 2) return 99;
    int status = atoi(argv[1]);
    if (argc > 2 && strcmp(argv[2], "via-exit") == 0) exit(status);
    return status;
}
