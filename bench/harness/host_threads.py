"""What the host gave a run's threads (issue 17: is a 2-vCPU figure the guest's or the host's?).

    out, threads, wall = run_sampled(argv)

Runs argv, and every `interval` seconds reads /proc/PID/task/TID of every process below it (the
QEMU a xos-run starts, or a hosted image's process): each thread's CPU time (user + system),
voluntary context switches (the times it slept: a halted vCPU, a wait for QEMU's global lock or a
host futex) and involuntary ones (the host preempted it). The last reading of each thread is kept
(a thread's counts only grow), so the figures cover the run up to at most `interval` before its
end. QEMU names its vCPU threads "CPU N/TCG" with `-name xos,debug-threads=on` (xos-run
--qemu-arg); a hosted image's threads are told apart by their order (vcpu0, vcpu1, ...: the first
thread of the image's process is vCPU 0, the next ones are made at boot).
Returns the run's stdout, {name: {"cpu_s", "sleeps", "preempted"}} and its wall time in seconds;
a failed run exits with what it said (as run_or_exit)."""
import os
import subprocess
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def children(pid):
    """The pids of the host processes whose parent is PID."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError):
                pass
    return found


def read_task(pid, tid):
    """A host thread's name, its stat fields after the command, its status lines; None if gone."""
    base = "/proc/%d/task/%d/" % (pid, tid)
    try:
        with open(base + "comm") as f:
            name = f.read().strip()
        with open(base + "stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(base + "status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return None
    return name, fields, status


def _read_threads(root, seen):
    queue = [root]
    while queue:
        pid = queue.pop()
        queue.extend(children(pid))
        try:
            with open("/proc/%d/comm" % pid) as f:
                process = f.read().strip()
            tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))
        except OSError:
            continue
        for order, tid in enumerate(tids):
            task = read_task(pid, tid)
            if task is None:
                continue
            name, fields, status = task
            if process.startswith("xos-run"):
                continue
            key = (pid, tid)
            label = name if name.startswith("CPU ") or process.startswith("qemu") else "%s.vcpu%d" % (process, order)
            seen[key] = (label, (int(fields[11]) + int(fields[12])) / TICKS, int(status["voluntary_ctxt_switches"]),
                         int(status["nonvoluntary_ctxt_switches"]))


def run_sampled(argv, interval=0.05, timeout=900):
    start = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = {}
    while process.poll() is None:
        _read_threads(process.pid, seen)
        if time.monotonic() - start > timeout:
            process.kill()
            break
        time.sleep(interval)
    out, err = process.communicate()
    wall = time.monotonic() - start
    if process.returncode != 0:
        sys.exit("failed (%d): %s\n%s%s" % (process.returncode, " ".join(argv), out, err))
    threads = {}
    for label, cpu_s, sleeps, preempted in seen.values():
        t = threads.setdefault(label, {"cpu_s": 0.0, "sleeps": 0, "preempted": 0})
        t["cpu_s"] += cpu_s
        t["sleeps"] += sleeps
        t["preempted"] += preempted
    return out, threads, wall


def describe(threads, wall, minimum=0.05):
    """One line: each thread with at least `minimum` CPU seconds, and the run's wall time."""
    parts = ["%s %.2f s (slept %d, preempted %d)" % (name, t["cpu_s"], t["sleeps"], t["preempted"])
             for name, t in sorted(threads.items()) if t["cpu_s"] >= minimum]
    return "wall %.2f s; host CPU: %s" % (wall, ", ".join(parts))
