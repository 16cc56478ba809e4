#!/usr/bin/env python3
"""bench/fs/run.py: xos ramfs vs native Linux tmpfs (issue 4's file-system benchmark).

    bench/fs/run.py [--build-dir build] [--runs 11] [--big-runs 5] [--files 10000] [--big-mib 256]
                    [--mem 1G] [--no-readme]

Builds bench/fs/fsbench.c twice: with xos-build (an image run by xos-run, the file system is
ramfs at /tmp) and with musl-gcc -static (a native process on /dev/shm, Linux tmpfs). Then runs
the two alternately (xos first in even rounds, native first in odd ones), --runs rounds of the
small-file loop and the memcpy reference, the 256 MiB write/read in the first --big-runs rounds.
Times come from the program's own clock_gettime (QEMU's start-up is not in them); the host also
times each phase from the arrival of its begin and end lines, as a check on the guest's clock.
Prints a table and writes bench/fs/README.md (unless --no-readme).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# figure -> (label, unit, how a sample becomes the unit, lower is better)
FIGURES = {
    "fs.small_files": ("create+write 4 KiB+close+unlink", "us/file", lambda n, ns: ns / n / 1e3, True),
    "fs.big_write": ("sequential write (1 MiB writes)", "MiB/s", lambda n, ns: n / (ns / 1e9), False),
    "fs.big_read": ("sequential read (1 MiB reads)", "MiB/s", lambda n, ns: n / (ns / 1e9), False),
    "fs.big_write_again": ("the same write again, after deleting the file", "MiB/s", lambda n, ns: n / (ns / 1e9), False),
    "fs.big_read_again": ("the same read again", "MiB/s", lambda n, ns: n / (ns / 1e9), False),
    "memcpy.4k": ("reference: memcpy of 4 KiB (plain code)", "us/copy", lambda n, ns: ns / n / 1e3, True),
}


def log(message):
    print(message, file=sys.stderr, flush=True)


def build(build_dir, work):
    source = os.path.join(HERE, "fsbench.c")
    xos_build = os.path.join(build_dir, "tools/xos-build/xos-build")
    image = os.path.join(work, "fsbench.xos")
    native = os.path.join(work, "fsbench")
    subprocess.run([xos_build, "-O2", source, "-o", image], check=True)
    subprocess.run(["musl-gcc", "-static", "-O2", source, "-o", native], check=True)
    return image, native


def run_once(command):
    """Runs one benchmark process; returns {figure: {"count", "guest_ns", "host_ns"}} and other JSON lines."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    figures, extra, begun = {}, {}, {}
    for line in process.stdout:
        arrived = time.monotonic_ns()
        line = line.strip()
        if not line.startswith("{"):
            continue  # console noise
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("mark") == "begin":
            begun[record["figure"]] = arrived
        elif record.get("mark") == "end":
            name = record["figure"]
            figures[name] = {"count": record["count"], "guest_ns": record["guest_ns"],
                             "host_ns": arrived - begun.get(name, arrived)}
        elif "figure" in record:
            extra[record["figure"]] = record["value"]
    stderr = process.stderr.read()
    if process.wait() != 0:
        raise RuntimeError("%s failed (status %d):\n%s" % (command[0], process.returncode, stderr))
    return figures, extra, stderr


def value(figure, sample, clock="guest_ns"):
    return FIGURES[figure][2](sample["count"], sample[clock])


