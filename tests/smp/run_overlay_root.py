#!/usr/bin/env python3
"""The overlay root with several vCPUs (tests/smp/overlay_root.c): makes an EROFS image holding the
program (a static Linux binary) as /overlay_root and the lower files /data/lower-N it checks, and
runs it with xos-run --root-image (the root is then the overlay: the image below, a ramfs above).

usage: run_overlay_root.py --xos-run PATH --program BINARY [--platform kvm|hosted] [--cpus N]
                           [--timeout S] -- MODE [ARGS...]

The verdict is xos-run's exit status (0 and "overlay_root: 0 failure(s)" on stdout: pass; 77:
skipped, no mkfs.erofs).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

LOWER_FILES = 8
LOWER_SIZE = 3 * 65536 + 1234


def pattern(file, size):
    """The bytes of /data/lower-FILE: overlay_root.c's pattern()."""
    return bytes(((i * 7 + file * 31 + (i >> 12)) & 0xff) for i in range(size))


def main():
    argv = sys.argv[1:]
    app = argv[argv.index('--') + 1:] if '--' in argv else []
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--program', required=True)
    parser.add_argument('--platform', default='kvm')
    parser.add_argument('--cpus', default='1')
    parser.add_argument('--timeout', default='240')
    args = parser.parse_args(argv[:argv.index('--')] if '--' in argv else argv)
    mkfs = shutil.which('mkfs.erofs')
    if not mkfs:
        print('skipped: mkfs.erofs not found (apt-get install erofs-utils)')
        return 77
    with tempfile.TemporaryDirectory(prefix='xos-overlay-root-') as work:
        root = os.path.join(work, 'root')
        os.makedirs(os.path.join(root, 'data'))
        for name in ('dev', 'proc', 'tmp'):
            os.makedirs(os.path.join(root, name))
        shutil.copy(args.program, os.path.join(root, 'overlay_root'))
        os.chmod(os.path.join(root, 'overlay_root'), 0o755)
        for file in range(LOWER_FILES):
            with open(os.path.join(root, 'data', 'lower-%d' % file), 'wb') as f:
                f.write(pattern(file, LOWER_SIZE))
        image = os.path.join(work, 'root.erofs')
        subprocess.run([mkfs, '--quiet', image, root], check=True)
        command = [args.xos_run, '--root-image', image, '--platform', args.platform, '--cpus', args.cpus,
                   '--timeout', args.timeout, '--mem', '512M', '--', '/overlay_root'] + app
        print('$', ' '.join(command), flush=True)
        result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout = result.stdout.decode(errors='replace')
    stderr = result.stderr.decode(errors='replace')
    print('--- stdout ---\n' + stdout + '--- stderr ---\n' + stderr + '--- status: %d ---' % result.returncode)
    if result.returncode != 0:
        print('FAIL: exit status %d' % result.returncode)
        return 1
    if 'overlay_root: 0 failure(s)' not in stdout:
        print('FAIL: no "overlay_root: 0 failure(s)" on stdout')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
