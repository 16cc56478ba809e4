#!/usr/bin/env python3
"""bench/http/run.py: requests/s and p99 latency of apps/httpd under wrk, in xos vs a Linux microVM vs native.

    bench/http/run.py [--paths user,tap] [--targets xos,linux-vm,native] [--runs 5] [--duration 4]
                      [--workloads small-c16,small-c128,big-c16,small-close-c16] [--wrk-threads 2]
                      [--threads 1] [--wait-load L] [--build-dir build] [--results bench/results]
                      [--baseline-build-dir DIR] [--no-write] [--verbose]
    bench/http/run.py --quick         a smoke-sized run (1 round, 1 s per wrk run, nothing written)
    bench/http/run.py --smoke         what `meson test --suite bench` runs: xos and native answer wrk
                                      for one second without errors (no figures, no timing checks)

The same httpd sources (apps/httpd) run as:

- xos:       build/apps/httpd/httpd.xos under xos-run (QEMU, virtio-net, 1 vCPU);
- linux-vm:  a static build (g++ -static -O2 -std=c++2b, plus programs/linux_vm_init.c) as /init of
             the bench harness's Linux microVM (Debian's kernel, harness/linux_vm.py) on the same
             QEMU machine, accelerator, -m and -smp as xos; the initramfs also holds /www (the
             document root) and the virtio-net modules, which /init loads before it configures eth0
             (kernel parameter xos_bench_net=ADDR/PREFIX,GATEWAY);
- xos-2cpu, linux-vm-2cpu: the same with 2 vCPUs (MTTCG); xos-base, xos-2cpu-base: the httpd.xos
             of another tree's build (--baseline-build-dir, e.g. main's) under its own xos-run, with
             1 and 2 vCPUs, measured in the same rounds (issue 17: a fix against main in one run);
- native:    that same static binary as an ordinary process on the host, on loopback.

Paths (each VM is reached over one of them; native always over loopback):

- user: QEMU user networking (slirp) with a host port forwarded to the guest's port 8080: the
        path that always works, and whose cost is mostly slirp's;
- tap:  a tap device per VM in a network namespace this script creates (it re-executes itself
        under `unshare -n`, or `unshare -rn` when not root): the host kernel's TCP stack talks to
        the guest's directly. Native over tap is meaningless (there is no VM), so native stays on
        loopback (in the same namespace).

Workloads (wrk --latency, keep-alive unless "close"): small = /hello.txt (48 bytes), big = /big.txt
(268 KiB, the largest file in apps/httpd/rootfs/www), -cN = N connections, close = a new connection
per request ("Connection: close"). Every server runs for the whole measurement; each round runs
every workload against every target back to back (the order rotates each round), after one
warm-up pass. Figures are the median of the rounds; ratios are paired (median of the per-round
ratios). Results: bench/results/http.md (table) and http.jsonl (the environment, then each figure
with all its samples, like latest.jsonl).

Legacy single-server mode (the original CLI of this script, kept): --target-url URL measures a
server that is already running; --native-only measures build/apps/httpd/httpd on loopback; both
print one JSON line per wrk run and honour --connections, --path and --modes.
"""
import argparse
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import stat
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH_DIR)
WWW = os.path.join(ROOT, "apps", "httpd", "rootfs", "www")
HTTPD_SOURCES = ["main.cpp", "server.cpp", "http_parser.cpp", "response.cpp", "mime.cpp"]
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
GUEST_PORT = 8080
NETNS_ENV = "XOS_HTTP_BENCH_NETNS"

sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from harness import cpio, linux_vm, targets  # noqa: E402
from xostest import stop_process  # noqa: E402

WORKLOADS = {
    "small-c1": ("/hello.txt", 1, "keepalive"),
    "small-c16": ("/hello.txt", 16, "keepalive"),
    "small-c128": ("/hello.txt", 128, "keepalive"),
    "big-c16": ("/big.txt", 16, "keepalive"),
    "big-c128": ("/big.txt", 128, "keepalive"),
    "small-close-c16": ("/hello.txt", 16, "close"),
}
DEFAULT_WORKLOADS = "small-c16,small-c128,big-c16,small-close-c16"
LATENCY_WORKLOADS = "small-c1,small-c16"
TARGET_LABELS = {"xos": "xos", "xos-2cpu": "xos 2 vCPUs", "xos-base": "baseline xos",
                 "xos-2cpu-base": "baseline xos 2 vCPUs", "linux-vm": "Linux VM", "linux-vm-2cpu": "Linux VM 2 vCPUs",
                 "hosted": "xos hosted", "native": "native (loopback)"}
