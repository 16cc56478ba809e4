#!/usr/bin/env python3
"""bench/xen/run.py: boot to exit of hello as a Xen PVH guest, against the same image on QEMU
(KVM's path, here under TCG) and a Linux PVH domU in the same Xen run.

- xos on Xen: apps/hello.xos created by xl in the Xen-in-QEMU harness (tests/xen); the time is
  dom0's, from just before `xl create` to `xl list` showing the domain shut down (dom0 polls
  every 50 ms; /proc/uptime has 10 ms steps). It includes xl's domain build.
- Linux on Xen: Debian's kernel (the bzImage of the harness's dom0, which carries the PVH
  note) with an initramfs whose /init is busybox powering off at once, measured the same way,
  interleaved with the xos runs in the same harness run.
- xos on QEMU: the same hello.xos under `xos-run` on the host (TCG, microvm), wall time.
- netfront throughput: apps/httpd.xos as a Xen guest on dom0's bridge, dom0's curl fetching
  /big.txt (268 KiB) several times; against the same image under `xos-run -p` (QEMU user
  networking, TCG) fetched by the host's curl.

Everything runs under QEMU TCG on a loaded machine, and Xen itself is emulated: compare the
ratios measured in the same run, not absolute times across machines.

usage: bench/xen/run.py [--build-dir build] [--runs 3] [--markdown FILE]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FETCHES = 5
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "xen"))
import run_xen  # noqa: E402


def busybox_from_harness(harness):
    """The busybox-static binary inside the harness's dom0 initramfs."""
    return run_xen.harness_file(harness, "bin/busybox")


