"""tests/lib/xostest.py: what the Python test runners share (imported by tests/*/run_*_test.py,
tests/net, bench/oci, bench/http and bench/toolchain after `sys.path.insert(0, .../tests/lib)`).

- copy_with_libraries: a program and the shared libraries ldd names, copied into a test root at
  their host paths (the roots the native-chroot-vs-xos tests make);
- debian_root: the Debian test root of tests/debian/make_rootfs.sh (made, or found cached);
- cache_root, Locked, apt_candidate: the versions-keyed caches under ~/.cache/xos, as
  tests/lib/cache_key.sh keeps them for the shell scripts;
- stop_process: SIGTERM (or a given signal), then SIGKILL after a timeout (tests/net, bench/http,
  bench/toolchain's servers).
"""
import fcntl
import os
import shutil
import signal
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def ldd_paths(program, check=False):
    """`program` and the absolute paths ldd names for it (the dynamic loader included)."""
    paths = [program]
    result = subprocess.run(['ldd', program], capture_output=True, text=True, check=check)
    for line in result.stdout.splitlines():
        words = line.split()
        if '=>' in words and len(words) > 2 and words[2].startswith('/'):
            paths.append(words[2])
        elif words and words[0].startswith('/'):
            paths.append(words[0])
    return paths


def copy_with_libraries(program, root, check=False):
    """Copies `program` and what `ldd` names (ld.so included) to the same host paths in root,
    symlinks resolved (a root made without the closure tools under test). With check, a failing
    ldd (not a dynamic executable, a missing file) raises."""
    for path in ldd_paths(program, check):
        target = os.path.join(root, path.lstrip('/'))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(os.path.realpath(path), target)


def debian_root(make_rootfs):
    """The Debian test root's directory (tests/debian/make_rootfs.sh prints its cache entry
    last), or None after saying why when it could not be made."""
    made = subprocess.run([make_rootfs], stdout=subprocess.PIPE, text=True)
    if made.returncode != 0:
        print('tests/debian/make_rootfs.sh failed (status %d)' % made.returncode)
        return None
    return os.path.join(made.stdout.strip().splitlines()[-1], 'root')


def cache_root():
    """${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/xos}, absolute."""
    base = os.environ.get('XOS_CACHE_DIR') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.join(os.environ['HOME'], '.cache'), 'xos')
    return os.path.abspath(base)


def apt_candidate(package):
    """apt's candidate version of `package` ('none' when apt knows none), as cache_key.sh reads it."""
    result = subprocess.run([os.path.join(HERE, 'cache_key.sh'), 'versions', package], capture_output=True,
                            text=True)
    for line in result.stdout.splitlines():
        if line.startswith(package + '='):
            return line.split('=', 1)[1]
    return 'none'


class Locked:
    """An exclusive lock on PATH.lock while a cache entry is made (tests run in parallel)."""

    def __init__(self, path):
        self.path = path + '.lock'

    def __enter__(self):
        self.file = open(self.path, 'w')
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def stop_process(process, sig=signal.SIGTERM, timeout=10):
    """Stops a subprocess.Popen the way the test and bench servers do: SIG (default SIGTERM), then
    SIGKILL if it has not exited after TIMEOUT seconds; returns its exit status."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
