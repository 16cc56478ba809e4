#!/usr/bin/env python3
"""bench/http/run.py: requests/s and p99 latency of apps/httpd with wrk (issue 5's HTTP benchmark).

    bench/http/run.py [--build-dir build] [--duration 10] [--connections 64] [--wrk-threads 2]
                      [--threads 1] [--path /index.html] [--modes keepalive,close] [--runs 1]

Starts the native httpd (BUILD/apps/httpd/httpd --quiet --port 0 --root apps/httpd/rootfs/www)
on loopback and runs wrk (Debian's package; installed with apt-get if missing and we are root)
against it: a keep-alive run and a short-connection run (every request on a new connection,
"Connection: close"). Prints one JSON line per run:

    {"bench": "http", "target": "native", "mode": "keepalive", "rps": ..., "p99_ms": ..., ...}

--target-url URL measures a server that is already running instead (e.g. httpd in xos behind
`xos-run -p 8080:8080`; the lead adds that column once networking lands), labelled --target.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
WWW = os.path.join(ROOT, "apps", "httpd", "rootfs", "www")
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def log(message):
    print(message, file=sys.stderr, flush=True)


def ensure_wrk():
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("bench/http: installing Debian's wrk package")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL)
    return shutil.which("wrk") is not None


def start_httpd(binary, threads):
    process = subprocess.Popen([binary, "--root", WWW, "--port", "0", "--quiet", "--threads", str(threads)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    line = process.stdout.readline().decode()
    match = re.search(r"on http://[^:/]+:(\d+)/", line)
    if not match:
        process.kill()
        raise SystemExit("bench/http: httpd did not start: %r" % line)
    return process, int(match.group(1))


def latency_ms(text):
    match = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(match.group(1)) * UNITS[match.group(2)] if match else None


def run_wrk(url, mode, args):
    command = ["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", "%ss" % args.duration,
               "--latency", "--timeout", "5s"]
    if mode == "close":
        command += ["-H", "Connection: close"]
    command.append(url)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit("bench/http: wrk failed: %s%s" % (result.stdout, result.stderr))
    out = result.stdout
    figures = {"rps": None, "p50_ms": None, "p90_ms": None, "p99_ms": None, "requests": None, "errors": 0}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        figures["rps"] = float(m.group(1))
    for pct in ("50", "90", "99"):
        if m := re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % pct, out, re.M):
            figures["p%s_ms" % pct] = latency_ms(m.group(1))
    if m := re.search(r"(\d+) requests in", out):
        figures["requests"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        figures["errors"] += sum(int(g) for g in m.groups())
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        figures["errors"] += int(m.group(1))
    return figures, out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="httpd worker threads")
    parser.add_argument("--path", default="/index.html")
    parser.add_argument("--modes", default="keepalive,close")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--target-url", help="measure this running server instead of starting the native one")
    parser.add_argument("--target", default=None, help="label for --target-url (default: url)")
    parser.add_argument("--verbose", action="store_true", help="print wrk's own report on stderr")
    args = parser.parse_args()

    if not ensure_wrk():
        raise SystemExit("bench/http: wrk is missing (apt-get install wrk)")
    process = None
    if args.target_url:
        url, target = args.target_url.rstrip("/") + args.path, args.target or args.target_url
    else:
        binary = os.path.join(args.build_dir, "apps", "httpd", "httpd")
        if not os.path.exists(binary):
            raise SystemExit("bench/http: %s is missing (ninja -C %s apps/httpd/httpd)" % (binary, args.build_dir))
        process, port = start_httpd(binary, args.threads)
        url, target = "http://127.0.0.1:%d%s" % (port, args.path), "native"
    try:
        for run in range(args.runs):
            for mode in args.modes.split(","):
                figures, report = run_wrk(url, mode, args)
                if args.verbose:
                    log(report)
                record = {"bench": "http", "target": target, "mode": mode, "path": args.path,
                          "connections": args.connections, "duration_s": args.duration,
                          "httpd_threads": args.threads, "run": run, **figures,
                          "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
                print(json.dumps(record), flush=True)
    finally:
        if process:
            process.terminate()
            process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
