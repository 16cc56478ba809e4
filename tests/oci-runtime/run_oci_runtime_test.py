#!/usr/bin/env python3
"""xos-oci, the OCI runtime (issue 18), driven as engines drive it. Cases:

  lifecycle  (xos-oci directly on a bundle: a busybox root from the Debian test root and a
             config.json made by `runc spec`) create/state/start/state/kill/state/delete, the
             pid file, status created -> running -> stopped, exec.fifo; the errors for wrong
             states as runtime-tools checks them (start twice, delete running without --force,
             kill of a stopped container, an unknown id, a duplicate id, an unknown command);
             the container survives its caller dying between create and start; `run` gives the
             program's output and exit status; delete leaves no state and no QEMU; config.json's
             hostname, a tmpfs mount (size=, mode=, noexec, nosuid; nr_inodes= logged), process.rlimits and
             additionalGids are what the program sees, on a VM and hosted.
  podman     `podman run --rm --runtime xos-oci` of a busybox image: output and exit status as
             with runc, also with --hostname, --tmpfs, --ulimit, --group-add, /dev/shm,
             --read-only (EROFS, podman's tmpfs mounts, /run/.containerenv below the /run
             tmpfs) and --tmpfs options ro, noexec, exec; an app
             that crashes (SIGSEGV, 139 as runc; abort, 134) and `podman wait`/`inspect` of a
             detached one; `podman exec` is a clear error; `podman kill -s USR1` reaches a trap;
             `podman stop -t 2` of an app ignoring SIGTERM gives 137; a terminal (-t,
             --console-socket) and an interactive shell (-it).
  nginx      `podman run -d -p PORT:8080 --runtime xos-oci` of a Debian nginx image: curl from
             the host gets its page through the container's veth (tc redirect to the VM's tap),
             `podman logs` shows its output, `podman stop` stops it within the grace period,
             `podman rm` leaves no QEMU process and no state directory.
  nginx-hosted the same with --annotation org.xos.platform=hosted: the image's program as a
             hosted xos process inside the container's network namespace.
  containerd `ctr run --runc-binary xos-oci` (containerd's runc shim running xos-oci) with
             Debian's containerd started here on its own socket and directories: output and
             exit status; no task and no QEMU left; the CRI plugin loads with an `xos` runtime
             handler whose BinaryName is xos-oci (what a Kubernetes RuntimeClass names).

Podman runs with --runtime the path of xos-oci and its default cgroup handling (xos-oci
ignores linux.cgroupsPath and makes no cgroup; podman refuses --cgroups=disabled for a runtime
not listed in containers.conf's runtime_supports_nocgroups). Images are made here from the
Debian test root (no registry), tagged localhost/xos-oci-runtime-test:*-KEY and cached.
Exit status: 0 pass, 1 fail, 77 skipped (not root, or podman/containerd missing).
"""
import argparse
import hashlib
import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'oci'))
import run_oci_test as oci  # noqa: E402  (the image makers of tests/oci)

TIMEOUT = 600
TAG = 'localhost/xos-oci-runtime-test'
failures = []


def log(*parts):
    print(*parts, flush=True)


def fail(message):
    failures.append(message)
    log('FAIL:', message)


def check(condition, message):
    if condition:
        log('ok:', message)
    else:
        fail(message)
    return condition


def run(command, **kwargs):
    kwargs.setdefault('timeout', TIMEOUT)
    kwargs.setdefault('capture_output', True)
    kwargs.setdefault('text', True)
    return subprocess.run(command, **kwargs)


