#!/usr/bin/env python3
"""Processes on xos (docs/processes.md): the same programs natively and on xos, same stdout and
exit status. The root is made here; natively the programs run chrooted into it.

  procs:  procs.c (fork/exec/wait, posix_spawn, pipes, signals between processes, exit statuses,
          zombies and reaping, stop/continue, process groups, CLOEXEC, `#!` scripts, errors), and
          fork at RLIMIT_NPROC (EAGAIN; natively as a non-root user, root being exempt on Linux).
  dash:   Debian's dash (with the libraries ldd names) runs script.sh: pipelines, $(...),
          background jobs and wait, trap, redirections, here documents, set -e.
  busybox: `busybox sh` (Debian's busybox-static, from tests/debian's root) runs the same
          script.sh, then busybox ps lists the processes of a pipeline through /proc.
  fdpass: fdpass.c: SCM_RIGHTS/SCM_CREDENTIALS between processes, close_range, pidfds,
          pidfd_getfd, the collection of sockets in flight that form cycles, and an exec from one
          thread while another waits for a vfork child; each part run separately.
  execloop: execloop.c: 300 vfork+execs of itself, a copy of itself and dash; on xos the
          syscall-site rewriter's counters must stay bounded (no site left for want of a
          trampoline, as few trap-path syscalls per exec at the end as early on, and the late
          execs patching nothing: their patched pages come from the per-file cache).
  rewritecache: rewritecache.c: a file of 640 syscall sites mapped by several processes at
          several addresses, rewritten in place and renamed over; on xos the rewriter's counters
          must show one process patching them all, the others none, and the records freed.

The verdict is the exit status of this script (0: all cases passed).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from xostest import copy_with_libraries  # noqa: E402

EXTRA = os.environ.get('XOS_TEST_EXTRA', '').split()
TIMEOUT = 300
HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPTS = [
    # name in /scripts, contents, mode
    ('with-argument', '#!/bin/procs interp-arg\nignored\n', 0o755),
    ('plain', '#! /bin/procs  \n', 0o755),
    ('missing-interpreter', '#!/bin/no-such-interpreter\n', 0o755),
    ('not-executable', '#!/bin/procs\n', 0o644),
    ('text', 'echo not a script\n', 0o755),
    ('nested', '#!/scripts/plain\n', 0o755),
]


def make_root(args, work):
    root = os.path.join(work, 'root')
    for d in ['bin', 'data', 'scripts', 'dev', 'proc']:
        os.makedirs(os.path.join(root, d))
    shutil.copy(args.procs, os.path.join(root, 'bin', 'procs'))
    os.symlink('procs', os.path.join(root, 'bin', 'procs-link'))  # execveat AT_SYMLINK_NOFOLLOW
    with open(os.path.join(root, 'data', 'input.txt'), 'w') as f:
        f.write('first line of the input\nsecond line\n')
    for name, text, mode in SCRIPTS:
        path = os.path.join(root, 'scripts', name)
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, mode)
    # dash opens /dev/null for background jobs; an empty file reads the same.
    open(os.path.join(root, 'dev', 'null'), 'w').close()
    shutil.copy(os.path.join(HERE, 'script.sh'), os.path.join(root, 'script.sh'))
    return root


def run_native(root, command, user=None, mount_proc=False):
    if mount_proc:
        # A mount and pid namespace of its own with /proc mounted in the chroot, so ps sees the
        # command's processes only (as on xos, where the command is PID 1).
        script = 'mount -t proc proc "$1/proc" && chroot "$@"'
        return subprocess.run(['unshare', '--mount', '--propagation', 'private', '--pid', '--fork', 'sh', '-c',
                               script, 'sh', root] + command, env={'LC_ALL': 'C'}, capture_output=True, text=True,
                              timeout=TIMEOUT)

    def enter():
        os.chroot(root)
        os.chdir('/')
        if user is not None:
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)
    return subprocess.run(command, preexec_fn=enter, env={'LC_ALL': 'C'}, capture_output=True, text=True,
                          timeout=TIMEOUT)


def run_xos(args, root, command):
    return subprocess.run([args.xos_run, '--rootfs', root, '--platform', args.platform, '--timeout', '240',
                           '--env', 'LC_ALL=C'] + EXTRA + ['--'] + command, capture_output=True, text=True, timeout=TIMEOUT)


def compare(args, root, command, native_user=None, mount_proc=False):
    native = run_native(root, command, native_user, mount_proc)
    xos = run_xos(args, root, command)
    name = ' '.join(command)
    if (native.returncode, native.stdout) != (xos.returncode, xos.stdout):
        print('%s: status %d on xos, %d natively' % (name, xos.returncode, native.returncode))
        native_lines, xos_lines = native.stdout.splitlines(), xos.stdout.splitlines()
        for i in range(max(len(native_lines), len(xos_lines))):
            a = native_lines[i] if i < len(native_lines) else '<none>'
            b = xos_lines[i] if i < len(xos_lines) else '<none>'
            print('%s %-60s | %s' % (' ' if a == b else '*', a, b))
        print('--- xos stderr\n' + xos.stderr[-6000:])
        return False
    print('%s: same stdout (%d lines) and status %d natively and on xos' %
          (name, len(native.stdout.splitlines()), xos.returncode))
    return True


def check_procs(args, root):
    # /proc in the chroot (the proc cases read it), in a pid namespace as on xos.
    ok = compare(args, root, ['/bin/procs'], mount_proc=True)
    # Root is exempt from RLIMIT_NPROC on Linux: natively the mode runs as nobody.
    ok = compare(args, root, ['/bin/procs', 'nproc'], native_user=65534 if os.getuid() == 0 else None) and ok
    return ok


def check_dash(args, root):
    if not args.dash:
        print('no dash on this machine: skipped')
        return True
    for program in [args.dash, '/usr/bin/sort', '/usr/bin/head']:
        copy_with_libraries(program, root)
    if args.dash != '/usr/bin/dash':
        shutil.copy(args.dash, os.path.join(root, 'usr', 'bin', 'dash'))
    return compare(args, root, ['/usr/bin/dash', '/script.sh', 'a', 'b'])


BUSYBOX_PS = r"""
# busybox ps reads /proc: the shell, a background sleep and ps itself are listed.
/bin/busybox sleep 30 &
sleeper=$!
/bin/busybox ps -o pid,ppid,comm > /data/ps.txt
/bin/busybox awk -v shell=$$ -v sleeper=$sleeper '
    $1 == shell { print "ps lists the shell: " $3 }
    $1 == sleeper && $2 == shell { print "ps lists the background job, child of the shell: " $3 }
    $1 != sleeper && $2 == shell { print "ps lists itself, child of the shell: " $3 }' /data/ps.txt
