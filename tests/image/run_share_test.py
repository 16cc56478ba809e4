#!/usr/bin/env python3
"""The host half of the --share test: prepares a temporary directory, boots share.xos with it
shared at a guest path, then checks on the host what the guest did there.

usage: run_share_test.py --xos-run PATH [--host-fs-type] [--passthrough] IMAGE

Verdict: the VM's exit status (share.c exits with its failure count) and the host-side
checks; also that xos-run refuses a share whose host directory is missing (exit 125).
The same test runs on the VM (9p) and on hosted (hostfs): --host-fs-type makes the guest
expect statfs to report the host file system's type rather than 9p's.

Share modes: by default (mapped) every file the guest made is a plain host file (0600,
directories 0700) of the user running the test, and what the guest set (owners, modes with
setuid/setgid bits, symlinks, a block device node 254:0, a character device 1:3) is in the
user.virtfs.* xattrs in QEMU's mapped-xattr format, checked byte for byte: the VM and hosted
must write the same. No file in the share may be setuid, setgid or a device node. With
--passthrough (--share HOSTDIR:GUESTPATH:passthrough) the host files carry the guest's modes
and types, as before the mapped mode existed (as root: setuid-root file, device node).

Confinement: the share holds symlinks out of it (an absolute host path, "../..", a relative
path up to a secret file next to the share, /etc/shadow); the guest checks that each resolves
in its own namespace, never to the host's file.
"""
import argparse
import os
import stat
import struct
import subprocess
import sys
import tempfile

BIG_SIZE = 300 * 1024 + 123


def pattern(i):
    return (i * 131 + i // 4096) & 0xFF


def make_mapped_symlink(target, path):
    """A symlink in QEMU's mapped-xattr format, as a host user makes one for the guest."""
    with open(path, "w") as f:
        f.write(target)
    os.setxattr(path, "user.virtfs.mode", struct.pack("<I", stat.S_IFLNK | 0o777))


def mapped_attributes(path):
    """The user.virtfs.* xattrs of path as {name: int} (QEMU's mapped-xattr: little-endian)."""
    found = {}
    for name, size, code in (("uid", 4, "<I"), ("gid", 4, "<I"), ("mode", 4, "<I"), ("rdev", 8, "<Q")):
        try:
            value = os.getxattr(path, "user.virtfs." + name, follow_symlinks=False)
        except OSError:
            continue
        found[name] = struct.unpack(code, value)[0] if len(value) == size else ("bad size %d" % len(value))
    return found


def check_mapped(host):
    """Default mode: plain host files, the guest's view in xattrs; nothing setuid or a device."""
    failures = []
    expected = {  # name: (host type, the guest's st_mode, other attributes)
        "from_guest.txt": (stat.S_IFREG, stat.S_IFREG | 0o640, {"uid": 0, "gid": 0}),
        "renamed.txt": (stat.S_IFREG, stat.S_IFREG | 0o600, {}),  # made on the host, chmod by the guest
        "link": (stat.S_IFREG, stat.S_IFLNK | 0o777, {"uid": 0}),
        "newdir": (stat.S_IFDIR, stat.S_IFDIR | 0o755, {"uid": 0}),
        "setuid_root": (stat.S_IFREG, stat.S_IFREG | 0o4755, {"uid": 0, "gid": 0}),
        "setgid_dir": (stat.S_IFDIR, stat.S_IFDIR | 0o2775, {}),
        "chardev": (stat.S_IFREG, stat.S_IFCHR | 0o644, {"rdev": os.makedev(1, 3)}),
        "blockdev": (stat.S_IFREG, stat.S_IFBLK | 0o600, {"rdev": os.makedev(254, 0)}),
    }
    for name, (host_type, guest_mode, others) in expected.items():
        path = os.path.join(host, name)
        try:
            st = os.lstat(path)
        except OSError as e:
            failures.append("%s: %s" % (name, e))
            continue
        created_by_guest = name != "renamed.txt"
        host_mode = 0o700 if host_type == stat.S_IFDIR else 0o600
        if stat.S_IFMT(st.st_mode) != host_type or (created_by_guest and stat.S_IMODE(st.st_mode) != host_mode):
            failures.append("%s: host mode %o, expected a plain %o" % (name, st.st_mode, host_type | host_mode))
        attributes = mapped_attributes(path)
        if attributes.get("mode") != guest_mode:
            failures.append("%s: user.virtfs.mode %r, expected %o" % (name, attributes.get("mode"), guest_mode))
        for key, value in others.items():
            if attributes.get(key) != value:
                failures.append("%s: user.virtfs.%s %r, expected %r" % (name, key, attributes.get(key), value))
    if read_text(os.path.join(host, "link")) != "from_guest.txt":
        failures.append("link: content %r, expected the target" % (read_text(os.path.join(host, "link")),))
    for root, dirs, files in os.walk(host):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if st.st_mode & (stat.S_ISUID | stat.S_ISGID) or stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode):
                failures.append("%s on the host: mode %o (setuid, setgid or a device node)" % (name, st.st_mode))
    return failures