# The SMP targets (issue 17): xos-run --cpus 2, and the Linux VM on xos-run's machine with 2 vCPUs
# (its -smp and MTTCG accelerator, from xos-run's dry run with XOS_CPUS=2).
SMP_CPUS = {"xos-2cpu": 2, "xos-2cpu-base": 2, "linux-vm-2cpu": 2}
# xos-base, xos-2cpu-base: the httpd.xos of another tree's build (--baseline-build-dir, e.g. main's)
# under that tree's xos-run, measured in the same rounds as this tree's.
XOS_TARGETS = ("xos", "xos-2cpu", "xos-base", "xos-2cpu-base")
# Figures per workload: the default table, and --latency's percentiles (wrk --latency's 50/90/99%
# and its Max).
METRICS = (("rps", "req/s", "higher", "req/s"), ("p99_ms", "ms", "lower", "p99 latency"))
LATENCY_METRICS = (("rps", "req/s", "higher", "req/s"), ("p50_ms", "ms", "lower", "p50 latency"),
                   ("p90_ms", "ms", "lower", "p90 latency"), ("p99_ms", "ms", "lower", "p99 latency"),
                   ("max_ms", "ms", "lower", "max latency"))
RATIOS = (("xos", "linux-vm"), ("xos", "native"), ("linux-vm", "native"), ("hosted", "native"),
          ("xos-2cpu", "xos"), ("xos-2cpu", "linux-vm-2cpu"), ("linux-vm-2cpu", "linux-vm"),
          ("xos-2cpu-base", "xos-base"), ("xos-2cpu", "xos-2cpu-base"))
PATH_LABELS = {"user": "QEMU user networking (slirp, -p forwarding)", "tap": "tap device (host kernel TCP)"}
# Tap addressing: one /24 per VM, the host side is .1, the guest .2.
TAP = {"xos": ("xbtap-xos", "192.168.100"), "linux-vm": ("xbtap-lvm", "192.168.101"),
       "hosted": ("xbtap-hst", "192.168.102"), "xos-2cpu": ("xbtap-xos2", "192.168.103"),
       "linux-vm-2cpu": ("xbtap-lvm2", "192.168.104"), "xos-base": ("xbtap-xosb", "192.168.105"),
       "xos-2cpu-base": ("xbtap-xos2b", "192.168.106")}

START = time.time()


def log(message):
    print("[http %4.0fs] %s" % (time.time() - START, message), file=sys.stderr, flush=True)


def ensure_wrk():
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing Debian's wrk package")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL)
    return shutil.which("wrk") is not None


def latency_ms(text):
    match = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(match.group(1)) * UNITS[match.group(2)] if match else None


