#!/usr/bin/env python3
"""The vDSO of a program loaded by libos/exec (docs/vdso.md), checked by vdso_probe.c from inside
an unmodified program built by the host's compiler (glibc dynamic or static-pie, musl dynamic):

  1. natively (the probe parses and calls Linux's own vDSO the same way: checks the probe);
  2. on xos through xos-run --rootfs and the generic kernel;
  3. on xos with XOS_REWRITE=0, where every `syscall` instruction traps and is counted in
     /proc/xos/rewrite: the C library's clock_gettime, gettimeofday and time add no trap.
     /proc is not inside a --rootfs root (the generic kernel chroots into it), so this run
     boots the generic kernel with the root as a share at /r and no chroot: a dynamic probe is
     started through its own ld.so (`/r/lib64/ld-linux-x86-64.so.2 --library-path ...`).

The verdict is the exit status of this script (0: all three passed).
"""
import argparse
import os
import shutil
import subprocess
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'exec'))
from run_exec_test import copy_with_libraries  # noqa: E402

TIMEOUT = 120
SHARE = '/r'  # where run 3 sees the root


def interpreter_of(program):
    """The PT_INTERP path of an ELF64 file, or None."""
    with open(program, 'rb') as f:
        data = f.read()
    phoff, = struct.unpack_from('<Q', data, 32)
    phentsize, phnum = struct.unpack_from('<HH', data, 54)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from('<IIQQQQ', data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP
            return data[p_offset:p_offset + p_filesz].rstrip(b'\0').decode()
    return None


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
    parser.add_argument('--kernel', required=True, help='the generic kernel image for this platform')
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
        command = [args.xos_run, '--rootfs', root, '--platform', args.platform, '--timeout', '90', '--',
                   '/bin/probe']
        ok = report('on xos', subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)) and ok

        launcher = []
        interpreter = interpreter_of(args.probe)
        if interpreter:  # ld.so as the program, the probe's libraries from the share
            library_dirs = sorted({os.path.dirname(os.path.join(dirpath, name)[len(root):])
                                   for dirpath, _, names in os.walk(root) for name in names if '.so' in name})
            launcher = [SHARE + interpreter, '--library-path', ':'.join(SHARE + d for d in library_dirs)]
        command = [args.xos_run, '--share', root + ':' + SHARE + ':passthrough', '--timeout', '90',
                   '--env', 'XOS_REWRITE=0']
        if args.platform == 'hosted':
            command += ['--env', 'XOS_EXEC=wx']
        command += [args.kernel, '--'] + launcher + [SHARE + '/bin/probe', '--require-trap-check']
        ok = report('on xos, XOS_REWRITE=0, trap count', subprocess.run(command, capture_output=True, text=True,
                                                                         timeout=TIMEOUT)) and ok
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
