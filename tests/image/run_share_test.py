#!/usr/bin/env python3
"""The host half of the --share test: prepares a temporary directory, boots share.xos with it
shared at a guest path, then checks on the host what the guest did there.

usage: run_share_test.py --xos-run PATH [--host-fs-type] IMAGE

Verdict: the VM's exit status (share.c exits with its failure count) and the host-side
checks; also that xos-run refuses a share whose host directory is missing (exit 125).
The same test runs on the VM (9p) and on hosted (hostfs): --host-fs-type makes the guest
expect statfs to report the host file system's type rather than 9p's.

Confinement: the share holds symlinks out of it (an absolute host path, "../..", a relative
path up to a secret file next to the share, /etc/shadow); the guest checks that each resolves
in its own namespace, never to the host's file.
"""
import argparse
import os
import stat
import subprocess
import sys
import tempfile

BIG_SIZE = 300 * 1024 + 123


def pattern(i):
    return (i * 131 + i // 4096) & 0xFF


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xos-run", required=True)
    parser.add_argument("--timeout", default="60")
    parser.add_argument("--host-fs-type", action="store_true")
    parser.add_argument("image")
    args = parser.parse_args()

    failures = []
    with tempfile.TemporaryDirectory(prefix="xos-share-") as top:
        host = os.path.join(top, "share")
        os.makedirs(os.path.join(top, "outside"))
        secret = os.path.join(top, "outside", "secret.txt")
        with open(secret, "w") as f:
            f.write("a host file outside the share\n")
        os.makedirs(host)
        os.symlink(secret, os.path.join(host, "escape_abs"))
        os.symlink("../outside/secret.txt", os.path.join(host, "escape_rel"))
        os.symlink("../..", os.path.join(host, "escape_up"))
        os.symlink("/etc/shadow", os.path.join(host, "escape_shadow"))
        with open(os.path.join(host, "from_host.txt"), "w") as f:
            f.write("written on the host\n")
        for name in ("to_rename.txt", "to_delete.txt"):
            with open(os.path.join(host, name), "w") as f:
                f.write(name + "\n")
        os.makedirs(os.path.join(host, "sub", "empty"))
        with open(os.path.join(host, "sub", "file"), "w") as f:
            f.write("keeps sub non-empty\n")

        guest = "/mnt/host share"  # a space: the path travels percent-encoded
        command = [args.xos_run, "--timeout", args.timeout, "--share", host + ":" + guest, args.image, "--", guest]
        if args.host_fs_type:
            fs_type = subprocess.run(["stat", "-f", "-c", "%t", host], stdout=subprocess.PIPE, check=True)
            command.append(fs_type.stdout.decode().strip())
        print("$", " ".join(repr(c) for c in command), flush=True)
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        print("--- stdout ---\n" + result.stdout.decode(errors="replace") +
              "--- stderr ---\n" + result.stderr.decode(errors="replace") +
              "--- status: %d ---" % result.returncode)
        if result.returncode != 0:
            failures.append("guest exit status %d, expected 0" % result.returncode)

        def read(name, mode="r"):
            try:
                with open(os.path.join(host, name), mode) as f:
                    return f.read()
            except OSError as e:
                return e

        if read("from_guest.txt") != "written by the guest\nappended\n":
            failures.append("from_guest.txt: %r" % (read("from_guest.txt"),))
        big = read("from_guest.bin", "rb")
        if not isinstance(big, bytes) or len(big) != 1000 or any(big[i] != pattern(i) for i in range(len(big))):
            failures.append("from_guest.bin: wrong size or content (%r)" % (len(big) if isinstance(big, bytes) else big,))
        if os.path.exists(os.path.join(host, "to_rename.txt")) or read("renamed.txt") != "to_rename.txt\n":
            failures.append("to_rename.txt was not renamed to renamed.txt")
        if os.path.exists(os.path.join(host, "to_delete.txt")):
            failures.append("to_delete.txt still exists")
        if os.path.exists(os.path.join(host, "scratch")):
            failures.append("scratch still exists")
        if not os.path.isdir(os.path.join(host, "newdir")):
            failures.append("newdir is not a directory")
        if os.path.exists(os.path.join(host, "sub", "empty")):
            failures.append("sub/empty was not removed")
        try:
            if os.readlink(os.path.join(host, "link")) != "from_guest.txt":
                failures.append("link has the wrong target")
        except OSError as e:
            failures.append("link: %s" % e)
        st = os.stat(os.path.join(host, "renamed.txt"))
        if stat.S_IMODE(st.st_mode) != 0o600 or int(st.st_mtime) != 1234567890 or st.st_nlink != 2:
            failures.append("renamed.txt: mode %o mtime %d nlink %d" % (stat.S_IMODE(st.st_mode), st.st_mtime, st.st_nlink))
        st = os.stat(os.path.join(host, "from_guest.txt"))
        if stat.S_IMODE(st.st_mode) != 0o640:
            failures.append("from_guest.txt: mode %o, expected 640" % stat.S_IMODE(st.st_mode))
        if st.st_uid != os.getuid():
            failures.append("from_guest.txt belongs to uid %d, not to the user running xos-run (%d)" % (st.st_uid, os.getuid()))

        # A missing host directory is xos-run's error (125), before QEMU starts.
        missing = os.path.join(host, "does-not-exist")
        bad = subprocess.run([args.xos_run, "--share", missing + ":/mnt", args.image],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if bad.returncode != 125 or b"does-not-exist" not in bad.stderr:
            failures.append("missing HOSTDIR: status %d, stderr %r" % (bad.returncode, bad.stderr))
        not_dir = os.path.join(host, "from_host.txt")
        bad = subprocess.run([args.xos_run, "--share", not_dir + ":/mnt", args.image],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if bad.returncode != 125 or b"not a directory" not in bad.stderr:
            failures.append("HOSTDIR a file: status %d, stderr %r" % (bad.returncode, bad.stderr))

    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
