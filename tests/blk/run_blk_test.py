#!/usr/bin/env python3
"""The host half of the block device test: makes two disk files (filled with bg(offset) and a
marker), boots blk with them as `--disk RW` (/dev/vda) and `--disk RO:ro` (/dev/vdb), then checks
on the host that the guest's writes landed in the read-write file exactly where blk.c put them
and that the read-only file is unchanged. Also checks that xos-run refuses a missing disk, a
directory and a character device (exit 125).

usage: run_blk_test.py --xos-run PATH [--machine q35|pc] IMAGE

Works the same for a VM image (virtio-blk) and a hosted one (host file descriptors).
"""
import argparse
import os
import subprocess
import sys
import tempfile

SIZE = 1024 * 1024 + 512  # 2049 sectors: not a multiple of 4 KiB
MARKER = b"XOS-BLK-MARKER-from-host"
MARKER_OFFSET = 12388


def bg(i):
    return (i * 7 + 3) & 0xFF


def pattern(i):
    return ((i * 131 + 7) & 0xFF) ^ 0x5C


def expected_rw():
    data = bytearray(bg(i) for i in range(SIZE))
    data[MARKER_OFFSET:MARKER_OFFSET + len(MARKER)] = MARKER
    # Keep in step with blk.c.
    for offset, count in ((1000, 70000), (200003, 300001), (520191, 1), (520703, 2), (524288, 512),
                          (600001, 5000), (SIZE - 10, 10), (540000, 512)):
        data[offset:offset + count] = bytes(pattern(i) for i in range(offset, offset + count))
    return bytes(data)


def make_disk(path):
    data = bytearray(bg(i) for i in range(SIZE))
    data[MARKER_OFFSET:MARKER_OFFSET + len(MARKER)] = MARKER
    with open(path, "wb") as f:
        f.write(data)
    return bytes(data)


def run(command):
    print("$", " ".join(repr(c) for c in command), flush=True)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    print("--- stdout ---\n" + result.stdout.decode(errors="replace") +
          "--- stderr ---\n" + result.stderr.decode(errors="replace") +
          "--- status: %d ---" % result.returncode, flush=True)
    return result


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xos-run", required=True)
    parser.add_argument("--timeout", default="100")
    parser.add_argument("--machine", help="xos-run --machine (a VM image): q35 or pc for virtio-blk-pci")
    parser.add_argument("image")
    args = parser.parse_args()

    failures = []
    with tempfile.TemporaryDirectory(prefix="xos-blk-") as top:
        rw = os.path.join(top, "rw.img")
        ro = os.path.join(top, "ro, disk.img")  # a comma: QEMU's -drive needs it escaped
        make_disk(rw)
        ro_before = make_disk(ro)
        os.chmod(ro, 0o444)  # read-only for the user too: the image must not ask for write access

        machine = ["--machine", args.machine] if args.machine else []
        result = run([args.xos_run, "--timeout", args.timeout] + machine + ["--disk", rw, "--disk", ro + ":ro",
                      args.image, "--", str(SIZE)])
        if result.returncode != 0:
            failures.append("guest exit status %d, expected 0" % result.returncode)
        with open(rw, "rb") as f:
            rw_after = f.read()
        want = expected_rw()
        if rw_after != want:
            at = first_difference(rw_after, want)
            failures.append("rw.img differs from the expected contents at byte %d (size %d, expected %d)"
                            % (at, len(rw_after), len(want)))
        with open(ro, "rb") as f:
            if f.read() != ro_before:
                failures.append("the read-only disk file changed")

        # xos-run checks the disk files itself: exit 125 and a message naming the problem.
        for bad, what in ((os.path.join(top, "missing.img"), "No such file"), (top, "not a regular file"),
                          ("/dev/null", "not a regular file")):
            result = run([args.xos_run, "--timeout", "30", "--disk", bad, args.image, "--", str(SIZE)])
            if result.returncode != 125 or what not in result.stderr.decode(errors="replace"):
                failures.append("--disk %s: status %d, expected 125 and %r" % (bad, result.returncode, what))

    for failure in failures:
        print("FAIL:", failure)
    print("%d host-side failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