def machine_description(accelerator):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.splitlines()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": "%s, %d CPUs" % (cpu, os.cpu_count() or 0),
        "kernel": platform.release(),
        "qemu": qemu[0] if qemu else "unknown",
        "accelerator": accelerator,
        "load": "load average %.1f at the end" % os.getloadavg()[0],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--big-runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--mem", default="1G", help="xos guest memory (the big file must fit)")
    parser.add_argument("--native-dir", default="/dev/shm", help="a tmpfs directory for the native runs")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build_dir)

    work = os.path.join(args.native_dir, "xos-fsbench-%d" % os.getpid())
    os.makedirs(work)
    try:
        image, native = build(build_dir, work)
        xos_run = os.path.join(build_dir, "tools/xos-run/xos-run")
        samples = {"xos": {f: [] for f in FIGURES}, "native": {f: [] for f in FIGURES}}
        accelerator = "?"
        for round_index in range(args.runs):
            what = "memcpy,small" + (",big" if round_index < args.big_runs else "")
            commands = {
                "xos": [xos_run, "-v", "--mem", args.mem, "--timeout", "600", image, "--",
                        "/tmp/fsbench", str(args.files), str(args.big_mib), what],
                "native": [native, os.path.join(work, "data"), str(args.files), str(args.big_mib), what],
            }
            order = ["xos", "native"] if round_index % 2 == 0 else ["native", "xos"]
            for target in order:
                figures, _, stderr = run_once(commands[target])
                if target == "xos":
                    found = re.search(r"^xos-run: accel (\w+)", stderr, re.M)
                    accelerator = found.group(1) if found else accelerator
                for name, sample in figures.items():
                    samples[target][name].append(sample)
            log("round %d/%d done" % (round_index + 1, args.runs))
        # One run of each with every call timed on its own (where the time goes).
        breakdown = {}
        for target, command in (("xos", [xos_run, "--mem", args.mem, "--timeout", "600", image, "--", "/tmp/fsbench",
                                          str(args.files), "1", "breakdown"]),
                                ("native", [native, os.path.join(work, "data"), str(args.files), "1", "breakdown"])):
            breakdown[target] = run_once(command)[1]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = []
    for name, (label, unit, _, lower_better) in FIGURES.items():
        xs, ns = samples["xos"][name], samples["native"][name]
        if not xs or not ns:
            continue
        pairs = list(zip(xs, ns))
        # Ratio as "how many times the time native needs": >1 means xos is slower.
        # Native's own clock is the host's: its phases are taken as the program timed them (the
        # shortest, memcpy, lasts ~10 ms natively, where a pipe's latency would show).
        def ratios(clock):
            return [x[clock] / x["count"] / (n["guest_ns"] / n["count"]) for x, n in pairs]
        host = lambda sample: value(name, sample, "host_ns")
        guest = lambda sample: value(name, sample, "guest_ns")
        rows.append({
            "figure": name, "label": label, "unit": unit, "runs": len(pairs),
            "xos": statistics.median(map(host, xs)), "xos_min": min(map(host, xs)), "xos_max": max(map(host, xs)),
            "xos_guest_clock": statistics.median(map(guest, xs)),
            "native": statistics.median(map(guest, ns)),
            "native_min": min(map(guest, ns)), "native_max": max(map(guest, ns)),
            "time_ratio": statistics.median(ratios("host_ns")),
            "time_ratio_guest_clock": statistics.median(ratios("guest_ns")),
            "guest_per_host": statistics.median(x["guest_ns"] / x["host_ns"] for x in xs if x["host_ns"]),
        })
    env = machine_description(accelerator)
    table = render_table(rows)
    print(table)
    print(render_breakdown(breakdown))
    print(json.dumps({"environment": env, "rows": rows, "breakdown": breakdown}))
    if not args.no_readme:
        write_readme(env, rows, breakdown, args)


def fmt(number):
    return "%.1f" % number if number >= 10 else "%.2f" % number


def render_table(rows):
    lines = ["| figure | unit | runs | xos ramfs: median (min-max) | Linux tmpfs: median (min-max) "
             "| xos time / Linux time | the same by the guest's clock: xos, ratio |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append("| %s | %s | %d | %s (%s-%s) | %s (%s-%s) | **%.2f** | %s, %.2f |" % (
            r["label"], r["unit"], r["runs"], fmt(r["xos"]), fmt(r["xos_min"]), fmt(r["xos_max"]),
            fmt(r["native"]), fmt(r["native_min"]), fmt(r["native_max"]), r["time_ratio"],
            fmt(r["xos_guest_clock"]), r["time_ratio_guest_clock"]))
    return "\n".join(lines)


def render_breakdown(breakdown):
    names = ["fs.small.open", "fs.small.write", "fs.small.close", "fs.small.unlink", "clock_gettime"]
    lines = ["| call (us, clock_gettime subtracted) | xos ramfs | Linux tmpfs |", "|---|---:|---:|"]
    for name in names:
        lines.append("| %s | %s | %s |" % (name.replace("fs.small.", ""), fmt(breakdown["xos"].get(name, 0)),
                                           fmt(breakdown["native"].get(name, 0))))
    return "\n".join(lines)


