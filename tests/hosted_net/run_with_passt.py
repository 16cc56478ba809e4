#!/usr/bin/env python3
"""Runs a test command that needs `xos-run -p` for hosted images, i.e. passt, and skips it
(exit 77, the Meson convention) where passt cannot work: passt not installed, or no host
interface with a default route (passt takes its addresses and routes from it).

usage: run_with_passt.py COMMAND [ARG...]
"""
import os
import shutil
import sys


def has_default_route():
    for path in ("/proc/net/route", "/proc/net/ipv6_route"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines[1:] if path.endswith("/route") else lines:
            fields = line.split()
            if path.endswith("ipv6_route"):
                if fields and fields[0] == "0" * 32 and fields[1] == "00" and fields[-1] != "lo":
                    return True
            elif len(fields) > 1 and fields[1] == "00000000":
                return True
    return False


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if shutil.which("passt") is None:
        print("SKIP: passt is not installed (Debian package passt; bootstrap.sh installs it)")
        return 77
    if not has_default_route():
        print("SKIP: no host interface with a default route: passt cannot give the image a network")
        return 77
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
