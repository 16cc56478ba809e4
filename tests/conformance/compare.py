#!/usr/bin/env python3
"""Differential conformance: runs the same program natively (Linux, Debian's musl) and as an
xos image, and requires the same stdout and the same exit status.

usage: compare.py --xos-run PATH [--xos-run-arg ARG]... [--share | --disk] NATIVE_BINARY IMAGE

--share: both get a fresh host directory as argv[1] (the image through xos-run --share, so a
9p share in a VM and hostfs on the hosted platform). A run that a signal ends counts as status
128+signal, as xos-run reports a crash.
--disk: a fresh 64 KiB + 512 byte host file: the native run gets its path as argv[1], the image
gets it as its first disk (xos-run --disk) and "/dev/vda" as argv[1].
"""
import argparse
import difflib
import shutil
import subprocess
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xos-run", required=True)
    parser.add_argument("native")
    parser.add_argument("--share", action="store_true")
    parser.add_argument("--disk", action="store_true")
    parser.add_argument("--xos-run-arg", action="append", default=[],
                        help="an extra xos-run argument (e.g. --cpus=2 for tests/smp)")
    parser.add_argument("image")
    args = parser.parse_args()

    native_cmd, xos_cmd = [args.native], [args.xos_run, "--timeout", "60"] + args.xos_run_arg
    share = None
    if args.share:
        share = tempfile.mkdtemp(prefix="xos-conformance-")
        native_cmd.append(share)
        xos_cmd += ["--share", share + ":/share", args.image, "--", "/share"]
    elif args.disk:
        share = tempfile.mkdtemp(prefix="xos-conformance-")
        disk = share + "/disk"
        with open(disk, "wb") as f:
            f.write(bytes(64 * 1024 + 512))
        native_cmd.append(disk)
        xos_cmd += ["--disk", disk, args.image, "--", "/dev/vda"]
    else:
        xos_cmd.append(args.image)
    try:
        native = subprocess.run(native_cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60)
        xos = subprocess.run(xos_cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    finally:
        if share:
            shutil.rmtree(share, ignore_errors=True)
    if native.returncode < 0:
        native.returncode = 128 - native.returncode
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
