#!/usr/bin/env python3
"""Command-line checks of xos-run's --share modes, --rootfs-size, --root-image, --tmpfs and --hostname, through --dry-run (no QEMU,
no image started): what reaches QEMU's command line or a hosted image's environment, and the
misuses xos-run refuses with status 125.

usage: xos_run_cli_test.py XOS_RUN VM_IMAGE HOSTED_IMAGE
"""
import os
import subprocess
import sys
import tempfile


def run(*args):
    result = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return result.returncode, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    xos_run, vm, hosted = sys.argv[1:]
    failures = []

    def expect(what, condition, detail):
        print("%s %s" % ("ok  " if condition else "FAIL", what), flush=True)
        if not condition:
            failures.append(what)
            print("     " + detail.replace("\n", "\n     "), flush=True)

    with tempfile.TemporaryDirectory(prefix="xos-run-cli-") as share:
        # The share modes: mapped by default, :passthrough on request, on both platforms.
        status, out, err = run(xos_run, "--dry-run", "--share", share + ":/data", vm)
        expect("VM share defaults to security_model=mapped-xattr",
               status == 0 and "security_model=mapped-xattr" in out and "security_model=none" not in out, out + err)
        status, out, err = run(xos_run, "--dry-run", "--share", share + ":/data:passthrough", vm)
        expect("VM :passthrough is security_model=none",
               status == 0 and "security_model=none" in out and "xos.share=xos0:/data" in out and
               "passthrough" not in out, out + err)  # the suffix is xos-run's, not the guest path's
        status, out, err = run(xos_run, "--dry-run", "--share", share + ":/data:mapped", vm)
        expect("VM :mapped is security_model=mapped-xattr", status == 0 and "security_model=mapped-xattr" in out,
               out + err)
        status, out, err = run(xos_run, "--dry-run", "--share", share + ":/data", hosted)
        expect("hosted share without a mode suffix", status == 0 and "XOS_SHARE_0=%s:/data " % share in out, out + err)
        status, out, err = run(xos_run, "--dry-run", "--share", share + ":/data:passthrough", hosted)
        expect("hosted :passthrough reaches XOS_SHARE_0",
               status == 0 and "XOS_SHARE_0=%s:/data:passthrough" % share in out, out + err)
        # :ro: QEMU's readonly=on and a read-only mount in the guest (xos.share=TAG:ro:PATH) on the
        # VM, a trailing :ro of XOS_SHARE_<i> on hosted (EROFS).
        status, out, err = run(xos_run, "--dry-run", "--share", share + ":/data:passthrough:ro", vm)
        expect("VM :ro is readonly=on and a read-only mount",
               status == 0 and "security_model=none,readonly=on" in out and "xos.share=xos0:ro:/data" in out,
               out + err)
        status, out, err = run(xos_run, "--dry-run", "--share", share + ":/data:ro", hosted)
        expect("hosted :ro reaches XOS_SHARE_0", status == 0 and "XOS_SHARE_0=%s:/data:ro " % share in out, out + err)
        status, out, err = run(xos_run, "--dry-run", "--share", share + ":/data", vm)
        expect("a share is read-write without :ro", status == 0 and "readonly=on" not in out, out + err)
        # A host file system without user xattrs cannot hold the mapped mode (/proc has none).
        status, out, err = run(xos_run, "--dry-run", "--share", "/proc:/data", vm)
        expect("mapped share on a file system without xattrs: 125",
               status == 125 and "no user extended attributes" in err and ":passthrough" in err, err)
        status, out, err = run(xos_run, "--dry-run", "--share", "/proc:/data", hosted)
        expect("the same for a hosted image: 125", status == 125 and "no user extended attributes" in err, err)
        status, out, err = run(xos_run, "--dry-run", "--share", "/proc:/data:passthrough", vm)
        expect("passthrough share on /proc is accepted", status == 0, err)

    # --rootfs-size: bytes or a percentage in the xos.rootfs_size token / XOS_ROOTFS_SIZE.
    status, out, err = run(xos_run, "--dry-run", "--rootfs-size", "64M", vm)
    expect("VM --rootfs-size 64M", status == 0 and "xos.rootfs_size=67108864" in out, out + err)
    status, out, err = run(xos_run, "--dry-run", "--rootfs-size", "25%", vm)
    expect("VM --rootfs-size 25%", status == 0 and "xos.rootfs_size=25%25" in out, out + err)
    status, out, err = run(xos_run, "--dry-run", vm)
    expect("VM without --rootfs-size: no token", status == 0 and "xos.rootfs_size" not in out, out + err)
    # --tmpfs and --hostname: xos.tmpfs= / xos.hostname= tokens (XOS_BOOT_TOKENS on hosted).
    status, out, err = run(xos_run, "--dry-run", "--tmpfs", "/run:size=1m,mode=700,uid=5,nosuid", "--hostname", "web",
                           vm)
    expect("VM --tmpfs, --hostname", status == 0 and "xos.tmpfs=1048576:700:5:0:2:/run" in out and
           "xos.hostname=web" in out, out + err)
    # Mount options: MS_RDONLY 1 | MS_NOSUID 2 | MS_NODEV 4 | MS_NOEXEC 8; the opposites undo them.
    status, out, err = run(xos_run, "--dry-run", "--tmpfs", "/x:ro,noexec,nodev,nosuid,suid", vm)
    expect("VM --tmpfs ro,noexec,nodev", status == 0 and "xos.tmpfs=:1777:0:0:13:/x" in out, out + err)
    status, out, err = run(xos_run, "--dry-run", "--tmpfs", "/x:noexec,exec,rw", vm)
    expect("VM --tmpfs noexec,exec,rw: no flags", status == 0 and "xos.tmpfs=:1777:0:0:/x" in out, out + err)
    # --file HOSTFILE:GUESTPATH: the content in an xos.file= token; bad files refused.
    with tempfile.TemporaryDirectory(prefix="xos-run-cli-") as files:
        text = os.path.join(files, "hosts")
        with open(text, "w") as f:
            f.write("127.0.0.1 localhost\n")
        os.chmod(text, 0o640)
        status, out, err = run(xos_run, "--dry-run", "--file", text + ":/run/a b", vm)
        expect("VM --file", status == 0 and "xos.file=640:/run/a%20b%0A127.0.0.1%20localhost%0A" in out, out + err)
        big = os.path.join(files, "big")
        with open(big, "w") as f:
            f.write("x" * 8193)
        binary = os.path.join(files, "binary")
        with open(binary, "wb") as f:
            f.write(b"a\0b")
        for bad in (text + ":relative", text, files + ":/x", big + ":/x", binary + ":/x", text + ".missing:/x",
                    text + ":/"):
            status, out, err = run(xos_run, "--dry-run", "--file", bad, vm)
            expect("--file %r refused" % bad, status == 125 and "--file" in err, err)
    status, out, err = run(xos_run, "--dry-run", "--tmpfs", "/run", "--hostname", "web", hosted)
    expect("hosted --tmpfs, --hostname", status == 0 and "XOS_BOOT_TOKENS=xos.tmpfs=:1777:0:0:/run" in out and
           "xos.hostname=web" in out, out + err)
    for bad in ("run", "/", "/x:nr_inodes=5", "/x:size=0", "/x:mode=9", "/x:frob"):
        status, out, err = run(xos_run, "--dry-run", "--tmpfs", bad, vm)
        expect("--tmpfs %r refused" % bad, status == 125 and "--tmpfs" in err, err)
    status, out, err = run(xos_run, "--dry-run", "--hostname", "h" * 65, vm)
    expect("--hostname of 65 bytes refused", status == 125 and "--hostname" in err, err)
    status, out, err = run(xos_run, "--dry-run", "--rootfs-size", "64M", hosted)
    expect("hosted --rootfs-size 64M", status == 0 and "XOS_ROOTFS_SIZE=65536K" in out, out + err)
    status, out, err = run(xos_run, "--dry-run", "--rootfs-size=10%", hosted)
    expect("hosted --rootfs-size=10%", status == 0 and "XOS_ROOTFS_SIZE=10%" in out, out + err)
    for bad in ("0%", "101%", "%", "12x", "0", "-5M", ""):
        status, out, err = run(xos_run, "--dry-run", "--rootfs-size", bad, vm)
        expect("--rootfs-size %r refused" % bad, status == 125 and "--rootfs-size" in err, err)

    # --root-image FILE: the first disk, read-only, and xos.root=erofs:/dev/vda (docs/root-filesystems.md).
    with tempfile.NamedTemporaryFile(prefix="xos-run-cli-", suffix=".erofs") as image:
        status, out, err = run(xos_run, "--dry-run", "--root-image", image.name, "--disk", image.name, "--",
                               "/bin/true")
        expect("VM --root-image: read-only first disk, xos.root=erofs:/dev/vda",
               status == 0 and "file=%s,if=none,id=xosdisk0,format=raw,readonly=on" % image.name in out and
               "id=xosdisk1" in out and "xos.root=erofs:/dev/vda" in out and "xos.arg=/bin/true" in out, out + err)
        status, out, err = run(xos_run, "--dry-run", "--root-image", image.name, "--platform", "hosted", "--",
                               "/bin/true")
        expect("hosted --root-image: XOS_DISK_0=FILE:ro, XOS_ROOT=erofs:/dev/vda",
               status == 0 and "XOS_DISK_0=%s:ro " % image.name in out and "XOS_ROOT=erofs:/dev/vda" in out, out + err)
        for what, args in (("an IMAGE too", ["--root-image", image.name, vm]),
                           ("no program", ["--root-image", image.name]),
                           ("a missing file", ["--root-image", image.name + ".missing", "--", "/bin/true"]),
                           ("--rootfs", ["--root-image", image.name, "--rootfs", "/", "--", "/bin/true"])):
            status, out, err = run(xos_run, "--dry-run", *args)
            expect("--root-image with %s refused" % what, status == 125 and "--root" in err, err)

    # --hypervisor xen: the xl config (docs/xen.md) instead of a QEMU command line.
    status, out, err = run(xos_run, "--dry-run", "--hypervisor", "xen", "--mem", "64M", "--env", "A=b c",
                           "--ip", "10.0.2.15/24", "--xen-bridge", "xenbr0", vm, "--", "x y")
    expect("--hypervisor xen writes an xl config",
           status == 0 and 'type = "pvh"' in out and "memory = 64" in out and "xos.arg=x%20y" in out and
           "xos.env=A=b%20c" in out and "xos.ip=10.0.2.15/24" in out and 'on_poweroff = "preserve"' in out and
           "bridge=xenbr0" in out and "qemu" not in out, out + err)
    status, out, err = run(xos_run, "--dry-run", "--hypervisor", "kvm", vm)
    expect("--hypervisor kvm refused", status == 125 and "--hypervisor" in err, err)
    status, out, err = run(xos_run, "--dry-run", "--hypervisor", "xen", "--xen-bridge", "a,b", vm)
    expect("--xen-bridge with a comma refused", status == 125 and "--xen-bridge" in err, err)

    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