def qemu_processes(marker):
    """Pids of QEMU processes whose command line mentions MARKER (a rootfs path)."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                cmdline = f.read().decode(errors='replace')
        except OSError:
            continue
        if 'qemu-system' in cmdline and marker in cmdline:
            found.append(int(pid))
    return found


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


# --- the images and bundles ---------------------------------------------------------------

def make_images(debian_root, stamp, need_nginx):
    """The busybox image (and the nginx image) in podman's store, cached by what makes them."""
    makers = [make_images, oci.make_small_context, oci.nginx_context, oci.nginx_debs]
    key_source = (''.join(inspect.getsource(f) for f in makers) + ' '.join(oci.SMALL_APPLETS) + stamp +
                  oci.apt_candidate('nginx')).encode()
    key = hashlib.sha256(key_source).hexdigest()[:16]
    small, nginx = '%s:small-%s' % (TAG, key), '%s:nginx-%s' % (TAG, key)
    lock_path = os.path.join(oci.cache_root(), 'oci-runtime-images')
    os.makedirs(oci.cache_root(), exist_ok=True)
    with oci.Locked(lock_path):
        have = run(['podman', 'images', '--format', '{{.Repository}}:{{.Tag}}']).stdout.split()
        for tag in have:  # older keys' images
            if tag.startswith(TAG + ':') and not tag.endswith('-' + key):
                run(['podman', 'rmi', '-f', tag])
        wanted = [small] + ([nginx] if need_nginx else [])
        if all(tag in have for tag in wanted):
            return small, nginx
        with tempfile.TemporaryDirectory(dir=oci.cache_root()) as context:
            log('making the test images (podman; tagged %s:*-%s)' % (TAG, key))
            oci.make_small_context(debian_root, context)
            if small not in have:
                run(['podman', 'import', os.path.join(context, 'small.tar'), small], check=True)
            if need_nginx and nginx not in have:
                run(['tar', '-C', debian_root, '--numeric-owner', '--exclude=./xos-test', '-cf',
                     os.path.join(context, 'debian.tar'), '.'], check=True)
                base = '%s:debian-%s' % (TAG, key)
                run(['podman', 'import', os.path.join(context, 'debian.tar'), base], check=True)
                os.unlink(os.path.join(context, 'debian.tar'))
                oci.nginx_context(context, oci.nginx_debs(context))
                # nginx_context's Containerfile starts FROM tests/oci's image: ours instead.
                containerfile = os.path.join(context, 'Containerfile.nginx')
                with open(containerfile) as f:
                    lines = f.read().split('\n', 1)
                with open(containerfile, 'w') as f:
                    f.write('FROM %s\n%s' % (base, lines[1]))
                run(['podman', 'build', '--isolation', 'chroot', '-f', os.path.join(context, 'Containerfile.nginx'),
                     '-t', nginx, context], check=True)
    return small, nginx


def make_bundle(debian_root, directory, args, terminal=False):
    """A bundle: the busybox root and `runc spec`'s config.json with ARGS (no network namespace)."""
    context = os.path.join(directory, 'context')
    oci.make_small_context(debian_root, context)
    os.rename(os.path.join(context, 'root'), os.path.join(directory, 'rootfs'))
    shutil.rmtree(context)
    run(['runc', 'spec'], cwd=directory, check=True)
    with open(os.path.join(directory, 'config.json')) as f:
        config = json.load(f)
    config['process']['args'] = args
    config['process']['terminal'] = terminal
    config['root']['readonly'] = False
    config['linux']['namespaces'] = [ns for ns in config['linux']['namespaces'] if ns['type'] != 'network']
    config['annotations'] = {'org.xos.memory': '128M', 'test': 'lifecycle'}
    with open(os.path.join(directory, 'config.json'), 'w') as f:
        json.dump(config, f)
    return directory


# --- the cases ------------------------------------------------------------------------------

class Runtime:
    def __init__(self, binary, root):
        self.binary, self.root = binary, root

    def __call__(self, *args, **kwargs):
        command = [self.binary, '--root', self.root, '--log', os.path.join(self.root, '..', 'runtime.log'),
                   '--log-format', 'json'] + list(args)
        if args[0] not in ('create', 'run'):
            return run(command, **kwargs)
        # The container's process inherits create's stdio (as conmon wants): files, not pipes
        # whose end of file would wait for the container.
        with tempfile.TemporaryFile('w+') as out, tempfile.TemporaryFile('w+') as err:
            result = subprocess.run(command, stdout=out, stderr=err, timeout=TIMEOUT)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(command, result.returncode, out.read(), err.read())

    def state(self, container_id):
        result = self(['state', container_id][0], container_id)
        return json.loads(result.stdout) if result.returncode == 0 else None


