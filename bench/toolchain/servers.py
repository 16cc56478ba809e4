#!/usr/bin/env python3
"""bench/toolchain/servers.py: redis-server and nginx built by xos-cc from Debian's sources
(tests/toolchain/projects.sh), loaded from the host by Debian's redis-benchmark and wrk, against
the same sources built with Debian's musl-gcc -static -O2, all in one run:

    native     the musl-gcc build, an ordinary Linux process on loopback
    hosted     the xos-cc output under `xos-run --platform hosted -p` (a sandboxed process; its
               network is passt's, forwarded from a host port as -p does)
    xos VM     the same file under `xos-run -p` (QEMU, user networking with a forwarded port)
    Linux VM   the musl-gcc build as the program of the Linux microVM (bench/harness/linux_vm.py:
               Debian's kernel; /init = bench/toolchain/linux_init.c with
               bench/programs/linux_vm_init.c, which loads virtio-net and configures eth0), on the
               same QEMU machine, accelerator, CPU, -m and -smp as xos-run's, and the same QEMU
               user networking and forwarded port as xos-run -p gives the xos VM

nginx's prefix (conf/, html/ with the index.html, logs/) is in memory everywhere but native (the
host's page cache): the Linux VM has it in its initramfs, hosted and the xos VM in the image's own
root (nginx's objects as xos-cc compiled them, linked by `xos-build --rootfs` for the platform;
the root is unpacked into the in-memory root file system at boot). redis runs the xos-cc output
itself.

Each program's four servers run for the whole of its measurement; every round runs each load
against every server (the order rotates each round), after a warm-up round. Figures are the
median requests/s of the rounds, ratios are paired (the median of the per-round ratios).

    redis-benchmark -h 127.0.0.1 -p PORT -n N -c 16 -t set|get --csv   (redis-server --save "")
    wrk -t 2 -c 16 -d Ds http://127.0.0.1:PORT/                       (a 24-byte index.html)

usage: bench/toolchain/servers.py [--build BUILD_DIR] [--runs 3] [--requests 20000] [--duration 3]
                                  [--programs redis,nginx] [--results bench/results] [--no-write]
Needs the projects built first: tests/toolchain/projects.sh BUILD_DIR redis (and nginx), as
`meson test -C BUILD_DIR --suite toolchain-projects` does.
"""
import argparse
import importlib.util
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, HERE)
from harness import linux_vm, rounds, targets  # noqa: E402
from run import initramfs, work_dir  # noqa: E402  (bench/toolchain/run.py)

MEM_MIB = 256
GUEST_PORT = {"redis": 6379, "nginx": 8080}
TARGETS = ["native", "hosted", "xos VM", "Linux VM"]
CASES = {"redis": ["redis SET", "redis GET"], "nginx": ["nginx GET /"]}
READY_TIMEOUT = 600
INDEX = b"hello from nginx on xos\n"
# nginx looks its default user up even with master_process off
NGINX_ETC = {"etc/passwd": b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
             "etc/group": b"root:x:0:\nnobody:x:65534:\nnogroup:x:65534:\n"}
START = time.time()


def log(message):
    print("[servers %4.0fs] %s" % (time.time() - START, message), file=sys.stderr, flush=True)


