#!/usr/bin/env python3
"""Checks that libos' -Wthread-safety flags catch lock mistakes: compiles
thread_safety_cases.cpp once per case with the kernel's C++ compiler and flags; "good" must
compile, each bad case must fail with a thread-safety diagnostic.
Usage: thread_safety_check.py CASES_FILE -- COMPILER... FLAGS..."""
import subprocess
import sys

BAD = ["unguarded_write", "missing_requires", "not_released", "released_twice"]


def compile_case(cases, command, case):
    result = subprocess.run(command + ["-fsyntax-only", f"-DCASE_{case}=1", cases],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return result.returncode, result.stdout


def main():
    cases = sys.argv[1]
    command = sys.argv[sys.argv.index("--") + 1:]
    failures = 0
    status, output = compile_case(cases, command, "good")
    if status != 0:
        print(f"FAIL good: does not compile:\n{output}")
        failures += 1
    else:
        print("ok   good compiles")
    for case in BAD:
        status, output = compile_case(cases, command, case)
        if status == 0 or "-Wthread-safety" not in output:
            print(f"FAIL {case}: expected a -Wthread-safety error, got status {status}:\n{output}")
            failures += 1
        else:
            print(f"ok   {case} rejected")
    print(f"thread-safety: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
