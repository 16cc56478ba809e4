// Checks that argv and the environment arrive byte for byte as xos-run was given them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void expect(const char* what, const char* got, const char* want) {
    if (!got || strcmp(got, want) != 0) {
        printf("FAIL %s: got [%s], want [%s]\n", what, got ? got : "(null)", want);
        ++failures;
    }
}

int main(int argc, char** argv, char** envp) {
    const char* want[] = {"one", "two words", "", "quote\"back\\slash", "100%", "tab\there", "\xc3\xbcnicode"};
    int n = sizeof want / sizeof want[0];
    if (argc != n + 1) {
        printf("FAIL argc: got %d, want %d\n", argc, n + 1);
        return 1;
    }
    for (int i = 0; i < n; ++i) expect("argv", argv[i + 1], want[i]);
    if (argv[argc] != NULL) ++failures;
    expect("XOS_A", getenv("XOS_A"), "1");
    expect("XOS_B", getenv("XOS_B"), "x y=z");
    expect("XOS_EMPTY", getenv("XOS_EMPTY"), "");
    int envc = 0;
    while (envp[envc]) ++envc;
    if (envc != 3) {
        printf("FAIL envc: got %d, want 3\n", envc);
        ++failures;
    }
    printf("argv[0]=%s argc=%d envc=%d\n", argv[0], argc, envc);
    return failures ? 1 : 0;
}