def http_module():
    """bench/http/run.py, for its wrk runner and port allocator."""
    spec = importlib.util.spec_from_file_location("http_run", os.path.join(BENCH_DIR, "http", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HTTP = http_module()


def source_of(package):
    line = subprocess.run([os.path.join(ROOT, "tests", "toolchain", "fetch-sources.sh"), package], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
    return line.split(" ", 1)[1]


NGINX_CONFIGURE = ["--prefix=/usr/local/nginx", "--without-http_rewrite_module", "--without-http_gzip_module",
                   "--without-pcre"]  # projects.sh's modules


def native_build(build, program):
    """The musl-gcc -static -O2 build of the same Debian source, kept in BUILD/bench/toolchain-native
    (rebuilt when the source package's version changes)."""
    out = os.path.join(build, "bench", "toolchain-native")
    binary = os.path.join(out, {"redis": "redis-server", "nginx": "nginx"}[program])
    source = source_of(program)
    stamp = binary + ".source"
    if os.path.exists(binary) and os.path.exists(stamp) and open(stamp).read() == source:
        return binary
    tree = os.path.join(out, program + "-src")
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(source, tree, symlinks=True)
    jobs = str(os.cpu_count() or 1)
    build_log = os.path.join(out, program + "-build.log")
    log("building the native %s (musl-gcc -static -O2; log %s)" % (program, build_log))
    with open(build_log, "w") as f:
        if program == "redis":
            steps = [["make", "-j", jobs, "MALLOC=libc", "CC=musl-gcc", "USE_SYSTEMD=no", "BUILD_TLS=no",
                      "OPTIMIZATION=-O2", "LDFLAGS=-static", "redis-server"]]
            built = os.path.join(tree, "src", "redis-server")
        else:
            # nginx includes <crypt.h>, which Debian's musl-dev lacks (musl declares crypt() in
            # unistd.h, and xos's sysroot has the header): a one-line stand-in. Debian's musl has no
            # crypt() either, so the native build goes without auth_basic (unused by the
            # configuration measured), the one module that calls it.
            shim = os.path.join(out, "musl-include")
            os.makedirs(shim, exist_ok=True)
            with open(os.path.join(shim, "crypt.h"), "w") as header:
                header.write("#include <unistd.h> /* musl declares crypt() here */\n")
            steps = [["./configure", *NGINX_CONFIGURE, "--without-http_auth_basic_module", "--with-cc-opt=-O2 -I" + shim,
                      "--with-ld-opt=-static"],
                     ["make", "-j", jobs]]
            built = os.path.join(tree, "objs", "nginx")
        for step in steps:
            env = dict(os.environ, CC="musl-gcc")
            if subprocess.run(step, cwd=tree, stdout=f, stderr=subprocess.STDOUT, env=env).returncode != 0:
                raise SystemExit("bench/toolchain/servers: native %s: %s failed; see %s" % (program, step[0], build_log))
    shutil.copy(built, binary)
    with open(stamp, "w") as f:
        f.write(source)
    shutil.rmtree(tree, ignore_errors=True)
    return binary


def nginx_conf(port):
    return ("daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log stderr;\npid logs/nginx.pid;\n"
            "events { worker_connections 256; }\n"
            "http {\n    include mime.types;\n    access_log off;\n"
            "    server { listen %d; location / { root html; } }\n}\n" % port).encode()


def nginx_tree(directory, source, port):
    """nginx's prefix: conf/nginx.conf (listening on port), conf/mime.types, html/index.html, logs/."""
    for sub in ("conf", "html", "logs"):
        os.makedirs(os.path.join(directory, sub), exist_ok=True)
    shutil.copy(os.path.join(source, "conf", "mime.types"), os.path.join(directory, "conf"))
    with open(os.path.join(directory, "conf", "nginx.conf"), "wb") as f:
        f.write(nginx_conf(port))
    with open(os.path.join(directory, "html", "index.html"), "wb") as f:
        f.write(INDEX)
    return directory


def server_args(program, port, prefix):
    if program == "redis":
        return ["--port", str(port), "--protected-mode", "no", "--save", "", "--appendonly", "no"]
    return ["-p", prefix + "/", "-c", prefix + "/conf/nginx.conf", "-e", "stderr"]


def redis_ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def nginx_ready(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=2) as response:
            return response.status == 200 and response.read() == INDEX
    except OSError:
        return False


class Server(HTTP.Server):
    """bench/http/run.py's Server (started with a log, waited for, stopped with terminate-then-kill)
    with the program's own readiness check."""

    def __init__(self, program, target, argv, port, out_dir, cwd=None):
        self.program, self.port = program, port
        super().__init__(target, program, argv, "http://127.0.0.1:%d" % port,
                         os.path.join(out_dir, "server-%s-%s.log" % (program, target.replace(" ", "-"))), cwd=cwd)

    def ready(self):
        return redis_ready(self.port) if self.program == "redis" else nginx_ready(self.port)


def nginx_link_command(nginx_dir):
    """The link command of objs/Makefile (`$(LINK) -o objs/nginx OBJECTS... LIBS...`) as a list
    without $(LINK) and its -o: the objects and libraries xos-cc linked, run from nginx_dir."""
    lines = open(os.path.join(nginx_dir, "objs", "Makefile")).read().replace("\\\n", " ").splitlines()
    for line in lines:
        words = line.split()
        if words[:3] == ["$(LINK)", "-o", "objs/nginx"]:
            return words[3:]
    raise SystemExit("bench/toolchain/servers: no `$(LINK) -o objs/nginx` in %s/objs/Makefile" % nginx_dir)


def nginx_memory_image(args, nginx_dir, platform, root, out):
    """nginx's objects, as xos-cc compiled them, linked by xos-build for PLATFORM with ROOT packed
    into the image (--rootfs: unpacked into the root file system, in memory, at boot): the
    document root in memory, as the Linux VM has it in its initramfs."""
    xos_build = os.path.join(args.build, "tools", "xos-build", "xos-build")
    command = [xos_build, "--platform", platform, "--rootfs", root, "-o", out] + nginx_link_command(nginx_dir)
    result = subprocess.run(command, cwd=nginx_dir, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit("bench/toolchain/servers: %s failed:\n%s" % (" ".join(command), result.stdout + result.stderr))
    return out


def start_servers(args, program, native, out_dir, vm, init):
    """The program's four servers: {target: Server}."""
    xos_run = targets.xos_run(args.build)
    xos_cc_binary = (os.path.join(work_dir(args.build, "redis"), "redis", "src", "redis-server") if program == "redis"
                     else os.path.join(work_dir(args.build, "nginx"), "nginx", "objs", "nginx"))
    if not os.access(xos_cc_binary, os.X_OK):
        raise SystemExit("bench/toolchain/servers: %s missing: run tests/toolchain/projects.sh %s %s first"
                         % (xos_cc_binary, args.build, program))
    guest = GUEST_PORT[program]
    source = source_of(program)
    servers = {}
    for target in args.targets:
        port = HTTP.free_port()
        prefix = "/srv"
        data, cwd, image = {}, None, xos_cc_binary
        if program == "nginx":
            if target == "native":
                prefix = nginx_tree(os.path.join(out_dir, "nginx-native"), source, port)
            elif target == "Linux VM":
                tree = nginx_tree(os.path.join(out_dir, "nginx-linux-vm"), source, guest)
                data = {"srv/" + os.path.relpath(os.path.join(d, n), tree): open(os.path.join(d, n), "rb").read()
                        for d, _, names in os.walk(tree) for n in names}
                data["srv/logs/.keep"] = b""
                data.update(NGINX_ETC)
            else:
                # hosted and the xos VM: the tree at /srv of the image's own root (in memory), as
                # the Linux VM's initramfs has it (a --share would add 9P round trips per request)
                root = os.path.join(out_dir, "nginx-root-" + target.replace(" ", "-"))
                nginx_tree(os.path.join(root, "srv"), source, guest)
                os.makedirs(os.path.join(root, "etc"), exist_ok=True)
                for name, text in NGINX_ETC.items():
                    with open(os.path.join(root, name), "wb") as f:
                        f.write(text)
                image = nginx_memory_image(args, os.path.dirname(os.path.dirname(xos_cc_binary)),
                                           "hosted" if target == "hosted" else "kvm", root,
                                           os.path.join(out_dir, "nginx-%s.xos" % target.replace(" ", "-")))
        if target == "native":
            argv = [native] + server_args(program, port, prefix)
            cwd = out_dir  # where a native redis-server would write dump.rdb (it does not: --save "")
        elif target in ("hosted", "xos VM"):
            argv = [xos_run, "--platform", "hosted" if target == "hosted" else "kvm", "--mem", "%dM" % MEM_MIB,
                    "-p", "%d:%d" % (port, guest), image, "--"] + server_args(program, guest, prefix)
        else:
            ram = initramfs(os.path.join(out_dir, program + ".cpio"), init,
                            {"bin/" + os.path.basename(native): native,
                             **{"lib/modules/" + os.path.basename(m): m for m in vm.modules}},
                            ["/bin/" + os.path.basename(native)] + server_args(program, guest, prefix),
                            dict(data, **{"lib/modules/load": "".join("/lib/modules/%s\n" % os.path.basename(m)
                                                                      for m in vm.modules).encode()}))
            argv = targets.set_mem(vm.machine, MEM_MIB) + [
                "-kernel", vm.vmlinux, "-initrd", ram,
                "-append", vm.cmdline + " xos_bench_net=10.0.2.15/24,10.0.2.2",
                "-chardev", "stdio,id=con", "-serial", "chardev:con",
                # the same virtio-net device, transport and user networking as xos-run -p gives xos
                "-global", "virtio-mmio.force-legacy=false",
                "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:%d-:%d" % (port, guest),
                "-device", "virtio-net-device,netdev=net0"]
        servers[target] = Server(program, target, argv, port, out_dir, cwd)
    return servers


def redis_load(args, port, test):
    command = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", str(args.requests), "-c", "16",
               "-t", test, "--csv"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    for line in result.stdout.splitlines():
        fields = [f.strip('"') for f in line.split(",")]
        if len(fields) > 1 and fields[0] == test.upper():
            return float(fields[1])
    raise rounds.RunFailed("redis-benchmark -t %s on port %d: status %d, %s" % (
        test, port, result.returncode, (result.stdout + result.stderr)[-1000:]))


def nginx_load(args, port):
    figures, raw = HTTP.run_wrk("http://127.0.0.1:%d/" % port, "keepalive", 16, args.duration, 2)
    if figures.get("wrk_failed") or figures["errors"] or not figures["rps"]:
        raise rounds.RunFailed("wrk on port %d: %s" % (port, raw[-1000:]))
    return figures["rps"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20000, help="redis-benchmark -n")
    parser.add_argument("--duration", type=int, default=3, help="wrk -d, seconds")
    parser.add_argument("--programs", default="redis,nginx")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--results", default=os.path.join(BENCH_DIR, "results"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.build = os.path.realpath(args.build)
    args.targets = [t for t in args.targets.split(",") if t]
    for t in args.targets:
        if t not in TARGETS:
            raise SystemExit("bench/toolchain/servers: unknown target %s (known: %s)" % (t, ", ".join(TARGETS)))
    programs = [p for p in args.programs.split(",") if p]
    if not HTTP.ensure_wrk() or not shutil.which("redis-benchmark"):
        raise SystemExit("bench/toolchain/servers: needs wrk and redis-benchmark (Debian: wrk, redis-tools)")
    natives = {p: native_build(args.build, p) for p in programs}
    # Not below /tmp: the VMs' shares need user xattrs, which tmpfs may lack.
    os.makedirs(os.path.join(args.build, "bench"), exist_ok=True)
    out_dir = tempfile.mkdtemp(prefix="toolchain-servers-", dir=os.path.join(args.build, "bench"))
    loads = [round(os.getloadavg()[0], 1)]
    samples, accel = {}, "?"
    try:
        vm = init = None
        if "Linux VM" in args.targets:
            vm = targets.LinuxVm(args.build, out_dir, os.path.join(args.build, "tools", "xos-kernel", "xos-kernel.xos"))
            vm.modules = linux_vm.net_modules(vm.kernel_dir)
            accel = "TCG" if "tcg" in " ".join(vm.machine) else "KVM"
            init = os.path.join(out_dir, "linux-init")
            subprocess.run(["musl-gcc", "-static", "-O2", "-s", os.path.join(HERE, "linux_init.c"),
                            os.path.join(BENCH_DIR, "programs", "linux_vm_init.c"), "-o", init], check=True)
        for program in programs:
            servers = start_servers(args, program, natives[program], out_dir, vm, init)
            try:
                for target, server in servers.items():
                    server.wait_ready(READY_TIMEOUT)
                    log("%s on %s answers (port %d)" % (program, target, server.port))

                def run_one(case, target):
                    server = servers[target]
                    if server.process.poll() is not None:
                        raise rounds.RunFailed("%s on %s died (status %s):\n%s" % (
                            program, target, server.process.returncode, server.tail()))
                    if case == "redis SET":
                        return redis_load(args, server.port, "set")
                    if case == "redis GET":
                        return redis_load(args, server.port, "get")
                    return nginx_load(args, server.port)
                try:
                    samples.update(rounds.rounds(CASES[program], args.targets, args.runs, run_one, rotate=True,
                                                 log=lambda text: (loads.append(round(os.getloadavg()[0], 1)),
                                                                   log(program + ": " + text))))
                except rounds.RunFailed as failure:
                    raise SystemExit("bench/toolchain/servers: %s" % failure)
            finally:
                for server in servers.values():
                    server.stop()
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)

    pairs = [("xos VM", "Linux VM"), ("hosted", "native"), ("xos VM", "native")]
    pairs = [(a, b) for a, b in pairs if a in args.targets and b in args.targets]
    header = ("Measured %s UTC on %s (%d CPUs), VMs under %s, -m %dM, median of %d rounds (after a warm-up round), "
              "load average %.1f-%.1f during the run; redis-benchmark -n %d -c 16, wrk -t 2 -c 16 -d %ds." % (
                  time.strftime("%Y-%m-%d %H:%M", time.gmtime()), platform.node() or "host", os.cpu_count(), accel,
                  MEM_MIB, args.runs, min(loads), max(loads), args.requests, args.duration))
    lines = [header, "",
             "| load (req/s) | " + " | ".join(args.targets) + " | " + " | ".join("%s / %s" % p for p in pairs) + " |",
             "|---" * (1 + len(args.targets) + len(pairs)) + "|"]
    records = []
    for program in programs:
        for case in CASES[program]:
            med = {t: rounds.median(samples[(case, t)]) for t in args.targets}
            ratio = {"%s / %s" % p: rounds.paired(samples[(case, p[0])], samples[(case, p[1])]) for p in pairs}
            lines.append("| %s | %s | %s |" % (case, " | ".join("{:,.0f}".format(med[t]) for t in args.targets),
                                               " | ".join("%.3g" % r for r in ratio.values())))
            records.append({"figure": case, "unit": "req/s", "better": "higher", "median": med, "paired_ratios": ratio,
                            "samples": {t: samples[(case, t)] for t in args.targets}})
    report = "\n".join(lines) + "\n"
    print(report)
    if not args.no_write:
        os.makedirs(args.results, exist_ok=True)
        with open(os.path.join(args.results, "toolchain-servers.md"), "w") as f:
            f.write("# redis and nginx built by xos-cc (bench/toolchain/servers.py)\n\n" + report)
        with open(os.path.join(args.results, "toolchain-servers.jsonl"), "w") as f:
            f.write(json.dumps({"environment": header, "loads": loads}) + "\n")
            for record in records:
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
