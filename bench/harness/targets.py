"""The targets a benchmark program is built for and run on, each with the same interface:

    target.build(program) -> artifact path          (compiles the one C source for this target)
    target.command(artifact, mem_mib) -> argv       (what is timed)
    target.run(artifact, mem_mib, timeout) -> Run   (wall time to exit and to the first output line)

- xos:       xos-build -O2; booted with the exact QEMU command xos-run uses (`xos-run --dry-run`).
- linux-vm:  musl-gcc -static -O2 plus programs/linux_vm_init.c, as /init of an initramfs, on
             Debian's kernel (harness/linux_vm.py), booted by the same QEMU: same machine
             options, accelerator, CPU model, -m and -smp as xos.
- native:    musl-gcc -static -O2, run as an ordinary Linux process.
- floor:     bench/floor's PVH guest that leaves the VM at its first instruction (boot only).
"""
import os
import select
import shlex
import shutil
import subprocess
import time

from . import cpio, linux_vm

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS_DIR = os.path.join(BENCH_DIR, "programs")
CFLAGS = ["-O2"]

# The Linux VM's machine is xos-run's (-M microvm, accelerator, CPU, -m, -smp) with ACPI on:
# /init leaves with reboot(RB_POWER_OFF), which needs ACPI (microvm's GED power-off), and
# measured 6-11% faster than acpi=off with reboot=t's triple fault (bench/README.md).
LINUX_ACPI = True
# Tuned for boot speed; each option is measured by `bench/run --linux-cmdline-study` and
# explained in bench/README.md. tsc_early_khz=<the host's TSC frequency> is appended at run
# time (harness/tsc_khz.c).
LINUX_REQUIRED = "console=ttyS0 panic=-1 xos_bench_exit=poweroff"
LINUX_TUNING = "quiet cryptomgr.notests tsc=reliable"


class Run:
    def __init__(self, ok, wall_ms, first_line_ms, lines, line_times, status, detail=""):
        self.ok, self.wall_ms, self.first_line_ms = ok, wall_ms, first_line_ms
        self.lines, self.line_times, self.status, self.detail = lines, line_times, status, detail

    def records(self):
        """The program's results: its JSON figure lines, plus one figure per begin/end pair timed
        with the host's clock (when each line reached the host), its guest-clock twin, and how
        fast the guest's clock ran against the host's over that loop."""
        import json
        out, begins = [], {}
        for when, line in zip(self.line_times, self.lines):
            if not line.startswith("{"):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            mark = rec.get("mark")
            if mark == "begin":
                begins[rec["figure"]] = when
            elif mark == "end" and rec["figure"] in begins:
                host_ns = (when - begins[rec["figure"]]) * 1e6
                count = float(rec["count"])
                out.append({"figure": rec["figure"], "unit": rec["unit"], "value": host_ns / count})
                out.append({"figure": rec["figure"] + " (guest clock)", "unit": rec["unit"],
                            "value": float(rec["guest_ns"]) / count})
                if host_ns > 0:
                    out.append({"figure": "clock.guest_per_host", "unit": "ratio",
                                "value": float(rec["guest_ns"]) / host_ns})
            elif mark is None:
                out.append(rec)
        return out


def run_timed(argv, timeout, env=None):
    """Runs argv with stdout on a pipe. Returns (wall ms to exit, ms to the first line starting
    with '{', [lines], [ms at which each line arrived], exit status or None on timeout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            env=env)
    fd = proc.stdout.fileno()
    pending, lines, times, timed_out = b"", [], [], False
    deadline = start + timeout
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        now = (time.perf_counter() - start) * 1000.0
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            line = raw.decode("utf-8", "replace").replace("\r", "").strip()
            if line:
                lines.append(line)
                times.append(now)
    if timed_out:
        proc.kill()
    status = proc.wait()
    wall = (time.perf_counter() - start) * 1000.0
    proc.stdout.close()
    if pending.strip():
        lines.append(pending.decode("utf-8", "replace").strip())
        times.append(wall)
    first = next((t for l, t in zip(lines, times) if l.startswith("{")), None)
    return wall, first, lines, times, (None if timed_out else status)


def _sh(argv, **kw):
    subprocess.run(argv, check=True, **kw)


def stripped_size(path):
    tmp = path + ".stripped"
    _sh(["llvm-strip-19", "-o", tmp, path])
    size = os.path.getsize(tmp)
    os.unlink(tmp)
    return size


class Target:
    name = "?"
    label = "?"

    def __init__(self, build_dir, out_dir):
        self.build_dir, self.out_dir = build_dir, out_dir

    def artifact(self, program, suffix):
        return os.path.join(self.out_dir, "%s.%s" % (program.name, suffix))

    def run(self, artifact, mem_mib=None, timeout=120):
        wall, first, lines, times, status = run_timed(self.command(artifact, mem_mib), timeout)
        ok, detail = self.verdict(status, lines)
        return Run(ok, wall, first, lines, times, status, detail)

    def verdict(self, status, lines):
        if status is None:
            return False, "timed out"
        return status == 0, "exit status %s" % status


def host_tsc_khz(out_dir):
    tool = os.path.join(out_dir, "tsc_khz")
    _sh(["musl-gcc", "-static", "-O2", os.path.join(BENCH_DIR, "harness", "tsc_khz.c"), "-o", tool])
    return int(subprocess.run([tool], check=True, stdout=subprocess.PIPE, text=True).stdout)


def xos_run(build_dir):
    return os.path.join(build_dir, "tools/xos-run/xos-run")


def dry_run(build_dir, image, mem_mib=None):
    argv = [xos_run(build_dir), "--dry-run"]
    if mem_mib:
        argv += ["--mem", "%dM" % mem_mib]
    out = subprocess.run(argv + [image], check=True, stdout=subprocess.PIPE, text=True).stdout
    return shlex.split(out.strip().splitlines()[-1])


def machine_args(xos_command):
    """The VM-defining part of xos-run's QEMU command: machine, accelerator, CPU, memory, CPUs."""
    keep_with_value = {"-M", "-machine", "-accel", "-cpu", "-m", "-smp", "-display"}
    flags = {"-nodefaults", "-no-user-config", "-no-reboot", "-enable-kvm", "-S"}
    out, i = [xos_command[0]], 1
    while i < len(xos_command):
        arg = xos_command[i]
        if arg in flags:
            if arg != "-S":
                out.append(arg)
            i += 1
        else:  # every other option of xos-run's command takes one value
            if arg in keep_with_value:
                out += [arg, xos_command[i + 1]]
            i += 2
    return out


