#!/usr/bin/env python3
"""bench/rewrite/run.py: getppid through a raw `syscall` site, trapped vs rewritten (libos/rewrite).

Builds raw_getppid.c for the VM (xos-build), for hosted (xos-build --platform hosted) and as a
static native binary (musl-gcc), then runs, round after round (A B C D E, A B C D E, ...):
xos VM with rewriting on and with XOS_REWRITE=0, xos hosted (XOS_EXEC=wx) with rewriting on and
off, and native Linux. Each run reports ns per getppid through the raw site and through libc
(the guest's clock; the VM figures are under whatever accelerator xos-run picks, TCG here).
Prints a markdown table: median (min-max) over the rounds, and each figure's paired ratio to
native Linux's raw getppid measured in the same round.

usage: bench/rewrite/run.py [--build-dir build] [--runs 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SOURCE = os.path.join(HERE, "raw_getppid.c")


def run(command, env=None, timeout=120):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        sys.exit("failed (%d): %s\n%s%s" % (result.returncode, " ".join(command), result.stdout, result.stderr))
    return result.stdout


def figures(output):
    values = {}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("mark") == "end":
            values[record["figure"]] = record["guest_ns"] / record["count"]
        elif "value" in record:
            values[record["figure"]] = record["value"]
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    xos_build = os.path.join(args.build_dir, "tools/xos-build/xos-build")
    xos_run = os.path.join(args.build_dir, "tools/xos-run/xos-run")
    work = tempfile.mkdtemp(prefix="xos-rewrite-bench-")
    vm_image, hosted_image, native = (os.path.join(work, name) for name in ("vm.xos", "hosted", "native"))
    run([xos_build, "-O2", SOURCE, "-o", vm_image])
    run([xos_build, "--platform", "hosted", "-O2", SOURCE, "-o", hosted_image])
    run(["musl-gcc", "-static", "-O2", SOURCE, "-o", native])
    variants = [
        ("xos VM, rewritten", [xos_run, "--timeout", "100", vm_image]),
        ("xos VM, trapped (XOS_REWRITE=0)", [xos_run, "--timeout", "100", "--env", "XOS_REWRITE=0", vm_image]),
        ("xos hosted, rewritten", [xos_run, "--timeout", "100", "--env", "XOS_EXEC=wx", hosted_image]),
        ("xos hosted, trapped (XOS_REWRITE=0)",
         [xos_run, "--timeout", "100", "--env", "XOS_EXEC=wx", "--env", "XOS_REWRITE=0", hosted_image]),
        ("native Linux", [native]),
    ]
    samples = {name: [] for name, _ in variants}
    for round_number in range(args.runs + 1):  # round 0 is a warm-up
        for name, command in variants:
            values = figures(run(command))
            print("round %d: %s: %s" % (round_number, name, values), file=sys.stderr)
            if round_number:
                samples[name].append(values)
    native_raw = [s["getppid.raw_site"] for s in samples["native Linux"]]

    def cell(values):
        return "%.1f (%.1f-%.1f)" % (statistics.median(values), min(values), max(values))

    print("| variant | raw site getppid, ns | libc getppid, ns | raw site / native raw (paired) | first byte of the site |")
    print("|---|---|---|---|---|")
    for name, _ in variants:
        raw = [s["getppid.raw_site"] for s in samples[name]]
        libc = [s["getppid.libc"] for s in samples[name]]
        ratio = [r / n for r, n in zip(raw, native_raw)]
        first = samples[name][-1]["site.first_byte"]
        print("| %s | %s | %s | %.3f (%.3f-%.3f) | 0x%02x |" % (name, cell(raw), cell(libc), statistics.median(ratio),
                                                            min(ratio), max(ratio), int(first)))


if __name__ == "__main__":
    main()