def run_wrk(url, mode, connections, duration, wrk_threads, timeout_s=5):
    command = ["wrk", "-t", str(min(wrk_threads, connections)), "-c", str(connections), "-d", "%ss" % duration,
               "--latency", "--timeout", "%ds" % timeout_s]
    if mode == "close":
        command += ["-H", "Connection: close"]
    command.append(url)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    out = result.stdout
    figures = {"rps": None, "p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None, "requests": None,
               "errors": 0, "socket_errors": None, "non_2xx": 0}
    if result.returncode != 0:
        figures["wrk_failed"] = (out + result.stderr).strip()[-400:]
        return figures, out + result.stderr
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        figures["rps"] = float(m.group(1))
    for pct in ("50", "90", "99"):
        if m := re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % pct, out, re.M):
            figures["p%s_ms" % pct] = latency_ms(m.group(1))
    if m := re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M):  # Thread Stats: Avg Stdev Max
        figures["max_ms"] = latency_ms(m.group(1))
    if m := re.search(r"(\d+) requests in", out):
        figures["requests"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        figures["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), (int(g) for g in m.groups())))
        figures["errors"] += sum(figures["socket_errors"].values())
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        figures["non_2xx"] = int(m.group(1))
        figures["errors"] += int(m.group(1))
    return figures, out


# ---------------------------------------------------------------------------------------------
# Legacy mode: one server, one JSON line per wrk run (the script's original interface)
# ---------------------------------------------------------------------------------------------

def start_native(binary, threads, root=WWW, log_path=None):
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen([binary, "--root", root, "--port", "0", "--quiet", "--threads", str(threads)],
                               stdout=subprocess.PIPE, stderr=out)
    line = process.stdout.readline().decode()
    match = re.search(r"on http://[^:/]+:(\d+)/", line)
    if not match:
        process.kill()
        raise SystemExit("bench/http: httpd did not start: %r" % line)
    return process, int(match.group(1))


def legacy(args):
    process = None
    if args.target_url:
        url, target = args.target_url.rstrip("/") + args.path, args.target or args.target_url
    else:
        binary = os.path.join(args.build_dir, "apps", "httpd", "httpd")
        if not os.path.exists(binary):
            raise SystemExit("bench/http: %s is missing (ninja -C %s apps/httpd/httpd)" % (binary, args.build_dir))
        process, port = start_native(binary, args.threads)
        url, target = "http://127.0.0.1:%d%s" % (port, args.path), "native"
    try:
        for run in range(args.runs):
            for mode in args.modes.split(","):
                figures, report = run_wrk(url, mode, args.connections, args.duration, args.wrk_threads)
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


# ---------------------------------------------------------------------------------------------
# Building: the static httpd (native and Linux VM) and the Linux VM's initramfs
# ---------------------------------------------------------------------------------------------

def build_static_httpd(out_dir):
    """apps/httpd as one static binary (glibc, libstdc++), with linux_vm_init.c linked in: it
    configures the network when it is PID 1 with xos_bench_net set, and does nothing otherwise."""
    out = os.path.join(out_dir, "httpd-static")
    sources = [os.path.join(ROOT, "apps", "httpd", s) for s in HTTPD_SOURCES]
    init_c = os.path.join(BENCH_DIR, "programs", "linux_vm_init.c")
    inputs = sources + [init_c, os.path.join(ROOT, "apps", "httpd")]
    newest = max(os.path.getmtime(p) for p in inputs + [os.path.join(ROOT, "apps", "httpd", h)
                                                        for h in os.listdir(os.path.join(ROOT, "apps", "httpd"))
                                                        if h.endswith(".h")])
    if os.path.exists(out) and os.path.getmtime(out) >= newest:
        return out
    log("building the static httpd (g++ -static -O2) for native and the Linux VM")
    init_o = os.path.join(out_dir, "linux_vm_init.%d.o" % os.getpid())
    subprocess.run(["gcc", "-O2", "-c", init_c, "-o", init_o], check=True)
    subprocess.run(["g++", "-static", "-O2", "-std=c++2b", "-pthread", "-s", *sources, init_o, "-o", "%s.%d" % (out, os.getpid())],
                   check=True)
    os.unlink(init_o)
    os.replace("%s.%d" % (out, os.getpid()), out)
    return out


def linux_initramfs(init, modules, out_path):
    """/dev/console, /init, /www (apps/httpd/rootfs/www), /lib/modules/*.ko and /lib/modules/load."""
    entries = [("dev", stat.S_IFDIR | 0o755, b"", (0, 0)), ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1))]
    with open(init, "rb") as f:
        entries.append(("init", stat.S_IFREG | 0o755, f.read(), (0, 0)))
    entries += [("lib", stat.S_IFDIR | 0o755, b"", (0, 0)), ("lib/modules", stat.S_IFDIR | 0o755, b"", (0, 0))]
    for path in modules:
        with open(path, "rb") as f:
            entries.append(("lib/modules/" + os.path.basename(path), stat.S_IFREG | 0o644, f.read(), (0, 0)))
    load = "".join("/lib/modules/%s\n" % os.path.basename(p) for p in modules).encode()
    entries.append(("lib/modules/load", stat.S_IFREG | 0o644, load, (0, 0)))
    for dirpath, dirnames, filenames in os.walk(WWW):
        dirnames.sort()
        rel = os.path.relpath(dirpath, os.path.dirname(WWW))
        entries.append((rel, stat.S_IFDIR | 0o755, b"", (0, 0)))
        for name in sorted(filenames):
            with open(os.path.join(dirpath, name), "rb") as f:
                entries.append((os.path.join(rel, name), stat.S_IFREG | 0o644, f.read(), (0, 0)))
    out = bytearray()
    for ino, (name, mode, data, rdev) in enumerate(entries, 1):
        cpio._entry(out, ino, name, mode, data, rdev=rdev, nlink=2 if stat.S_ISDIR(mode) else 1)
    cpio._entry(out, 0, cpio._TRAILER, 0)
    out += b"\0" * (-len(out) % 512)
    tmp = "%s.%d" % (out_path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, out_path)
    return out_path


# ---------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------

_PORTS_GIVEN = set()


def free_port():
    """A free host port, never one handed out before in this run: the kernel may offer the same
    ephemeral port again before the server it was given to (QEMU's hostfwd) has bound it."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


class Server:
    """One running server: `target` on `path`, reachable at base_url. Started with its output in
    log_path; wait_ready() polls ready() (here: GET /hello.txt answers 200; bench/toolchain/servers.py
    subclasses it with its own) until it is true, the process exits or the time is up."""

    def __init__(self, target, path, argv, base_url, log_path, cwd=None):
        self.target, self.path, self.argv, self.base_url, self.log_path = target, path, argv, base_url, log_path
        self.key = "%s/%s" % (path, target)
        self.log = open(log_path, "wb")
        self.log.write(("$ " + " ".join(argv) + "\n").encode())
        self.log.flush()
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        cwd=cwd)
        self.started = time.time()

    def ready(self):
        host, port = self.base_url.split("//")[1].split(":")
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=2)
            conn.request("GET", "/hello.txt")
            response = conn.getresponse()
            body = response.read()
            conn.close()
            return response.status == 200 and bool(body)
        except OSError:
            return False

    def wait_ready(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("bench: %s exited with status %s before it answered; log %s:\n%s" % (
                    self.key, self.process.returncode, self.log_path, self.tail()))
            if self.ready():
                self.ready_s = time.time() - self.started
                return
            time.sleep(0.2)
        raise SystemExit("bench: %s did not answer within %d s; log %s:\n%s" % (
            self.key, timeout, self.log_path, self.tail()))

    def alive(self):
        return self.process.poll() is None

    def tail(self, lines=20):
        self.log.flush()
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        stop_process(self.process)
        self.log.close()


def image_id(image):
    """The image's hash and build time, taken when a server starts (QEMU reads the image then;
    the build tree may be rebuilt while the benchmark runs)."""
    with open(image, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return "%s (built %s)" % (digest, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(image))))


def httpd_extra(args):
    """httpd options every target gets: --nopush corks each response as nginx's tcp_nopush does."""
    return ["--nopush"] if args.nopush else []