kill $sleeper
wait $sleeper
echo "sleeper killed: $?"
"""


def debian_busybox(args):
    """busybox-static's binary from tests/debian's root (made, or found cached, by make_rootfs.sh)."""
    made = subprocess.run([args.make_rootfs], stdout=subprocess.PIPE, text=True)
    if made.returncode != 0:
        return None
    busybox = os.path.join(made.stdout.strip().splitlines()[-1], 'root', 'usr', 'bin', 'busybox')
    return busybox if os.path.isfile(busybox) else None


def check_busybox(args, root):
    busybox = debian_busybox(args)
    if not busybox or not args.dash:
        print('no Debian root with busybox (tests/debian/make_rootfs.sh) or no dash: skipped')
        return None
    for program in [args.dash, '/usr/bin/sort', '/usr/bin/head']:
        copy_with_libraries(program, root)
    if args.dash != '/usr/bin/dash':
        shutil.copy(args.dash, os.path.join(root, 'usr', 'bin', 'dash'))
    shutil.copy(busybox, os.path.join(root, 'bin', 'busybox'))
    with open(os.path.join(root, 'ps.sh'), 'w') as f:
        f.write(BUSYBOX_PS)
    os.chmod(os.path.join(root, 'data'), 0o777)
    ok = compare(args, root, ['/bin/busybox', 'sh', '/script.sh', 'a', 'b'])
    # /proc/PID of the host's processes natively: ps needs /proc mounted in the chroot.
    ok = compare(args, root, ['/bin/busybox', 'sh', '/ps.sh'], mount_proc=True) and ok
    return ok


def check_fdpass(args, root):
    if not args.fdpass:
        print('no fdpass program given: skipped')
        return None
    shutil.copy(args.fdpass, os.path.join(root, 'bin', 'fdpass'))
    os.makedirs(os.path.join(root, 'tmp'), exist_ok=True)
    ok = True
    for part in ['rights', 'close_range', 'pidfd', 'getfd', 'vforkexec']:
        ok = compare(args, root, ['/bin/fdpass', part]) and ok
    # gc counts its descriptors in /proc/self/fd: /proc in the chroot.
    ok = compare(args, root, ['/bin/fdpass', 'gc'], mount_proc=True) and ok
    return ok


def compare_rewritten(args, root, command, guest_timeout, marked):
    """Runs `command` natively and on xos with the rewriter on (hosted: XOS_EXEC=wx, else app code
    is not executable and so not rewritten): same output but for xos's own `xos:` lines, status 0
    both, and `marked(xos_lines)` true of the counter lines the program prints on xos."""
    native = run_native(root, command)
    extra = ['--env', 'XOS_EXEC=wx'] if args.platform == 'hosted' else []
    xos = subprocess.run([args.xos_run, '--rootfs', root, '--platform', args.platform, '--timeout', str(guest_timeout),
                          '--env', 'LC_ALL=C'] + extra + EXTRA + ['--'] + command, capture_output=True, text=True,
                         timeout=TIMEOUT + guest_timeout - 200)
    print('natively: status %d\n%s' % (native.returncode, native.stdout))
    print('on xos: status %d\n%s' % (xos.returncode, xos.stdout))
    lines = xos.stdout.splitlines()
    common = [line for line in lines if not line.startswith('xos:')]
    if native.returncode != 0 or xos.returncode != 0 or common != native.stdout.splitlines() or not marked(lines):
        print('--- xos stderr\n' + xos.stderr[-6000:])
        return False
    return True


def check_execloop(args, root):
    shutil.copy(args.execloop, os.path.join(root, 'bin', 'execloop'))
    shutil.copy(args.execloop, os.path.join(root, 'bin', 'execloop-b'))
    if args.dash:
        copy_with_libraries(args.dash, root)
        if args.dash != '/usr/bin/dash':
            shutil.copy(args.dash, os.path.join(root, 'usr', 'bin', 'dash'))
    return compare_rewritten(args, root, ['/bin/execloop'], 400,
                             lambda lines: 'xos: rewrite counters bounded' in lines)


def check_rewritecache(args, root):
    shutil.copy(args.rewritecache, os.path.join(root, 'bin', 'rewritecache'))
    os.makedirs(os.path.join(root, 'tmp'), exist_ok=True)
    os.chmod(os.path.join(root, 'tmp'), 0o1777)
    return compare_rewritten(args, root, ['/bin/rewritecache'], 300,
                             lambda lines: any(line.startswith('xos: site records') for line in lines))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', choices=['kvm', 'hosted'], required=True)
    parser.add_argument('--procs', required=True)
    parser.add_argument('--dash', default=shutil.which('dash'))
    parser.add_argument('--make-rootfs', help='tests/debian/make_rootfs.sh (for busybox)')
    parser.add_argument('--fdpass', help='fdpass.c built for the host (the fdpass case)')
    parser.add_argument('--execloop', help='execloop.c built for the host (the execloop case)')
    parser.add_argument('--rewritecache', help='rewritecache.c built for the host (the rewritecache case)')
    parser.add_argument('case', choices=['procs', 'dash', 'busybox', 'fdpass', 'execloop', 'rewritecache'])
    args = parser.parse_args()
    if os.getuid() != 0:
        print('natively the programs run chrooted into the test root: needs root; skipped')
        return 77
    with tempfile.TemporaryDirectory(prefix='xos-processes-') as work:
        root = make_root(args, work)
        checks = {'procs': check_procs, 'dash': check_dash, 'busybox': check_busybox, 'fdpass': check_fdpass,
                  'execloop': check_execloop, 'rewritecache': check_rewritecache}
        ok = checks[args.case](args, root)
    if ok is None:
        return 77
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
