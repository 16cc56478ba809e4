/* The user-pointer fuzz test's generated syscall table (gen_syscall_table.py). */
#ifndef XOS_FUZZ_H
#define XOS_FUZZ_H

enum FuzzArg { ARG_ZERO, ARG_FD, ARG_SIZE, ARG_PTR_IN, ARG_PTR_OUT };

struct FuzzSyscall {
    int number;
    const char* name;
    unsigned char args[6]; /* enum FuzzArg */
};

extern const struct FuzzSyscall fuzz_syscalls[];
extern const int fuzz_syscall_count;

#endif
