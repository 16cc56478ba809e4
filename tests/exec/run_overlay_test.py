#!/usr/bin/env python3
"""The program's root under xos-run --rootfs (libos/fs/overlay, libos/fs/boot.cpp).

overlay_probe.c runs in a root made here (no /dev, /proc or /tmp in it):
  write:  create, append, truncate, rename, unlink, mkdir/rmdir, chmod, utimens, link, mmap of a
          lower file, the merged listing, unlinking while listing (rm -r); /dev/null,
          /proc/self/exe, /tmp, getcwd, statfs
  full:   with --rootfs-size 4M, writes end with ENOSPC
  erofs:  --share ROOT:/ro:passthrough:ro refuses every change with EROFS (hosted: and says ro);
          a share below /tmp is there (the program's /tmp is made before the shares move)
  rw:     --rootfs ROOT:rw writes to the host directory itself
The host directory must be byte for byte the same after the read-only runs (a digest of every
path, type, mode, size, mtime and content). With --native, the same probe first runs on Linux
over overlayfs (the root as the lower layer, in a user and mount namespace) and must pass there.

The verdict is the exit status of this script (0: all cases passed).
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

TIMEOUT = 180


def make_root(probe, work):
    root = os.path.join(work, 'root')
    data = os.path.join(root, 'data')
    for directory in ['bin', 'data/dir-full', 'data/dir-empty', 'data/dir-lower']:
        os.makedirs(os.path.join(root, directory))
    shutil.copy(probe, os.path.join(root, 'bin', 'overlay-probe'))
    files = {
        'input.txt': 'first line of the input\n' + ''.join('line %d\n' % i for i in range(500)),
        'keep.txt': 'keep\n',
        'trunc.txt': 'a longer text that O_TRUNC replaces\n',
        'rename-me': 'rename me\n',
        'remove-me': 'remove me\n',
        'chmod-me': 'chmod me\n',
        'utime-me': 'utime me\n',
        'dir-full/a': 'a\n',
        'dir-full/b': 'b\n',
        'dir-lower/inner': 'inner\n',
    }
    for name, text in files.items():
        with open(os.path.join(data, name), 'w') as f:
            f.write(text)
    os.makedirs(os.path.join(data, 'many'))
    for i in range(600):  # more than one getdents64 buffer of names
        with open(os.path.join(data, 'many', 'entry-with-a-longish-name-%04d' % i), 'w') as f:
            f.write('%d\n' % i)
    with open(os.path.join(data, 'mapped.bin'), 'wb') as f:
        f.write(bytes((i * 7) & 0xff for i in range(8192)))
    return root


def digest(root):
    """Every path below root with its type, mode, size, mtime and content."""
    h = hashlib.sha256()
    for directory, subdirs, names in os.walk(root):
        subdirs.sort()
        for name in sorted(subdirs + names):
            path = os.path.join(directory, name)
            st = os.lstat(path)
            h.update(('%s %o %d %d\n' % (os.path.relpath(path, root), st.st_mode, st.st_size, st.st_mtime_ns)).encode())
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as f:
                    h.update(f.read())
        h.update(('%s %d\n' % (directory, os.lstat(directory).st_mtime_ns)).encode())
    return h.hexdigest()


def run_xos(args, rootfs, program_args, extra=()):
    command = [args.xos_run, '--rootfs', rootfs, '--platform', args.platform, '--timeout', '150', *extra,
               '--', '/bin/overlay-probe', *program_args]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)


def report(name, result):
    if result.returncode == 0:
        print('%s: passed (%s)' % (name, result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ''))
        return True
    print('%s: status %d\n--- stdout\n%s--- stderr\n%s' % (name, result.returncode, result.stdout, result.stderr))
    return False


def run_native(root, work):
    """The probe on Linux over overlayfs, chrooted into the merged directory."""
    upper, workdir, merged = (os.path.join(work, d) for d in ('upper', 'work', 'merged'))
    for d in (upper, workdir, merged):
        os.makedirs(d)
    script = ('mount -t overlay overlay -o userxattr,lowerdir=%s,upperdir=%s,workdir=%s %s && '
              'exec chroot %s /bin/overlay-probe native' % (root, upper, workdir, merged, merged))
    return subprocess.run(['unshare', '--map-root-user', '--mount', 'sh', '-c', script], capture_output=True,
                          text=True, timeout=TIMEOUT)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', choices=['kvm', 'hosted'], required=True)
    parser.add_argument('--probe', required=True)
    parser.add_argument('--native', action='store_true', help='also run the probe over Linux overlayfs')
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix='xos-overlay-') as work:
        root = make_root(args.probe, work)
        before = digest(root)
        if args.native:
            native = run_native(root, os.path.join(work, 'native'))
            if native.returncode != 0 and 'mount' in native.stderr and 'overlay-probe' not in native.stdout:
                print('native: overlayfs not available here, skipped: %s' % native.stderr.strip())
            else:
                ok &= report('native (Linux overlayfs)', native)
        ok &= report('write', run_xos(args, root, ['write']))
        ok &= report('full', run_xos(args, root, ['full'], ['--rootfs-size', '4M']))
        ok &= report('erofs', run_xos(args, root, ['erofs', 'hostfs' if args.platform == 'hosted' else '9p'],
                                      ['--share', root + ':/ro:passthrough:ro',
                                       '--share', root + ':/tmp/shared:passthrough:ro']))
        after = digest(root)
        if after != before:
            print('the host directory changed under the read-only root')
            ok = False
        else:
            print('the host directory is unchanged (sha256 %s...)' % before[:16])
        # :rw writes through: the program's new file is on the host afterwards.
        rw = run_xos(args, root + ':rw', ['rw'])
        created = os.path.join(root, 'data', 'written-through')
        if rw.returncode != 0 or not os.path.exists(created) or open(created).read() != 'rw\n':
            print('rw: status %d, file %s\n--- stdout\n%s--- stderr\n%s' %
                  (rw.returncode, 'present' if os.path.exists(created) else 'missing', rw.stdout, rw.stderr))
            ok = False
        else:
            print('rw: the program\'s file reached the host directory')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
