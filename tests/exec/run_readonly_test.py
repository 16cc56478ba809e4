#!/usr/bin/env python3
"""Read-only mounts and tmpfs options, differential (readonly_probe.c).

The probe runs natively first, as root in a mount namespace this test makes (unshare -m): the
root a read-only bind mount, tmpfs mounts with ro and with noexec,nodev,nosuid, a read-only bind
mount of a directory and a file bind-mounted below a tmpfs, chrooted into it. Then on xos with
the same layout from xos-run's options: --rootfs ROOT:ro, --tmpfs /rotmp:ro,
--tmpfs /nx:noexec,nodev,nosuid, --tmpfs /wtmp, --share DIR:/shared:passthrough:ro,
--tmpfs /run, --file FILE:/run/placed.txt. Both outputs must be the same, line for line, and
the root directory byte for byte the same afterwards (nothing written through the read-only
root). Without root or mount namespaces the native run is skipped and the xos output is checked
against the expected file next to this script alone.

The verdict is the exit status of this script (0: passed).
"""
import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile

TIMEOUT = 300
MOUNT_POINTS = ['rotmp', 'nx', 'wtmp', 'shared', 'run', 'proc', 'dev', 'tmp']


def make_root(probe, work):
    root = os.path.join(work, 'root')
    for directory in ['bin', 'data/dir/inner'] + MOUNT_POINTS:
        os.makedirs(os.path.join(root, directory))
    shutil.copy(probe, os.path.join(root, 'bin', 'readonly-probe'))
    with open(os.path.join(root, 'data', 'file'), 'w') as f:
        f.write('read-only data\n' * 400)
    shared = os.path.join(work, 'shared')
    os.makedirs(shared)
    with open(os.path.join(shared, 'file'), 'w') as f:
        f.write('shared data\n' * 400)
    placed = os.path.join(work, 'placed.txt')
    with open(placed, 'w') as f:
        f.write('placed below a tmpfs\n')
    return root, shared, placed


def snapshot(directory):
    """Every path below directory with its type, mode, size and content."""
    entries = []
    for parent, subdirs, names in os.walk(directory):
        subdirs.sort()
        for name in sorted(subdirs + names):
            path = os.path.join(parent, name)
            st = os.lstat(path)
            content = b''
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as f:
                    content = f.read()
            entries.append((os.path.relpath(path, directory), st.st_mode, st.st_size, content))
    return entries


def run_native(root, shared, placed, work):
    mnt = os.path.join(work, 'mnt')
    os.makedirs(mnt)
    script = f'''set -e
mount --make-rprivate /
mount --bind {root} {mnt}
mount -o remount,bind,ro {mnt}
mount -t tmpfs -o ro tmpfs {mnt}/rotmp
mount -t tmpfs -o noexec,nodev,nosuid tmpfs {mnt}/nx
mount -t tmpfs tmpfs {mnt}/wtmp
mount --bind {shared} {mnt}/shared
mount -o remount,bind,ro {mnt}/shared
mount -t tmpfs tmpfs {mnt}/run
touch {mnt}/run/placed.txt
mount --bind {placed} {mnt}/run/placed.txt
mount -t proc proc {mnt}/proc
exec chroot {mnt} /bin/readonly-probe
'''
    return subprocess.run(['unshare', '--mount', 'sh', '-c', script], capture_output=True, text=True,
                          timeout=TIMEOUT)


def run_xos(args, root, shared, placed):
    command = [args.xos_run, '--rootfs', root + ':ro', '--platform', args.platform, '--timeout', '250',
               '--tmpfs', '/rotmp:ro', '--tmpfs', '/nx:noexec,nodev,nosuid', '--tmpfs', '/wtmp',
               '--share', shared + ':/shared:passthrough:ro', '--tmpfs', '/run',
               '--file', placed + ':/run/placed.txt', '--', '/bin/readonly-probe']
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', choices=['kvm', 'hosted'], required=True)
    parser.add_argument('--probe', required=True)
    parser.add_argument('--expected', required=True, help='the native output, for machines that cannot make it')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='xos-readonly-') as work:
        root, shared, placed = make_root(args.probe, work)
        before = snapshot(root), snapshot(shared)
        native = run_native(root, shared, placed, work) if os.geteuid() == 0 else None
        if native is not None and native.returncode == 0:
            expected = native.stdout
            print('native run: passed (%d lines)' % len(expected.splitlines()))
        else:
            if native is not None:
                print('native run not possible here (status %d): %s' % (native.returncode, native.stderr.strip()))
            with open(args.expected) as f:
                expected = f.read()
            print('comparing against %s' % args.expected)
        with open(args.expected) as f:
            if f.read() != expected:
                print('note: the native output differs from %s (a different kernel?)' % args.expected)
        result = run_xos(args, root, shared, placed)
        if result.returncode != 0:
            print('xos run: status %d\n--- stdout\n%s--- stderr\n%s' % (result.returncode, result.stdout,
                                                                        result.stderr))
            return 1
        got = result.stdout
        if got != expected:
            print('xos output differs from native:')
            sys.stdout.writelines(difflib.unified_diff(expected.splitlines(True), got.splitlines(True), 'native',
                                                       'xos ' + args.platform))
            print('--- stderr\n' + result.stderr)
            return 1
        print('xos %s: same output as native (%d lines)' % (args.platform, len(got.splitlines())))
        after = snapshot(root), snapshot(shared)
        if after != before:
            print('the read-only root or share changed on the host')
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
