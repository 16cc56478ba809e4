#!/usr/bin/env python3
"""bench/smp/run.py: what a second vCPU gives xos (issue 17), ratios measured in the same run.

Builds smp.c with xos-build and runs it under xos-run with --cpus 1 and --cpus 2 (MTTCG under
TCG), rounds alternating (1 2, 1 2, ...) after a warm-up round. Figures (the guest's clock):
the wall time of THREADS threads doing the same CPU-bound work (the speed-up is 1 vCPU's time
over 2 vCPUs'), a round trip between two threads through futexes and through pipes (a context
switch each way) and a sched_yield between two threads (with 2 vCPUs those run on different CPUs:
a cross-CPU wake-up with an IPI), the same round trip through an AF_UNIX socketpair (part unix), two threads doing malloc/free and page faults (mmap, a
write, munmap), and two processes faulting in private mappings of a tmpfs file (filemap).

With --baseline-build-dir, the same program built by that tree (e.g. main) runs too, in the same
rounds (baseline 1, 2, then this tree 1, 2), and both are reported. What /proc/xos/cpus counted
during the ping-pongs and yields (spin rounds, on_cpu waits, IPIs, idle halts) is printed for
the last round of each, where the image's libos has the counters.

With `--platform hosted` the same program is built for the hosted platform and runs as a host
process whose vCPUs are host threads (--cpus: XOS_CPUS, docs/hosted.md "Several vCPUs").

With --host-threads each run's QEMU threads (or a hosted image's vCPU threads) are read from the
host's /proc while it runs (harness/host_threads.py): the CPU time the host gave each, and how
often each slept and was preempted; the summary prints the vCPU threads' CPU time over the run's
wall time (the cores the host gave the run), which tells a guest that wastes time from a host
that did not run both vCPUs at once.

usage: bench/smp/run.py [--build-dir build] [--baseline-build-dir DIR] [--platform kvm|hosted] [--runs 5]
                        [--threads 2] [--work 200000000] [--parts parallel,futex,pipe,yield,memory,filemap]
                        [--host-threads]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from harness.host_threads import describe, run_sampled  # noqa: E402
from harness.rounds import run_or_exit as run  # noqa: E402


def figures(output):
    return {r["figure"]: r["value"] for r in (json.loads(l) for l in output.splitlines() if l.startswith("{"))}


FIGURES = ("parallel_ns", "futex_pingpong_ns", "pipe_pingpong_ns", "unix_pingpong_ns", "yield_ns", "memory_ns", "filemap_ns", "console_ns",
           "sigmask_ns")


def counter_lines(output):
    """smp.c's "counters FIGURE: cpu N name delta ..." lines (/proc/xos/cpus around a figure)."""
    return [l for l in output.splitlines() if l.startswith("counters ")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--baseline-build-dir")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=int, default=200000000)
    parser.add_argument("--platform", choices=("kvm", "hosted"), default="kvm")
    parser.add_argument("--parts", default="parallel,futex,pipe,yield,memory,filemap",
                        help="smp.c's parts to run (a comma list; also console, sigmask, unix)")
    parser.add_argument("--host-threads", action="store_true",
                        help="also read the host's CPU time of each QEMU (or hosted vCPU) thread during each run")
    args = parser.parse_args()
    trees = [("this tree", os.path.abspath(args.build_dir))]
    if args.baseline_build_dir:
        trees.insert(0, ("baseline", os.path.abspath(args.baseline_build_dir)))
    samples = {(name, cpus): [] for name, _ in trees for cpus in (1, 2)}
    counters = {}
    host_samples = {}  # (tree, cpus): [(wall s, vCPU threads' host CPU s)] per counted round
    with tempfile.TemporaryDirectory() as tmp:
        images = {}
        for name, build in trees:
            images[name] = os.path.join(tmp, "smp-%d.xos" % len(images))
            run([os.path.join(build, "tools", "xos-build", "xos-build"), "--platform", args.platform, "-O2", os.path.join(HERE, "smp.c"), "-o",
                 images[name]])
        for round_number in range(args.runs + 1):
            for name, build in trees:
                for cpus in (1, 2):
                    argv = [os.path.join(build, "tools", "xos-run", "xos-run"), "--cpus", str(cpus), "--timeout", "600"]
                    if args.host_threads and args.platform == "kvm":  # QEMU names its vCPU threads "CPU N/TCG"
                        argv += ["--qemu-arg=-name", "--qemu-arg=xos,debug-threads=on"]
                    argv += [images[name], "--", str(args.threads), str(args.work), args.parts]
                    host = ""
                    if args.host_threads:
                        out, threads, wall = run_sampled(argv)
                        host = "; " + describe(threads, wall)
                        if round_number:
                            vcpu = sum(t["cpu_s"] for n, t in threads.items() if n.startswith("CPU ") or ".vcpu" in n)
                            host_samples.setdefault((name, cpus), []).append((wall, vcpu))
                    else:
                        out = run(argv)
                    if round_number:
                        samples[(name, cpus)].append(figures(out))
                        counters[(name, cpus)] = counter_lines(out)
                    print("round %d, %s, %d vCPU(s): %s%s" % (round_number, name, cpus, out.strip().replace("\n", " "),
                                                               host), file=sys.stderr)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    for name, build in trees:
        print("%s (%s):\n" % (name, build))
        print("| figure | 1 vCPU | 2 vCPUs | ratio (1 / 2) |")
        print("|---|---|---|---|")
        for figure in FIGURES:
            one = [s[figure] for s in samples[(name, 1)] if figure in s]
            two = [s[figure] for s in samples[(name, 2)] if figure in s]
            if not one or not two:
                continue
            ratios = [a / b for a, b in zip(one, two)]
            print("| %s | %.0f | %.0f | %.2f (%.2f-%.2f) |" % (figure, statistics.median(one), statistics.median(two),
                                                               statistics.median(ratios), min(ratios), max(ratios)))
        print()
        for cpus in (1, 2):
            for line in counters.get((name, cpus), []):
                print("    %d vCPU(s), last round: %s" % (cpus, line))
        print()
        for cpus in (1, 2):
            runs = host_samples.get((name, cpus))
            if runs:  # the vCPU threads' host CPU time over the run's wall time: cores the host gave it
                print("    %d vCPU(s): vCPU threads' host CPU %s s over wall %s s (cores given: %s)" % (
                    cpus, " ".join("%.2f" % c for _, c in runs), " ".join("%.2f" % w for w, _ in runs),
                    " ".join("%.2f" % (c / w) for w, c in runs)))
        print()
    print("%s, %d runs, %d threads x %d iterations; host load average at the end: %s; %d host CPUs"
          % (args.platform, args.runs, args.threads, args.work, " ".join(load), os.cpu_count()))


if __name__ == "__main__":
    main()