def check_lifecycle(args, debian_root, work):
    root = os.path.join(work, 'state')
    runtime = Runtime(args.xos_oci, root)
    bundle = make_bundle(debian_root, os.path.join(work, 'bundle'),
                         ['/bin/sh', '-c', 'trap "echo got TERM; exit 3" TERM; echo hello from $0; '
                                           'while true; do sleep 1; done', 'xos'])
    pid_file = os.path.join(work, 'pid')
    # The caller dies between create and start: create runs from a shell that is killed at once after.
    with open(os.path.join(work, 'c1.out'), 'w+') as out:
        caller = subprocess.run(['sh', '-c', '"$@"; kill -9 $$', 'caller', args.xos_oci, '--root', root,
                                 'create', '--bundle', bundle, '--pid-file', pid_file, 'c1'],
                                stdout=out, stderr=out, timeout=TIMEOUT)
    check(caller.returncode == -9, 'lifecycle: create returned and its caller died')
    state = runtime.state('c1')
    check(state is not None and state['status'] == 'created' and state['id'] == 'c1' and
          state['bundle'] == bundle and state['annotations'].get('test') == 'lifecycle',
          'lifecycle: created after create (%s)' % state)
    with open(pid_file) as f:
        pid = int(f.read())
    check(state is not None and state['pid'] == pid and os.path.exists('/proc/%d' % pid),
          'lifecycle: the pid file names the owner process, alive')
    result = runtime('create', '--bundle', bundle, 'c1')
    check(result.returncode != 0 and 'already exists' in result.stderr, 'lifecycle: a duplicate id is refused')
    result = runtime('start', 'c1')
    check(result.returncode == 0, 'lifecycle: start (%s)' % result.stderr)
    state = runtime.state('c1')
    check(state and state['status'] == 'running', 'lifecycle: running after start')
    result = runtime('start', 'c1')
    check(result.returncode != 0 and 'already running' in result.stderr, 'lifecycle: start twice is an error')
    result = runtime('delete', 'c1')
    check(result.returncode != 0 and 'not stopped' in result.stderr,
          'lifecycle: delete of a running container without --force is an error')
    check(wait_for(lambda: qemu_processes(bundle), 60), 'lifecycle: its QEMU runs')
    result = runtime('kill', 'c1', 'KILL')
    check(result.returncode == 0, 'lifecycle: kill KILL')
    check(wait_for(lambda: (runtime.state('c1') or {}).get('status') == 'stopped', 60),
          'lifecycle: stopped after kill KILL')
    check(wait_for(lambda: not qemu_processes(bundle), 30), 'lifecycle: no QEMU after kill KILL')
    result = runtime('kill', 'c1', 'TERM')
    check(result.returncode != 0 and 'not running' in result.stderr, 'lifecycle: kill of a stopped container is an error')
    result = runtime('delete', 'c1')
    check(result.returncode == 0 and not os.path.exists(os.path.join(root, 'c1')),
          'lifecycle: delete of a stopped container removes its state')
    for command in (['state', 'nosuch'], ['start', 'nosuch'], ['kill', 'nosuch'], ['delete', 'nosuch']):
        result = runtime(*command)
        check(result.returncode != 0 and 'does not exist' in result.stderr, 'lifecycle: %s of an unknown id' % command[0])
    result = runtime('frobnicate', 'c1')
    check(result.returncode != 0 and "unknown command 'frobnicate'" in result.stderr,
          'lifecycle: an unknown command is an error')
    with open(os.path.join(work, 'runtime.log')) as f:
        logged = [json.loads(line) for line in f if line.strip()]
    check(any(e['level'] == 'error' and 'frobnicate' in e['msg'] for e in logged),
          'lifecycle: errors go to the --log (json)')
    # delete --force of a running container; created -> delete (no --force needed).
    runtime('create', '--bundle', bundle, 'c2')
    runtime('start', 'c2')
    result = runtime('delete', '--force', 'c2')
    check(result.returncode == 0 and not os.path.exists(os.path.join(root, 'c2')) and
          wait_for(lambda: not qemu_processes(bundle), 30), 'lifecycle: delete --force of a running container')
    runtime('create', '--bundle', bundle, 'c3')
    owner = runtime.state('c3')['pid']
    result = runtime('delete', 'c3')
    check(result.returncode == 0 and wait_for(lambda: not os.path.exists('/proc/%d' % owner) or
                                              open('/proc/%d/stat' % owner).read().split(')')[1].split()[0] == 'Z', 10),
          'lifecycle: delete of a created container ends its process')
    # kill TERM reaches the app's own handler in the guest (xos-run --forward-signals).
    process = subprocess.Popen([args.xos_oci, '--root', root, 'run', '--bundle', bundle, 'c5'],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # run waits: pipes are fine
    first = process.stdout.readline()
    # run blocks the signals it forwards while it waits (SIGINT, TERM, HUP, QUIT, USR1, USR2);
    # what it starts (xos-run, and QEMU or the hosted kernel after it) has the caller's mask
    # instead (this script's). xos-run blocks them itself for its signalfd: look at QEMU, which
    # blocks SIGUSR1 (its SIG_IPI) in its main thread itself: the others tell.
    def blocked(pid):
        with open('/proc/%d/status' % pid) as f:
            return int(next(line.split()[1] for line in f if line.startswith('SigBlk:')), 16)
    forwarded = sum(1 << (signo - 1) for signo in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                                    signal.SIGQUIT, signal.SIGUSR2))
    qemus = qemu_processes(bundle)
    leaked = [pid for pid in qemus if blocked(pid) & forwarded & ~blocked(os.getpid())]
    check(qemus and not leaked, 'lifecycle: QEMU under run does not inherit run\'s blocked signals '
          '(QEMU %s, SigBlk %s)' % (qemus, [hex(blocked(pid)) for pid in leaked]))
    result = runtime('kill', 'c5', 'TERM')
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    check(first == 'hello from xos\n' and result.returncode == 0 and process.returncode == 3 and 'got TERM' in out,
          'lifecycle: kill TERM runs the app\'s trap (status %s, %r %r)' % (process.returncode, first + out, err[-300:]))
    # run: the output and exit status of the program.
    with open(os.path.join(bundle, 'config.json')) as f:
        config = json.load(f)
    config['process']['args'] = ['/bin/sh', '-c', 'echo out; echo err >&2; pwd; id -u; exit 7']
    config['process']['cwd'] = '/tmp'
    config['process']['env'].append('GREETING=hi')
    with open(os.path.join(bundle, 'config.json'), 'w') as f:
        json.dump(config, f)
    result = runtime('run', '--bundle', bundle, 'c4')
    check(result.returncode == 7 and result.stdout == 'out\n/tmp\n0\n' and 'err' in result.stderr,
          'lifecycle: run gives the output and status 7 (%d %r %r)' % (result.returncode, result.stdout,
                                                                     result.stderr[-300:]))
    check(not os.path.exists(os.path.join(root, 'c4')), 'lifecycle: run deletes the container after')
    check_config_honoured(runtime, bundle, config)
    # Bad bundles: create fails with a message and leaves no state (runtime-tools' create checks).
    for what, change, message in (
            ('an unknown rlimit', lambda c: c['process'].__setitem__('rlimits', [{'type': 'RLIMIT_NOPE', 'soft': 1,
                                                                                   'hard': 1}]), 'unknown type'),
            ('a soft limit above the hard', lambda c: c['process'].__setitem__(
                'rlimits', [{'type': 'RLIMIT_NOFILE', 'soft': 9, 'hard': 1}]), 'soft limit above'),
            ('a hostname of 65 bytes', lambda c: c.__setitem__('hostname', 'h' * 65), 'longer than 64'),
            ('a relative tmpfs destination', lambda c: c['mounts'].append({'destination': 'rel', 'type': 'tmpfs'}),
             'not an absolute path'),
            ('no process.args', lambda c: c['process'].__setitem__('args', []), 'process.args is empty')):
        bad = json.loads(json.dumps(config))
        bad['process'].pop('rlimits', None)
        change(bad)
        with open(os.path.join(bundle, 'config.json'), 'w') as f:
            json.dump(bad, f)
        result = runtime('create', '--bundle', bundle, 'c7')
        check(result.returncode == 1 and message in result.stderr and not os.path.exists(os.path.join(root, 'c7')),
              'lifecycle: create with %s fails (%r)' % (what, result.stderr.strip()[-200:]))
    os.unlink(os.path.join(bundle, 'config.json'))
    result = runtime('create', '--bundle', bundle, 'c7')
    check(result.returncode == 1 and 'cannot read' in result.stderr and not os.path.exists(os.path.join(root, 'c7')),
          'lifecycle: create without config.json fails (%r)' % result.stderr.strip()[-200:])


