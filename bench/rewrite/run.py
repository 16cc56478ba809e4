#!/usr/bin/env python3
"""bench/rewrite/run.py: syscall costs on xos with syscall-site rewriting on and off, next to Linux.

Two tables, each from rounds that alternate the variants (A B C D E, A B C D E, ...) after a
warm-up round: xos VM with rewriting on and with XOS_REWRITE=0, xos hosted (XOS_EXEC=wx) with
rewriting on and off, and native Linux. Figures are ns per call by the guest's clock (the VM's
under whatever accelerator xos-run picks, TCG here): median (min-max) over the rounds, and each
figure's paired ratio to native Linux's same figure in the same round.

1. raw_getppid.c, built for the VM (xos-build), for hosted (xos-build --platform hosted) and as a
   static native binary (musl-gcc): getppid through a raw `syscall` site in app memory, trapped
   vs rewritten (libos/rewrite), through a site that matches no pattern (trapped either way),
   and through libc.
2. syscall_cost.c, one unmodified glibc static-pie binary built by the host's gcc, run natively
   and on xos through xos-run --rootfs (the generic kernel, libos/exec): glibc's getppid,
   clock_gettime through the vDSO (libos/vdso) and through an inline raw `syscall`, and read()
   of 1 byte from a memfd.

usage: bench/rewrite/run.py [--build-dir build] [--runs 5] [--only raw,unmodified]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SOURCE = os.path.join(HERE, "raw_getppid.c")
COST_SOURCE = os.path.join(HERE, "syscall_cost.c")
COST_FIGURES = ["getppid", "clock_gettime.vdso", "clock_gettime.syscall", "read_1_byte"]


def run(command, env=None, timeout=120):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        sys.exit("failed (%d): %s\n%s%s" % (result.returncode, " ".join(command), result.stdout, result.stderr))
    return result.stdout


def figures(output):
    values = {}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("mark") == "end":
            values[record["figure"]] = record["guest_ns"] / record["count"]
        elif "value" in record:
            values[record["figure"]] = record["value"]
    return values


def measure(variants, runs):
    """Runs every variant once per round; returns {variant name: [figures of each round]}."""
    samples = {name: [] for name, _ in variants}
    for round_number in range(runs + 1):  # round 0 is a warm-up
        for name, command in variants:
            values = figures(run(command))
            print("round %d: %s: %s" % (round_number, name, values), file=sys.stderr)
            if round_number:
                samples[name].append(values)
    return samples


def cell(values):
    return "%.1f (%.1f-%.1f)" % (statistics.median(values), min(values), max(values))


def ratio_cell(values, baseline):
    ratio = [v / b for v, b in zip(values, baseline)]
    return "%.3f (%.3f-%.3f)" % (statistics.median(ratio), min(ratio), max(ratio))


def raw_site_table(args, work, xos_build, xos_run):
    vm_image, hosted_image, native = (os.path.join(work, name) for name in ("vm.xos", "hosted", "native"))
    run([xos_build, "-O2", SOURCE, "-o", vm_image])
    run([xos_build, "--platform", "hosted", "-O2", SOURCE, "-o", hosted_image])
    run(["musl-gcc", "-static", "-O2", SOURCE, "-o", native])
    variants = [
        ("xos VM, rewritten", [xos_run, "--timeout", "100", vm_image]),
        ("xos VM, trapped (XOS_REWRITE=0)", [xos_run, "--timeout", "100", "--env", "XOS_REWRITE=0", vm_image]),
        ("xos hosted, rewritten", [xos_run, "--timeout", "100", "--env", "XOS_EXEC=wx", hosted_image]),
        ("xos hosted, trapped (XOS_REWRITE=0)",
         [xos_run, "--timeout", "100", "--env", "XOS_EXEC=wx", "--env", "XOS_REWRITE=0", hosted_image]),
        ("native Linux", [native]),
    ]
    samples = measure(variants, args.runs)
    native_raw = [s["getppid.raw_site"] for s in samples["native Linux"]]
    print("| variant | raw site getppid, ns | libc getppid, ns | raw site / native raw (paired) | first byte of the site "
          "| unpatchable site getppid, ns |")
    print("|---|---|---|---|---|---|")
    for name, _ in variants:
        raw = [s["getppid.raw_site"] for s in samples[name]]
        libc = [s["getppid.libc"] for s in samples[name]]
        other = [s["getppid.unpatchable_site"] for s in samples[name]]
        first = samples[name][-1]["site.first_byte"]
        print("| %s | %s | %s | %s | 0x%02x | %s |" % (name, cell(raw), cell(libc), ratio_cell(raw, native_raw), int(first),
                                                      cell(other)))


def unmodified_table(args, work, xos_run):
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(root, "bin"))
    program = os.path.join(root, "bin", "syscall_cost")
    run(["gcc", "-O2", "-static-pie", COST_SOURCE, "-o", program])

    def on_xos(platform, *env):
        command = [xos_run, "--rootfs", root, "--platform", platform, "--timeout", "100"]
        for entry in env:
            command += ["--env", entry]
        return command + ["--", "/bin/syscall_cost"]

    variants = [
        ("xos VM, rewritten", on_xos("kvm")),
        ("xos VM, trapped (XOS_REWRITE=0)", on_xos("kvm", "XOS_REWRITE=0")),
        ("xos hosted, rewritten", on_xos("hosted")),
        ("xos hosted, trapped (XOS_REWRITE=0)", on_xos("hosted", "XOS_REWRITE=0")),
        ("native Linux", [program]),
    ]
    samples = measure(variants, args.runs)
    print("ns per call, median (min-max); below each, the paired ratio to native Linux's same figure")
    print()
    print("| variant | " + " | ".join(COST_FIGURES) + " |")
    print("|---|" + "---|" * len(COST_FIGURES))
    for name, _ in variants:
        values = [[s[f] for s in samples[name]] for f in COST_FIGURES]
        print("| %s | %s |" % (name, " | ".join(cell(v) for v in values)))
        if name != "native Linux":
            native = [[s[f] for s in samples["native Linux"]] for f in COST_FIGURES]
            print("| / native | %s |" % " | ".join(ratio_cell(v, n) for v, n in zip(values, native)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="raw,unmodified", help="raw, unmodified or both (comma-separated)")
    args = parser.parse_args()
    xos_build = os.path.join(args.build_dir, "tools/xos-build/xos-build")
    xos_run = os.path.join(args.build_dir, "tools/xos-run/xos-run")
    work = tempfile.mkdtemp(prefix="xos-rewrite-bench-")
    parts = args.only.split(",")
    if "raw" in parts:
        print("## getppid through a raw syscall site (xos-build images)\n")
        raw_site_table(args, work, xos_build, xos_run)
        print()
    if "unmodified" in parts:
        print("## An unmodified glibc static-pie binary (xos-run --rootfs)\n")
        unmodified_table(args, work, xos_run)


if __name__ == "__main__":
    main()