def check_passthrough(host, hosted):
    """:passthrough: the host files carry the guest's modes and types. Never device nodes (QEMU
    7.2's 9p server removes special files it makes with security_model=none, and the hosted
    sandbox has no capability to make them, even run by root)."""
    failures = []
    try:
        if os.readlink(os.path.join(host, "link")) != "from_guest.txt":
            failures.append("link has the wrong target")
    except OSError as e:
        failures.append("link: %s" % e)
    for name, mode in (("renamed.txt", 0o600), ("from_guest.txt", 0o640), ("setuid_root", 0o4755),
                       ("setgid_dir", 0o2775)):
        st = os.stat(os.path.join(host, name))
        if stat.S_IMODE(st.st_mode) != mode:
            failures.append("%s: mode %o, expected %o" % (name, stat.S_IMODE(st.st_mode), mode))
    if hosted and os.path.lexists(os.path.join(host, "chardev")):
        # The hosted sandbox holds no capability (docs/hosted.md): even an image run by root
        # makes no device node on the host (the guest sees EPERM).
        failures.append("chardev: a hosted image made a device node on the host")
    return failures


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        return e


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xos-run", required=True)
    parser.add_argument("--timeout", default="60")
    parser.add_argument("--host-fs-type", action="store_true")
    parser.add_argument("--passthrough", action="store_true", help="share with :passthrough (QEMU security_model=none)")
    parser.add_argument("--view-image", help="mapped: an image of the other platform (share_view.c) that must see "
                                             "the guest's files the same way afterwards")
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
        # Symlinks as the share's mode stores them: real ones (passthrough), or in the mapped
        # format (a file holding the target, user.virtfs.mode S_IFLNK|0777; QEMU's mapped-xattr
        # model cannot read a real host symlink: ELOOP).
        make_link = os.symlink if args.passthrough else make_mapped_symlink
        make_link(secret, os.path.join(host, "escape_abs"))
        make_link("../outside/secret.txt", os.path.join(host, "escape_rel"))
        make_link("../..", os.path.join(host, "escape_up"))
        make_link("/etc/shadow", os.path.join(host, "escape_shadow"))
        with open(os.path.join(host, "from_host.txt"), "w") as f:
            f.write("written on the host\n")
        for name in ("to_rename.txt", "to_delete.txt"):
            with open(os.path.join(host, name), "w") as f:
                f.write(name + "\n")
        os.makedirs(os.path.join(host, "sub", "empty"))
        with open(os.path.join(host, "sub", "file"), "w") as f:
            f.write("keeps sub non-empty\n")

        guest = "/mnt/host share"  # a space: the path travels percent-encoded
        mode = "passthrough" if args.passthrough else "mapped"
        command = [args.xos_run, "--timeout", args.timeout, "--share", host + ":" + guest + ":" + mode,
                   "--env", "SHARE_MODE=" + mode, args.image, "--", guest]
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
        st = os.stat(os.path.join(host, "renamed.txt"))
        if int(st.st_mtime) != 1234567890 or st.st_nlink != 2:
            failures.append("renamed.txt: mtime %d nlink %d" % (st.st_mtime, st.st_nlink))
        st = os.stat(os.path.join(host, "from_guest.txt"))
        if st.st_uid != os.getuid():
            failures.append("from_guest.txt belongs to uid %d, not to the user running xos-run (%d)" % (st.st_uid, os.getuid()))
        if args.passthrough:
            failures += check_passthrough(host, hosted=args.host_fs_type)
        else:
            failures += check_mapped(host)
        if args.view_image and not args.passthrough:
            view = [args.xos_run, "--timeout", args.timeout, "--share", host + ":" + guest, args.view_image, "--", guest]
            print("$", " ".join(repr(c) for c in view), flush=True)
            seen = subprocess.run(view, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            print(seen.stdout.decode(errors="replace") + seen.stderr.decode(errors="replace") +
                  "--- status: %d ---" % seen.returncode)
            if seen.returncode != 0:
                failures.append("the other platform's view (%s): status %d" % (args.view_image, seen.returncode))
            mode = mapped_attributes(os.path.join(host, "setuid_root")).get("mode")
            if mode != stat.S_IFREG | 0o750:
                failures.append("setuid_root after the other platform's chmod: user.virtfs.mode %r" % (mode,))

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
