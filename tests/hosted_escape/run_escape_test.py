#!/usr/bin/env python3
"""The hosted sandbox against hostile code (docs/hosted.md, "Threat model").

usage: run_escape_test.py --xos-run PATH ESCAPE_IMAGE

Runs every attack of escape.c (the image lists them) through both routes into the host kernel
(xos_host_syscall, and a jump to the platform's own `syscall` instruction), run directly with a
share and with host descriptors it should never see (fds 10 and 251 on the secret file, as the
bug report had), a few of them also without a share and through xos-run, and then checks the
host itself after each run:
  - a sentinel process (`sleep`) is still alive;
  - a sentinel file outside the share is unread (inotify: no open, access, modify, attrib) and
    unchanged (content, mode, owner, times), and nothing appeared in or vanished from its
    directory;
  - the image exited 0 (the attack came back refused) or 159 (the sandbox stopped it), never 1
    (the image saw it work) or anything else.
It also pauses one image that maps RWX and R-X memory through libos and reads its
/proc/PID/maps (no mapping may be writable and executable), with and without XOS_EXEC=wx, and
checks that raw syscalls 335/336 from app code return ENOSYS. Exit status 0 when all holds.
"""
import argparse
import ctypes
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

IN_EVENTS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
ALLOWED_STATUSES = (0, 159)
VCPU_ATTACKS = ("futex-shared-wait", "futex-shared-wake", "futex-requeue", "futex-lock-pi",
                "membarrier-global", "membarrier-register",
                "tgkill-own-group-sentinel", "tgkill-own-group-stranger",
                "tgkill-own-sigkill", "clone-thread", "tgkill-sentinel",
                "tgkill-sentinel-usr1", "tgkill-tid-of-sentinel", "kill-sentinel", "sigsuspend", "process-creation",
                "harmless-allowed")
SECRET_CONTENT = b"SECRET-CONTENT: the host's sentinel file, never to be read by an image\n"


class Inotify:
    def __init__(self, directory):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or self.libc.inotify_add_watch(self.fd, directory.encode(), IN_EVENTS) < 0:
            raise OSError(ctypes.get_errno(), "inotify")

    def drain(self):
        events = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return events
            offset = 0
            while offset < len(data):
                _, mask, _, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16:offset + 16 + length].rstrip(b"\0").decode(errors="replace")
                events.append((hex(mask), name))
                offset += 16 + length


def snapshot(secret, outside, share):
    try:
        st = os.lstat(secret)
        with open(secret, "rb") as f:
            content = f.read()
        state = (content, st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                 st.st_nlink, st.st_ino)
    except OSError as e:
        state = ("secret.txt: %s" % e,)
    return state + (sorted(os.listdir(outside)), sorted(os.listdir(share)))


def empty_directory(directory):
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)


