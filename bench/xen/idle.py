#!/usr/bin/env python3
"""bench/xen/idle.py: the CPU time an idle xos guest costs on Xen (issue 17, the tickless timer).

    bench/xen/idle.py [--build-dir build] [--baseline-build-dir DIR] [--runs 2] [--window 20]

Boots, as Xen PVH guests in the Xen-in-QEMU harness (tests/xen), a program that sleeps (the one
bench/smp/idle.py boots), built by this tree and, with --baseline-build-dir, by another tree
(e.g. main's, before the tickless timer), alternately in one harness run. dom0 reads the guest's
vCPU time (`xl vcpu-list`, Time(s): 0.1 s steps) 6 s after `xl create` and again --window seconds
later; the difference over the window is the share of a CPU the sleeping guest takes from Xen.
Everything runs under QEMU TCG (Xen itself is emulated) on a shared machine: compare the two
builds' figures from the same run, not absolute values.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "xen"))
sys.path.insert(0, os.path.join(ROOT, "bench", "smp"))
import idle as smp_idle  # noqa: E402  (IDLE_C and build_image)
import run_xen  # noqa: E402

START_S = 6


def check_script(name, window):
    return ("sleep %d\n"
            "a=$(xl vcpu-list %s | awk 'NR == 2 {print $6}')\n"
            "sleep %d\n"
            "b=$(xl vcpu-list %s | awk 'NR == 2 {print $6}')\n"
            "echo \"@@XEN METRIC %s $a $b\"\n" % (START_S, name, window, name, name))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--baseline-build-dir", help="another tree's build, measured alternately in the same run")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--window", type=int, default=20)
    args = parser.parse_args()
    made = subprocess.run([os.path.join(ROOT, "tests", "xen", "make_harness.sh")], stdout=subprocess.PIPE, text=True)
    if made.returncode != 0:
        raise SystemExit("tests/xen/make_harness.sh failed")
    harness = made.stdout.strip().splitlines()[-1]
    builds = {"this tree": os.path.abspath(args.build_dir)}
    if args.baseline_build_dir:
        builds = {"baseline": os.path.abspath(args.baseline_build_dir), **builds}
    with tempfile.TemporaryDirectory() as tmp:
        images = {label: smp_idle.build_image(build, tmp, "idle-%d" % i) for i, (label, build) in enumerate(builds.items())}
        cases = []
        names = {label: [] for label in builds}
        for run in range(args.runs):
            for i, label in enumerate(builds):
                name = "idle-%d-%d" % (i, run)
                names[label].append(name)
                # The guest sleeps past the window; the check's end destroys it.
                cases.append({"name": name, "image": images[label], "status": None,
                              "args": [str(START_S + args.window + 60)], "timeout": START_S + args.window + 60,
                              "check": check_script(name, args.window)})
        timeout = 300 + sum(case["timeout"] for case in cases)
        results, seconds, _ = run_xen.run(harness, cases, timeout, sys.stderr)
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print("| build | guest vCPU time over %d s asleep (share of a CPU), each run | median |" % args.window)
    print("|---|---|---|")
    for label, build in builds.items():
        shares = []
        for name in names[label]:
            for values in (results.get(name, {}).get("metrics") or []):
                if len(values) == 2:
                    shares.append((float(values[1]) - float(values[0])) / args.window)
        if not shares:
            print("| %s (%s) | no figure: %r | |" % (label, build, {n: results.get(n) for n in names[label]}))
            continue
        print("| %s (%s) | %s | %.2f%% |" % (label, build, ", ".join("%.2f%%" % (100 * s) for s in shares),
                                            100 * statistics.median(shares)))
    print("\nharness run: %.0f s; load average at the end: %s; vCPU time from `xl vcpu-list` (0.1 s steps)" % (
        seconds, load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
