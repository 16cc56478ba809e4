#!/usr/bin/env python3
"""bench/boot.py: boot time and image size of xos hello images, against the QEMU floor.

The floor is a PVH guest that exits at its first instruction (bench/floor), booted with the
exact QEMU command line xos-run uses (taken from `xos-run --dry-run`), so the difference is
what xos itself costs. Runs alternate (floor, C++ hello, C hello, ...) so machine noise hits
all of them alike; each figure is the median of N runs with min and max kept, and ratios are
taken against the floor measured in the same run.

usage: bench/boot.py [--build-dir build] [--runs 11] [--json FILE] [--markdown FILE]
"""
import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def dry_run_command(xos_run, image):
    out = subprocess.run([xos_run, "--dry-run", image], check=True, stdout=subprocess.PIPE, text=True).stdout
    return shlex.split(out.strip().splitlines()[-1])


def timed(command):
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000.0, result.returncode


def stripped_size(image):
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "image")
        subprocess.run(["llvm-strip-19", "-o", copy, image], check=True)
        return os.path.getsize(copy)


def summary(samples):
    return {"median_ms": round(statistics.median(samples), 2), "min_ms": round(min(samples), 2),
            "max_ms": round(max(samples), 2), "runs": len(samples)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--json", default=None)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()

    b = args.build_dir
    xos_run = os.path.join(b, "tools/xos-run/xos-run")
    images = {
        "floor": os.path.join(b, "bench/floor/floor-status.elf"),
        "hello_cpp": os.path.join(b, "apps/hello.xos"),
        "hello_c": os.path.join(b, "tests/image/hello_c.xos"),
    }
    for path in [xos_run] + list(images.values()):
        if not os.path.exists(path):
            sys.exit("bench/boot.py: missing %s (run ./bootstrap.sh build first)" % path)

    # Same QEMU command for every guest: what xos-run would run, minus xos-run itself.
    qemu = {name: dry_run_command(xos_run, image) for name, image in images.items()}
    variants = {
        "floor (QEMU, exits at first instruction)": qemu["floor"],
        "C++ hello via QEMU": qemu["hello_cpp"],
        "C++ hello via xos-run": [xos_run, images["hello_cpp"]],
        "C hello via QEMU": qemu["hello_c"],
    }
    samples = {name: [] for name in variants}
    for name, command in variants.items():  # warm-up (page cache), not counted
        _, status = timed(command)
    for i in range(args.runs):
        print("run %d/%d" % (i + 1, args.runs), file=sys.stderr, flush=True)
        for name, command in variants.items():
            ms, status = timed(command)
            samples[name].append(ms)

    floor_name = "floor (QEMU, exits at first instruction)"
    floor = statistics.median(samples[floor_name])
    results = []
    for name in variants:
        entry = {"figure": "boot to exit: " + name, **summary(samples[name]),
                 "ratio_to_floor": round(statistics.median(samples[name]) / floor, 2)}
        results.append(entry)
    sizes = {"hello_cpp": stripped_size(images["hello_cpp"]), "hello_c": stripped_size(images["hello_c"])}
    for name, size in sizes.items():
        results.append({"figure": "stripped image size: " + name, "bytes": size})

    accel = "TCG" if "tcg" in " ".join(qemu["floor"]) else "KVM"
    header = "Measured %s on %s (%s, %d CPUs), accelerator %s, median of %d runs" % (
        time.strftime("%Y-%m-%d"), platform.node() or "host", platform.machine(), os.cpu_count(), accel, args.runs)
    lines = ["# xos boot benchmark", "", header, "",
             "| figure | median ms | min | max | x floor |", "|---|---|---|---|---|"]
    for r in results:
        if "median_ms" in r:
            lines.append("| %s | %.1f | %.1f | %.1f | %.2f |" % (r["figure"], r["median_ms"], r["min_ms"], r["max_ms"],
                                                             r["ratio_to_floor"]))
    lines += ["", "| image (stripped) | bytes |", "|---|---|"]
    for name, size in sizes.items():
        lines.append("| %s | %d (%.0f KiB) |" % (name, size, size / 1024))
    lines += ["", "QEMU command (floor): `%s`" % " ".join(shlex.quote(a) for a in qemu["floor"])]
    report = "\n".join(lines) + "\n"
    print(report)
    for r in results:
        print(json.dumps(r), file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
