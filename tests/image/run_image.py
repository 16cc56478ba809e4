#!/usr/bin/env python3
"""Boots one image test under xos-run and judges it by the exit status.

usage: run_image.py --xos-run PATH --expect-status N [--stdout-has TEXT]... [--stderr-has TEXT]...
                    [--skip-unless-kvm] [--xos-run-arg ARG]... IMAGE [-- APP ARGS...]

The verdict is the VM's exit status; --stdout-has/--stderr-has add checks on what the app or
xos-run printed (e.g. that a crash says what happened), never replace the status check.
"""
import argparse
import os
import re
import subprocess
import sys


def kvm_is_hardware_assisted():
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
        return os.access("/dev/kvm", os.R_OK | os.W_OK) and (" vmx" in flags or " svm" in flags)
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xos-run", required=True)
    parser.add_argument("--expect-status", type=int, required=True)
    parser.add_argument("--stdout-has", action="append", default=[])
    parser.add_argument("--stderr-has", action="append", default=[])
    parser.add_argument("--stdout-lacks", action="append", default=[])
    parser.add_argument("--lines-with", help="every stdout line containing this text must match --lines-match")
    parser.add_argument("--lines-match", help="regular expression each of those lines must match whole")
    parser.add_argument("--lines-count", type=int, help="how many such lines stdout must have")
    parser.add_argument("--timeout", default="60")
    parser.add_argument("--skip-unless-kvm", action="store_true")
    parser.add_argument("image")
    parser.add_argument("--xos-run-arg", action="append", default=[], help="extra xos-run option")
    # Everything after the first "--" is the app's argv (argparse would eat the "--").
    argv = sys.argv[1:]
    app = argv[argv.index("--"):] if "--" in argv else []
    args = parser.parse_args(argv[:len(argv) - len(app)])

    if args.skip_unless_kvm and not kvm_is_hardware_assisted():
        print("skipped: no hardware-assisted KVM on this machine")
        return 77

    command = [args.xos_run, "--timeout", args.timeout] + args.xos_run_arg + [args.image] + app
    print("$", " ".join(command), flush=True)
    # The app's stdin is empty, whatever the runner's is (meson test passes its own stdin on:
    # with a pipe there, syscalls.c's read(0) at end of input read the runner's data).
    result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout = result.stdout.decode(errors="replace")
    stderr = result.stderr.decode(errors="replace")
    print("--- stdout ---\n" + stdout + "--- stderr ---\n" + stderr + "--- status: %d ---" % result.returncode)

    failures = []
    if result.returncode != args.expect_status:
        failures.append("exit status %d, expected %d" % (result.returncode, args.expect_status))
    failures += ["stdout lacks %r" % t for t in args.stdout_has if t not in stdout]
    failures += ["stdout contains %r" % t for t in args.stdout_lacks if t in stdout]
    failures += ["stderr lacks %r" % t for t in args.stderr_has if t not in stderr]
    if args.lines_with:
        # Whole lines from concurrent writers (tests/smp/big_lock.c's console case): a line torn
        # by another writer's bytes, or lost, fails.
        lines = [line for line in stdout.splitlines() if args.lines_with in line]
        failures += ["torn line %r" % line for line in lines if not re.fullmatch(args.lines_match, line)][:5]
        if args.lines_count is not None and len(lines) != args.lines_count:
            failures.append("%d lines with %r, expected %d" % (len(lines), args.lines_with, args.lines_count))
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
