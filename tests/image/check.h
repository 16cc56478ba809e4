// The checks of the self-checking image tests: CHECK(cond) prints the failing condition with
// its line and errno and counts it; a test exits with check_failures (0 = passed).
#ifndef XOS_TESTS_CHECK_H
#define XOS_TESTS_CHECK_H

#include <errno.h>
#include <stdio.h>

static int check_failures;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            printf("FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #cond, errno);                                   \
            ++check_failures;                                                                                          \
        }                                                                                                              \
    } while (0)

#endif
