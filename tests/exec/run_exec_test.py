#!/usr/bin/env python3
"""Unmodified Linux executables on xos (xos-run --rootfs, the generic kernel, libos/exec).

  probe:  the same program (probe.c, built by the host's gcc: glibc static-pie, static and
          dynamic non-PIE, dynamic PIE; musl static-pie or dynamic with its ld-musl) natively and
          on xos from a root made here: same stdout, same exit status.
  errors: what cannot run ends like a shell says: 126 (not ELF, truncated, wrong class or
          machine, a non-PIE linked outside the app region) or 127 (missing file, missing
          interpreter), with a message naming the file, and never a crash report.
  python3: Debian's python3 (non-PIE, dynamic glibc) from the host with its libraries and
          standard library, natively and on xos.
  coreutils: Debian's ls, cat, sha256sum, sort (dynamic glibc: ld.so maps libc.so.6 and the
          rest with file-backed mmap) with the libraries ldd names, natively and on xos.
  cli:    xos-run --rootfs/--platform: the image and share it chooses (--dry-run), usage errors.

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

TIMEOUT = 120


def run_xos(args, root, program_args, env=()):
    command = [args.xos_run, '--rootfs', root, '--platform', args.platform, '--timeout', '90']
    for entry in env:
        command += ['--env', entry]
    command += ['--'] + program_args
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)


def make_root(args, work):
    root = os.path.join(work, 'root')
    os.makedirs(os.path.join(root, 'bin'))
    os.makedirs(os.path.join(root, 'data'))
    shutil.copy(args.probe, os.path.join(root, 'bin', 'probe'))
    with open(os.path.join(root, 'data', 'input.txt'), 'w') as f:
        f.write('first line of the input\n' + ''.join('line %d\n' % i for i in range(500)))
    probe = open(args.probe, 'rb').read()

    def put(name, data, mode=0o755):
        path = os.path.join(root, 'bin', name)
        with open(path, 'wb') as f:
            f.write(data)
        os.chmod(path, mode)

    put('text', b'this is not a program\n')
    put('truncated', probe[:40])
    i386 = bytearray(probe)
    i386[4] = 1  # EI_CLASS = ELFCLASS32
    i386[18:20] = (3).to_bytes(2, 'little')  # EM_386
    put('i386', bytes(i386))
    aarch64 = bytearray(probe)
    aarch64[18:20] = (183).to_bytes(2, 'little')  # EM_AARCH64
    put('aarch64', bytes(aarch64))
    put('headers-past-end', probe[:4096])
    shutil.copy(args.low_address, os.path.join(root, 'bin', 'low-address'))
    # A dynamic executable whose interpreter (/lib64/ld-linux-x86-64.so.2) is not in this root.
    shutil.copy(args.dynamic, os.path.join(root, 'bin', 'dynamic'))
    put('not-executable', probe, 0o644)
    return root


def check_probe(args, root):
    if args.ldd:  # a dynamic glibc probe: its ld.so and libraries, copied from the host
        copy_with_libraries(args.probe, root, check=True)
    if args.interpreter:  # a dynamic probe's PT_INTERP, copied from the host to the same path
        target = os.path.join(root, args.interpreter.lstrip('/'))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(args.interpreter, target)
    env = ['PROBE_A=1', 'PROBE_B=two words']
    program_args = ['/bin/probe', 'data/input.txt', 'an argument', '']
    native = subprocess.run(program_args, executable=os.path.join(root, 'bin', 'probe'), cwd=root,
                            env=dict(e.split('=', 1) for e in env), capture_output=True, text=True, timeout=TIMEOUT)
    xos = run_xos(args, root, program_args, env)
    ok = True
    if native.returncode != 7:
        print('probe natively: status %d, expected 7\n%s%s' % (native.returncode, native.stdout, native.stderr))
        ok = False
    if xos.returncode != native.returncode:
        print('probe: status %d on xos, %d natively' % (xos.returncode, native.returncode))
        ok = False
    if xos.stdout != native.stdout:
        print('probe: stdout differs\n--- native\n%s--- xos\n%s' % (native.stdout, xos.stdout))
        ok = False
    if not ok:
        print('--- xos stderr\n' + xos.stderr)
    else:
        print('probe: same stdout (%d lines) and status %d natively and on xos' %
              (len(native.stdout.splitlines()), xos.returncode))
    return ok


ERROR_CASES = [
    # program, status, words the message must contain
    ('/bin/text', 126, ['/bin/text', 'not an ELF executable']),
    ('/bin/truncated', 126, ['/bin/truncated', 'too short']),
    ('/bin/i386', 126, ['/bin/i386', '32-bit']),
    ('/bin/aarch64', 126, ['/bin/aarch64', 'wrong machine', 'aarch64']),
    ('/bin/headers-past-end', 126, ['/bin/headers-past-end', 'truncated']),
    ('/bin/low-address', 126, ['/bin/low-address', 'outside the app region']),
    ('/bin/not-executable', 126, ['/bin/not-executable', 'ermission denied']),
    ('/data', 126, ['/data', 'directory']),
    ('/bin/missing', 127, ['/bin/missing', 'not found']),
    ('/bin/dynamic', 127, ['/bin/dynamic', '/lib64/ld-linux-x86-64.so.2', 'not found']),
    # execve from a program with several threads is no longer an error: the other threads end, as
    # on Linux (tests/processes, procs.c's threadexec case, compares it with Linux).
]


def check_errors(args, root):
    ok = True
    for program, status, words, *arguments in ERROR_CASES:
        result = run_xos(args, root, [program] + (arguments[0] if arguments else ['argument']))
        problems = []
        if result.returncode != status:
            problems.append('status %d, expected %d' % (result.returncode, status))
        problems += ['stderr lacks %r' % w for w in words if w not in result.stderr]
        problems += ['a crash report' for w in ['backtrace', 'guest crashed', 'panic'] if w in result.stderr]
        if problems:
            ok = False
            print('%s: %s\n--- stderr\n%s--- stdout\n%s' % (program, '; '.join(problems), result.stderr, result.stdout))
        else:
            print('%s: status %d, %s' % (program, status, result.stderr.strip().splitlines()[0]))
    return ok


def check_cli(args, root):
    """xos-run's --rootfs/--platform parsing and the image it chooses (--dry-run: nothing starts)."""
    ok = True
    dry = subprocess.run([args.xos_run, '--dry-run', '--rootfs', root, '--platform', args.platform, '--',
                          '/bin/probe', 'x'], capture_output=True, text=True, timeout=TIMEOUT)
    if args.platform == 'kvm':
        wanted = ['xos-kernel.xos', 'readonly=on', 'xos.root=/.xos-rootfs ', 'xos.arg=/bin/probe',
                  'xos.share=xos0:ro:/.xos-rootfs']
    else:
        wanted = ['xos-kernel-hosted', 'XOS_SHARE_0=' + root + ':/.xos-rootfs:passthrough:ro', 'XOS_ROOT=/.xos-rootfs ',
                  'XOS_EXEC=wx', 'xos-kernel-hosted /bin/probe x']
    missing = [w for w in wanted if w not in dry.stdout + dry.stderr]
    if dry.returncode != 0 or missing:
        print('--dry-run: status %d, missing %s\n%s%s' % (dry.returncode, missing, dry.stdout, dry.stderr))
        ok = False
    # DIR:rw: a writable share, and the root without the overlay. DIR:ro: the share is writable
    # (libos makes the mount points), libos makes the root read-only.
    for suffix, kvm_words, hosted_words in [
            (':rw', (['xos.root=/.xos-rootfs:rw', 'path=' + root + ','], ['readonly=on']),
             (['XOS_ROOT=/.xos-rootfs:rw', 'XOS_SHARE_0=' + root + ':/.xos-rootfs:passthrough '], [':ro'])),
            (':ro', (['xos.root=/.xos-rootfs:ro', 'path=' + root + ','], ['readonly=on']),
             (['XOS_ROOT=/.xos-rootfs:ro', 'XOS_SHARE_0=' + root + ':/.xos-rootfs:passthrough '], ['passthrough:ro']))]:
        dry = subprocess.run([args.xos_run, '--dry-run', '--rootfs', root + suffix, '--platform', args.platform, '--',
                              '/bin/probe'], capture_output=True, text=True, timeout=TIMEOUT)
        wanted, unwanted = kvm_words if args.platform == 'kvm' else hosted_words
        output = dry.stdout + dry.stderr
        if dry.returncode != 0 or any(w not in output for w in wanted) or any(w in output for w in unwanted):
            print('--dry-run with DIR%s: status %d, wanted %s, not %s\n%s' % (suffix, dry.returncode, wanted, unwanted,
                                                                           output))
            ok = False
    for bad, words in [(['--rootfs', root, 'image.xos', '--', '/bin/probe'], 'give the program after --'),
                       (['--rootfs', root], 'no program to run'),
                       (['--rootfs', os.path.join(root, 'nothing'), '--', '/bin/probe'], 'not a directory'),
                       (['--platform', 'xen', '--rootfs', root, '--', '/bin/probe'], 'expected kvm or hosted')]:
        result = subprocess.run([args.xos_run, '--dry-run'] + bad, capture_output=True, text=True, timeout=TIMEOUT)
        if result.returncode != 125 or words not in result.stderr:
            print('%s: status %d (expected 125), stderr %r' % (' '.join(bad), result.returncode, result.stderr))
            ok = False
    if ok:
        print("xos-run --rootfs: the generic kernel, the read-only share and xos.root; usage errors exit 125")
    return ok