# What config.json sets inside the container, in the order the script prints it.
HONOURED_SCRIPT = ('busybox uname -n; cat /proc/sys/kernel/hostname; busybox hostname renamed && busybox uname -n; '
                   'ulimit -n; ulimit -Hn; ulimit -s; id -G; busybox stat -c "%a %u:%g" /scratch; '
                   'busybox grep " /scratch " /proc/mounts; echo data > /scratch/f && cat /scratch/f; cat /run/placed; '
                   'busybox dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null && echo fits || echo full')
HONOURED_OUTPUT = ('xos-test-host\nxos-test-host\nrenamed\n256\n512\n4096\n0 4242 4343\n700 0:0\n'
                   'tmpfs /scratch tmpfs rw,nosuid,noexec,relatime 0 0\ndata\nplaced below a tmpfs\nfull\n')


def check_config_honoured(runtime, bundle, config):
    """hostname, a tmpfs mount with size= and mode=, process.rlimits and additionalGids, a file bind
    mount below a tmpfs destination (xos-run --file), on a VM and hosted."""
    config['process']['args'] = ['/bin/sh', '-c', HONOURED_SCRIPT]
    config['process']['cwd'] = '/'
    config['hostname'] = 'xos-test-host'
    config['process']['rlimits'] = [{'type': 'RLIMIT_NOFILE', 'soft': 256, 'hard': 512},
                                    {'type': 'RLIMIT_STACK', 'soft': 4194304, 'hard': 8388608}]
    config['process']['user']['additionalGids'] = [4242, 4343]
    config['mounts'].append({'destination': '/scratch', 'type': 'tmpfs', 'source': 'tmpfs',
                             'options': ['nosuid', 'noexec', 'size=1m', 'mode=700', 'nr_inodes=1000']})
    placed = os.path.join(bundle, 'placed.txt')
    with open(placed, 'w') as f:
        f.write('placed below a tmpfs\n')
    config['mounts'] += [{'destination': '/run', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['nosuid', 'nodev']},
                         {'destination': '/run/placed', 'type': 'bind', 'source': placed, 'options': ['rbind', 'ro']}]
    for platform in ('kvm', 'hosted'):
        config['annotations']['org.xos.platform'] = platform
        with open(os.path.join(bundle, 'config.json'), 'w') as f:
            json.dump(config, f)
        result = runtime('run', '--bundle', bundle, 'c6')
        check(result.returncode == 0 and result.stdout == HONOURED_OUTPUT,
              'lifecycle: %s: hostname, tmpfs, rlimits and additionalGids honoured (%d %r %r)' % (
                  platform, result.returncode, result.stdout, result.stderr[-300:]))
        check(not os.path.exists(os.path.join(bundle, 'rootfs', 'scratch', 'f')),
              'lifecycle: %s: the tmpfs\'s files are not in the root' % platform)
    with open(os.path.join(runtime.root, '..', 'runtime.log')) as f:
        logged = f.read()
    check('option nr_inodes=1000 is not supported' in logged, 'lifecycle: an unsupported tmpfs option is logged')
    # root.readonly: a read-only root (EROFS), the missing working directory made first (runc
    # makes it before it remounts the root read-only); the tmpfs and the placed file still there.
    config['root']['readonly'] = True
    config['process']['cwd'] = '/made/here'
    config['process']['args'] = ['/bin/sh', '-c', 'pwd; touch /x 2>&1; echo t > /scratch/t && cat /scratch/t; '
                                                  'cat /run/placed']
    for platform in ('kvm', 'hosted'):
        config['annotations']['org.xos.platform'] = platform
        with open(os.path.join(bundle, 'config.json'), 'w') as f:
            json.dump(config, f)
        result = runtime('run', '--bundle', bundle, 'c8')
        wanted = '/made/here\ntouch: /x: Read-only file system\nt\nplaced below a tmpfs\n'
        check(result.returncode == 0 and result.stdout == wanted and
              not os.path.exists(os.path.join(bundle, 'rootfs', 'x')),
              'lifecycle: %s: root.readonly is a read-only root (%d %r %r)' % (
                  platform, result.returncode, result.stdout, result.stderr[-300:]))
    config['root']['readonly'] = False
    del config['annotations']['org.xos.platform']