def write_readme(env, rows, breakdown, args):
    by_name = {r["figure"]: r for r in rows}
    guest_per_host = statistics.median(r["guest_per_host"] for r in rows)
    small = by_name.get("fs.small_files")
    reference = by_name.get("memcpy.4k")
    verdict = ""
    if small:
        verdict = ("Small-file loop: xos needs %.2f times the time Linux tmpfs needs by the host's clock (%.2f by "
                   "the guest's own clock); " % (small["time_ratio"], small["time_ratio_guest_clock"]))
    if reference:
        verdict += ("while plain code (the memcpy reference) runs %.0f times slower in the xos guest than natively: "
                    "the guest is emulated (%s), the native process is not." % (reference["time_ratio"],
                                                                               env["accelerator"]))
    text = f"""# bench/fs: xos ramfs vs Linux tmpfs

Issue 4's file-system benchmark. One C program, [fsbench.c](fsbench.c), built twice: with
`xos-build -O2` (an xos image; the files go to ramfs, `/tmp`) and with `musl-gcc -static -O2`
(a native Linux process; the files go to tmpfs, `/dev/shm`). [run.py](run.py) builds both,
runs them alternately (xos first in even rounds, native first in odd ones) and writes this file:

    bench/fs/run.py [--runs {args.runs}] [--big-runs {args.big_runs}] [--files {args.files}] [--big-mib {args.big_mib}] [--mem {args.mem}]

- **small files**: {args.files:,} times `open(O_CREAT|O_TRUNC)`, `write` 4 KiB, `close`, `unlink`
  (after a warm-up of 200 files), in one directory;
- **big file**: a {args.big_mib} MiB file written with 1 MiB `write`s, closed, read back with 1 MiB
  `read`s, deleted, and all that a second time ("again" rows); only in the first {args.big_runs}
  rounds (it is the slow part under emulation). In a VM the first write also pays for the first
  touch of the guest's RAM (QEMU's memory is allocated by the host kernel on first use); the
  second pass reuses memory that has been touched, as a long-running server would;
- **memcpy reference**: 200,000 copies of 4 KiB, no system call: how fast each side runs plain
  code, to read the other ratios against.

Each phase is timed twice, both ways excluding QEMU's start-up: by the program itself
(`clock_gettime(CLOCK_MONOTONIC)`, printed as a JSON line at the end of the phase) and by the
host, from the arrival of the phase's begin line to that of its end line (over the serial
console for xos, a pipe for native; a phase lasts 0.1 s or more, the line latency is well
under 1% of that). The table's main columns use the host's clock, which a guest cannot get
wrong; the last column gives the guest's own figures. They can differ: xos calibrates its TSC
once at boot against the PIT, and under TCG on a busy host that calibration can be off (by up
to 30% in some boots here; the median guest/host clock ratio of this run was {guest_per_host:.3f}).
Medians over the rounds; the ratio is the median of the per-round ratios of the times (below
1: xos is faster).

## Latest figures

{env['date']}; {env['cpu']} ({env['load']}); Linux {env['kernel']}; {env['qemu']}; xos
accelerator: **{env['accelerator']}** (xos-run's choice on this machine), guest memory {args.mem}.

{render_table(rows)}

{verdict}

Where the time of one small-file iteration goes (one run of {args.files:,} files with each call
timed separately):

{render_breakdown(breakdown)}

## Reading these figures

- Under TCG every instruction of the guest (the app, musl and libxos alike) is translated by
  QEMU, so the guest runs plain code an order of magnitude slower than the host (the memcpy
  row). A file operation in xos is a function call into ramfs, while on the native side every
  call is a Linux system call, which is comparatively expensive on this host (itself a virtual
  machine): the small-file ratio weighs the one against the other. On hardware-assisted KVM,
  where guest code runs at native speed, the memcpy ratio is about 1 and the xos side of
  every row gets faster by roughly that factor (not measured here).
- The big-file rows are dominated by copying memory, which emulation slows down the most; the
  first write by far the most (guest RAM touched for the first time: host page faults plus
  QEMU's software TLB), hence the "again" rows.
- These machines are shared and noisy: compare the ratios, and rerun before concluding
  anything from a difference of a few percent.
"""
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write(text)
    log("wrote bench/fs/README.md")


if __name__ == "__main__":
    main()
