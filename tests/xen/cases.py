"""The guests each harness run boots (run_xen.py --group NAME), from the image files that the
KVM image tests boot (tests/image). A case: name, image (relative to --images-dir), args, env,
the expected exit status (as the guest recorded it in xenstore), console_has / console_lacks
(on Xen stdout, stderr and libos's messages share the one console; what the guest wrote to
port 0xE9 counts too), memory (MiB) and a timeout (seconds in dom0). Device cases add xl config
lines (`xl`), command-line tokens (`cmdline_extra`), files for dom0 (`files`; `make_files`,
made from the harness; `programs`, built files relative to --images-dir, executable), all under
/guests, and dom0 shell scripts: `setup` before `xl create`, `prestart` while the new domain is
still paused (with $domid), `feed` beside the running guest (with $domid), `check` while the
guest runs (the guest is destroyed after it; "status": None when the guest is a server that
never exits), `after` once the guest is gone; each script's exit status is part of the
verdict."""
import hashlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "blk"))
import run_blk_test  # noqa: E402  (the disks and the expected result of tests/blk/blk.c)


def blk_case():
    """tests/blk/blk.c on two Xen disks: xvda read-write, xvdb read-only (loop devices in dom0 on
    files made like run_blk_test.py's); after the guest, dom0 checks both files' hashes."""
    disk = bytearray(run_blk_test.bg(i) for i in range(run_blk_test.SIZE))
    offset = run_blk_test.MARKER_OFFSET
    disk[offset:offset + len(run_blk_test.MARKER)] = run_blk_test.MARKER
    want_rw = hashlib.sha256(run_blk_test.expected_rw()).hexdigest()
    want_ro = hashlib.sha256(bytes(disk)).hexdigest()
    script = ",script=/etc/xen/scripts/xos-block"
    return {
        "name": "blkfront", "image": "tests/blk/blk.xos", "status": 0, "args": [str(run_blk_test.SIZE)],
        "console_has": ["0 failure(s)"],
        # The read-write disk is a fresh copy for each boot (run_xen.py --repeat boots it again).
        "files": {"blk-rw.orig": bytes(disk), "blk-ro.img": bytes(disk)},
        "setup": ("cp /guests/blk-rw.orig /guests/blk-rw.img && losetup /dev/loop0 /guests/blk-rw.img &&"
                  " losetup -r /dev/loop1 /guests/blk-ro.img\n"),
        # blk.c's reads and writes each cross dom0's blkback: a minute or more on a loaded machine.
        "timeout": 180,
        # target= last: it takes the rest of the spec.
        "xl": ["disk = ['format=raw,vdev=xvda,access=rw,backendtype=phy%s,target=/dev/loop0',"
               " 'format=raw,vdev=xvdb,access=ro,backendtype=phy%s,target=/dev/loop1']" % (script, script)],
        "after": ("losetup -d /dev/loop0; losetup -d /dev/loop1\n"
                  "printf '%%s  %%s\\n' %s /guests/blk-rw.img %s /guests/blk-ro.img | sha256sum -c\n"
                  % (want_rw, want_ro)),
    }


def net_case():
    """apps/httpd on the bridge (10.0.2.15; dom0 is 10.0.2.2) with libos's TCP echo service on
    port 7: dom0 fetches /index.html with curl (compared with the file the image serves) and
    has a line echoed."""
    with open(os.path.join(ROOT, "apps", "httpd", "rootfs", "www", "index.html"), "rb") as f:
        index = f.read()
    check = r"""n=0
until curl -sS --max-time 10 -o /tmp/index.html http://10.0.2.15:8080/index.html; do
    n=$((n + 1)); [ $n -gt 60 ] && { echo "httpd never answered"; exit 1; }; sleep 1
done
cmp /tmp/index.html /guests/index.html || { echo "index.html differs"; exit 1; }
echo "fetched /index.html with curl ($(wc -c < /tmp/index.html) bytes)"
echo xos-xen-echo-line | nc -w 3 10.0.2.15 7 > /tmp/echo.out
grep -qx xos-xen-echo-line /tmp/echo.out || { echo "echo failed: $(cat /tmp/echo.out)"; exit 1; }
echo "echo on port 7 answered"
"""
    return {
        "name": "netfront", "image": "apps/httpd/httpd.xos", "status": None, "args": ["--port", "8080"],
        "cmdline_extra": "xos.ip=10.0.2.15/24 xos.gw=10.0.2.2 xos.echo=7",
        "xl": ["vif = ['bridge=xenbr0']"],
        "files": {"index.html": index},
        "check": check,
        "console_has": ["xen-netfront"],
        "timeout": 120,
    }