COREUTILS = [
    # command line (argv[0] is the program's path in the root), run with the root as cwd
    ['/usr/bin/ls', '-1', 'data'],
    ['/usr/bin/cat', 'data/input.txt'],
    ['/usr/bin/sha256sum', 'data/input.txt'],
    ['/usr/bin/sort', '-r', 'data/input.txt'],
]


def check_coreutils(args, root):
    """Debian's dynamic coreutils (glibc: ld.so maps libc.so.6 and the others with mmap(fd))."""
    for command in COREUTILS:
        copy_with_libraries(command[0], root, check=True)
    ok = True
    for command in COREUTILS:
        native = subprocess.run(command, cwd=root, env={'LC_ALL': 'C'}, capture_output=True, text=True,
                                timeout=TIMEOUT)
        xos = run_xos(args, root, command, ['LC_ALL=C'])
        if (native.returncode, native.stdout) != (xos.returncode, xos.stdout):
            ok = False
            print('%s: status %d on xos, %d natively\n--- native\n%s--- xos\n%s--- xos stderr\n%s' %
                  (' '.join(command), xos.returncode, native.returncode, native.stdout, xos.stdout, xos.stderr))
        else:
            print('%s: same stdout (%d lines) and status %d' % (' '.join(command), len(native.stdout.splitlines()),
                                                               xos.returncode))
    return ok


