#!/usr/bin/env python3
"""bench/startup/run.py: start-up time of unmodified programs on xos vs a Linux microVM vs native.

    bench/startup/run.py [--programs sqlite3,redis,python3] [--targets xos,hosted,linux-vm,native]
                         [--runs 5] [--build-dir build] [--results bench/results] [--no-write]

The same files run everywhere: the host's program and the libraries ldd names (plus, for
python3, its standard library without test/) are copied into one staging root, from which

- xos:      `xos-build --exec PROGRAM --rootfs STAGE` makes one image (the generic kernel's loader
            and the files as its initrd), booted with the QEMU command `xos-run --dry-run` gives;
            python3 instead runs with `xos-run --rootfs STAGE` (its standard library is served
            read-only from the host, not copied into RAM; and a VM image must stay under 32 MiB
            today, platform/x86_64/paging.cpp);
- hosted:   the same with `--platform hosted`, run by xos-run (a sandboxed process);
- linux-vm: the staging root plus /init (bench/startup/init.c with bench/programs/linux_vm_init.c)
            as the initramfs of the bench harness's Linux microVM (Debian's kernel,
            harness/linux_vm.py) on the same QEMU machine, accelerator, CPU, -m and -smp;
- native:   the host's program as an ordinary process.

Figures, from the host's clock, from the moment the command starts:
- first output: the program's first line on the console (python3 -c 'print(1)' and sqlite3
  ':memory:' 'select(1);' print "1"; redis-server its "Redis is starting" log line);
- exit (python3, sqlite3): the command's end (the VM powered off, the process reaped);
- ready (redis-server --port 6379 --protected-mode no): a PING answered +PONG through the
  forwarded port (QEMU user networking for the VMs, passt for hosted, loopback natively).
Rounds alternate the targets; each figure is the median of --runs rounds (min and max kept).
Results: bench/results/startup.md and startup.jsonl.

python3 (Debian's is a non-PIE executable) runs on xos only once libos leaves the lower half
(engineer A's branch `highhalf`); until then its xos rows say "fails" and the rest is measured.
"""
import argparse
import json
import os
import platform
import re
import shutil
import socket
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH_DIR), "tests", "lib"))

from harness import cpio, linux_vm, targets  # noqa: E402
from xostest import copy_with_libraries  # noqa: E402

GUEST_PORT = 6379
MEM_MIB = 512  # python3's standard library is about 50 MiB, held twice by an initrd (archive + files)
TIMEOUT = 240

PROGRAMS = {
    # python3's standard library (tens of MiB) is not copied into RAM on xos: the staging root is
    # served read-only (xos-run --rootfs: 9p on the VM, hostfs on hosted), as issue 12 asks.
    "python3": {"path": "/usr/bin/python3", "args": ["-c", "print(1)"], "first": r"^1$", "server": False,
                "rootfs": True},
    "sqlite3": {"path": "/usr/bin/sqlite3", "args": [":memory:", "select(1);"], "first": r"^1$", "server": False},
    "redis": {"path": "/usr/bin/redis-server", "args": ["--port", str(GUEST_PORT), "--protected-mode", "no"],
              "first": r"Redis is starting", "server": True},
}
ETC_FILES = ["/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts"]


def log(message):
    print("[startup] " + message, file=sys.stderr, flush=True)


