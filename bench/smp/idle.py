#!/usr/bin/env python3
"""bench/smp/idle.py: the host CPU time an idle VM costs (issue 17, the tickless timer).

Boots a program that sleeps SECONDS seconds (IDLE_C below) under xos-run with --cpus 1 and --cpus 2,
finds the QEMU process, and reads its utime+stime (/proc/PID/stat) once the guest is asleep
(START seconds after QEMU started) and again WINDOW seconds later: the difference over the
window is the share of one host CPU the idle VM takes (boot and exit are left out). Prints a
Markdown table and one JSON line per measurement.

usage: bench/smp/idle.py [--build-dir build] [--baseline-build-dir DIR] [--runs 2] [--seconds 20]
                         [--start 6] [--window 10]

--baseline-build-dir: another tree's build (e.g. main's, before the tickless timer), measured in the
same run, alternating with this one (its own xos-build and xos-run).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TICKS = os.sysconf("SC_CLK_TCK")

IDLE_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char** argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 20;
    printf("idle: sleeping %d s\n", seconds);
    fflush(stdout);
    sleep((unsigned)seconds);
    printf("idle: done\n");
    return 0;
}
"""


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def find_qemu(pid, deadline):
    while time.monotonic() < deadline:
        queue = [pid]
        while queue:
            p = queue.pop()
            if comm(p).startswith("qemu"):
                return p
            queue.extend(children(p))
        time.sleep(0.05)
    return None


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def build_image(build, tmp, name):
    source = os.path.join(tmp, "idle.c")
    with open(source, "w") as f:
        f.write(IDLE_C)
    image = os.path.join(tmp, name + ".xos")
    subprocess.run([os.path.join(build, "tools", "xos-build", "xos-build"), "-O2", source, "-o", image], check=True)
    return image


def measure(xos_run, image, cpus, seconds, start, window):
    process = subprocess.Popen([xos_run, "--cpus", str(cpus), "--timeout", str(seconds + 120), image, "--",
                                str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    began = time.monotonic()
    qemu = find_qemu(process.pid, began + 30)
    if qemu is None:
        process.kill()
        sys.exit("no QEMU process under xos-run")
    qemu_began = time.monotonic()
    time.sleep(max(0.0, qemu_began + start - time.monotonic()))
    first = cpu_seconds(qemu)
    time.sleep(window)
    second = cpu_seconds(qemu)
    out, err = process.communicate(timeout=seconds + 180)
    if process.returncode != 0 or "idle: done" not in out:
        sys.exit("the idle VM failed (%d):\n%s%s" % (process.returncode, out, err))
    return (second - first) / window


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--baseline-build-dir", help="another tree's build, measured alternately in the same run")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--start", type=float, default=6.0)
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args()
    if args.start + args.window > args.seconds:
        sys.exit("--start + --window must fit in --seconds")
    builds = {"this tree": os.path.abspath(args.build_dir)}
    if args.baseline_build_dir:
        builds = {"baseline": os.path.abspath(args.baseline_build_dir), **builds}
    with tempfile.TemporaryDirectory() as tmp:
        images = {label: build_image(build, tmp, "idle-%d" % i) for i, (label, build) in enumerate(builds.items())}
        shares = {(label, cpus): [] for label in builds for cpus in (1, 2)}
        for _ in range(args.runs):
            for cpus in (1, 2):
                for label, build in builds.items():
                    xos_run = os.path.join(build, "tools", "xos-run", "xos-run")
                    share = measure(xos_run, images[label], cpus, args.seconds, args.start, args.window)
                    shares[(label, cpus)].append(share)
                    print(json.dumps({"figure": "idle_host_cpu_share", "build": build, "cpus": cpus,
                                      "value": round(share, 4)}))
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print("\nQEMU's utime+stime over %g s of guest sleep (from %g s after start), as a share of one host CPU; "
          "median of %d runs" % (args.window, args.start, args.runs))
    print("\n| build | --cpus 1 | --cpus 2 |")
    print("|---|---|---|")
    for label, build in builds.items():
        print("| %s (%s) | %.2f%% | %.2f%% |" % (label, build, 100 * statistics.median(shares[(label, 1)]),
                                                100 * statistics.median(shares[(label, 2)])))
    print("\nhost load average at the end: %s; %d host CPUs; /proc/PID/stat resolution %d ms (%.1f%% of the window)"
          % (load, os.cpu_count(), 1000 // TICKS, 100.0 / TICKS / args.window))


if __name__ == "__main__":
    main()