def console_input_case():
    """Console input: dom0 writes a line to the guest's console pty (the tty xenconsoled
    publishes in xenstore) while tests/xen/console_input.c waits for it on standard input."""
    feed = r"""n=0
until tty=$(xenstore-read /local/domain/$domid/console/tty 2>/dev/null) && [ -c "$tty" ]; do
    n=$((n + 1)); [ $n -gt 300 ] && { echo "no console pty for domain $domid"; exit 1; }; sleep 0.1
done
stty -F "$tty" raw -echo 2>/dev/null
# Held open a moment: the bytes are xenconsoled's to pass on before the writer goes away.
{ printf 'xos-xen-input-line\n'; sleep 2; } > "$tty"
"""
    return {"name": "console-input", "image": "tests/xen/console_input.xos", "status": 0,
            "args": ["xos-xen-input-line"], "feed": feed,
            "console_has": ["read line: [xos-xen-input-line]"]}


def no_backend_case():
    """A disk whose backend never connects: before the guest runs, dom0 writes a vbd frontend
    for it whose backend directory stays in state 1 (Initialising). blkfront gives up after
    xos.xenbus_timeout (3 s here, 30 s by default) with a line naming the device, leaves the
    disk out, and the app runs."""
    prestart = r"""fe=/local/domain/$domid/device/vbd/51760
be=/local/domain/0/backend/vbd/$domid/51760
xenstore-write $be/state 1 $fe/backend $be $fe/backend-id 0 $fe/state 1 || exit 1
xenstore-chmod -r $be n0 r$domid && xenstore-chmod -r $fe n$domid r0
"""
    return {"name": "no-backend", "image": "tests/image/hello_c.xos", "status": 0,
            "cmdline_extra": "xos.xenbus_timeout=3", "prestart": prestart,
            "console_has": ["device/vbd/51760", "did not reach state 2 in 3 s (it is in state 1)",
                            "not connected; the disk is left out", "Hello, C on xos!"],
            "console_lacks": ["unknown xos.* option"]}


def erofs_root_case():
    """The generic kernel (tools/xos-kernel) booting an EROFS root from a Xen disk
    (xos.root=erofs:/dev/vda, as `xos-run --root-image` does on KVM): a read-only loop device in
    dom0 on an image mkfs.erofs made here of busybox-static (the harness's) and a marker file;
    busybox's sh forks and execs cat to print the marker and writes a file through libos's
    overlay (the command that spun in three of four runs before init_paging's fix, docs/xen.md)."""
    marker = b"xos-erofs-on-xen-marker\n"

    def make_files(harness):
        import run_xen  # noqa: E402  (cases.py is imported by run_xen.py)
        with tempfile.TemporaryDirectory(prefix="xos-xen-erofs-") as tmp:
            tree = os.path.join(tmp, "tree")
            os.makedirs(os.path.join(tree, "bin"))
            os.makedirs(os.path.join(tree, "etc"))
            os.makedirs(os.path.join(tree, "tmp"))
            with open(os.path.join(tree, "bin", "busybox"), "wb") as f:
                f.write(run_xen.harness_file(harness, "bin/busybox"))
            os.chmod(os.path.join(tree, "bin", "busybox"), 0o755)
            with open(os.path.join(tree, "etc", "xos-marker"), "wb") as f:
                f.write(marker)
            image = os.path.join(tmp, "root.erofs")
            subprocess.run(["mkfs.erofs", "--quiet", "-T", "0", image, tree], check=True)
            with open(image, "rb") as f:
                return {"root.erofs": f.read()}

    script = ",script=/etc/xen/scripts/xos-block"
    return {
        "name": "erofs-root", "image": "tools/xos-kernel/xos-kernel.xos", "status": 0, "memory": 256,
        # The generic kernel runs its first argument, as `xos-run --root-image FILE -- PROG ARGS`.
        "argv0": "xos-kernel",
        "args": ["/bin/busybox", "sh", "-c", "cat /etc/xos-marker && echo overlay-ok > /etc/written && cat /etc/written"],
        "timeout": 180,
        "cmdline_extra": "xos.root=erofs:/dev/vda",
        "make_files": make_files,
        "setup": "losetup -r /dev/loop2 /guests/root.erofs\n",
        "xl": ["disk = ['format=raw,vdev=xvda,access=ro,backendtype=phy%s,target=/dev/loop2']" % script],
        "after": "losetup -d /dev/loop2\n",
        "console_has": [marker.decode().strip(), "overlay-ok"],
    }