def copy_into(stage, path, source=None):
    target = os.path.join(stage, path.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(os.path.realpath(source or path), target)


def python_stdlib():
    out = subprocess.run(["/usr/bin/python3", "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out


def stage_root(name, spec, out_dir):
    """The files of one program: the program, ldd's libraries, a few /etc files (and python's
    standard library), as plain files at their paths."""
    stage = os.path.join(out_dir, "stage-" + name)
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    copy_with_libraries(spec["path"], stage)
    for path in ETC_FILES:
        if os.path.exists(path):
            copy_into(stage, path)
    for directory in ("proc", "dev", "tmp"):
        os.makedirs(os.path.join(stage, directory), exist_ok=True)
    adds = []
    if name == "python3":
        stdlib = python_stdlib()
        shutil.copytree(stdlib, os.path.join(stage, stdlib.lstrip("/")), symlinks=True,
                        ignore=shutil.ignore_patterns("test", "tests", "idlelib", "tkinter", "turtledemo"))
        adds.append(os.path.join(stage, stdlib.lstrip("/")) + ":" + stdlib)
    return stage, adds


def initramfs(stage, init, modules, out_path):
    """The staging root, /init, /dev/console and the network modules, as a newc archive."""
    entries = [("dev", stat.S_IFDIR | 0o755, b"", (0, 0)), ("dev/console", stat.S_IFCHR | 0o600, b"", (5, 1))]
    with open(init, "rb") as f:
        entries.append(("init", stat.S_IFREG | 0o755, f.read(), (0, 0)))
    for dirpath, dirnames, filenames in os.walk(stage):
        dirnames.sort()
        rel = os.path.relpath(dirpath, stage)
        if rel != "." and rel != "dev":
            entries.append((rel, stat.S_IFDIR | 0o755, b"", (0, 0)))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            relpath = os.path.normpath(os.path.join(rel, name))
            if os.path.islink(path):
                entries.append((relpath, stat.S_IFLNK | 0o777, os.readlink(path).encode(), (0, 0)))
            else:
                with open(path, "rb") as f:
                    entries.append((relpath, stat.S_IFREG | (os.stat(path).st_mode & 0o7777), f.read(), (0, 0)))
    if modules:
        entries.append(("lib/modules", stat.S_IFDIR | 0o755, b"", (0, 0)))
        for path in modules:
            with open(path, "rb") as f:
                entries.append(("lib/modules/" + os.path.basename(path), stat.S_IFREG | 0o644, f.read(), (0, 0)))
        load = "".join("/lib/modules/%s\n" % os.path.basename(p) for p in modules).encode()
        entries.append(("lib/modules/load", stat.S_IFREG | 0o644, load, (0, 0)))
    out = bytearray()
    for ino, (name, mode, data, rdev) in enumerate(entries, 1):
        cpio._entry(out, ino, name, mode, data, rdev=rdev, nlink=2 if stat.S_ISDIR(mode) else 1)
    cpio._entry(out, 0, cpio._TRAILER, 0)
    out += b"\0" * (-len(out) % 512)
    with open(out_path, "wb") as f:
        f.write(out)
    return out_path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_ping(port):
    """+PONG from a redis-server behind `port`. Short timeouts: until the guest's network is up, a
    forwarded connection is accepted by QEMU (or passt) and then never answered."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.25) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def measure(argv, first_pattern, cwd, port=None, timeout=TIMEOUT):
    """Runs argv in cwd (native redis-server writes dump.rdb there when it is stopped); returns
    {"first_output_ms", "exit_ms" or "ready_ms", "ok", "detail"}. A thread reads the output (each
    line timed as it arrives) while this one waits for the exit or pings the server."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd=cwd)
    pattern = re.compile(first_pattern)
    seen, first = [], []

    def read_output():
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").replace("\r", "").strip()
            seen.append(line)
            if not first and pattern.search(line):
                first.append((time.perf_counter() - start) * 1000.0)

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    deadline = start + timeout
    ready = None
    if port is not None:
        while time.perf_counter() < deadline and proc.poll() is None:
            if redis_ping(port):
                ready = (time.perf_counter() - start) * 1000.0
                break
            time.sleep(0.005)
        proc.terminate()
    try:
        proc.wait(max(1, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    end_ms = (time.perf_counter() - start) * 1000.0
    reader.join(10)
    first_ms = first[0] if first else None
    if port is not None:
        ok = ready is not None
        result = {"first_output_ms": first_ms, "ready_ms": ready}
    else:
        ok = first_ms is not None
        result = {"first_output_ms": first_ms, "exit_ms": end_ms}
    result["ok"] = ok
    result["detail"] = "" if ok else "status %s; output: %s" % (proc.returncode, " | ".join(seen[-8:]))
    return result


class Setup:
    """Everything built once per program: the images, the initramfs, the staging root."""

    def __init__(self, args, name, spec, out_dir, vm):
        self.name, self.spec, self.args, self.vm = name, spec, args, vm
        self.stage, adds = stage_root(name, spec, out_dir)
        xos_build = os.path.join(args.build_dir, "tools/xos-build/xos-build")
        self.images = {}
        for target, platform_name in (("xos", "kvm"), ("hosted", "hosted")):
            if target not in args.targets:
                continue
            if spec.get("rootfs"):
                continue
            image = os.path.join(out_dir, "%s-%s.xos" % (name, target))
            command = [xos_build, "--platform", platform_name, "--exec", spec["path"], "--rootfs", self.stage,
                       "-o", image]
            for add in adds:
                command += ["--add", add]
            log("building %s" % image)
            subprocess.run(command, check=True)
            self.images[target] = image
        if vm:
            init = os.path.join(out_dir, "startup-init")
            subprocess.run(["musl-gcc", "-static", "-O2", "-s", os.path.join(HERE, "init.c"),
                            os.path.join(BENCH_DIR, "programs", "linux_vm_init.c"), "-o", init], check=True)
            modules = linux_vm.net_modules(vm.kernel_dir) if spec["server"] else []
            self.initramfs = initramfs(self.stage, init, modules, os.path.join(out_dir, name + ".cpio"))

    def command(self, target, port):
        spec, xos_run = self.spec, targets.xos_run(self.args.build_dir)
        forward = ["-p", "%d:%d" % (port, GUEST_PORT)] if port else []
        if target == "native":
            args = list(spec["args"])
            if port:
                args[args.index(str(GUEST_PORT))] = str(port)
            return [spec["path"]] + args
        if spec.get("rootfs"):
            what = ["--rootfs", self.stage, "--platform", "hosted" if target == "hosted" else "kvm", "--",
                    spec["path"]]
        else:
            what = [self.images.get(target, ""), "--"]
        if target == "hosted":
            return [xos_run, "--mem", "%dM" % MEM_MIB] + forward + what + spec["args"]
        if target == "xos":
            out = subprocess.run([xos_run, "--dry-run", "--mem", "%dM" % MEM_MIB] + forward + what + spec["args"],
                                 check=True, capture_output=True, text=True).stdout
            import shlex
            argv = shlex.split(out.strip().splitlines()[-1])
            status = os.path.join(tempfile.gettempdir(), "xos-startup-status-%d" % os.getpid())
            return [a.replace("path=/tmp/xos-run-status", "path=" + status)
                    if a.startswith("file,id=xosstatus,") else a for a in argv]
        # linux-vm
        quoted = " ".join('"%s"' % a if (" " in a or not a) else a for a in spec["args"])
        net = " xos_bench_net=10.0.2.15/24,10.0.2.2" if port else ""
        argv = targets.set_mem(self.vm.machine, MEM_MIB) + [
            "-kernel", self.vm.vmlinux, "-initrd", self.initramfs,
            "-append", "%s%s -- %s %s" % (self.vm.cmdline, net, spec["path"], quoted),
            "-chardev", "stdio,id=con", "-serial", "chardev:con"]
        if port:
            argv += ["-global", "virtio-mmio.force-legacy=false",
                     "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:%d-:%d" % (port, GUEST_PORT),
                     "-device", "virtio-net-device,netdev=net0"]
        return argv


def summarize(samples):
    values = [v for v in samples if v is not None]
    if not values:
        return None
    return {"median_ms": round(statistics.median(values), 1), "min_ms": round(min(values), 1),
            "max_ms": round(max(values), 1), "runs": len(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", default="sqlite3,redis,python3")
    parser.add_argument("--targets", default="xos,hosted,linux-vm,native")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--results", default=os.path.join(BENCH_DIR, "results"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
    args.targets = args.targets.split(",")
    programs = [p for p in args.programs.split(",") if p]
    for p in programs:
        if p not in PROGRAMS:
            raise SystemExit("bench/startup: unknown program %s (known: %s)" % (p, ", ".join(PROGRAMS)))
        if not os.path.exists(PROGRAMS[p]["path"]):
            raise SystemExit("bench/startup: %s is not installed here (%s)" % (p, PROGRAMS[p]["path"]))

    out_dir = os.path.join(args.build_dir, "bench-startup")
    os.makedirs(out_dir, exist_ok=True)
    vm = None
    if "linux-vm" in args.targets:
        reference = os.path.join(args.build_dir, "tools/xos-kernel/xos-kernel.xos")  # any image: its QEMU machine
        vm = targets.LinuxVm(args.build_dir, out_dir, reference)
    setups = {name: Setup(args, name, PROGRAMS[name], out_dir, vm) for name in programs}

    samples = {}  # (program, target, figure) -> [ms]
    failures = {}
    for round_index in range(args.runs + 1):  # round 0 warms the page cache and is not counted
        for name in programs:
            order = args.targets[round_index % len(args.targets):] + args.targets[:round_index % len(args.targets)]
            for target in order:
                port = free_port() if PROGRAMS[name]["server"] else None
                result = measure(setups[name].command(target, port), PROGRAMS[name]["first"], out_dir, port)
                log("round %d %s %s: %s" % (round_index, name, target,
                                            {k: (round(v, 1) if isinstance(v, float) else v)
                                             for k, v in result.items() if k != "detail"}))
                if not result["ok"]:
                    failures[(name, target)] = result["detail"]
                    log("  %s" % result["detail"])
                if round_index == 0:
                    continue
                for figure in ("first_output_ms", "exit_ms", "ready_ms"):
                    if figure in result:
                        samples.setdefault((name, target, figure), []).append(result[figure] if result["ok"] else None)

    accel = "TCG" if vm is None or "tcg" in " ".join(vm.machine) else "KVM"
    header = "Measured %s on %s (%s, %d CPUs), VMs under %s, -m %dM, median of %d rounds (min-max)" % (
        time.strftime("%Y-%m-%d"), platform.node() or "host", platform.machine(), os.cpu_count(), accel, MEM_MIB,
        args.runs)
    lines = ["# Start-up of unmodified programs (bench/startup/run.py)", "", header, "",
             "| program | target | first output ms | exit / ready ms |", "|---|---|---|---|"]
    records = []
    for name in programs:
        end_figure = "ready_ms" if PROGRAMS[name]["server"] else "exit_ms"
        for target in args.targets:
            first = summarize(samples.get((name, target, "first_output_ms"), []))
            end = summarize(samples.get((name, target, end_figure), []))
            records.append({"program": name, "target": target, "first_output": first,
                            end_figure.replace("_ms", ""): end, "failed": failures.get((name, target))})

            def cell(s):
                return "%.0f (%.0f-%.0f)" % (s["median_ms"], s["min_ms"], s["max_ms"]) if s else "fails"
            lines.append("| %s | %s | %s | %s %s |" % (name, target, cell(first), "ready" if end_figure == "ready_ms"
                                                        else "exit", cell(end)))
    report = "\n".join(lines) + "\n"
    print(report)
    for (name, target), detail in sorted(failures.items()):
        print("%s on %s failed: %s" % (name, target, detail))
    if not args.no_write:
        os.makedirs(args.results, exist_ok=True)
        with open(os.path.join(args.results, "startup.md"), "w") as f:
            f.write(report)
        with open(os.path.join(args.results, "startup.jsonl"), "w") as f:
            for record in records:
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