# The mount options /proc/mounts gives for mount point $1 (ro/rw, nosuid, nodev, noexec only).
MOUNT_OPTIONS = ('options() { busybox awk -v p="$1" \'$2 == p { n = split($4, o, ","); s = p; '
                 'for (i = 1; i <= n; i++) if (o[i] ~ /^(ro|rw|nosuid|nodev|noexec)$/) s = s " " o[i]; print s }\' '
                 '/proc/mounts; }; ')
READ_ONLY_SCRIPT = (MOUNT_OPTIONS + 'busybox touch /x 2>&1; mkdir /etc/d 2>&1; rm /bin/true 2>&1; '
                    'echo y > /etc/hostname2 || echo refused; for d in /tmp /run /var/tmp; do '
                    'echo t > $d/t && cat $d/t; done; test -f /run/.containerenv && echo containerenv; '
                    'busybox grep -q localhost /etc/hosts && echo hosts; options /')
TMPFS_OPTIONS_SCRIPT = (MOUNT_OPTIONS + 'busybox touch /ro/f 2>&1; busybox cp /bin/busybox /nx/b && /nx/b true; '
                        'echo $?; busybox cp /bin/busybox /ex/b && /ex/b true; echo $?; options /ro; options /nx; '
                        'options /ex')


def podman_command(args, *rest):
    return ['podman', 'run', '--runtime', args.xos_oci] + list(rest)


CRASH_SEGV = 'import ctypes; ctypes.string_at(0)'
CRASH_ABORT = 'import os; os.abort()'