class Checker:
    def __init__(self, image, xos_run, workdir):
        self.image = image
        self.xos_run = xos_run
        self.failures = []
        self.runs = 0
        self.share = os.path.join(workdir, "share")
        self.outside = os.path.join(workdir, "outside")
        os.mkdir(self.share)
        os.mkdir(self.outside)
        self.secret = os.path.join(self.outside, "secret.txt")
        self.write_secret()
        self.sentinel = subprocess.Popen(["sleep", "3600"], start_new_session=True)
        # Host descriptors on the secret that nothing should pass into an image (inheritable).
        self.leaked = []
        for number in (10, 251):
            fd = os.open(self.secret, os.O_RDONLY)
            os.dup2(fd, number, inheritable=True)
            os.close(fd)
            self.leaked.append(number)
        self.inotify = Inotify(self.outside)
        self.baseline = snapshot(self.secret, self.outside, self.share)
        self.inotify.drain()

    def write_secret(self):
        with open(self.secret, "wb") as f:
            f.write(SECRET_CONTENT)
        os.chmod(self.secret, 0o600)

    def image_args(self, attack, route):
        return [attack, route, str(self.sentinel.pid), self.secret, self.outside, self.share, "/share"]

    def check_host(self, what):
        events = self.inotify.drain()
        if events:
            self.fail(what, "host file activity outside the share: %s" % events)
        if self.sentinel.poll() is not None:
            self.fail(what, "the sentinel process died (status %s)" % self.sentinel.returncode)
            self.sentinel = subprocess.Popen(["sleep", "3600"], start_new_session=True)
        now = snapshot(self.secret, self.outside, self.share)
        self.inotify.drain()  # our own listing above
        if now != self.baseline:
            if now[:-1] != self.baseline[:-1]:
                self.fail(what, "the sentinel file or its directory changed:\n    before %s\n    after  %s" %
                          (self.baseline[:-1], now[:-1]))
            if now[-1] != self.baseline[-1]:
                self.fail(what, "the share changed: %s" % now[-1])
            # Back to the start, so that the next attack is judged on its own.
            empty_directory(self.share)
            empty_directory(self.outside)
            self.write_secret()
            self.baseline = snapshot(self.secret, self.outside, self.share)
            self.inotify.drain()

    def fail(self, what, message):
        self.failures.append("%s: %s" % (what, message))
        print("FAIL %s: %s" % (what, message), flush=True)

    def run(self, what, argv, env, expect=ALLOWED_STATUSES, pass_fds=()):
        self.runs += 1
        try:
            result = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                                    pass_fds=pass_fds)
            status = result.returncode
            output = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            status, output = "timeout", (e.stdout or b"").decode(errors="replace")
        if status not in expect:
            self.fail(what, "exit status %s (expected one of %s); output:\n%s" % (status, expect, output))
        self.check_host(what)
        return status

    def direct(self, attack, route, share=True, extra_env=None):
        env = {"PATH": "/usr/bin:/bin"}
        if share:
            env["XOS_SHARE"] = self.share + ":/share"
        env.update(extra_env or {})
        what = "%s via %s (%s)" % (attack, route, "run directly" + ("" if share else ", no share"))
        return self.run(what, [self.image] + self.image_args(attack, route), env, pass_fds=self.leaked)

    def through_xos_run(self, attack, route):
        argv = [self.xos_run, "--timeout", "60", "--share", self.share + ":/share", self.image, "--"]
        return self.run("%s via %s (xos-run)" % (attack, route), argv + self.image_args(attack, route),
                        dict(os.environ), pass_fds=self.leaked)

    def maps_check(self, extra_env, label):
        """rwx-through-libos: pause the image, read its host mappings, let it go on."""
        what = "rwx-through-libos (%s)" % label
        self.runs += 1
        env = {"PATH": "/usr/bin:/bin", "XOS_SHARE": self.share + ":/share"}
        env.update(extra_env)
        proc = subprocess.Popen([self.image] + self.image_args("rwx-through-libos", "call"), env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = []
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            output.append(line.decode(errors="replace"))
            if line.strip() == b"checkpoint" or time.monotonic() > deadline:
                break
        if not output or output[-1].strip() != "checkpoint":
            proc.kill()
            proc.wait()
            self.fail(what, "no checkpoint; output:\n%s" % "".join(output))
            return
        with open("/proc/%d/maps" % proc.pid) as f:
            maps = f.read().splitlines()
        wx = [m for m in maps if "w" in m.split()[1] and "x" in m.split()[1]]
        if wx:
            self.fail(what, "writable and executable host mappings: %s" % wx)
        # The app region: [64 KiB, the image at 0x7e0000000000) (platform/hosted/memory.cpp).
        executable_app = [m for m in maps if "x" in m.split()[1] and 64 << 10 <= int(m.split("-")[0], 16) < 0x7e0000000000]
        if extra_env.get("XOS_EXEC") != "wx" and executable_app:
            self.fail(what, "executable app mappings without XOS_EXEC=wx: %s" % executable_app)
        if extra_env.get("XOS_EXEC") == "wx" and not executable_app:
            self.fail(what, "XOS_EXEC=wx: the R-X app page was not mapped executable")
        with open(os.path.join(self.share, "continue"), "w"):
            pass
        try:
            rest, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, _ = proc.communicate()
        output.append(rest.decode(errors="replace"))
        os.unlink(os.path.join(self.share, "continue"))
        if proc.returncode != 0:
            self.fail(what, "exit status %s; output:\n%s" % (proc.returncode, "".join(output)))
        self.inotify.drain()
        self.check_host(what)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xos-run", required=True)
    parser.add_argument("image")
    args = parser.parse_args()
    image = os.path.abspath(args.image)

    listing = subprocess.run([image, "list"], capture_output=True, timeout=60)
    attacks = listing.stdout.decode().split()
    if listing.returncode != 0 or len(attacks) < 40:
        print("FAIL: the image did not list its attacks (status %d): %s" % (listing.returncode, listing.stderr))
        return 1

    workdir = tempfile.mkdtemp(prefix="xos-escape-")
    try:
        checker = Checker(image, os.path.abspath(args.xos_run), workdir)
        try:
            refused = stopped = 0
            for attack in attacks:
                for route in ("call", "site"):
                    status = checker.direct(attack, route)
                    refused += status == 0
                    stopped += status == 159
            for attack in ("open-secret", "inherited-fds", "chmod-secret", "stat-secret", "tgkill-sentinel"):
                checker.direct(attack, "call", share=False)
            # Two vCPUs (host threads): the filter's futex and tgkill rules for them refuse the rest,
            # and clone stays refused.
            for attack in VCPU_ATTACKS:
                for route in ("call", "site"):
                    checker.direct(attack, route, extra_env={"XOS_CPUS": "2"})
            for attack in ("inherited-fds", "open-secret", "open-secret-via-proc", "tgkill-sentinel",
                           "chmod-secret", "proc-climb"):
                checker.through_xos_run(attack, "site")
            checker.run("raw-uprobe-syscalls", [image] + checker.image_args("raw-uprobe-syscalls", "call"),
                        {"PATH": "/usr/bin:/bin"}, expect=(0,))
            checker.maps_check({}, "default")
            checker.maps_check({"XOS_EXEC": "wx"}, "XOS_EXEC=wx")
            print("%d attacks x 2 routes: %d refused with an error, %d stopped by the sandbox (SIGSYS); %d runs" %
                  (len(attacks), refused, stopped, checker.runs))
        finally:
            checker.sentinel.kill()
            checker.sentinel.wait()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if checker.failures:
        print("%d failure(s) in: %s" % (len(checker.failures),
                                         " ".join(sorted({f.split(" ")[0] for f in checker.failures}))))
        return 1
    print("host untouched: 0 failure(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
