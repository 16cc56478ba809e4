#!/usr/bin/env python3
"""Container images in, xos images out (issue 14's acceptance), with no registry: images are
made here from Debian packages and packed by podman (Debian's podman with runc; `podman build
--isolation chroot`, `podman import`, `podman save` in each format), then built with
`xos-build --from-image` and run with xos-run, and compared with what podman itself does.

  layers   (no VM) images with whiteouts, opaque directories, hard links, symlinks, setuid
           files and owners, saved as docker-archive, OCI archive and OCI layout: the tree
           xos-image unpacks equals the one `podman export` gives (names, types, modes,
           owners, link targets, hard-link groups, file hashes); xos-build twice gives the
           same bytes; the EROFS file holds the same tree (fsck.erofs --extract) with each
           --compress (none, lz4, lz4hc); --keep-root keeps OUT.root/, nothing else does; a
           truncated archive, an arm64 image and an unknown compression are clear errors.
  shell    a busybox image whose Entrypoint is a shell: its output (Env, WorkingDir, User,
           groups, HOME, arguments) on xos equals `podman run`'s, with the image's config and
           with --env/--workdir/--user/--entrypoint/arguments overriding it; exit statuses too.
  python   Debian's python3 from an image of the Debian test root, as a named user (nobody),
           compared with `podman run`.
  redis    redis-server from the same image answering the host's redis-cli through -p.
  nginx    Debian's nginx (a layer of nginx's .debs over the Debian root, EXPOSE 8080, its
           Cmd) answering curl through -p with the image's own index.html.
  tree     the Debian image's root (LZ4-compressed EROFS, the default) walked by python3 in the
           guest equals the tree xos-image unpacks (paths, modes, owners, file hashes).

Podman's images and archives are cached in ~/.cache/xos/oci-images-<key> (key: this script,
the Debian root's stamp, the nginx packages' versions); the xos images built from the big
archives in ~/.cache/xos/oci-xos-<key> (key: also xos-build and the generic kernels), so a
second run only boots. Exit status: 0 pass, 1 fail, 77 skipped (not root, or podman missing).
"""
import argparse
import hashlib
import inspect
import json
import os
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from xostest import Locked, apt_candidate, cache_root  # noqa: E402

TIMEOUT = 600
PODMAN_RUN = ['podman', 'run', '--rm', '--runtime', 'runc', '--network', 'none',
              # runc cannot lower these inside this machine's container; crun refuses hybrid cgroups
              '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024']
TAG = 'localhost/xos-oci-test'

failures = []


def log(*parts):
    print(*parts, flush=True)


def fail(message):
    failures.append(message)
    log('FAIL:', message)


def run(command, **kwargs):
    kwargs.setdefault('timeout', TIMEOUT)
    kwargs.setdefault('check', True)
    return subprocess.run(command, **kwargs)