def linux_initramfs(busybox):
    init = b"#!/bin/busybox sh\n/bin/busybox poweroff -f\n"
    # The directory first: the kernel's initramfs unpacker does not make parents (without it
    # there is no /bin/busybox, no working init, and the domain crashes on a panic).
    return run_xen.cpio({"bin": (b"", 0o040755), "bin/busybox": (busybox, 0o100755), "init": (init, 0o100755)})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--markdown")
    args = parser.parse_args()

    made = subprocess.run([os.path.join(ROOT, "tests", "xen", "make_harness.sh")], stdout=subprocess.PIPE, text=True)
    if made.returncode != 0:
        raise SystemExit("tests/xen/make_harness.sh failed")
    harness = made.stdout.strip().splitlines()[-1]
    hello = os.path.join(args.build_dir, "apps", "hello.xos")
    xos_run = os.path.join(args.build_dir, "tools", "xos-run", "xos-run")

    # QEMU (the KVM path under TCG): wall time of xos-run, runs interleaved with nothing else.
    qemu_ms = []
    for _ in range(args.runs):
        start = time.perf_counter()
        status = subprocess.run([xos_run, "--timeout", "120", hello], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL).returncode
        qemu_ms.append((time.perf_counter() - start) * 1000)
        if status != 0:
            raise SystemExit("xos-run hello.xos failed (%d)" % status)

    # netfront throughput's baseline: the same httpd image under QEMU, fetched from the host.
    httpd = os.path.join(args.build_dir, "apps", "httpd", "httpd.xos")
    with open(os.path.join(ROOT, "apps", "httpd", "rootfs", "www", "big.txt"), "rb") as f:
        big_size = len(f.read())
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen([xos_run, "--timeout", "600", "-p", "%d:8080" % port, httpd, "--", "--port", "8080"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    qemu_rates = []
    try:
        url = "http://127.0.0.1:%d/big.txt" % port
        for _ in range(240):
            if subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "5", url]).returncode == 0:
                break
            time.sleep(1)
        for _ in range(FETCHES):
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "120", "-w",
                                  "%{size_download} %{time_total}", url], stdout=subprocess.PIPE, text=True).stdout
            size, seconds = out.split()
            if int(size) != big_size:
                raise SystemExit("bench/xen: curl from the QEMU httpd got %s bytes" % size)
            qemu_rates.append(int(size) / float(seconds) / 1e6)
    finally:
        server.kill()
        server.wait()

    files = {"linux.cpio": linux_initramfs(busybox_from_harness(harness))}
    with open(os.path.join(harness, "vmlinuz"), "rb") as f:
        files["linux-vmlinuz"] = f.read()
    cases = []
    for i in range(args.runs):
        cases.append({"name": "xos-%d" % i, "image": hello, "status": 0, "memory": 128, "timeout": 120})
        cases.append({"name": "linux-%d" % i, "image": hello, "status": None, "memory": 128, "timeout": 300,
                      "kernel": "/guests/linux-vmlinuz", "ramdisk": "/guests/linux.cpio",
                      "raw_cmdline": "console=hvc0 quiet cryptomgr.notests tsc=reliable",
                      "files": files if i == 0 else {}})
    fetches = "\n".join(
        "curl -s -o /dev/null --max-time 120 -w '%%{size_download} %%{time_total}' %s > /tmp/fetch && "
        "echo \"@@XEN METRIC netbench $(cat /tmp/fetch)\"" % "http://10.0.2.15:8080/big.txt" for _ in range(FETCHES))
    cases.append({"name": "netbench", "image": httpd, "status": None, "timeout": 300,
                  "args": ["--port", "8080"], "cmdline_extra": "xos.ip=10.0.2.15/24 xos.gw=10.0.2.2",
                  "xl": ["vif = ['bridge=xenbr0']"],
                  "check": "n=0\nuntil curl -s -o /dev/null --max-time 10 http://10.0.2.15:8080/index.html; do\n"
                           "    n=$((n + 1)); [ $n -gt 120 ] && exit 1; sleep 1\ndone\n" + fetches + "\n"})
    timeout = 300 + sum(case["timeout"] for case in cases)
    results, seconds, _ = run_xen.run(harness, cases, timeout, sys.stderr)

    def times(prefix, want_state):
        out = []
        for case in cases:
            result = results.get(case["name"])
            if case["name"].startswith(prefix) and result and result.get("state") == want_state:
                out.append(float(result["ms"]))
        return out
    xen_xos = times("xos-", "shutdown")
    xen_linux = times("linux-", "shutdown")
    if len(xen_xos) != args.runs or len(xen_linux) != args.runs:
        print("bench/xen: not every guest shut down: %r" % {k: (v.get("state"), v.get("ms")) for k, v in results.items()})
        return 1

    xen_rates = [int(size) / float(seconds) / 1e6 for size, seconds in
                 (results.get("netbench", {}).get("metrics") or []) if int(size) == big_size]
    if len(xen_rates) != FETCHES:
        print("bench/xen: the netfront fetches did not all complete: %r" % results.get("netbench"))
        return 1

    def fmt(values):
        return "%.0f (%.0f–%.0f)" % (statistics.median(values), min(values), max(values))

    def fmt2(values):
        return "%.2f (%.2f–%.2f)" % (statistics.median(values), min(values), max(values))
    lines = [
        "| figure (ms, median (min–max) of %d) | xos on Xen (PVH) | Linux on Xen (PVH) | xos on QEMU (TCG, xos-run) |"
        " xos on Xen ÷ Linux on Xen | xos on Xen ÷ xos on QEMU |" % args.runs,
        "|---|---|---|---|---|---|",
        "| boot to exit of hello | %s | %s | %s | %.3f | %.1f |" % (
            fmt(xen_xos), fmt(xen_linux), fmt(qemu_ms), statistics.median(xen_xos) / statistics.median(xen_linux),
            statistics.median(xen_xos) / statistics.median(qemu_ms)),
        "",
        "| figure (MB/s, median (min–max) of %d fetches of a %d-byte file) | xos on Xen (netfront, dom0's curl over a bridge) |"
        " xos on QEMU (virtio-net, user networking, the host's curl) | Xen ÷ QEMU |" % (FETCHES, big_size),
        "|---|---|---|---|",
        "| apps/httpd throughput | %s | %s | %.2f |" % (
            fmt2(xen_rates), fmt2(qemu_rates), statistics.median(xen_rates) / statistics.median(qemu_rates)),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    print("harness run: %.0f s" % seconds)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