def set_mem(argv, mem_mib):
    if mem_mib is None:
        return argv
    argv = list(argv)
    argv[argv.index("-m") + 1] = "%dM" % mem_mib
    return argv


class Xos(Target):
    name, label = "xos", "xos"

    def build(self, program):
        out = self.artifact(program, "xos")
        _sh([os.path.join(self.build_dir, "tools/xos-build/xos-build"), *CFLAGS, program.source, "-o", out])
        return out

    def command(self, artifact, mem_mib=None):
        argv = dry_run(self.build_dir, artifact, mem_mib)
        status_file = artifact + ".status"
        # A private status file instead of the dry run's shared placeholder path.
        return [a.replace("path=/tmp/xos-run-status", "path=" + status_file)
                if a.startswith("file,id=xosstatus,") else a for a in argv]

    def verdict(self, status, lines):
        if status is None:
            return False, "timed out"
        # isa-debug-exit: QEMU exits with (status << 1) | 1, so 1 means the app exited 0.
        return status == 1, "QEMU exit status %s (app status %s)" % (status, (status - 1) // 2 if status else "?")

    def sizes(self, artifact):
        return {"image (stripped)": stripped_size(artifact)}


class Floor(Target):
    name, label = "floor", "QEMU floor"

    def build(self, program):
        path = os.path.join(self.build_dir, "bench/floor/floor-status.elf")
        if not os.path.exists(path):
            raise SystemExit("bench/run: missing %s (run ninja -C %s)" % (path, self.build_dir))
        return path

    def command(self, artifact, mem_mib=None):
        return Xos.command(self, artifact, mem_mib)

    def verdict(self, status, lines):
        return Xos.verdict(self, status, lines)


class Native(Target):
    name, label = "native", "native"

    def build(self, program):
        out = self.artifact(program, "native")
        _sh(["musl-gcc", "-static", *CFLAGS, program.source, "-o", out])
        return out

    def command(self, artifact, mem_mib=None):
        return [artifact]

    def sizes(self, artifact):
        return {"static binary (stripped)": stripped_size(artifact)}


class LinuxVm(Target):
    name, label = "linux-vm", "Linux VM"

    def __init__(self, build_dir, out_dir, xos_reference_image):
        super().__init__(build_dir, out_dir)
        self.kernel_dir = linux_vm.ensure(quiet=True)
        self.vmlinux = os.path.join(self.kernel_dir, "vmlinux")
        self.xos_machine = machine_args(dry_run(build_dir, xos_reference_image))
        self.machine = [a.replace("acpi=off", "acpi=on") if LINUX_ACPI else a for a in self.xos_machine]
        self.cmdline = "%s %s tsc_early_khz=%d" % (LINUX_REQUIRED, LINUX_TUNING, host_tsc_khz(out_dir))

    def build(self, program):
        init = self.artifact(program, "linux-init")
        _sh(["musl-gcc", "-static", "-s", *CFLAGS, program.source, os.path.join(PROGRAMS_DIR, "linux_vm_init.c"),
             "-o", init])
        return cpio.write_initramfs(init, self.artifact(program, "initramfs.cpio"))

    def command(self, artifact, mem_mib=None):
        return set_mem(self.machine, mem_mib) + [
            "-kernel", self.vmlinux, "-initrd", artifact, "-append", self.cmdline,
            "-chardev", "stdio,id=con", "-serial", "chardev:con"]

    def verdict(self, status, lines):
        # panic=-1 turns a panic into a reset, which also ends QEMU with status 0 (-no-reboot,
        # kept from xos-run's command for that reason):
        # the program's output decides.
        if status is None:
            return False, "timed out"
        if any("Kernel panic" in l for l in lines):
            return False, "kernel panic: " + next(l for l in lines if "Kernel panic" in l)
        if not any(l.startswith("{") for l in lines):
            return False, "no output from /init (QEMU status %s)" % status
        return status == 0, "QEMU exit status %s" % status

    def sizes(self, artifact):
        return {"vmlinux + initramfs": os.path.getsize(self.vmlinux) + os.path.getsize(artifact),
                "bzImage (vmlinuz) + initramfs": os.path.getsize(os.path.join(self.kernel_dir, "vmlinuz"))
                + os.path.getsize(artifact)}