def check_podman(args, debian_root, work):
    small, nginx = make_images(debian_root, args.stamp, need_nginx=True)
    cases = [
        ('output and status', ['--rm', '--network', 'none'], ['/bin/sh', '-c', 'echo hello; pwd; id -u; exit 5']),
        ('--workdir, --env, --user', ['--rm', '--network', 'none', '--workdir', '/tmp', '--env', 'X=y', '--user', '1000:50'],
         ['/bin/sh', '-c', 'echo "$X $(pwd) $(id -u):$(id -g)"']),
        ('a failing command', ['--rm', '--network', 'none'], ['/bin/sh', '-c', 'exit 42']),
        ('an unknown program', ['--rm', '--network', 'none'], ['/no/such/program']),
        # hostname (and podman's /etc/hostname), a tmpfs with size= and mode=, --ulimit, --group-add
        ('--hostname, --tmpfs, --ulimit, --group-add',
         ['--rm', '--network', 'none', '--hostname', 'xos-host', '--tmpfs', '/data:size=1m,mode=700', '--ulimit',
          'nofile=100:200', '--group-add', '4242'],
         ['/bin/sh', '-c', 'busybox uname -n; cat /etc/hostname; busybox stat -c %a /data; echo x > /data/f && '
                           'cat /data/f; busybox dd if=/dev/zero of=/data/big bs=1024 count=2048 2>/dev/null || '
                           'echo full; ulimit -n; ulimit -Hn; id -G']),
        # podman's own tmpfs mounts (/dev/shm at least) are writable
        ('/dev/shm', ['--rm', '--network', 'none'], ['/bin/sh', '-c', 'echo shm > /dev/shm/x && cat /dev/shm/x']),
        # --read-only: the root refuses writes with EROFS (busybox says which error), podman's
        # tmpfs mounts on /tmp, /run and /var/tmp are writable, /etc/hosts is there (and
        # /run/.containerenv, a file bind mount below the /run tmpfs, if podman makes one: 4.3
        # does not with --read-only), /proc/mounts says ro for /.
        ('--read-only', ['--rm', '--network', 'none', '--read-only'], ['/bin/sh', '-c', READ_ONLY_SCRIPT]),
        # tmpfs options: ro refuses writes, noexec refuses execve (sh: Permission denied, 126).
        ('--tmpfs ro, noexec', ['--rm', '--network', 'none', '--tmpfs', '/ro:ro', '--tmpfs', '/nx:noexec,nodev',
                                '--tmpfs', '/ex:exec'], ['/bin/sh', '-c', TMPFS_OPTIONS_SCRIPT]),
    ]
    # An app that crashes with a real fault: 139 as with runc. Python from the nginx image
    # (Debian's): a signal sent by `kill` to the container's first process would not do, runc's
    # pid namespace ignores it there (no handler), xos does not.
    cases = [case + (small,) for case in cases] + [
        ('dies of SIGSEGV', ['--rm', '--network', 'none'], ['python3', '-c', CRASH_SEGV], nginx),
    ]
    for name, options, program, image in cases:
        reference = run(['podman', 'run', '--runtime', 'runc', '--ulimit', 'nofile=1024:1024', '--ulimit',
                         'nproc=1024:1024'] + options + [image] + program)
        result = run(podman_command(args, *options) + [image] + program)
        same = result.returncode == reference.returncode and (result.stdout == reference.stdout or reference.returncode == 127)
        check(same, 'podman: %s: status %d %r (runc: %d %r) %s' % (name, result.returncode, result.stdout,
                                                                  reference.returncode, reference.stdout,
                                                                  result.stderr[-400:] if not same else ''))
    # abort(): 134 on xos. (runc gives 139 here: its pid namespace ignores the SIGABRT that abort
    # raises in the first process, and glibc's abort then faults.)
    result = run(podman_command(args, '--rm', '--network', 'none') + [nginx, 'python3', '-c', CRASH_ABORT])
    check(result.returncode == 134 and 'SIGABRT' in result.stderr,
          'podman: an app that calls abort() exits 134 (%d %r)' % (result.returncode, result.stderr[-300:]))
    # python3 is in /usr/bin, after /usr/local/sbin, /usr/local/bin and /usr/sbin in PATH: the
    # loader's PATH search tries no exec of a missing file, so libos has nothing to say.
    check('xos: exec:' not in result.stderr, 'podman: no exec messages for PATH entries without the program (%r)' %
          result.stderr[-300:])
    # A detached container that crashes shows as exited with 139 in podman inspect, as with runc.
    name = 'xos-oci-crash-%d' % os.getpid()
    result = run(podman_command(args, '-d', '--name', name, '--network', 'none') + [nginx, 'python3', '-c', CRASH_SEGV])
    waited = run(['podman', 'wait', name])
    inspected = run(['podman', 'inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name])
    run(['podman', 'rm', '-f', name])
    check(result.returncode == 0 and waited.stdout.strip() == '139' and inspected.stdout.split() == ['exited', '139'],
          'podman: a crashed container is exited with 139 (wait %r, inspect %r)' % (waited.stdout.strip(),
                                                                                   inspected.stdout.strip()))
    # podman exec: a clear error (xos-oci has no exec), the container keeps running.
    name = 'xos-oci-exec-%d' % os.getpid()
    result = run(podman_command(args, '-d', '--name', name, '--network', 'none') + [
        small, '/bin/sh', '-c', 'trap "" TERM; trap "echo got USR1" USR1; echo up; while true; do sleep 1; done'])
    try:
        executed = run(['podman', 'exec', name, 'true'])
        status = run(['podman', 'inspect', '--format', '{{.State.Status}}', name])
        check(result.returncode == 0 and executed.returncode != 0 and 'exec is not supported by xos-oci' in
              executed.stderr and status.stdout.strip() == 'running',
              'podman: exec is a clear error and the container keeps running (%d %r %r)' % (
                  executed.returncode, executed.stderr[-300:], status.stdout.strip()))
        # podman kill -s: the signal reaches the app's handler.
        wait_for(lambda: 'up' in run(['podman', 'logs', name]).stdout, 120)
        killed = run(['podman', 'kill', '-s', 'USR1', name])
        check(killed.returncode == 0 and wait_for(lambda: 'got USR1' in run(['podman', 'logs', name]).stdout, 60),
              'podman: kill -s USR1 runs the app\'s trap (%r)' % killed.stderr[-200:])
        # podman stop of an app that ignores SIGTERM: SIGKILL after the timeout, 137 as with runc.
        stopped = run(['podman', 'stop', '-t', '2', name])
        status = run(['podman', 'inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name])
        check(stopped.returncode == 0 and status.stdout.split() == ['exited', '137'],
              'podman: stop -t 2 of an app that ignores SIGTERM kills it, 137 (%r %r)' % (
                  stopped.stderr[-200:], status.stdout.strip()))
    finally:
        run(['podman', 'rm', '-f', name])
    # A terminal: podman's conmon receives the pty over --console-socket.
    result = run(['script', '-qec', ' '.join(podman_command(args, '--rm', '-t', '--network', 'none') +
                                           [small, '/bin/sh', '-c', "'test -t 0 && test -t 1 && echo tty'"]),
                  '/dev/null'])
    check(result.returncode == 0 and 'tty' in result.stdout, 'podman: -t gives a terminal (%r %s)' % (
        result.stdout[-200:], result.stderr[-300:]))
    # -it: an interactive shell; what is typed (buffered by the terminal until the guest reads it)
    # runs, and `exit 3` is podman's status.
    result = run(['script', '-qec', ' '.join(podman_command(args, '--rm', '-it', '--network', 'none') +
                                           [small, '/bin/sh']), '/dev/null'],
                 input='echo hi-$((40+2))\rexit 3\r')
    check(result.returncode == 3 and 'hi-42' in result.stdout, 'podman: -it runs an interactive shell (%d %r)' % (
        result.returncode, result.stdout[-300:]))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def check_nginx(args, debian_root, work, platform='kvm'):
    _, nginx = make_images(debian_root, args.stamp, need_nginx=True)
    port = free_port()
    name = 'xos-oci-nginx-%d' % os.getpid()
    result = run(podman_command(args, '-d', '--name', name, '-p', '%d:8080' % port, '--annotation',
                                'org.xos.memory=512M', '--annotation', 'org.xos.platform=' + platform,
                                '--stop-timeout', '20') + [nginx])
    if not check(result.returncode == 0, 'nginx: podman run -d (%s)' % result.stderr[-500:]):
        return
    container_id = result.stdout.strip()
    state_dirs = []
    try:
        def get():
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=10) as response:
                    return response.status, response.read()
            except OSError:
                return None
        answered = wait_for(lambda: get() is not None, TIMEOUT - 200)
        answer = get() if answered else None
        # podman's --root for a runtime is /run/NAME.
        state_dirs = [os.path.join('/run/xos-oci', container_id)]
        check(os.path.exists(os.path.join(state_dirs[0], 'state.json')), 'nginx: the state in %s' % state_dirs[0])
        check(answer is not None and answer[0] == 200 and b'nginx in an OCI image on xos' in answer[1],
              'nginx: curl through -p gets the page (%s)' % (answer,))
        vms = qemu_processes(container_id)
        check(bool(vms) == (platform == 'kvm'), 'nginx: %s: %s QEMU process runs it' % (platform, 'a' if vms else 'no'))
        logs = run(['podman', 'logs', name])
        check(logs.returncode == 0 and 'xos-oci-nginx' not in logs.stderr, 'nginx: podman logs works')
        started = time.monotonic()
        result = run(['podman', 'stop', '-t', '20', name])
        took = time.monotonic() - started
        check(result.returncode == 0 and took < 60, 'nginx: podman stop (%.1f s, grace 20 s)' % took)
        # The image's StopSignal (SIGQUIT) reaches nginx, which shuts down gracefully: status 0.
        inspect_result = run(['podman', 'inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', name])
        check(inspect_result.stdout.split() in (['exited', '0'], ['stopped', '0']),
              'nginx: stopped gracefully by its StopSignal (%s)' % inspect_result.stdout.strip())
    finally:
        result = run(['podman', 'rm', '-f', name])
    check(result.returncode == 0, 'nginx: podman rm')
    check(wait_for(lambda: not qemu_processes(container_id), 30), 'nginx: no QEMU process left')
    leftovers = [d for d in state_dirs if os.path.exists(d)]
    check(not leftovers, 'nginx: no state left (%s)' % leftovers)


def check_nginx_hosted(args, debian_root, work):
    """The nginx case with org.xos.platform=hosted: the hosted process runs in the container's
    network namespace on the same tap (tc redirect from the veth)."""
    check_nginx(args, debian_root, work, platform='hosted')


def check_containerd(args, debian_root, work):
    """containerd (Debian's, started here on its own socket and directories) with ctr run --runc-binary."""
    small, _ = make_images(debian_root, args.stamp, need_nginx=False)
    top = os.path.join(work, 'containerd')
    os.makedirs(top)
    socket_path = os.path.join(top, 'containerd.sock')
    with open(os.path.join(top, 'config.toml'), 'w') as f:
        # The CRI plugin's runtime handler for a Kubernetes RuntimeClass `xos` (docs/oci-runtime.md).
        f.write('version = 2\nroot = "%s/root"\nstate = "%s/state"\n[grpc]\n  address = "%s"\n'
                '[plugins."io.containerd.grpc.v1.cri"]\n  disable_cgroup = true\n'
                '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xos]\n'
                '  runtime_type = "io.containerd.runc.v2"\n'
                '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xos.options]\n'
                '    BinaryName = "%s"\n    SystemdCgroup = false\n'
                '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n'
                '  runtime_type = "io.containerd.runc.v2"\n' % (top, top, socket_path, args.xos_oci))
    with open(os.path.join(top, 'containerd.log'), 'w') as daemon_log:
        daemon = subprocess.Popen(['containerd', '--config', os.path.join(top, 'config.toml')], stdout=daemon_log,
                                  stderr=subprocess.STDOUT)
    ctr = ['ctr', '--address', socket_path]
    try:
        if not check(wait_for(lambda: run(ctr + ['version'], timeout=30).returncode == 0, 60), 'containerd: started'):
            return
        plugins = run(ctr + ['plugins', 'ls']).stdout
        # TYPE ID PLATFORMS STATUS
        cri = [line.split() for line in plugins.splitlines() if line.split()[:2] == ['io.containerd.grpc.v1', 'cri']]
        dump = run(['containerd', '--config', os.path.join(top, 'config.toml'), 'config', 'dump']).stdout
        check(cri and cri[0][-1] == 'ok' and '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.xos]' in dump
              and 'BinaryName = "%s"' % args.xos_oci in dump,
              'containerd: the CRI plugin is up with the xos runtime handler (%s)' % (cri,))
        archive = os.path.join(work, 'small.oci.tar')
        run(['podman', 'save', '--format', 'oci-archive', '-o', archive, small], check=True)
        result = run(ctr + ['image', 'import', archive])
        check(result.returncode == 0, 'containerd: ctr image import (%s)' % result.stderr[-300:])
        result = run(ctr + ['run', '--rm', '--runc-binary', args.xos_oci, small, 'xos-ctr-%d' % os.getpid(),
                            '/bin/sh', '-c', 'echo hello from containerd; pwd; exit 6'])
        check(result.returncode == 6 and result.stdout == 'hello from containerd\n/\n',
              'containerd: ctr run --runc-binary xos-oci: output and status (%d %r %s)' % (
                  result.returncode, result.stdout, result.stderr[-300:]))
        check(not qemu_processes(os.path.join(top, 'state')) and not run(ctr + ['task', 'ls', '-q']).stdout.strip(),
              'containerd: no task and no QEMU left')
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        # Its snapshots are overlay mounts below TOP: unmount before the directory goes.
        with open('/proc/self/mounts') as f:
            mounts = [line.split()[1] for line in f if top in line.split()[1]]
        for mount in reversed(mounts):
            run(['umount', '-l', mount])


CASES = {'lifecycle': check_lifecycle, 'podman': check_podman, 'nginx': check_nginx, 'nginx-hosted': check_nginx_hosted,
         'containerd': check_containerd}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-oci', required=True)
    parser.add_argument('--make-rootfs', required=True)
    parser.add_argument('case', choices=sorted(CASES))
    args = parser.parse_args()
    args.xos_oci = os.path.abspath(args.xos_oci)
    if os.geteuid() != 0:
        log('skipped: needs root (podman rootful, network namespaces)')
        return 77
    if args.case != 'lifecycle' and not shutil.which('podman'):
        log('skipped: podman is not installed (bootstrap.sh installs it)')
        return 77
    if args.case == 'containerd' and not (shutil.which('containerd') and shutil.which('ctr')):
        log('skipped: containerd is not installed (bootstrap.sh installs it)')
        return 77
    made = run([args.make_rootfs], check=True)
    debian = made.stdout.strip().splitlines()[-1]
    debian_root = os.path.join(debian, 'root') if os.path.isdir(os.path.join(debian, 'root')) else debian
    with open(os.path.join(os.path.dirname(debian_root.rstrip('/')), 'stamp')) as f:
        args.stamp = f.read()
    with tempfile.TemporaryDirectory(prefix='xos-oci-runtime-') as work:
        started = time.monotonic()
        CASES[args.case](args, debian_root, work)
        log('%s took %.1f s' % (args.case, time.monotonic() - started))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
