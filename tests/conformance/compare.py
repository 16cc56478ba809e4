#!/usr/bin/env python3
"""Differential conformance: runs the same program natively (Linux, Debian's musl) and as an
xos image, and requires the same stdout and the same exit status.

usage: compare.py --xos-run PATH NATIVE_BINARY IMAGE
"""
import argparse
import difflib
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xos-run", required=True)
    parser.add_argument("native")
    parser.add_argument("image")
    args = parser.parse_args()

    native = subprocess.run([args.native], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
    xos = subprocess.run([args.xos_run, "--timeout", "60", args.image], stdout=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    native_lines = native.stdout.decode(errors="replace").splitlines(keepends=True)
    xos_lines = xos.stdout.decode(errors="replace").splitlines(keepends=True)
    print("".join(xos_lines))
    ok = True
    if native_lines != xos_lines:
        ok = False
        print("FAIL: output differs (--- Linux, +++ xos):")
        sys.stdout.writelines(difflib.unified_diff(native_lines, xos_lines, "linux", "xos"))
    if native.returncode != xos.returncode:
        ok = False
        print("FAIL: exit status: Linux %d, xos %d" % (native.returncode, xos.returncode))
    print("same output and status (%d lines, status %d)" % (len(xos_lines), xos.returncode) if ok else "")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
