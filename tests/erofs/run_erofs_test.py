#!/usr/bin/env python3
"""xos-run --root-image (issue 14 part 3's acceptance): Debian's own programs run from an EROFS
image of the Debian test root (tests/debian/make_rootfs.sh; the image made once by
tests/erofs/make_image.sh, cached next to the root) on the VM (a read-only virtio-blk disk) and on
hosted (the file opened read-only), compared with the same programs run natively in a chroot of
the root (tests/debian/run_debian_test.py's runner: same stdout, same status).

  coreutils: ls -la, sort, sha256sum, date (as tests/debian)
  python:    python3 -c with json, and program.py (json, sqlite3, threads, a TCP echo)
  sqlite:    the sqlite3 shell
  overlay:   the root is writable in memory over the image: writes, copy-up, unlink and rename
             of image files, /dev, /proc and a sticky /tmp inside (checked from a shell script
             in the guest; exit 0 and "overlay ok" wanted); the image file is unchanged after
  corrupt:   a damaged image (bad superblock checksum; a truncated one) and a file that is not
             EROFS: xos-run exits non-zero, and the guest said why (the EROFS log line); an
             LZ4-compressed image whose data block is damaged: the read fails (EIO, the
             reader's log line), the undamaged image gives the file

The verdict is the exit status: 0 pass, 1 fail, 77 skipped (not root: no Debian root here).
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'debian'))
import run_debian_test as debian  # noqa: E402


class ImageRunner(debian.Runner):
    """The runner of tests/debian with the root given as --root-image."""

    def __init__(self, args, root, work, image):
        super().__init__(args, root, work)
        self.image = image

    def share_path(self):
        return debian.WORK  # libos's overlay root mounts the shares inside it

    def native_command(self, program_args):
        """The program in a chroot of Linux's own mount of the same image (its erofs driver, on a
        loop device, in a mount namespace of its own), with the work directory bind-mounted at
        /xos-test: what ls -la shows (directory sizes, st_blocks) is EROFS's, on both sides."""
        if not self.args.linux_erofs:
            return super().native_command(program_args)
        script = ('mount -t erofs -o ro,loop "$1" "$3" && mount --bind "$2" "$3/xos-test" && shift 3 && '
                  'exec "$@"')
        return (['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', self.image, self.work,
                 self.args.mount_point, 'env', '-i'] + ['%s=%s' % kv for kv in debian.ENV.items()] +
                ['chroot', self.args.mount_point] + program_args)

    def xos_command(self, program_args, ports=()):
        command = [self.args.xos_run, '--root-image', self.image, '--platform', self.args.platform,
                   '--timeout', str(debian.TIMEOUT - 60), '--mem', '1G',
                   '--share', self.work + ':' + debian.WORK]
        for key, value in debian.ENV.items():
            command += ['--env', '%s=%s' % (key, value)]
        return command + ['--'] + program_args


OVERLAY_SCRIPT = r'''
set -e
echo written > /usr/share/new-file
test "$(cat /usr/share/new-file)" = written
echo appended >> /etc/hostname
test "$(tail -n 1 /etc/hostname)" = appended
rm /usr/bin/sort
test ! -e /usr/bin/sort
mv /etc/debian_version /etc/moved
test -e /etc/moved && test ! -e /etc/debian_version
mkdir -p /opt/made/deeper && echo deep > /opt/made/deeper/file
rm -r /usr/share/doc
test ! -e /usr/share/doc
ls / > /dev/null
test -c /dev/null && test -d /proc/self && test -k /tmp && test -w /tmp
echo tmp > /tmp/file && test "$(cat /tmp/file)" = tmp
echo overlay ok
'''


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def check_overlay(runner):
    before = sha256(runner.image)
    xos = runner.xos(['/bin/sh', '-c', OVERLAY_SCRIPT])
    ok = xos.returncode == 0 and xos.stdout == b'overlay ok\n'
    print('overlay: status %d, stdout %r' % (xos.returncode, xos.stdout))
    if not ok:
        print('--- xos stderr\n' + debian.show(xos.stderr))
    # A second run sees the image as it was: the writes stayed in the first run's memory.
    again = runner.xos(['/bin/sh', '-c', 'test -e /usr/bin/sort && test ! -e /usr/share/new-file && echo fresh'])
    print('second run: status %d, stdout %r' % (again.returncode, again.stdout))
    ok = ok and again.returncode == 0 and again.stdout == b'fresh\n'
    if sha256(runner.image) != before:
        print('the image file changed')
        ok = False
    return ok