def xos_run_server(args, path, target, image, image_key):
    """An httpd image run by xos-run (the VM image or the hosted executable): its NIC is QEMU's
    user networking or passt (path user, `-p`) or a tap device (path tap)."""
    args.xos_images[image_key] = image_id(image)
    build_dir = args.baseline_build_dir if target.endswith("-base") else args.build_dir
    argv = [targets.xos_run(build_dir)]
    if path == "user":
        port = free_port()
        argv += ["-p", "%d:%d" % (port, GUEST_PORT)]
        url = "http://127.0.0.1:%d" % port
    else:
        ifname, net = TAP[target]
        argv += ["--net", "tap:" + ifname, "--ip", net + ".2/24", "--gw", net + ".1"]
        url = "http://%s.2:%d" % (net, GUEST_PORT)
    if target in SMP_CPUS:
        argv += ["--cpus", str(SMP_CPUS[target])]
    argv += [image, "--", "--port", str(GUEST_PORT), "--quiet", "--threads", str(args.threads)] + httpd_extra(args)
    return Server(target, path, argv, url, os.path.join(args.out_dir, "server-%s-%s.log" % (path, target)))


def xos_server(args, path, target="xos"):
    build_dir = args.baseline_build_dir if target.endswith("-base") else args.build_dir
    return xos_run_server(args, path, target, os.path.join(build_dir, "apps", "httpd", "httpd.xos"),
                          path if target == "xos" else "%s-%s" % (target, path))


def linux_vm_server(args, path, vm, initramfs, target="linux-vm"):
    if path == "user":
        port = free_port()
        net = "xos_bench_net=10.0.2.15/24,10.0.2.2"
        netdev = "user,id=net0,hostfwd=tcp::%d-:%d" % (port, GUEST_PORT)
        url = "http://127.0.0.1:%d" % port
    else:
        ifname, prefix = TAP[target]
        net = "xos_bench_net=%s.2/24,%s.1" % (prefix, prefix)
        netdev = "tap,id=net0,ifname=%s,script=no,downscript=no" % ifname
        url = "http://%s.2:%d" % (prefix, GUEST_PORT)
    # The same virtio-net device on the same virtio-mmio transport as xos-run gives xos.
    argv = vm.machine + ["-kernel", vm.vmlinux, "-initrd", initramfs,
                         "-append", "%s %s -- --root /www --port %d --quiet --threads %d%s" % (
                             vm.cmdline, net, GUEST_PORT, args.threads,
                             "".join(" " + a for a in httpd_extra(args))),
                         "-chardev", "stdio,id=con", "-serial", "chardev:con",
                         "-global", "virtio-mmio.force-legacy=false",
                         "-netdev", netdev, "-device", "virtio-net-device,netdev=net0"]
    return Server(target, path, argv, url, os.path.join(args.out_dir, "server-%s-%s.log" % (path, target)))


def hosted_server(args, path):
    """apps/httpd built for the hosted platform (tests/hosted_net's httpd-hosted: the same sources
    and rootfs)."""
    image = os.path.join(args.build_dir, "tests", "hosted_net", "httpd-hosted")
    return xos_run_server(args, path, "hosted", image, "hosted-" + path)


def native_server(args, binary, path):
    """Native httpd on loopback, started again for each path's phase (keyed PATH/native)."""
    # A port from free_port() like the VMs' forwarded ones (not --port 0: the kernel could hand
    # this httpd a port already given to a VM whose QEMU has not bound it yet).
    port = free_port()
    argv = [binary, "--root", WWW, "--port", str(port), "--quiet", "--threads", str(args.threads)] + httpd_extra(args)
    return Server("native", path, argv, "http://127.0.0.1:%d" % port,
                  os.path.join(args.out_dir, "server-%s-native.log" % path))