def fake_backend_case(mode, console_has, status):
    """blkfront against a misbehaving backend: dom0's prestart script writes a vbd for the
    guest and starts tests/xen/fake_blkback.c on it, which connects like blkback and answers
    tests/xen/disk_read.c's first read wrongly (`mode`); the read must fail with EIO and a
    line naming the disk, never hang."""
    prestart = r"""fe=/local/domain/$domid/device/vbd/51760
be=/local/domain/0/backend/vbd/$domid/51760
xenstore-write $be/state 1 $fe/backend $be $fe/backend-id 0 $fe/state 1 || exit 1
xenstore-chmod -r $be n0 r$domid && xenstore-chmod -r $fe n$domid r0 || exit 1
/guests/fake_blkback %s $fe $be > /tmp/fake_blkback.log 2>&1 &
""" % mode
    after = "cat /tmp/fake_blkback.log; grep -q 'answered request' /tmp/fake_blkback.log\n"
    # The fake backend is a program dom0 starts programs from: slow under a nested TCG Xen, so
    # the guest waits for it longer than the default 30 s.
    return {"name": "blkback-" + mode, "image": "tests/xen/disk_read.xos", "status": status, "args": ["/dev/vda"],
            "cmdline_extra": "xos.xenbus_timeout=180", "timeout": 240,
            "programs": {"fake_blkback": "tests/xen/fake_blkback"}, "prestart": prestart, "after": after,
            "console_has": ["xen-blkfront (device/vbd/51760)"] + console_has}


def fake_ring_case(ring, image, args, status, console_has):
    """A bad producer index on the guest's xenstore or console ring: dom0's prestart script runs
    tests/xen/fake_ring.c, which maps the ring page (the toolstack's grant for dom0) while the
    domain is still paused and puts the producer index dom0's side owns (xenstored's responses,
    xenconsoled's input) 5000 bytes ahead of the consumer's. The guest must say which ring is bad
    and go on without it, never hang."""
    return {"name": ring + "-bad-index", "image": image, "status": status, "args": args,
            "programs": {"fake_ring": "tests/xen/fake_ring"},
            "prestart": "/guests/fake_ring %s $domid\n" % ring, "console_has": console_has}


def xenstore_silent_case():
    """No answer from xenstored: console_input.c waits for a line; dom0's feed script stops
    xenstored (SIGSTOP), sends the line and lets xenstored go on 30 s later. The guest's one
    xenstore request, the exit status it writes, gets no answer: after 10 s it says so, naming the
    request and the path, and shuts down with its status on port 0xE9 (run_xen.py reads it there
    when the key is missing). dom0's own xl queries wait for xenstored meanwhile."""
    feed = r"""n=0
until tty=$(xenstore-read /local/domain/$domid/console/tty 2>/dev/null) && [ -c "$tty" ]; do
    n=$((n + 1)); [ $n -gt 300 ] && { echo "no console pty for domain $domid"; exit 1; }; sleep 0.1
done
stty -F "$tty" raw -echo 2>/dev/null
pid=$(cat /run/xenstored.pid) || exit 1
trap 'kill -CONT $pid' EXIT
kill -STOP $pid || exit 1
{ printf 'xos-xen-input-line\n'; sleep 2; } > "$tty"
sleep 28
"""
    return {"name": "xenstore-silent", "image": "tests/xen/console_input.xos", "status": 0,
            "args": ["xos-xen-input-line"], "feed": feed, "timeout": 120,
            "console_has": ["read line: [xos-xen-input-line]",
                            "xen: xenstore: write of data/xos-status: no answer from xenstored in 10 s",
                            "xos-status: exit 0"]}


