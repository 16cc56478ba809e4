#!/usr/bin/env python3
"""Programs xos-cc built from Debian's sources (tests/toolchain/projects.sh) against the same
sources built natively with Debian's musl-gcc -static -O2, all in one run, rounds interleaved:

    native     the musl-gcc build, an ordinary Linux process
    hosted     the xos-cc output run directly (the hosted platform, a sandboxed process)
    xos VM     the same file booted by xos-run (QEMU, the accelerator xos-run picks)
    Linux VM   the musl-gcc build as the program of a Linux microVM (bench/harness/linux_vm.py:
               Debian's kernel, /init = bench/toolchain/linux_init.c, booted by the same QEMU
               machine, accelerator, CPU, -m and -smp as xos-run's)

Figures are median wall times on the host (the VMs include their boot) and, for the VMs, the
same minus the median of an empty run of the same program (`lua -e 'local _ = 0'`: boot, start,
exit).
The Linux VM also reports the program's own time inside the guest (fork to wait).

usage: bench/toolchain/run.py [--build BUILD_DIR] [--runs N] [--sqlite-size N]
Needs the projects built first: tests/toolchain/projects.sh BUILD_DIR sqlite3 (and lua5.4), as
`meson test -C BUILD_DIR --suite toolchain-projects` does.
"""
import argparse
import json
import os
import shutil
import statistics
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from harness import cpio, targets  # noqa: E402

LUA_CODE = ("local t = {} for i = 1, 2000000 do t[i] = i * 2 end local s = 0 for i = 1, #t do s = s + t[i] end "
            "local parts = {} for i = 1, 200000 do parts[#parts + 1] = tostring(i) end "
            "print(s, #table.concat(parts))")
EMPTY_CODE = "local _ = 0"  # the empty run
MEM_MIB = 256


def sh(argv, **kw):
    subprocess.run(argv, check=True, **kw)


def work_dir(build, project):
    """Where projects.sh built `project` (below the cache when the build tree is under /tmp)."""
    real = os.path.realpath(build)
    if (real + "/").startswith("/tmp/"):
        import hashlib
        key = hashlib.sha256((real + "\n").encode()).hexdigest()[:12]
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.environ["HOME"], ".cache")
        return os.path.join(cache, "xos", "toolchain-work", key, project)
    return os.path.join(real, "tests", "toolchain", "work-" + project)


