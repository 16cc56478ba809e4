#!/usr/bin/env python3
"""bench/http/smp_probe.py: where apps/httpd on xos spends its time with 1 and 2 vCPUs (issue 17).

    bench/http/smp_probe.py [--build-dir build] [--cpus 1,2] [--connections 1,16] [--duration 6]
                            [--threads 2] [--rounds 1] [--path /www/hello.txt] [--json FILE]

Runs build/apps/httpd/httpd.xos under xos-run (QEMU user networking, `-p`) with each --cpus
count, serving the whole root (`--root /`, so the same server also answers /proc/xos/...), and
for each wrk run (`wrk -t 2 -c N --latency`, -t 1 for -c 1, on /www/hello.txt, after a 2 s warm-up) takes two
snapshots, before and after:

- the guest's per-CPU counts (/proc/xos/cpus: interrupts taken by kind, IPIs and NMIs sent,
  idle halts, threads migrated, big-lock waits and the halts in them) and its big-lock
  acquisitions (/proc/xos/big_lock), fetched over HTTP from the server itself;
- the host's view of each QEMU thread (/proc/PID/task/TID: CPU time, voluntary and involuntary
  context switches): a vCPU thread's voluntary switches are the times it slept (a halted
  vCPU, or one waiting for QEMU's global lock), each a host wake-up later.

Prints, per run, requests/s and latency, then every counter per request (the snapshots' own
requests are a handful against thousands). Figures are for reading, not for a test: the machine
is shared (the load average is printed).
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from xostest import stop_process  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "bench"))
from harness.host_threads import children, read_task  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
GUEST_PORT = 8080


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read().decode()


def guest_counts(url):
    """/proc/xos/cpus and /proc/xos/big_lock as {"cpuN.name": value, "lock.name": value}."""
    counts = {}
    for line in fetch(url + "/proc/xos/cpus").splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0] != "cpu":
            continue
        cpu = fields[1]
        for name, value in zip(fields[2::2], fields[3::2]):
            counts["cpu%s.%s" % (cpu, name)] = int(value)
    total = 0
    for line in fetch(url + "/proc/xos/big_lock").splitlines():
        fields = line.split()
        if fields and fields[0] in ("page_faults", "interrupts", "function_entries"):
            total += int(fields[1])
        elif fields and fields[0] == "syscall":
            total += int(fields[2])
    counts["lock.acquisitions"] = total
    return counts


def find_qemu(pid):
    queue = [pid]
    while queue:
        p = queue.pop()
        try:
            with open("/proc/%d/comm" % p) as f:
                if f.read().startswith("qemu"):
                    return p
        except OSError:
            continue
        queue.extend(children(p))
    return None


def host_counts(qemu):
    """Each QEMU thread (by name; same-named ones summed): CPU seconds and context switches."""
    counts = {}
    for tid in os.listdir("/proc/%d/task" % qemu):
        task = read_task(qemu, int(tid))
        if task is None:
            continue
        name, fields, status = task
        name = name.replace(" ", "_")
        name = re.sub(r"^(worker|qemu-system-x86)", r"\1", name)
        for key, value in (("cpu_s", (int(fields[11]) + int(fields[12])) / TICKS),
                           ("sleeps", int(status["voluntary_ctxt_switches"])),
                           ("preempted", int(status["nonvoluntary_ctxt_switches"]))):
            counts["host.%s.%s" % (name, key)] = counts.get("host.%s.%s" % (name, key), 0) + value
    return counts


def wrk(url, connections, duration):
    out = subprocess.run(["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", "%ds" % duration, "--latency", url],
                         capture_output=True, text=True, timeout=duration + 60).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}

    def latency(label):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)" % label, out, re.M)
        return float(m.group(1)) * units[m.group(2)] if m else None
    errors = re.search(r"Socket errors: (.*)|Non-2xx", out)
    return {"requests": requests, "req_s": rate, "p50_ms": latency("50"), "p99_ms": latency("99"),
            "errors": errors.group(0) if errors else ""}


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run_server(args, cpus):
    port = free_port()
    xos_run = os.path.join(args.build_dir, "tools", "xos-run", "xos-run")
    image = os.path.join(args.build_dir, "apps", "httpd", "httpd.xos")
    # debug-threads: QEMU names its threads ("CPU 0/TCG"...), so each vCPU's is told apart.
    argv = [xos_run, "-p", "%d:%d" % (port, GUEST_PORT), "--cpus", str(cpus), "--qemu-arg=-name",
            "--qemu-arg=xos,debug-threads=on", image, "--", "--port",
            str(GUEST_PORT), "--quiet", "--threads", str(args.threads), "--root", "/"]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 120
    while True:
        try:
            fetch(url + "/www/hello.txt", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                sys.exit("httpd --cpus %d did not answer: %s" % (cpus, server.stderr.read()))
            time.sleep(0.5)
    return server, url


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--cpus", default="1,2")
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2, help="httpd worker threads")
    parser.add_argument("--path", default="/www/hello.txt", help="what wrk asks for (the root is the guest's /)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", help="append one JSON line per run here")
    args = parser.parse_args()
    results = []
    for _ in range(args.rounds):
        for cpus in [int(c) for c in args.cpus.split(",")]:
            server, url = run_server(args, cpus)
            try:
                qemu = find_qemu(server.pid)
                for connections in [int(c) for c in args.connections.split(",")]:
                    wrk(url + args.path, connections, 2)  # warm-up
                    before = {**guest_counts(url), **host_counts(qemu)}
                    load_before = load()
                    result = wrk(url + args.path, connections, args.duration)
                    after = {**host_counts(qemu), **guest_counts(url)}
                    deltas = {k: after[k] - before.get(k, 0) for k in sorted(after)}
                    result.update({"cpus": cpus, "connections": connections, "path": args.path, "load": load_before, "deltas": deltas})
                    results.append(result)
                    if args.json:
                        with open(args.json, "a") as f:
                            f.write(json.dumps(result) + "\n")
                    n = max(result["requests"], 1)
                    print("%s --cpus %d -c %d: %.0f req/s, p50 %s ms, p99 %s ms %s(load %s)" % (
                        args.path, cpus, connections, result["req_s"], result["p50_ms"], result["p99_ms"],
                        result["errors"] + " " if result["errors"] else "", load_before))
                    for k, v in deltas.items():
                        if v:
                            print("    %-36s %12.4g  per request %.4g" % (k, v, v / n))
            finally:
                stop_process(server, timeout=20)


if __name__ == "__main__":
    main()