def setup_taps(names):
    """Inside the private network namespace: lo up, and one tap per VM with the host side at .1."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if "hosted" in names:
        # passt (the hosted image's user networking) refuses to start without a default route: one
        # through a tap nobody reads (passt only takes addresses from it; -p binds host loopback).
        for command in (["ip", "tuntap", "add", "dev", "xbdefault", "mode", "tap"],
                        ["ip", "addr", "add", "10.254.0.1/24", "dev", "xbdefault"],
                        ["ip", "link", "set", "xbdefault", "up"],
                        ["ip", "route", "add", "default", "via", "10.254.0.2", "dev", "xbdefault"]):
            subprocess.run(command, check=True)
    for t in names:
        ifname, net = TAP[t]
        subprocess.run(["ip", "tuntap", "add", "dev", ifname, "mode", "tap"], check=True)
        subprocess.run(["ip", "addr", "add", net + ".1/24", "dev", ifname], check=True)
        subprocess.run(["ip", "link", "set", ifname, "up"], check=True)


def reexec_in_netns():
    """Runs this script again in a new network namespace (tap devices need one of their own)."""
    unshare = shutil.which("unshare")
    if not unshare:
        return None
    flags = "-n" if os.geteuid() == 0 else "-rn"
    probe = subprocess.run([unshare, flags, "ip", "tuntap", "add", "dev", "xbprobe", "mode", "tap"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if probe.returncode != 0:
        log("tap path unavailable (unshare %s + ip tuntap failed: %s)" % (flags, probe.stdout.strip()))
        return None
    env = dict(os.environ, **{NETNS_ENV: "1"})
    child = subprocess.Popen([unshare, flags, sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env=env)
    try:
        return child.wait()
    finally:
        if child.poll() is None:  # we were interrupted: let the child stop its servers
            child.terminate()
            child.wait()


# ---------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------

def summary(samples):
    samples = [s for s in samples if s is not None]
    if not samples:
        return None
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "runs": len(samples),
            "samples": [round(s, 3) for s in samples]}


def paired(a, b):
    ratios = [x / y for x, y in zip(a, b) if x is not None and y]
    return summary(ratios)


def wait_for_load(args):
    """--wait-load L: before a round, wait (up to --wait-load-max s) for the 1-minute load average to
    drop below L; this machine is shared, and wrk and the guests need the CPUs to themselves."""
    if not args.wait_load:
        return
    deadline = time.time() + args.wait_load_max
    while os.getloadavg()[0] >= args.wait_load and time.time() < deadline:
        log("load average %.1f >= %.1f: waiting" % (os.getloadavg()[0], args.wait_load))
        time.sleep(10)


def measure(args, servers, workloads):
    """servers: {key: Server}. Returns {(workload, key): [record per round]}."""
    keys = list(servers)
    results = {(w, k): [] for w in workloads for k in keys}
    problems = []

    def one(w, key, duration, warm):
        path, conns, mode = WORKLOADS[w]
        server = servers[key]
        if not server.alive():
            raise SystemExit("bench/http: %s died (status %s); log %s:\n%s" % (
                key, server.process.returncode, server.log_path, server.tail()))
        rec, raw = run_wrk(server.base_url + path, mode, conns, duration, args.wrk_threads)
        if args.verbose:
            log("%s %s:\n%s" % (w, key, raw))
        bad = rec["errors"] or rec.get("wrk_failed") or not rec["requests"] or not server.alive()
        if bad:
            note = {"workload": w, "server": key, "warm_up": warm, "errors": rec["errors"],
                    "socket_errors": rec["socket_errors"], "non_2xx": rec["non_2xx"],
                    "wrk_failed": rec.get("wrk_failed"), "alive": server.alive(),
                    "wrk_output": raw.strip(), "server_log_tail": server.tail(10)}
            problems.append(note)
            log("PROBLEM: %s on %s: errors %s %s%s" % (w, key, rec["errors"], rec["socket_errors"] or "",
                                                       "" if server.alive() else " (server died)"))
        return rec

    if args.warmup:
        log("warm-up: %d s per workload and server" % args.warmup)
    for w in workloads if args.warmup else []:
        for key in keys:
            one(w, key, args.warmup, True)
    for r in range(args.runs):
        wait_for_load(args)
        args.round_loads.append(round(os.getloadavg()[0], 1))
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for w in workloads:
            log("round %d/%d, %s: %s" % (r + 1, args.runs, w, ", ".join(order)))
            for key in order:
                results[(w, key)].append(one(w, key, args.duration, False))
    return results, problems


def figures_from(results, workloads, paths, target_names, metrics=METRICS):
    """The figures in latest.jsonl's format, one per (path, workload, metric); native is the
    loopback run measured in the same phase as that path's VMs."""
    figures = []
    for path in paths:
        present = [t for t in target_names if (workloads[0], "%s/%s" % (path, t)) in results]
        for w in workloads:
            url_path, conns, mode = WORKLOADS[w]
            for metric, unit, better, label in metrics:
                fig = {"figure": "http.%s.%s.%s" % (path, w, metric.replace("_ms", "")),
                       "label": "%s %s, -c %d%s: %s" % ("user net" if path == "user" else "tap", url_path, conns,
                                                       ", Connection: close" if mode == "close" else "", label),
                       "path": path, "workload": w, "url_path": url_path, "connections": conns, "mode": mode,
                       "unit": unit, "better": better, "targets": {}, "ratios": {}, "errors": {}}
                data = {}
                for t in present:
                    key = "%s/%s" % (path, t)
                    recs = results[(w, key)]
                    data[t] = [rec[metric] for rec in recs]
                    fig["targets"][t] = summary(data[t])
                    fig["errors"][t] = sum(rec["errors"] for rec in recs)
                for a, b in RATIOS:
                    if a in data and b in data:
                        fig["ratios"]["%s/%s" % (a, b)] = paired(data[a], data[b])
                figures.append(fig)
    return figures


def _num(v):
    if v is None:
        return "–"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def _cell(entry):
    if not entry:
        return "–"
    text = _num(entry["median"])
    if entry.get("runs", 1) > 1:
        text += " (%s–%s)" % (_num(entry["min"]), _num(entry["max"]))
    return text


