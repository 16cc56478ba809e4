#!/usr/bin/env python3
"""A VM image larger than 32 MiB boots (platform/x86_64/paging.cpp maps the image with 2 MiB
pages except where a section boundary needs 4 KiB ones; it used to have page tables for the
first 32 MiB only and stopped at boot beyond that).

xos-build --exec /usr/bin/sha256sum (with what ldd names) --add a 40 MiB file of pseudo-random
bytes; the image must be larger than 32 MiB, and run on the VM it must print the file's SHA-256
as the host computes it and exit 0. The verdict is this script's exit status.
"""
import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from xostest import copy_with_libraries  # noqa: E402

BIG_FILE_BYTES = 40 << 20
PROGRAM = '/usr/bin/sha256sum'


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-build', required=True)
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', default='kvm')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='xos-big-image-') as work:
        root = os.path.join(work, 'root')
        copy_with_libraries(PROGRAM, root, check=True)
        big = os.path.join(work, 'big.bin')
        data = random.Random(20261207).randbytes(BIG_FILE_BYTES)
        with open(big, 'wb') as f:
            f.write(data)
        expected = hashlib.sha256(data).hexdigest()
        image = os.path.join(work, 'big.xos')
        built = subprocess.run([args.xos_build, '--platform', args.platform, '--exec', PROGRAM, '--rootfs', root,
                                '--add', big + ':/data/big.bin', '-o', image],
                               capture_output=True, text=True, timeout=600)
        if built.returncode != 0:
            print('FAIL: xos-build --exec: status %d\n%s%s' % (built.returncode, built.stdout, built.stderr))
            return 1
        size = os.path.getsize(image)
        if size <= 32 << 20:
            print('FAIL: the image is %d bytes, not larger than 32 MiB: it tests nothing' % size)
            return 1
        ran = subprocess.run([args.xos_run, '--platform', args.platform, '--mem', '512M', '--timeout', '400', image,
                              '--', '/data/big.bin'], capture_output=True, text=True, timeout=500)
        want = '%s  /data/big.bin\n' % expected
        if ran.returncode != 0 or ran.stdout != want:
            print('FAIL: %s (%d bytes) on %s: status %d, expected stdout %r\nstdout:\n%s\nstderr:\n%s' %
                  (image, size, args.platform, ran.returncode, want, ran.stdout, ran.stderr[-4000:]))
            return 1
        print('ok: a %d MiB image booted and hashed its %d MiB file: %s' % (size >> 20, BIG_FILE_BYTES >> 20,
                                                                             expected))
        return 0


if __name__ == '__main__':
    sys.exit(main())
