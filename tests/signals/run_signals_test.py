#!/usr/bin/env python3
"""Runs one unmodified program (tests/signals: sigtest.c built by the host's gcc, or preempt.go
built by Debian's Go) natively and on xos through xos-run --rootfs (the generic kernel) on the
given platform. Passes (exit status 0) when both runs exit 0 and print the same lines."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

TIMEOUT = 300


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', choices=['kvm', 'hosted'], required=True)
    parser.add_argument('--program', required=True)
    parser.add_argument('--env', action='append', default=[])
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='xos-signals-test-')
    try:
        root = os.path.join(work, 'root')
        os.makedirs(os.path.join(root, 'bin'))
        program = os.path.join(root, 'bin', 'program')
        shutil.copy(args.program, program)
        env = dict(os.environ)
        for item in args.env:
            key, _, value = item.partition('=')
            env[key] = value
        native = subprocess.run([program], capture_output=True, text=True, timeout=TIMEOUT, env=env)
        print('natively: status %d\n%s' % (native.returncode, native.stdout))
        command = [args.xos_run, '--rootfs', root, '--platform', args.platform, '--timeout', str(TIMEOUT - 20)]
        for item in args.env:
            command += ['--env', item]
        command += ['--', '/bin/program']
        on_xos = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
        print('on xos (%s): status %d\n%s' % (args.platform, on_xos.returncode, on_xos.stdout))
        if on_xos.returncode != 0 or native.returncode != 0:
            print('--- xos stderr\n%s' % on_xos.stderr[-4000:])
            return 1
        if native.stdout != on_xos.stdout:
            print('outputs differ')
            return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
