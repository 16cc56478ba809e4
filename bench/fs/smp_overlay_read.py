#!/usr/bin/env python3
"""bench/fs/smp_overlay_read.py: the read rate of a 268 KiB file in an overlay root (xos-run
--root-image: an EROFS image under a ramfs upper layer) with 1 and 2 vCPUs (issue 17), ratios
measured in the same run, for a file copied up ("upper": the overlay over ramfs) and one that is
not ("lower": the overlay over EROFS, whose device reads take the big lock).

Builds smp_overlay_read.c as a static Linux binary (musl-gcc), puts it and /big.txt into an EROFS
image (mkfs.erofs), and runs it under xos-run with --cpus 1 and --cpus 2 (MTTCG under TCG),
THREADS threads (default 2) each reading the file ROUNDS times (open, read 64 KiB at a time,
close), rounds alternating after a warm-up round. With --baseline-build-dir, that tree's xos-run
(and generic kernel) runs the same image in the same rounds. Figures: MiB/s by the guest's clock,
median of the runs, and the ratio 2 vCPUs / 1 vCPU of each run.

usage: bench/fs/smp_overlay_read.py [--build-dir build] [--baseline-build-dir DIR] [--runs 3]
                                    [--threads 2] [--rounds 100] [--cases upper,lower]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from harness.rounds import figure, run_or_exit as run  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--baseline-build-dir")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--cases", default="upper,lower")
    args = parser.parse_args()
    cases = args.cases.split(",")
    trees = [("this tree", os.path.abspath(args.build_dir))]
    if args.baseline_build_dir:
        trees.insert(0, ("baseline", os.path.abspath(args.baseline_build_dir)))
    samples = {(case, name, cpus): [] for case in cases for name, _ in trees for cpus in (1, 2)}
    with open("/proc/loadavg") as f:
        load_start = f.read().split()[:3]
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        for name in ("dev", "proc", "tmp"):
            os.makedirs(os.path.join(root, name))
        run(["musl-gcc", "-static", "-O2", "-pthread", os.path.join(HERE, "smp_overlay_read.c"), "-o",
             os.path.join(root, "reader")])
        with open(os.path.join(root, "big.txt"), "wb") as f:
            f.write(bytes(ord("a") + i % 26 for i in range(268 * 1024)))
        image = os.path.join(tmp, "root.erofs")
        run([shutil.which("mkfs.erofs") or "mkfs.erofs", "--quiet", image, root])
        for round_number in range(args.runs + 1):
            for case in cases:
                for name, build in trees:
                    for cpus in (1, 2):
                        argv = [os.path.join(build, "tools", "xos-run", "xos-run"), "--root-image", image, "--cpus",
                                str(cpus), "--timeout", "600", "--mem", "512M", "--", "/reader", case,
                                str(args.threads), str(args.rounds)]
                        out = run(argv)
                        if round_number:
                            samples[(case, name, cpus)].append(figure(out))
                        print("round %d, %s, %s, %d vCPU(s): %s" % (round_number, case, name, cpus,
                                                                    out.strip().replace("\n", " ")), file=sys.stderr)
    with open("/proc/loadavg") as f:
        load_end = f.read().split()[:3]
    print("| file | tree | 1 vCPU (MiB/s) | 2 vCPUs (MiB/s) | 2 / 1 (range) |")
    print("|---|---|---|---|---|")
    for case in cases:
        for name, build in trees:
            one, two = samples[(case, name, 1)], samples[(case, name, 2)]
            ratios = [b / a for a, b in zip(one, two)]
            print("| %s | %s | %.0f | %.0f | %.2f (%.2f-%.2f) |" % (
                case, name, statistics.median(one), statistics.median(two), statistics.median(ratios), min(ratios),
                max(ratios)))
    print("\n%d runs, %d threads x %d reads of 268 KiB; load average at the start %s, at the end %s; %d host CPUs"
          % (args.runs, args.threads, args.rounds, " ".join(load_start), " ".join(load_end), os.cpu_count()))


if __name__ == "__main__":
    main()
