#!/usr/bin/env python3
"""The vDSO of a program loaded by libos/exec (docs/vdso.md), checked by vdso_probe.c from inside
an unmodified program built by the host's compiler (glibc dynamic or static-pie, musl dynamic):

  1. natively (the probe parses and calls Linux's own vDSO the same way: checks the probe);
  2. on xos through xos-run --rootfs and the generic kernel;
  3. on xos with XOS_REWRITE=0, where every `syscall` instruction traps and is counted in
     /proc/xos/rewrite: the C library's clock_gettime, gettimeofday and time add no trap.

The verdict is the exit status of this script (0: all three passed).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'exec'))
from run_exec_test import copy_with_libraries  # noqa: E402

TIMEOUT = 120


def report(what, result, wanted=0):
    ok = result.returncode == wanted
    print('%s: status %d%s' % (what, result.returncode, '' if ok else ', expected %d' % wanted))
    if not ok:
        print('--- stdout\n%s--- stderr\n%s' % (result.stdout, result.stderr))
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', choices=['kvm', 'hosted'], required=True)
    parser.add_argument('--probe', required=True)
    parser.add_argument('--ldd', action='store_true', help="copy the probe's libraries (ldd) into the root")
    parser.add_argument('--interpreter', help="the probe's PT_INTERP, copied from the host to the same path")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='xos-vdso-test-')
    try:
        root = os.path.join(work, 'root')
        os.makedirs(os.path.join(root, 'bin'))
        shutil.copy(args.probe, os.path.join(root, 'bin', 'probe'))
        if args.ldd:
            copy_with_libraries(args.probe, root)
        if args.interpreter:
            target = os.path.join(root, args.interpreter.lstrip('/'))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy(args.interpreter, target)
        ok = report('natively', subprocess.run([os.path.join(root, 'bin', 'probe')], capture_output=True, text=True,
                                               timeout=TIMEOUT))
        for what, env, probe_args in [('on xos', [], []),
                                      ('on xos, XOS_REWRITE=0, trap count', ['XOS_REWRITE=0'],
                                       ['--require-trap-check'])]:
            command = [args.xos_run, '--rootfs', root, '--platform', args.platform, '--timeout', '90']
            for entry in env:
                command += ['--env', entry]
            command += ['--', '/bin/probe'] + probe_args
            ok = report(what, subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)) and ok
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