def file_digest(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


# --- the images ---------------------------------------------------------------------------

SMALL_APPLETS = ['sh', 'echo', 'pwd', 'id', 'env', 'cat', 'ls', 'rm', 'mkdir', 'ln', 'chmod', 'chown', 'true',
                 'sort', 'printf']

SHELL_CONTAINERFILE = '''FROM {base}
COPY etc/ /etc/
COPY srv/ /srv/
ENV GREETING=hello FROM_IMAGE=1
WORKDIR /srv
USER app
ENTRYPOINT ["/bin/sh", "-c", "echo \\"args=$0 $*\\"; echo \\"pwd=$(pwd)\\"; echo \\"ids=$(id -u):$(id -g) groups=$(id -G)\\"; echo \\"home=$HOME greeting=$GREETING from_image=$FROM_IMAGE extra=$EXTRA path=$PATH\\"; cat /srv/hello.txt", "first"]
CMD ["second", "third"]
EXPOSE 8080/tcp
STOPSIGNAL SIGQUIT
'''

# Layer semantics: each RUN is one layer; rm makes whiteouts, a recreated directory an opaque one.
LAYERS_CONTAINERFILE = '''FROM {base}
COPY tree/ /data/
RUN rm /data/gone.txt && rm -rf /data/gone-dir && rm -rf /data/opaque && mkdir /data/opaque && \\
    echo new > /data/opaque/new.txt && ln /data/keep.txt /data/hard.txt && ln -s ../data/keep.txt /data/sym && \\
    chmod 4755 /data/keep.txt && chown 1000:1000 /data/owned.txt && chmod 0600 /data/owned.txt
RUN rm /data/owned.txt && echo back > /data/owned.txt && echo replaced > /data/sym2 && mkdir -p /data/deep/er && echo d > /data/deep/er/f
'''


def make_small_context(debian_root, context):
    """A busybox root (busybox-static from the Debian root) with an `app` user in two groups."""
    root = os.path.join(context, 'root')
    os.makedirs(os.path.join(root, 'bin'))
    for d in ('tmp', 'etc', 'root', 'home/app'):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    os.chmod(os.path.join(root, 'tmp'), 0o1777)
    shutil.copy2(os.path.join(debian_root, 'bin/busybox'), os.path.join(root, 'bin/busybox'))
    for applet in SMALL_APPLETS:
        os.symlink('busybox', os.path.join(root, 'bin', applet))
    run(['tar', '-C', root, '--numeric-owner', '-cf', os.path.join(context, 'small.tar'), '.'])
    etc = os.path.join(context, 'etc')
    os.makedirs(etc)
    with open(os.path.join(etc, 'passwd'), 'w') as f:
        f.write('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n')
    with open(os.path.join(etc, 'group'), 'w') as f:
        f.write('root:x:0:\napp:x:1000:\nstaff:x:50:app\n')
    srv = os.path.join(context, 'srv')
    os.makedirs(srv)
    with open(os.path.join(srv, 'hello.txt'), 'w') as f:
        f.write('hello from the image\n')
    tree = os.path.join(context, 'tree')
    for d in ('gone-dir/sub', 'opaque/sub'):
        os.makedirs(os.path.join(tree, d))
    for name, text in (('keep.txt', 'keep\n'), ('gone.txt', 'gone\n'), ('owned.txt', 'owned\n'),
                       ('gone-dir/sub/f', 'f\n'), ('opaque/old.txt', 'old\n'), ('opaque/sub/old', 'old\n')):
        with open(os.path.join(tree, name), 'w') as f:
            f.write(text)


NGINX_INDEX = b'<html><body>nginx in an OCI image on xos</body></html>\n'


def nginx_context(context, debs):
    """nginx's and nginx-common's files (dpkg-deb -x) and a configuration for one process."""
    files = os.path.join(context, 'nginx')
    os.makedirs(files)
    for deb in debs:
        run(['dpkg-deb', '-x', deb, files])
    # The Debian root is merged-/usr (/lib -> usr/lib): a lib/ directory in the layer would
    # replace that symlink (podman does the same), so the files go below usr/ as dpkg would put them.
    for top in ('bin', 'sbin', 'lib', 'lib64'):
        if os.path.isdir(os.path.join(files, top)):
            run(['cp', '-a', os.path.join(files, top) + '/.', os.path.join(files, 'usr', top)])
            shutil.rmtree(os.path.join(files, top))
    with open(os.path.join(files, 'etc/nginx/xos.conf'), 'w') as f:
        f.write('''daemon off;
master_process off;
worker_processes 1;
error_log stderr;
pid /tmp/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path /tmp/body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    include /etc/nginx/mime.types;
    server {
        listen 8080;
        root /var/www/html;
        index index.html;
    }
}
''')
    os.makedirs(os.path.join(files, 'var/www/html'), exist_ok=True)
    os.makedirs(os.path.join(files, 'var/log/nginx'), exist_ok=True)
    with open(os.path.join(files, 'var/www/html/index.html'), 'wb') as f:
        f.write(NGINX_INDEX)
    with open(os.path.join(context, 'Containerfile.nginx'), 'w') as f:
        f.write('FROM %s:debian\nCOPY nginx/ /\nEXPOSE 8080\nSTOPSIGNAL SIGQUIT\n'
                'CMD ["nginx", "-c", "/etc/nginx/xos.conf"]\n' % TAG)


def nginx_debs(work):
    run(['apt-get', 'download', 'nginx', 'nginx-common'], cwd=work, capture_output=True)
    return sorted(os.path.join(work, f) for f in os.listdir(work) if f.endswith('.deb'))


def podman(*args, **kwargs):
    kwargs.setdefault('capture_output', True)
    return run(['podman'] + list(args), **kwargs)


def remove_stale(directory, prefix, keep):
    """Removes the cache entries PREFIX* in DIRECTORY other than KEEP (made from older inputs)."""
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if name.startswith(prefix) and not name.endswith('.lock') and path != keep and os.path.isdir(path):
            with Locked(path):
                shutil.rmtree(path, ignore_errors=True)
            try:
                os.unlink(path + '.lock')
            except OSError:
                pass


def make_images(debian_root, stamp):
    """Makes (or finds in the cache) the podman images and their archives; returns the directory."""
    # Keyed by what makes them (not the whole script, so editing a check does not remake them).
    makers = [make_images, make_small_context, nginx_context, nginx_debs]
    key_source = (''.join(inspect.getsource(f) for f in makers) + SHELL_CONTAINERFILE + LAYERS_CONTAINERFILE +
                  ' '.join(SMALL_APPLETS) + stamp + apt_candidate('nginx')).encode()
    key = hashlib.sha256(key_source).hexdigest()[:16]
    out = os.path.join(cache_root(), 'oci-images-' + key)
    os.makedirs(cache_root(), exist_ok=True)
    with Locked(out):
        have_tags = podman('images', '--format', '{{.Repository}}:{{.Tag}}', check=False, text=True).stdout
        if os.path.exists(os.path.join(out, 'stamp')) and '%s:shell-%s' % (TAG, key) in have_tags:
            return out, key
        shutil.rmtree(out, ignore_errors=True)
        remove_stale(cache_root(), 'oci-images-', out)
        for tag in have_tags.split():
            if tag.startswith(TAG + ':') and '-' in tag.split(':')[1] and not tag.endswith('-' + key):
                podman('rmi', tag, check=False)
        os.makedirs(out)
        with tempfile.TemporaryDirectory(dir=cache_root()) as context:
            log('making the test images (podman; cached in %s)' % out)
            make_small_context(debian_root, context)
            podman('import', os.path.join(context, 'small.tar'), '%s:small' % TAG)
            with open(os.path.join(context, 'Containerfile.shell'), 'w') as f:
                f.write(SHELL_CONTAINERFILE.format(base=TAG + ':small'))
            with open(os.path.join(context, 'Containerfile.layers'), 'w') as f:
                f.write(LAYERS_CONTAINERFILE.format(base=TAG + ':small'))
            for name in ('shell', 'layers'):
                podman('build', '--isolation', 'chroot', '-f', os.path.join(context, 'Containerfile.' + name),
                       '-t', '%s:%s-%s' % (TAG, name, key), context)
            # The Debian test root as one layer, with a config of its own.
            run(['tar', '-C', debian_root, '--numeric-owner', '--exclude=./xos-test', '-cf',
                 os.path.join(context, 'debian.tar'), '.'])
            podman('import', '--change', 'ENV LC_ALL=C', '--change', 'WORKDIR /tmp',
                   '--change', 'CMD ["/usr/bin/python3", "-c", "print(6 * 7)"]',
                   os.path.join(context, 'debian.tar'), '%s:debian' % TAG)
            os.unlink(os.path.join(context, 'debian.tar'))
            debs = nginx_debs(context)
            nginx_context(context, debs)
            podman('build', '--isolation', 'chroot', '-f', os.path.join(context, 'Containerfile.nginx'),
                   '-t', '%s:nginx-%s' % (TAG, key), context)
            podman('tag', '%s:debian' % TAG, '%s:debian-%s' % (TAG, key))
            # An arm64 image (for the platform error): the small root with another architecture.
            podman('import', '--arch', 'arm64', os.path.join(context, 'small.tar'), '%s:arm64' % TAG)
            for name, fmt, path in (('shell', 'docker-archive', 'shell.docker.tar'),
                                    ('layers', 'docker-archive', 'layers.docker.tar'),
                                    ('layers', 'oci-archive', 'layers.oci.tar'),
                                    ('layers', 'oci-dir', 'layers.oci'),
                                    ('debian', 'oci-archive', 'debian.oci.tar'),
                                    ('nginx', 'oci-archive', 'nginx.oci.tar')):
                podman('save', '--format', fmt, '-o', os.path.join(out, path), '%s:%s-%s' % (TAG, name, key))
            podman('save', '--format', 'oci-archive', '-o', os.path.join(out, 'arm64.oci.tar'), '%s:arm64' % TAG)
        with open(os.path.join(out, 'stamp'), 'w') as f:
            f.write(key + '\n')
    return out, key


# --- comparing trees ------------------------------------------------------------------------

def read_json(path):
    with open(path) as f:
        return json.load(f)


def erofs_compressed(path):
    """Whether the EROFS file's superblock has the LZ4 zero-padding feature mkfs.erofs sets on a
    compressed image (feature_incompat, le32 at 80 in the superblock at 1024)."""
    with open(path, 'rb') as f:
        f.seek(1024)
        superblock = f.read(128)
    if superblock[:4] != bytes.fromhex('e2e1f5e0'):
        fail('%s: not an EROFS image' % path)
        return None
    return bool(int.from_bytes(superblock[80:84], 'little') & 0x01)


def tree_listing(root, skip=(), mode_mask=0o7777):
    """{path: (type, mode, uid, gid, link target or content hash)} and the hard-link groups."""
    entries = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if rel.split('/')[0] in skip:
                continue
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                what = ('link', os.readlink(full))
            elif stat.S_ISREG(st.st_mode):
                what = ('file', file_digest(full))
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISDIR(st.st_mode):
                what = ('dir', '')
            else:
                what = ('other', '%o' % stat.S_IFMT(st.st_mode))
            entries[rel] = what + (oct(stat.S_IMODE(st.st_mode) & mode_mask), st.st_uid, st.st_gid)
    groups = sorted(sorted(g) for g in inodes.values() if len(g) > 1)
    return entries, groups


def compare_trees(name, reference, candidate, skip=(), mode_mask=0o7777, hard_links=True):
    ref, ref_groups = tree_listing(reference, skip, mode_mask)
    got, got_groups = tree_listing(candidate, skip, mode_mask)
    if not hard_links:
        ref_groups = got_groups = []
    if ref == got and ref_groups == got_groups:
        log('ok: %s: %d entries, %d hard-link groups' % (name, len(ref), len(ref_groups)))
        return
    for path in sorted(set(ref) | set(got)):
        if ref.get(path) != got.get(path):
            log('  %s: podman %s, xos %s' % (path, ref.get(path), got.get(path)))
    if ref_groups != got_groups:
        log('  hard links: podman %s, xos %s' % (ref_groups, got_groups))
    fail('%s: the trees differ' % name)


def podman_tree(image, into):
    """What podman itself makes of the image: `podman export` of a container of it."""
    container = podman('create', image, '/bin/true', text=True).stdout.strip()
    try:
        export = subprocess.Popen(['podman', 'export', container], stdout=subprocess.PIPE)
        run(['tar', '-C', into, '--numeric-owner', '-xpf', '-'], stdin=export.stdout)
        export.wait(timeout=TIMEOUT)
    finally:
        podman('rm', container, check=False)


# --- the cases ------------------------------------------------------------------------------

def check_layers(args, images, key, work):
    # Nothing is left out: podman export of a container that never ran is the image's tree.
    runtime_files = ()
    reference = os.path.join(work, 'podman')
    os.makedirs(reference)
    podman_tree('%s:layers-%s' % (TAG, key), reference)
    for path in ('layers.docker.tar', 'layers.oci.tar', 'layers.oci'):
        tree = os.path.join(work, 'unpacked-' + path)
        run([args.xos_image, 'unpack', os.path.join(images, path), tree])
        compare_trees('xos-image unpack %s vs podman export' % path, reference, tree, skip=runtime_files)
        data = os.path.join(tree, 'data')
        expected_gone = ('gone.txt', 'gone-dir', 'opaque/old.txt', 'opaque/sub')
        if any(os.path.lexists(os.path.join(data, p)) for p in expected_gone) or \
                not os.path.exists(os.path.join(data, 'opaque/new.txt')):
            fail('%s: whiteouts or the opaque directory were not applied' % path)

    # Reproducible: two builds of the same image, same bytes (LZ4-compressed by default).
    unpacked = os.path.join(work, 'unpacked-layers.oci.tar')
    outputs = []
    for n in (1, 2):
        out = os.path.join(work, 'build%d' % n, 'layers.xos')
        run([args.xos_build, '--from-image', os.path.join(images, 'layers.oci.tar'), '--platform', args.platform,
             '-o', out])
        outputs.append(out)
    for suffix in ('', '.erofs', '.json'):
        if file_digest(outputs[0] + suffix) != file_digest(outputs[1] + suffix):
            fail('two builds of the same image differ in layers.xos%s' % suffix)
    log('ok: two builds give byte-identical .xos, .erofs and .json')
    # The tree is not kept unless asked for (nothing reads it at run time).
    if os.path.lexists(outputs[0] + '.root') or 'root_dir' in read_json(outputs[0] + '.json'):
        fail('xos-build --from-image without --keep-root left layers.xos.root or named it')
    # Each compression: the EROFS file holds the unpacked tree (fsck.erofs checks and extracts it),
    # and says in its superblock whether its data is compressed.
    for compression in ('none', 'lz4', 'lz4hc'):
        out = os.path.join(work, 'compress-' + compression, 'layers.xos')
        run([args.xos_build, '--from-image', os.path.join(images, 'layers.oci.tar'), '--platform', args.platform,
             '--compress', compression, '-o', out])
        compressed = erofs_compressed(out + '.erofs')
        if compressed != (compression != 'none'):
            fail('--compress %s: the superblock says compressed=%s' % (compression, compressed))
        if compression == 'lz4' and file_digest(out + '.erofs') != file_digest(outputs[0] + '.erofs'):
            fail('--compress lz4 differs from the default build (lz4)')
        extracted = os.path.join(work, 'erofs-extracted-' + compression)
        run(['fsck.erofs', '--extract=' + extracted, out + '.erofs'], capture_output=True)
        # fsck.erofs 1.5 extracts without setuid/setgid/sticky bits and copies hard links (the EROFS
        # inodes have them: dump.erofs/the reader see them), so those two are not compared here.
        compare_trees('the EROFS root (%s, %d bytes) vs the unpacked tree' % (compression, os.path.getsize(
            out + '.erofs')), unpacked, extracted, mode_mask=0o777, hard_links=False)
    # --keep-root keeps the tree as OUT.root/ and names it; a later build without it removes it.
    kept = os.path.join(work, 'kept', 'layers.xos')
    run([args.xos_build, '--from-image', os.path.join(images, 'layers.oci.tar'), '--platform', args.platform,
         '--keep-root', '-o', kept])
    compare_trees('--keep-root: layers.xos.root vs the unpacked tree', unpacked, kept + '.root')
    if read_json(kept + '.json').get('root_dir') != 'layers.xos.root':
        fail('--keep-root: the description does not name layers.xos.root')
    run([args.xos_build, '--from-image', os.path.join(images, 'layers.oci.tar'), '--platform', args.platform,
         '-o', kept])
    if os.path.lexists(kept + '.root'):
        fail('a build without --keep-root left the previous build\'s layers.xos.root')
    else:
        log('ok: --keep-root keeps the tree; a build without it removes the stale one')
    result = run([args.xos_build, '--from-image', os.path.join(images, 'layers.oci.tar'), '--compress', 'zstd',
                  '-o', os.path.join(work, 'bad.xos')], check=False, capture_output=True, text=True)
    if result.returncode == 0 or '--compress' not in result.stderr:
        fail('--compress zstd: xos-build exited %d: %s' % (result.returncode, result.stderr.strip()))

    # Clear errors.
    truncated = os.path.join(work, 'truncated.tar')
    with open(os.path.join(images, 'layers.docker.tar'), 'rb') as src, open(truncated, 'wb') as dst:
        data = src.read()
        dst.write(data[:len(data) // 2])
    for what, source, needle in (('a truncated archive', truncated, 'error:'),
                                 ('an arm64 image', os.path.join(images, 'arm64.oci.tar'), 'linux/arm64')):
        bad = os.path.join(work, 'bad')
        os.makedirs(bad, exist_ok=True)
        result = run([args.xos_build, '--from-image', source, '-o', os.path.join(bad, 'bad.xos')], check=False,
                     capture_output=True, text=True)
        if result.returncode == 0 or needle not in result.stderr:
            fail('%s: xos-build exited %d: %s' % (what, result.returncode, result.stderr.strip()))
        elif os.listdir(bad):
            fail('%s: xos-build left %s next to the output' % (what, os.listdir(bad)))
        else:
            log('ok: %s (nothing left behind): %s' % (what, result.stderr.strip().splitlines()[-1]))


def build_cached(args, images, name):
    """xos-build --from-image of a big archive, cached by its inputs (the boot is what is tested
    here; check_layers builds every time)."""
    inputs = [os.path.join(images, name), args.xos_build, args.kernel]
    key = hashlib.sha256(''.join(file_digest(p) for p in inputs).encode() + args.platform.encode()).hexdigest()[:16]
    prefix = 'oci-xos-%s-%s-' % (args.platform, name.split('.')[0])
    out_dir = os.path.join(cache_root(), prefix + key)
    out = os.path.join(out_dir, name.split('.')[0] + '.xos')
    with Locked(out_dir):
        if not os.path.exists(out + '.json'):
            shutil.rmtree(out_dir, ignore_errors=True)
            remove_stale(cache_root(), prefix, out_dir)
            os.makedirs(out_dir)
            started = time.monotonic()
            run([args.xos_build, '--from-image', os.path.join(images, name), '--platform', args.platform, '-o', out])
            log('built %s in %.1f s' % (out, time.monotonic() - started))
    return out


def xos_run(args, image, options=(), program=(), ports=(), **kwargs):
    command = [args.xos_run, '--timeout', str(TIMEOUT - 60), '--mem', '512M']
    for host, guest in ports:
        command += ['-p', '%d:%d' % (host, guest)]
    command += list(options) + [image]
    if program:
        command += ['--'] + list(program)
    return subprocess.run(command, capture_output=True, timeout=TIMEOUT, **kwargs)


def podman_run(image, options=(), program=()):
    return subprocess.run(PODMAN_RUN + list(options) + [image] + list(program), capture_output=True, timeout=TIMEOUT)


def compare_runs(name, reference, result):
    same = reference.returncode == result.returncode and reference.stdout == result.stdout
    if same:
        log('ok: %s (status %d): %s' % (name, result.returncode, result.stdout.decode(errors='replace').strip()))
        return
    log('  podman: status %d\n%s' % (reference.returncode, reference.stdout.decode(errors='replace')))
    log('  xos:    status %d\n%s%s' % (result.returncode, result.stdout.decode(errors='replace'),
                                       result.stderr.decode(errors='replace')[-2000:]))
    fail(name)


def check_shell(args, images, key, work):
    image = os.path.join(work, 'shell.xos')
    run([args.xos_build, '--from-image', os.path.join(images, 'shell.docker.tar'), '--platform', args.platform,
         '-o', image])
    reference = '%s:shell-%s' % (TAG, key)
    cases = [
        ('the image config', [], [], []),
        ('arguments replace Cmd', [], [], ['only']),
        ('--env/--workdir/--user', ['--env', 'EXTRA=x', '--env', 'GREETING=bye', '--workdir', '/tmp',
                                    '--user', '1000:50'], ['--env', 'EXTRA=x', '--env', 'GREETING=bye', '--workdir',
                                                           '/tmp', '--user', '1000:50'], []),
        ('--user root by name', ['--user', 'root'], ['--user', 'root'], []),
        ('--entrypoint', ['--entrypoint', '/bin/sh'], ['--entrypoint', '/bin/sh'], ['-c', 'id -u; pwd; exit 7']),
    ]
    for name, xos_options, podman_options, program in cases:
        compare_runs('shell: ' + name, podman_run(reference, podman_options, program),
                     xos_run(args, image, xos_options, program))
    # A user the image does not have: docker's message, and 126 as a program that cannot run.
    result = xos_run(args, image, ['--user', 'nosuchuser'])
    if result.returncode != 126 or b'unable to find user nosuchuser' not in result.stderr:
        fail('shell: an unknown user gave %d: %s' % (result.returncode, result.stderr[-500:]))
    else:
        log('ok: shell: an unknown user is refused (126)')
    check_stop_signal(args, image)
    # The container options need a container image; --rootfs does not go with one.
    for options, what in ((['--user', '0', args.kernel], '--user with a plain image'),
                          (['--rootfs', work, image], '--rootfs with a container image')):
        result = subprocess.run([args.xos_run, '--dry-run'] + options, capture_output=True, timeout=60)
        if result.returncode != 125 or b'xos-run: error:' not in result.stderr:
            fail('shell: %s gave %d: %s' % (what, result.returncode, result.stderr[-300:]))
        else:
            log('ok: shell: %s is a usage error' % what)


def check_stop_signal(args, image):
    """SIGTERM to xos-run reaches the image's first process as the image's StopSignal (SIGQUIT
    here), as `docker stop` sends it; the run ends with that process's status."""
    script = ('trap "echo got-QUIT; exit 7" QUIT; trap "echo got-TERM; exit 8" TERM; echo ready; '
              'while :; do sleep 1; done')
    command = [args.xos_run, '--timeout', str(TIMEOUT - 60), '--mem', '512M', '--entrypoint', '/bin/sh', image,
               '--', '-c', script]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = b''
    deadline = time.monotonic() + TIMEOUT - 120
    while b'ready' not in output and time.monotonic() < deadline and process.poll() is None:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            output += os.read(process.stdout.fileno(), 4096)
    if b'ready' not in output:
        process.kill()
        fail('shell: StopSignal: the script never became ready: %r %r' % (output, process.communicate()[1][-1000:]))
        return
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    output += out
    if process.returncode != 7 or b'got-QUIT' not in output:
        fail('shell: StopSignal: SIGTERM to xos-run gave status %s and %r (want 7 and got-QUIT): %s' %
             (process.returncode, output, err[-1000:]))
    else:
        log('ok: shell: SIGTERM to xos-run arrives as the image\'s StopSignal (SIGQUIT, status 7)')


PYTHON_PROGRAM = ('import json, os; print(json.dumps({"cwd": os.getcwd(), "uid": os.getuid(), "gid": os.getgid(), '
                  '"euid": os.geteuid(), "groups": os.getgroups(), "home": os.environ.get("HOME"), '
                  '"lc_all": os.environ.get("LC_ALL"), "x": os.environ.get("X"), "sum": sum(range(1000))}, '
                  'sort_keys=True))')


def check_python(args, images, key, work):
    image = build_cached(args, images, 'debian.oci.tar')
    reference = '%s:debian-%s' % (TAG, key)
    compare_runs('python: the image Cmd', podman_run(reference), xos_run(args, image))
    options = ['--user', 'nobody', '--workdir', '/var', '--env', 'X=from the host']
    program = ['python3', '-c', PYTHON_PROGRAM]
    compare_runs('python: as nobody in /var', podman_run(reference, options, program),
                 xos_run(args, image, options, program))


# Walks ROOT (not into SKIP at its top) and writes {path: [mode, uid, gid, rdev, sha256 of a file's
# data or a symlink's target]} to OUT: run by the guest's python3 over its own root and by the
# host's over the unpacked tree.
TREE_PROGRAM = '''
import hashlib, json, os, stat, sys
root, out, skip = sys.argv[1], sys.argv[2], set(sys.argv[3].split(","))
entries = {}
for dirpath, dirnames, filenames in os.walk(root):
    rel_dir = os.path.relpath(dirpath, root)
    if rel_dir == ".":
        dirnames[:] = [d for d in dirnames if d not in skip]
        filenames = [f for f in filenames if f not in skip]
    for name in dirnames + filenames:
        full = os.path.join(dirpath, name)
        st = os.lstat(full)
        what = ""
        if stat.S_ISLNK(st.st_mode):
            what = os.readlink(full)
        elif stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256()
            with open(full, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            what = digest.hexdigest()
        rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0
        entries[os.path.normpath(os.path.join(rel_dir, name))] = [st.st_mode, st.st_uid, st.st_gid, rdev, what]
with open(out, "w") as f:
    json.dump(entries, f, sort_keys=True)
print(len(entries))
'''
TREE_SKIP = 'proc,dev,tmp,sys,xos-tree-out'  # what the guest mounts over the image, and the share


def check_tree(args, images, key, work):
    """The image's root as the guest reads it through libos's EROFS reader (LZ4-compressed, the
    default) equals the unpacked tree: every path, mode, owner and file's data."""
    image = build_cached(args, images, 'debian.oci.tar')
    tree = os.path.join(work, 'tree')
    run([args.xos_image, 'unpack', os.path.join(images, 'debian.oci.tar'), tree])
    shared = os.path.join(work, 'out')
    os.makedirs(shared)
    os.chmod(shared, 0o777)
    run(['python3', '-c', TREE_PROGRAM, tree, os.path.join(shared, 'host.json'), TREE_SKIP], capture_output=True)
    result = xos_run(args, image, ['--share', shared + ':/xos-tree-out', '--env', 'PYTHONDONTWRITEBYTECODE=1'],
                     ['python3', '-c', TREE_PROGRAM, '/', '/xos-tree-out/guest.json', TREE_SKIP])
    if result.returncode != 0 or not os.path.exists(os.path.join(shared, 'guest.json')):
        log(result.stdout.decode(errors='replace')[-2000:] + result.stderr.decode(errors='replace')[-3000:])
        fail('tree: the guest\'s walk exited %d' % result.returncode)
        return
    host, guest = read_json(os.path.join(shared, 'host.json')), read_json(os.path.join(shared, 'guest.json'))
    if host == guest and len(host) > 1000:
        log('ok: tree: the compressed EROFS root read by the guest equals the unpacked tree (%d entries)' % len(host))
        return
    differing = sorted(p for p in set(host) | set(guest) if host.get(p) != guest.get(p))
    for path in differing[:40]:
        log('  %s: tree %s, guest %s' % (path, host.get(path), guest.get(path)))
    fail('tree: %d of %d entries differ' % (len(differing), len(host)))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_until(predicate, process, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if predicate():
            return True
        time.sleep(0.2)
    return False


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    out, err = process.communicate()
    return (out or b'').decode(errors='replace') + (err or b'').decode(errors='replace')


def start_server(args, image, guest_port, options=(), program=()):
    port = free_port()
    command = [args.xos_run, '--timeout', str(TIMEOUT - 60), '--mem', '512M', '-p', '%d:%d' % (port, guest_port)]
    command += list(options) + [image] + (['--'] + list(program) if program else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return port, process


def check_redis(args, images, key, work):
    image = build_cached(args, images, 'debian.oci.tar')
    port, process = start_server(args, image, 6379, ['--user', 'redis', '--workdir', '/tmp'],
                                 ['redis-server', '--port', '6379', '--protected-mode', 'no', '--save', ''])

    def cli(*command):
        return subprocess.run(['redis-cli', '-h', '127.0.0.1', '-p', str(port)] + list(command), capture_output=True,
                              text=True, timeout=30).stdout.strip()

    try:
        ready = wait_until(lambda: cli('ping') == 'PONG', process, TIMEOUT - 120)
        answers = [cli('set', 'image', 'oci'), cli('get', 'image'), cli('incr', 'n'), cli('incr', 'n')] if ready else []
    finally:
        output = stop(process)
    if answers != ['OK', 'oci', '1', '2']:
        log(output[-3000:])
        fail('redis: ready %s, answers %s' % (ready, answers))
    else:
        log('ok: redis-server as user redis answers redis-cli through -p: %s' % answers)


def check_nginx(args, images, key, work):
    image = build_cached(args, images, 'nginx.oci.tar')
    expected = NGINX_INDEX
    port, process = start_server(args, image, 8080)  # the image's own Cmd

    def get():
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=10) as response:
                return response.read()
        except OSError:
            return None

    try:
        ready = wait_until(lambda: get() is not None, process, TIMEOUT - 120)
        bodies = [get() for _ in range(3)] if ready else []
    finally:
        output = stop(process)
    if not bodies or any(body != expected for body in bodies):
        log(output[-3000:])
        fail('nginx: ready %s, bodies %s' % (ready, bodies))
    else:
        log('ok: nginx answers curl through -p with the image index.html (%d bytes) x3' % len(expected))


CASES = {'layers': check_layers, 'shell': check_shell, 'python': check_python, 'redis': check_redis,
         'nginx': check_nginx, 'tree': check_tree}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--xos-build', required=True)
    parser.add_argument('--xos-image', required=True)
    parser.add_argument('--kernel', required=True, help='the generic kernel of the platform (a cache key)')
    parser.add_argument('--platform', default='kvm')
    parser.add_argument('--make-rootfs', required=True)
    parser.add_argument('case', choices=sorted(CASES))
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which('podman') or not shutil.which('mkfs.erofs'):
        log('skipped: needs root, podman and erofs-utils (bootstrap.sh installs them)')
        return 77
    made = run([args.make_rootfs], capture_output=True, text=True)
    debian = made.stdout.strip().splitlines()[-1]
    debian_root = os.path.join(debian, 'root') if os.path.isdir(os.path.join(debian, 'root')) else debian
    with open(os.path.join(os.path.dirname(debian_root.rstrip('/')), 'stamp')) as f:
        stamp = f.read()
    images, key = make_images(debian_root, stamp)
    with tempfile.TemporaryDirectory(prefix='xos-oci-') as work:
        started = time.monotonic()
        CASES[args.case](args, images, key, work)
        log('%s took %.1f s' % (args.case, time.monotonic() - started))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