PYTHON3_SCRIPT = 'import json; print(json.dumps([1,2]))'


def check_python3(args, root):
    """Debian's python3 (ET_EXEC at 0x400000, dynamic glibc): json from its standard library."""
    python = os.path.realpath('/usr/bin/python3')  # Debian's (not whatever PATH finds): python3.11
    if not os.path.isfile(python):
        print('no /usr/bin/python3 on the host')
        return False
    if open(python, 'rb').read(18)[16] != 2:  # e_type
        print('note: %s is not ET_EXEC on this host; testing it anyway' % python)
    copy_with_libraries(python, root, check=True)
    library = os.path.join('/usr/lib', os.path.basename(python))
    # The pure-Python standard library json needs (encodings, codecs, json...), not all of it.
    target = os.path.join(root, library.lstrip('/'))
    shutil.copytree(library, target, symlinks=True,
                    ignore=shutil.ignore_patterns('test', 'tests', 'idlelib', 'tkinter', 'turtledemo', 'ensurepip',
                                                  'lib2to3', 'pydoc_data', 'site-packages', 'dist-packages',
                                                  '__pycache__', 'config-*'))
    command = [python, '-c', PYTHON3_SCRIPT]
    env = ['LC_ALL=C', 'PYTHONDONTWRITEBYTECODE=1']
    native = subprocess.run(command, cwd=root, env=dict(e.split('=', 1) for e in env), capture_output=True, text=True,
                            timeout=TIMEOUT)
    xos = run_xos(args, root, command, env)
    if native.returncode != 0 or native.stdout != '[1, 2]\n':
        print('python3 natively: status %d, stdout %r\n%s' % (native.returncode, native.stdout, native.stderr))
        return False
    if (xos.returncode, xos.stdout) != (native.returncode, native.stdout):
        print('python3 on xos: status %d, stdout %r (natively %r)\n--- xos stderr\n%s' %
              (xos.returncode, xos.stdout, native.stdout, xos.stderr))
        return False
    print('%s -c %r: same stdout %r and status 0 natively and on xos' % (python, PYTHON3_SCRIPT, xos.stdout))
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', choices=['kvm', 'hosted'], required=True)
    parser.add_argument('--probe', required=True)
    parser.add_argument('--low-address', required=True, help='a non-PIE linked below 64 KiB')
    parser.add_argument('--dynamic', required=True)
    parser.add_argument('--ldd', action='store_true', help='copy the libraries ldd names for the probe into the root')
    parser.add_argument('--interpreter', help='host file copied to the same path in the root (the probe\'s PT_INTERP)')
    parser.add_argument('case', choices=['probe', 'errors', 'cli', 'coreutils', 'python3'])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='xos-exec-') as work:
        root = make_root(args, work)
        ok = {'probe': check_probe, 'errors': check_errors, 'cli': check_cli,
              'coreutils': check_coreutils, 'python3': check_python3}[args.case](args, root)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