def initramfs(out_path, init, files, argv, data=None):
    """An initramfs with /init, /tmp, /dev/console, the given files (name -> host path, mode
    0755), data (name -> bytes, mode 0644), the directories they are in, and /argv (the command,
    one argument a line)."""
    out = bytearray()
    entries = [("dev", stat.S_IFDIR | 0o755, b""), ("tmp", stat.S_IFDIR | 0o1777, b""), ("bin", stat.S_IFDIR | 0o755, b"")]
    contents = []
    for name, path in [("init", init)] + list(files.items()):
        with open(path, "rb") as f:
            contents.append((name, stat.S_IFREG | 0o755, f.read()))
    contents += [(name, stat.S_IFREG | 0o644, value) for name, value in (data or {}).items()]
    contents.append(("argv", stat.S_IFREG | 0o644, "".join(a + "\n" for a in argv).encode()))
    for name, _, _ in contents:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            directory = "/".join(parts[:i])
            if not any(e[0] == directory for e in entries):
                entries.append((directory, stat.S_IFDIR | 0o755, b""))
    entries += contents
    ino = 1
    for name, mode, content in entries:
        cpio._entry(out, ino, name, mode, content)
        ino += 1
    cpio._entry(out, ino, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    cpio._entry(out, 0, cpio._TRAILER, 0)
    out += b"\0" * (-len(out) % 512)
    with open(out_path, "wb") as f:
        f.write(out)
    return out_path


def stale(target, sources):
    return not os.path.exists(target) or any(os.path.getmtime(s) > os.path.getmtime(target) for s in sources)


def timed(argv, cwd=None, timeout=1800):
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                          timeout=timeout)
    return time.perf_counter() - start, proc.returncode, proc.stdout.decode(errors="replace")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sqlite-size", type=int, default=10)
    parser.add_argument("--json", help="also write the samples here")
    args = parser.parse_args()
    build = os.path.realpath(args.build)
    xos_run = os.path.join(build, "tools/xos-run/xos-run")
    sqlite = os.path.join(work_dir(build, "sqlite3"), "sqlite")
    lua = os.path.join(work_dir(build, "lua5.4"), "lua")
    for path in (os.path.join(sqlite, "speedtest1"), os.path.join(lua, "src/lua")):
        if not os.access(path, os.X_OK):
            raise SystemExit("bench/toolchain: %s missing: run tests/toolchain/projects.sh %s sqlite3 lua5.4 first"
                             % (path, build))
    out = tempfile.mkdtemp(prefix="bench-toolchain-")
    try:
        init = os.path.join(out, "linux-init")
        sh(["musl-gcc", "-static", "-O2", os.path.join(HERE, "linux_init.c"), "-o", init])
        # Native builds of the same sources with Debian's musl, kept in the build tree (sqlite3.c
        # takes minutes) and rebuilt when a source is newer.
        native = os.path.join(build, "bench", "toolchain-native")
        os.makedirs(native, exist_ok=True)
        speedtest_sources = [os.path.join(sqlite, "test/speedtest1.c"), os.path.join(sqlite, "sqlite3.c")]
        lua_sources = [os.path.join(lua, "src", f) for f in sorted(os.listdir(os.path.join(lua, "src")))
                       if f.endswith(".c") and f not in ("luac.c",)]
        speedtest_native, lua_native = os.path.join(native, "speedtest1"), os.path.join(native, "lua")
        if stale(speedtest_native, speedtest_sources):
            sh(["musl-gcc", "-static", "-O2", "-DSQLITE_OS_UNIX=1", "-DSQLITE_THREADSAFE=1", "-I" + sqlite,
                *speedtest_sources, "-o", speedtest_native, "-lm"])
        if stale(lua_native, lua_sources):
            sh(["musl-gcc", "-static", "-O2", "-DLUA_USE_LINUX", "-o", lua_native, *lua_sources, "-lm"])
        linux = targets.LinuxVm(build, out, os.path.join(lua, "src/lua"))
        size = str(args.sqlite_size)
        rams = {
            "sqlite": initramfs(os.path.join(out, "sqlite.cpio"), init,
                                {"bin/speedtest1": speedtest_native},
                                ["/bin/speedtest1", "--size", size, "/tmp/st.db"]),
            "lua": initramfs(os.path.join(out, "lua.cpio"), init, {"bin/lua": lua_native},
                             ["/bin/lua", "-e", LUA_CODE]),
            "empty": initramfs(os.path.join(out, "empty.cpio"), init, {"bin/lua": lua_native},
                               ["/bin/lua", "-e", EMPTY_CODE]),
        }
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else out
        commands = {
            ("sqlite", "native"): [speedtest_native, "--size", size, os.path.join(shm, "bench-st.db")],
            ("sqlite", "hosted"): [os.path.join(sqlite, "speedtest1"), "--size", size, "/tmp/st.db"],
            ("sqlite", "xos VM"): [xos_run, "--mem", "%dM" % MEM_MIB, os.path.join(sqlite, "speedtest1"), "--",
                                   "--size", size, "/tmp/st.db"],
            ("sqlite", "Linux VM"): linux.command(rams["sqlite"], MEM_MIB),
            ("lua", "native"): [lua_native, "-e", LUA_CODE],
            ("lua", "hosted"): [os.path.join(lua, "src/lua"), "-e", LUA_CODE],
            ("lua", "xos VM"): [xos_run, "--mem", "%dM" % MEM_MIB, os.path.join(lua, "src/lua"), "--", "-e", LUA_CODE],
            ("lua", "Linux VM"): linux.command(rams["lua"], MEM_MIB),
            ("empty", "native"): [lua_native, "-e", EMPTY_CODE],
            ("empty", "hosted"): [os.path.join(lua, "src/lua"), "-e", EMPTY_CODE],
            ("empty", "xos VM"): [xos_run, "--mem", "%dM" % MEM_MIB, os.path.join(lua, "src/lua"), "--", "-e", EMPTY_CODE],
            ("empty", "Linux VM"): linux.command(rams["empty"], MEM_MIB),
        }
        samples = {key: [] for key in commands}
        guest = {key: [] for key in commands if key[1] == "Linux VM"}
        expected_lua = None
        for round_ in range(args.runs + 1):  # round 0 warms up
            for key, argv in commands.items():
                wall, status, text = timed(argv)
                if key[1] == "Linux VM":
                    record = next((json.loads(l) for l in text.splitlines() if l.startswith('{"figure"')), None)
                    ok = record is not None and record["status"] == 0
                    if ok and round_:
                        guest[key].append(record["value"] / 1000)
                else:
                    ok = status == 0  # xos-run exits with the app's status
                if key[0] == "lua" and ok:
                    line = next((l for l in text.splitlines() if "\t" in l), None)
                    expected_lua = expected_lua or line
                    ok = line == expected_lua
                if not ok:
                    raise SystemExit("bench/toolchain: %s on %s failed (status %s):\n%s" % (key[0], key[1], status,
                                                                                         text[-2000:]))
                if round_:
                    samples[key].append(wall)
            if os.path.exists(os.path.join(shm, "bench-st.db")):
                os.unlink(os.path.join(shm, "bench-st.db"))
        median = {key: statistics.median(v) for key, v in samples.items()}
        def ratio(a, b):
            return "%.2f" % (a / b) if b > 0 else "n/a"

        print("| program | native (s) | hosted (s) | xos VM (s) | Linux VM (s) | hosted / native | "
              "hosted / native, empty run subtracted | xos VM / Linux VM | xos VM / Linux VM, empty run subtracted |")
        print("|---|---|---|---|---|---|---|---|---|")
        for program in ("sqlite", "lua", "empty"):
            n, h = median[(program, "native")], median[(program, "hosted")]
            x, l = median[(program, "xos VM")], median[(program, "Linux VM")]
            ne, he = n - median[("empty", "native")], h - median[("empty", "hosted")]
            xe, le = x - median[("empty", "xos VM")], l - median[("empty", "Linux VM")]
            label = "empty run (lua -e 'local _ = 0')" if program == "empty" else program
            print("| %s | %.3f | %.3f | %.3f | %.3f | %s | %s | %s | %s |" % (
                label, n, h, x, l, ratio(h, n), ratio(he, ne) if program != "empty" else "",
                ratio(x, l), ratio(xe, le) if program != "empty" else ""))
        for key, values in guest.items():
            if values:
                print("Linux VM %s inside the guest (fork to wait): %.3f s" % (key[0], statistics.median(values)))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"%s/%s" % key: v for key, v in samples.items()}, f, indent=1)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
