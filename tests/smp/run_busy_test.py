#!/usr/bin/env python3
"""Both vCPU threads of a hosted image work (docs/hosted.md, "Several vCPUs").

usage: run_busy_test.py [--cpus N] [--expect-busy K] IMAGE [ITERATIONS]

Runs IMAGE (tests/smp/busy.c built for hosted) directly with XOS_CPUS=N; once it printed
"busy: done" (two CPU-bound threads finished) and before it exits, reads the CPU time
(utime + stime) of each of its host threads from /proc/PID/task/TID/stat, and requires K of them
to have worked: each at least a quarter of the busiest one's time. That is a share of CPU time,
not a duration: with one vCPU only one host thread has worked, however fast the machine.
"""
import argparse
import os
import subprocess
import sys


def cpu_ticks(pid):
    ticks = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks[int(tid)] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--expect-busy", type=int, default=2)
    parser.add_argument("image")
    parser.add_argument("iterations", nargs="?", default="1500000000")
    args = parser.parse_args()
    env = {"PATH": "/usr/bin:/bin", "XOS_CPUS": str(args.cpus)}
    process = subprocess.Popen([args.image, args.iterations], env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = process.stdout.readline().decode(errors="replace")
        if "busy: done" not in line:
            process.kill()
            print("FAIL: the image said %r; stderr: %s" % (line, process.stderr.read().decode(errors="replace")))
            return 1
        ticks = cpu_ticks(process.pid)
        process.stdin.write(b"go\n")
        process.stdin.close()
        status = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        print("FAIL: the image did not exit")
        return 1
    busiest = max(ticks.values())
    busy = [tid for tid, t in ticks.items() if busiest and 4 * t >= busiest]
    print("host threads (tid: CPU ticks): %s; %d busy, %d expected" %
          (", ".join("%d: %d" % item for item in sorted(ticks.items())), len(busy), args.expect_busy))
    if status != 0:
        print("FAIL: exit status %d" % status)
        return 1
    if len(ticks) != args.cpus or len(busy) < args.expect_busy:
        print("FAIL: %d host threads, %d of them busy" % (len(ticks), len(busy)))
        return 1
    print("busy: 0 failure(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
