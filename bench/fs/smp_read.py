#!/usr/bin/env python3
"""bench/fs/smp_read.py: the read rate of a 268 KiB file on the root (ramfs, /big.txt) with 1
and 2 vCPUs (issue 17), ratios measured in the same run.

Builds smp_read.c with xos-build and runs it under xos-run with --cpus 1 and --cpus 2 (MTTCG
under TCG), THREADS threads (default 2) each reading the file ROUNDS times (open, read 64 KiB at a
time, close), rounds alternating after a warm-up round. With --baseline-build-dir, the same
program built by that tree (e.g. main) runs in the same rounds. Figures: MiB/s by the guest's
clock, median of the runs, and the ratio 2 vCPUs / 1 vCPU of each run.

Each run's line on stderr also has what /proc/xos/cpus counted during the reads (spin rounds,
spinlock waits that halted, IPIs...) and, with --host-threads, the host CPU time of each QEMU
thread (harness/host_threads.py).

usage: bench/fs/smp_read.py [--build-dir build] [--baseline-build-dir DIR] [--runs 3] [--threads 2]
                            [--rounds 200] [--host-threads]
"""
import argparse
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from harness.host_threads import describe, run_sampled  # noqa: E402
from harness.rounds import figure, run_or_exit as run  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--baseline-build-dir")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--host-threads", action="store_true",
                        help="also read the host's CPU time of each QEMU thread during each run (harness/host_threads.py)")
    args = parser.parse_args()
    trees = [("this tree", os.path.abspath(args.build_dir))]
    if args.baseline_build_dir:
        trees.insert(0, ("baseline", os.path.abspath(args.baseline_build_dir)))
    samples = {(name, cpus): [] for name, _ in trees for cpus in (1, 2)}
    with open("/proc/loadavg") as f:
        load_start = f.read().split()[:3]
    with tempfile.TemporaryDirectory() as tmp:
        images = {}
        for name, build in trees:
            images[name] = os.path.join(tmp, "smp-read-%d.xos" % len(images))
            run([os.path.join(build, "tools", "xos-build", "xos-build"), "-O2", os.path.join(HERE, "smp_read.c"), "-o",
                 images[name]])
        for round_number in range(args.runs + 1):
            for name, build in trees:
                for cpus in (1, 2):
                    argv = [os.path.join(build, "tools", "xos-run", "xos-run"), "--cpus", str(cpus), "--timeout", "600"]
                    if args.host_threads:  # QEMU names its vCPU threads "CPU N/TCG"
                        argv += ["--qemu-arg=-name", "--qemu-arg=xos,debug-threads=on"]
                    argv += [images[name], "--", str(args.threads), str(args.rounds)]
                    host = ""
                    if args.host_threads:
                        out, threads, wall = run_sampled(argv)
                        host = "; " + describe(threads, wall)
                    else:
                        out = run(argv)
                    if round_number:
                        samples[(name, cpus)].append(figure(out))
                    # the figure, then what /proc/xos/cpus counted during the reads (spin rounds, halts...)
                    print("round %d, %s, %d vCPU(s): %s%s" % (round_number, name, cpus, out.strip().replace("\n", " "),
                                                               host), file=sys.stderr)
    with open("/proc/loadavg") as f:
        load_end = f.read().split()[:3]
    print("| tree | 1 vCPU (MiB/s) | 2 vCPUs (MiB/s) | 2 / 1 (range) |")
    print("|---|---|---|---|")
    for name, build in trees:
        one, two = samples[(name, 1)], samples[(name, 2)]
        ratios = [b / a for a, b in zip(one, two)]
        print("| %s | %.0f | %.0f | %.2f (%.2f-%.2f) |" % (name, statistics.median(one), statistics.median(two),
                                                           statistics.median(ratios), min(ratios), max(ratios)))
    print("\n%d runs, %d threads x %d reads of 268 KiB; load average at the start %s, at the end %s; %d host CPUs"
          % (args.runs, args.threads, args.rounds, " ".join(load_start), " ".join(load_end), os.cpu_count()))


if __name__ == "__main__":
    main()
