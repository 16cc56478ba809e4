#!/usr/bin/env python3
"""bench/fork/run.py: fork's copy-on-write copy of a 64 MiB touched heap, and the hosted switch.

Builds fork_cow.c for the VM (xos-build), for hosted (xos-build --platform hosted) and as a
static native binary (musl-gcc), then runs them round after round (A B C, A B C, ...). Until
fork(2) exists the xos figures come from xos_test_fork_space (libos/mm/fork_test_hook.cpp):
fork_copy of the memory plus one switch to the child's space; natively, fork() until it returns
in the parent. Each program reports medians of 9 repetitions; this prints a markdown table with
the median (min-max) over the rounds and each figure's paired ratio to native Linux's in the
same round. The VM runs under whatever accelerator xos-run picks (TCG here).

usage: bench/fork/run.py [--build-dir build] [--runs 5]
       bench/fork/run.py --smoke     build and run each once, check every figure is there (meson)
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
SOURCE = os.path.join(HERE, "fork_cow.c")
FIGURES = [
    ("fork_copy_64mib", "copy (xos: + one switch)"),
    ("fork_whole_64mib", "copy, child gone, reaped"),
    ("rewrite_after_64mib", "parent's first write to every page after"),
    ("space_switch_64mib", "one address-space switch"),
]


def run(command, timeout=300):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        sys.exit("failed (%d): %s\n%s%s" % (result.returncode, " ".join(command), result.stdout, result.stderr))
    return {r["figure"]: r["value"] for r in map(json.loads, filter(lambda l: l.startswith("{"), result.stdout.splitlines()))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    xos_build = os.path.join(args.build_dir, "tools/xos-build/xos-build")
    xos_run = os.path.join(args.build_dir, "tools/xos-run/xos-run")
    work = tempfile.mkdtemp(prefix="xos-fork-bench-")
    vm_image, hosted_image, native = (os.path.join(work, name) for name in ("vm.xos", "hosted", "native"))
    run([xos_build, "-O2", SOURCE, "-o", vm_image])
    run([xos_build, "--platform", "hosted", "-O2", SOURCE, "-o", hosted_image])
    run(["musl-gcc", "-static", "-O2", SOURCE, "-o", native])
    variants = [
        ("xos VM", [xos_run, "--timeout", "250", "--mem", "256M", vm_image]),
        ("xos hosted", [xos_run, "--timeout", "250", "--mem", "256M", hosted_image]),
        ("native Linux", [native]),
    ]
    if args.smoke:
        for name, command in variants:
            values = run(command)
            wanted = [f for f, _ in FIGURES if name != "native Linux" or f != "space_switch_64mib"]
            missing = [f for f in wanted if f not in values]
            if missing:
                sys.exit("%s: no figure %s in its output" % (name, ", ".join(missing)))
            print("%s: %s" % (name, values))
        return
    samples = {name: [] for name, _ in variants}
    for round_number in range(args.runs + 1):  # round 0 is a warm-up
        for name, command in variants:
            values = run(command)
            print("round %d: %s: %s" % (round_number, name, values), file=sys.stderr)
            if round_number:
                samples[name].append(values)

    def cell(values):
        return "%.2f (%.2f-%.2f)" % (statistics.median(values), min(values), max(values))

    print("| figure | variant | ms | / native (paired) |")
    print("|---|---|---|---|")
    for figure, label in FIGURES:
        for name, _ in variants:
            if figure not in samples[name][0]:
                continue
            values = [s[figure] / 1e6 for s in samples[name]]
            if figure in samples["native Linux"][0]:
                ratios = [s[figure] / n[figure] for s, n in zip(samples[name], samples["native Linux"])]
                ratio = "%.2f (%.2f-%.2f)" % (statistics.median(ratios), min(ratios), max(ratios))
            else:
                ratio = "-"
            print("| %s | %s | %s | %s |" % (label, name, cell(values), ratio))


if __name__ == "__main__":
    main()