def _ratio(entry):
    if not entry:
        return "–"
    text = "%.3g" % entry["median"]
    if entry.get("runs", 1) > 1:
        text += " (%.3g–%.3g)" % (entry["min"], entry["max"])
    return text


def markdown_table(figures):
    """One row per figure; a column per target measured and per ratio that has figures."""
    targets_seen = [t for t in TARGET_LABELS if any(t in f["targets"] for f in figures)]
    ratios_seen = ["%s/%s" % r for r in RATIOS if any("%s/%s" % r in f["ratios"] for f in figures)]
    lines = ["| " + " | ".join(["path", "workload", "figure"] + [TARGET_LABELS[t] for t in targets_seen] +
                               ["%s ÷ %s" % tuple(TARGET_LABELS[x] for x in r.split("/")) for r in ratios_seen]) + " |",
             "|" + "---|" * (3 + len(targets_seen) + len(ratios_seen))]
    for fig in figures:
        work = "%s, -c %d%s" % (fig["url_path"], fig["connections"], ", close" if fig["mode"] == "close" else "")
        metric = fig["figure"].rsplit(".", 1)[1]
        row = [fig["path"], work, "req/s" if fig["unit"] == "req/s" else metric + " ms"]
        row += [_cell(fig["targets"].get(t)) for t in targets_seen]
        row += [_ratio(fig["ratios"].get(r)) for r in ratios_seen]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def environment(args, vm, paths, servers):
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    xos_cmd = targets.dry_run(args.build_dir, os.path.join(args.build_dir, "apps/httpd/httpd.xos"))
    accel = xos_cmd[xos_cmd.index("-accel") + 1] if "-accel" in xos_cmd else "?"
    qemu = subprocess.run([xos_cmd[0], "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]
    wrk = subprocess.run(["wrk", "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    env = {"date": time.strftime("%Y-%m-%d %H:%M"), "host": platform.node(), "cpu": cpu, "cpus": os.cpu_count(),
           "accel": accel.upper(), "qemu": qemu, "wrk": wrk.splitlines()[0].split(" Copyright")[0] if wrk else "?",
           "runs": args.runs, "duration_s": args.duration, "warmup_s": args.warmup, "wrk_threads": args.wrk_threads,
           "httpd_threads": args.threads, "paths": paths, "load_start": args.load_start,
           "load_per_round": args.round_loads,
           "load_end": "%.1f" % os.getloadavg()[0],
           "machine": " ".join(targets.machine_args(xos_cmd)[1:]),
           "servers": {k: " ".join(s.argv) for k, s in servers.items()},
           "boot_to_ready_s": {k: round(getattr(s, "ready_s", 0), 2) for k, s in servers.items()}}
    env["xos_image"] = args.xos_images
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    env["source"] = (git or "?") + (" (with uncommitted changes)" if dirty else "")
    if vm:
        name, version = linux_vm.kernel_package()
        env["kernel"] = "%s %s" % (name, version)
        env["linux_cmdline"] = vm.cmdline
    return env


def write_results(args, env, figures, problems, command):
    header = ("Measured %s on %s (%s, %s CPUs), accelerator **%s** (xos and the Linux VM are emulated, native is "
              "not), %s, %s; median (min–max) of %d rounds of %d s per wrk run (wrk -t %d --latency, %d s "
              "warm-up), httpd with %d worker thread(s), %s; 1-minute load average %s at the start, "
              "%s at the start of each round, %s at the end.") % (
                  env["date"], env["host"] or "host", env["cpu"] or "x86_64", env["cpus"], env["accel"], env["qemu"],
                  env["wrk"], env["runs"], env["duration_s"], env["wrk_threads"], env["warmup_s"], env["httpd_threads"],
                  "1 vCPU per VM but the \"2 vCPUs\" ones (MTTCG)" if any(
                      k.split("/")[-1] in SMP_CPUS for k in env["servers"]) else "1 vCPU per VM",
                  env["load_start"], ", ".join("%.1f" % l for l in env["load_per_round"]) or "–", env["load_end"])
    if env.get("kernel"):
        header += " Linux VM: Debian %s." % env["kernel"]
    header += " Source: %s; httpd.xos sha256 %s." % (env["source"], ", ".join(
        "%s (%s path)" % (i, p) for p, i in env["xos_image"].items()) or "–")
    text = "\n".join([
        "# HTTP: apps/httpd under wrk, xos vs a Linux microVM vs native", "", header, "",
        "Paths: " + "; ".join("**%s**: %s" % (p, PATH_LABELS[p]) for p in env["paths"]) +
        "; native always runs on loopback.", "",
        markdown_table(figures), "",
        "Ratios are xos's (or the Linux VM's) figure divided by the other's, paired per round (median of "
        "the per-round ratios): for req/s above 1 means xos serves more; for p99 below 1 means xos "
        "answers faster. Errors (wrk socket errors and non-2xx answers) summed over all rounds: " +
        (", ".join("%s %s" % (f["figure"].rsplit(".", 1)[0], f["errors"]) for f in figures
                   if f["figure"].endswith(".rps") and any(f["errors"].values())) or "none") + ".",
        "", "Command: `%s`" % command, ""])
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, args.result_name + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.results, args.result_name + ".jsonl"), "w") as f:
        f.write(json.dumps({"environment": env}) + "\n")
        for fig in figures:
            f.write(json.dumps(fig) + "\n")
        for p in problems:
            f.write(json.dumps({"problem": p}) + "\n")
    return text


def compare(args):
    paths = [p for p in args.paths.split(",") if p]
    target_names = [t for t in args.targets.split(",") if t]
    for p in paths:
        if p not in PATH_LABELS:
            raise SystemExit("bench/http: unknown path %r (user, tap)" % p)
    for t in target_names:
        if t not in TARGET_LABELS:
            raise SystemExit("bench/http: unknown target %r (%s)" % (t, ", ".join(TARGET_LABELS)))
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            raise SystemExit("bench/http: unknown workload %r (%s)" % (w, ", ".join(WORKLOADS)))
    vms = [t for t in target_names if t != "native"]
    if "tap" in paths and vms and not os.environ.get(NETNS_ENV):
        status = reexec_in_netns()
        if status is not None:
            return status
        paths = [p for p in paths if p != "tap"]
        if not paths:
            raise SystemExit("bench/http: no path left to measure")
    if os.environ.get(NETNS_ENV):
        setup_taps(vms if "tap" in paths else [])

    image = os.path.join(args.build_dir, "apps", "httpd", "httpd.xos")
    if ("xos" in target_names or "xos-2cpu" in target_names) and not os.path.exists(image):
        raise SystemExit("bench/http: %s is missing (ninja -C %s)" % (image, args.build_dir))
    if any(t.endswith("-base") for t in target_names):
        if not args.baseline_build_dir:
            raise SystemExit("bench/http: the targets xos-base and xos-2cpu-base need --baseline-build-dir")
        base_image = os.path.join(args.baseline_build_dir, "apps", "httpd", "httpd.xos")
        if not os.path.exists(base_image):
            raise SystemExit("bench/http: %s is missing (ninja -C %s)" % (base_image, args.baseline_build_dir))
    hosted_image = os.path.join(args.build_dir, "tests", "hosted_net", "httpd-hosted")
    if "hosted" in target_names and not os.path.exists(hosted_image):
        raise SystemExit("bench/http: %s is missing (ninja -C %s tests/hosted_net/httpd-hosted)" % (
            hosted_image, args.build_dir))
    os.makedirs(args.out_dir, exist_ok=True)
    # The comparison runs one static binary both natively and as the Linux VM's /init; the smoke
    # test (no Linux VM by default) uses meson's native build instead and compiles nothing.
    static = None
    linux_targets = [t for t in target_names if t.startswith("linux-vm")]
    if linux_targets or ("native" in target_names and not args.smoke):
        static = build_static_httpd(args.out_dir)
    native_binary = static or os.path.join(args.build_dir, "apps", "httpd", "httpd")
    if "native" in target_names and not os.path.exists(native_binary):
        raise SystemExit("bench/http: %s is missing (ninja -C %s)" % (native_binary, args.build_dir))
    vm = initramfs = None
    linux_vms = {}
    for t in linux_targets:
        # xos-run's machine for that many vCPUs (its default --cpus comes from XOS_CPUS).
        saved = os.environ.get("XOS_CPUS")
        os.environ["XOS_CPUS"] = str(SMP_CPUS.get(t, 1))
        try:
            linux_vms[t] = targets.LinuxVm(args.build_dir, args.out_dir,
                                           os.path.join(args.build_dir, "bench/floor/floor-status.elf"))
        finally:
            if saved is None:
                del os.environ["XOS_CPUS"]
            else:
                os.environ["XOS_CPUS"] = saved
        vm = vm or linux_vms[t]
    if vm:
        initramfs = linux_initramfs(static, linux_vm.net_modules(vm.kernel_dir),
                                    os.path.join(args.out_dir, "httpd.initramfs.cpio"))

    all_servers, results, problems = {}, {}, []
    for path in paths:
        # One path at a time: its VMs and a native httpd, so that at most two idle guests share
        # the host with the one being measured (an idle xos guest costs about 3% of a host CPU
        # under TCG, an idle Linux guest under 1%).
        servers = {}
        try:
            for t in vms:
                if t in XOS_TARGETS:
                    s = xos_server(args, path, t)
                elif t == "hosted":
                    s = hosted_server(args, path)
                else:
                    s = linux_vm_server(args, path, linux_vms[t], initramfs, t)
                servers[s.key] = s
            if "native" in target_names:
                s = native_server(args, native_binary, path)
                servers[s.key] = s
            for key, s in servers.items():
                s.wait_ready(120)
                log("%s answers at %s (%.1f s after start)" % (key, s.base_url, s.ready_s))
            r, p = measure(args, servers, workloads)
            results.update(r)
            problems += p
        finally:
            for s in servers.values():
                s.stop()
        all_servers.update(servers)
    if args.smoke:
        for key in all_servers:
            print("smoke: %-14s ok: %s" % (key, ", ".join("%s %d requests" % (w, results[(w, key)][0]["requests"] or 0)
                                                         for w in workloads)))
        if problems:
            raise SystemExit("bench/http --smoke: FAILED:\n" + json.dumps(problems, indent=1))
        print("bench/http --smoke: OK")
        return 0
    figures = figures_from(results, workloads, paths, target_names, LATENCY_METRICS if args.latency else METRICS)
    env = environment(args, vm, paths, all_servers)
    command = " ".join(["bench/http/run.py"] + sys.argv[1:])
    if args.no_write:
        print(markdown_table(figures))
        for p in problems:
            print(json.dumps({"problem": p}))
    else:
        print(write_results(args, env, figures, problems, command))
        log("wrote %s/%s.md and %s.jsonl" % (args.results, args.result_name, args.result_name))
    if problems:
        log("%d wrk run(s) had errors or a dead server: see the \"problem\" lines%s" % (
            len(problems), "" if args.no_write else " in %s/http.jsonl" % args.results))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--baseline-build-dir", help="another tree's build (e.g. main's): targets xos-base, xos-2cpu-base")
    parser.add_argument("--paths", default="user,tap", help="user, tap (default both; tap needs unshare + tuntap)")
    parser.add_argument("--targets", default="xos,linux-vm,native")
    parser.add_argument("--workloads", default=DEFAULT_WORKLOADS, help="from: " + ", ".join(WORKLOADS))
    parser.add_argument("--duration", type=int, default=None, help="seconds per wrk run (default 4; legacy 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk per workload and server before measuring")
    parser.add_argument("--runs", type=int, default=None, help="rounds (default 5; legacy 1)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="httpd worker threads")
    parser.add_argument("--wait-load", type=float, default=0,
                        help="before each round, wait for the 1-minute load average to drop below this")
    parser.add_argument("--wait-load-max", type=int, default=300, help="longest wait per round (s), then go on")
    parser.add_argument("--results", default=os.path.join(BENCH_DIR, "results"))
    parser.add_argument("--no-write", action="store_true", help="print the table, write nothing under results/")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s per run, 1 s warm-up, nothing written")
    parser.add_argument("--latency", action="store_true",
                        help="latency percentiles: workloads %s, targets xos,linux-vm,hosted,native unless given, "
                             "p50/p90/p99/max; results/http-latency.{md,jsonl}" % LATENCY_WORKLOADS)
    parser.add_argument("--nopush", action="store_true",
                        help="every httpd corks its responses (httpd --nopush: TCP_CORK with Nagle on, as nginx's "
                             "tcp_nopush); results get the suffix -nopush")
    parser.add_argument("--smoke", action="store_true",
                        help="xos and native (user net) answer a 1-second wrk run without errors")
    parser.add_argument("--verbose", action="store_true", help="print wrk's own report on stderr")
    legacy_group = parser.add_argument_group("legacy single-server mode")
    legacy_group.add_argument("--target-url", help="measure this running server")
    legacy_group.add_argument("--target", default=None, help="label for --target-url (default: url)")
    legacy_group.add_argument("--native-only", action="store_true", help="measure build/apps/httpd/httpd alone")
    legacy_group.add_argument("--connections", type=int, help="(implies the legacy mode) default 64")
    legacy_group.add_argument("--path", help="(implies the legacy mode) default /index.html")
    legacy_group.add_argument("--modes", help="(implies the legacy mode) default keepalive,close")
    args = parser.parse_args()
    # SIGTERM unwinds like an exception, so the servers (QEMU, httpd) are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args.build_dir = os.path.abspath(args.build_dir)
    args.load_start = "%.1f" % os.getloadavg()[0]
    args.round_loads = []
    args.xos_images = {}

    if not ensure_wrk():
        if args.smoke:
            print("bench/http --smoke: SKIP: wrk is missing (apt-get install wrk)")
            return 77
        raise SystemExit("bench/http: wrk is missing (apt-get install wrk)")
    if args.target_url or args.native_only or args.connections or args.path or args.modes:
        args.connections = args.connections or 64
        args.path = args.path or "/index.html"
        args.modes = args.modes or "keepalive,close"
        args.duration = args.duration or 10
        args.runs = args.runs or 1
        return legacy(args)
    if args.smoke:
        args.paths, args.workloads = "user", "small-c16"
        if args.targets == parser.get_default("targets"):
            args.targets = "xos,native"
        args.runs, args.duration, args.warmup, args.no_write = 1, 1, 0, True
    if args.quick:
        args.runs, args.duration, args.warmup, args.no_write = 1, 1, 1, True
    args.result_name = "http"
    if args.latency:
        args.result_name = "http-latency"
        if args.workloads == parser.get_default("workloads"):
            args.workloads = LATENCY_WORKLOADS
        if args.targets == parser.get_default("targets"):
            args.targets = "xos,linux-vm,hosted,native"
    if any(t in SMP_CPUS for t in args.targets.split(",")):
        args.result_name = "http-smp"
    if args.nopush:
        args.result_name += "-nopush"
    args.duration = args.duration or 4
    args.runs = args.runs or 5
    args.out_dir = os.path.join(args.build_dir, "bench", "http-smoke" if args.smoke else "http")
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