def check_corrupt(runner):
    ok = True
    with tempfile.TemporaryDirectory(prefix='xos-erofs-bad-') as scratch:
        tree = os.path.join(scratch, 'tree')
        os.makedirs(os.path.join(tree, 'bin'))
        good = os.path.join(scratch, 'good.erofs')
        subprocess.run(['mkfs.erofs', '--quiet', good, tree], check=True)
        with open(good, 'rb') as f:
            data = bytearray(f.read())
        bad_checksum = bytearray(data)
        bad_checksum[1024 + 64] ^= 1  # the volume name, under the superblock checksum
        cases = [('bad checksum', bytes(bad_checksum), 'checksum'),
                 ('truncated', bytes(data[:len(data) - 4096] if len(data) > 8192 else data[:2048]), 'truncated'),
                 ('not EROFS', bytes(8192), 'not an EROFS image')]
        for name, content, said in cases:
            path = os.path.join(scratch, name.replace(' ', '-') + '.erofs')
            with open(path, 'wb') as f:
                f.write(content)
            result = subprocess.run([runner.args.xos_run, '--root-image', path, '--platform', runner.args.platform,
                                     '--timeout', '120', '--', '/bin/true'],
                                    stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
            stderr = debian.show(result.stderr) + debian.show(result.stdout)
            good_case = result.returncode != 0 and said in stderr and 'EROFS image' in stderr
            print('%s: status %d, %s' % (name, result.returncode,
                                         'said why' if good_case else 'UNEXPECTED:\n' + stderr))
            ok = ok and good_case
    return ok and check_corrupt_compressed(runner)


LZ4_MARKER = b'xos-lz4-damage-marker '


def check_corrupt_compressed(runner):
    """An LZ4-compressed image (busybox and a compressible file): read whole, then with the
    file's first compressed block overwritten (0xff: an LZ4 stream whose lengths run past its
    end). The damaged read fails with EIO and the reader's log line names the inode, and the
    program exits non-zero; the undamaged one gives the file."""
    with tempfile.TemporaryDirectory(prefix='xos-erofs-lz4-') as scratch:
        tree = os.path.join(scratch, 'tree')
        os.makedirs(os.path.join(tree, 'bin'))
        os.makedirs(os.path.join(tree, 'data'))
        shutil.copy2(os.path.join(runner.root, 'bin/busybox'), os.path.join(tree, 'bin/busybox'))
        content = b''.join(LZ4_MARKER + b'%06d\n' % i for i in range(4000))
        with open(os.path.join(tree, 'data/file'), 'wb') as f:
            f.write(content)
        good = os.path.join(scratch, 'good.erofs')
        subprocess.run(['mkfs.erofs', '--quiet', '-zlz4', good, tree], check=True)
        with open(good, 'rb') as f:
            data = bytearray(f.read())
        at = data.find(LZ4_MARKER)
        if at < 0:
            print('corrupt lz4: the marker is not in the image (not compressed as expected?)')
            return False
        damaged = bytearray(data)
        block = at // 4096 * 4096
        damaged[block:block + 4096] = b'\xff' * 4096
        bad = os.path.join(scratch, 'bad.erofs')
        with open(bad, 'wb') as f:
            f.write(damaged)
        ok = True
        for name, path, want_good in (('lz4 image', good, True), ('damaged lz4 data', bad, False)):
            result = subprocess.run([runner.args.xos_run, '--root-image', path, '--platform', runner.args.platform,
                                     '--timeout', '120', '--', '/bin/busybox', 'cat', '/data/file'],
                                    stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
            stderr = debian.show(result.stderr)  # the guest's log lines (the console)
            if want_good:
                good_case = result.returncode == 0 and result.stdout == content
            else:
                good_case = (result.returncode != 0 and 'does not decompress' in stderr and
                             result.stdout != content)
            print('%s (block %d): status %d, %d bytes out, %s' % (
                name, block // 4096, result.returncode, len(result.stdout),
                'as expected' if good_case else 'UNEXPECTED:\n' + stderr[-3000:]))
            ok = ok and good_case
    return ok


def check_python(runner):
    shutil.copy(runner.args.python_script, os.path.join(runner.work, 'program.py'))
    return debian.run_cases(runner, [
        ('python3 -c json', ['/usr/bin/python3', '-c',
                             'import json, sys; print(json.dumps({"argv": sys.argv[1:], "n": 6 * 7}))', 'a b', 'c']),
        ('python3 -c sqlite3', ['/usr/bin/python3', '-c',
                                'import sqlite3; c = sqlite3.connect(":memory:"); '
                                'c.execute("create table t (x)"); c.executemany("insert into t values (?)", '
                                '[(i,) for i in range(100)]); print(c.execute("select sum(x) from t").fetchone())']),
        ('python3 program.py', ['/usr/bin/python3', debian.WORK + '/program.py', debian.WORK]),
    ])


CASES = {
    'coreutils': debian.check_coreutils,
    'python': check_python,
    'sqlite': debian.check_sqlite,
    'overlay': check_overlay,
    'corrupt': check_corrupt,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', choices=['kvm', 'hosted'], required=True)
    parser.add_argument('--make-rootfs', required=True, help='tests/debian/make_rootfs.sh')
    parser.add_argument('--make-image', required=True, help='tests/erofs/make_image.sh')
    parser.add_argument('--python-script')
    parser.add_argument('case', choices=sorted(CASES))
    args = parser.parse_args()
    # The fields tests/debian's runner reads.
    args.python_pie = None
    args.go_httpd = None
    if os.geteuid() != 0:
        print('skipped: the Debian test root and the native chroot need root')
        return 77
    made = subprocess.run([args.make_image, args.make_rootfs], stdout=subprocess.PIPE, text=True)
    if made.returncode != 0:
        print('tests/erofs/make_image.sh failed (status %d)' % made.returncode)
        return 1
    image = made.stdout.strip().splitlines()[-1]
    root = os.path.join(os.path.dirname(image), 'root')
    with tempfile.TemporaryDirectory(prefix='xos-erofs-') as work, \
            tempfile.TemporaryDirectory(prefix='xos-erofs-mnt-') as mount_point:
        os.chmod(work, 0o777)
        args.mount_point = mount_point
        # Linux's erofs driver is the reference where the kernel has it (a loop mount works in a
        # private mount namespace as root); else the directory the image was made from (what
        # differs then: directory sizes, as ls -la shows them).
        probe = subprocess.run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
                                'mount -t erofs -o ro,loop "$1" "$2" && test -d "$2/xos-test"', 'sh', image,
                                mount_point], capture_output=True, timeout=120)
        args.linux_erofs = probe.returncode == 0
        if not args.linux_erofs:
            print('note: Linux cannot mount the image here (%s): the native runs use the directory'
                  % debian.show(probe.stderr).strip())
        try:
            ok = CASES[args.case](ImageRunner(args, root, work, image))
        except debian.NeedsEtExec:
            print('skipped: xos refuses non-PIE (ET_EXEC) executables here')
            return 77
    print('PASS' if ok else 'FAIL')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
