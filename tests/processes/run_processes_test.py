#!/usr/bin/env python3
"""Processes on xos (docs/processes.md): the same programs natively and on xos, same stdout and
exit status. The root is made here; natively the programs run chrooted into it.

  procs:  procs.c (fork/exec/wait, posix_spawn, pipes, signals between processes, exit statuses,
          zombies and reaping, stop/continue, process groups, CLOEXEC, `#!` scripts, errors), and
          fork at RLIMIT_NPROC (EAGAIN; natively as a non-root user, root being exempt on Linux).
  dash:   Debian's dash (with the libraries ldd names) runs script.sh: pipelines, $(...),
          background jobs and wait, trap, redirections, here documents, set -e.

The verdict is the exit status of this script (0: all cases passed).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

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


def copy_with_libraries(program, root):
    """Copies `program` and what `ldd` names (ld.so included) to the same host paths in root."""
    paths = [program]
    result = subprocess.run(['ldd', program], capture_output=True, text=True)
    for line in result.stdout.splitlines():
        paths += [w for w in line.split() if w.startswith('/')]
    for path in paths:
        target = os.path.join(root, path.lstrip('/'))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(os.path.realpath(path), target)


def make_root(args, work):
    root = os.path.join(work, 'root')
    for d in ['bin', 'data', 'scripts', 'dev']:
        os.makedirs(os.path.join(root, d))
    shutil.copy(args.procs, os.path.join(root, 'bin', 'procs'))
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


def run_native(root, command, user=None):
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


def compare(args, root, command, native_user=None):
    native = run_native(root, command, native_user)
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
    ok = compare(args, root, ['/bin/procs'])
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', choices=['kvm', 'hosted'], required=True)
    parser.add_argument('--procs', required=True)
    parser.add_argument('--dash', default=shutil.which('dash'))
    parser.add_argument('case', choices=['procs', 'dash'])
    args = parser.parse_args()
    if os.getuid() != 0:
        print('natively the programs run chrooted into the test root: needs root; skipped')
        return 77
    with tempfile.TemporaryDirectory(prefix='xos-processes-') as work:
        root = make_root(args, work)
        ok = {'procs': check_procs, 'dash': check_dash}[args.case](args, root)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