GROUPS = {
    # Boot, console, exit status, argv/env, crash reports, threads and files: one Xen boot.
    "basic": [
        {"name": "hello-c", "image": "tests/image/hello_c.xos", "status": 0,
         "console_has": ["Hello, C on xos!"]},
        {"name": "hello-cpp", "image": "apps/hello.xos", "status": 0,
         "args": ["first", "second arg"], "env": {"XOS_GREET": "tester"},
         "console_has": ["Hello from xos!", "2 argument(s): [first] [second arg]",
                         "caught std::out_of_range across frames: not a positive number: -3",
                         "XOS_GREET=tester"]},
        {"name": "exit-status-42", "image": "tests/image/exit_status.xos", "status": 42,
         "args": ["42", "via-exit"]},
        {"name": "exit-status-255", "image": "tests/image/exit_status.xos", "status": 255, "args": ["255"]},
        {"name": "args-env", "image": "tests/image/args_env.xos", "status": 0,
         "args": ["one", "two words", "", 'quote"back\\slash', "100%", "tab\there", "ünicode"],
         "env": {"XOS_A": "1", "XOS_B": "x y=z", "XOS_EMPTY": ""},
         "console_has": ["argc=8 envc=3"]},
        {"name": "null-pointer-write", "image": "tests/image/null_write.xos", "status": 139,
         "console_has": ["write at address 0x0 (null pointer dereference)", "backtrace:", "about to write"],
         "console_lacks": ["survived"]},
        {"name": "std-thread", "image": "tests/image/threads.xos", "status": 0, "console_has": ["0 failure(s)"]},
        {"name": "fs-filesystem", "image": "tests/image/fs_filesystem.xos", "status": 0,
         "console_has": ["0 failure(s)"]},
        console_input_case(),
        # Bad conditions: a clear message and a status, never a hang.
        {"name": "uncaught-exception", "image": "tests/image/uncaught.xos", "status": 134,
         "console_has": ["terminating due to uncaught exception"]},
        # Too little memory: 4 MiB holds the image (2.9 MiB since SMP's per-CPU tables; with 3 MiB
        # xl refuses to build the domain) but not what libos then needs: a panic and 134, as on
        # KVM (xos-run --mem 4M). Where it runs out depends on the image's size (since the heap can
        # take back the frame allocator's free pages, the root's /etc is what fails first).
        {"name": "too-little-memory", "image": "tests/image/hello_c.xos", "status": 134, "memory": 4,
         "console_has": ["xos: panic: "], "console_lacks": ["Hello, C on xos!"]},
        no_backend_case(),
        fake_backend_case("bad-index", ["bad response producer index 1000 (consumer 0)",
                                        "pread /dev/vda: -1, I/O error"], 5),
        fake_backend_case("error", ["the backend failed", "pread /dev/vda: -1, I/O error"], 5),
    ],
    # xenstore and the console misbehaving: a bad producer index on each ring, xenstored silent.
    "rings": [
        fake_ring_case("xenstore", "tests/image/hello_c.xos", [], 0,
                       ["xen: xenstore: bad response ring indices (producer 5000, consumer 0)",
                        "Hello, C on xos!", "xos-status: exit 0"]),
        fake_ring_case("console", "tests/xen/console_input.xos", ["never-sent"], 2,
                       ["xen: console: bad input ring indices (producer 5000, consumer 0); console input has ended",
                        "stdin ended (read returned 0"]),
        xenstore_silent_case(),
    ],
    # Xen's split drivers: blkfront (two disks) and netfront (a bridge in dom0).
    "devices": [blk_case(), erofs_root_case(), net_case()],
}
