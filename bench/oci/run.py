#!/usr/bin/env python3
"""bench/oci/run.py: an nginx container image on xos vs podman (runc) vs a Linux microVM.

    bench/oci/run.py [--targets xos,hosted,podman,linux-vm,xos-none,hosted-none] [--runs 5]
                     [--instances 3] [--build-dir build] [--results bench/results] [--no-write]
                     [--name oci]

The image is tests/oci's nginx image (Debian's nginx .debs as a layer over the Debian test
root, made by podman; run_oci_test.py makes and caches it), the same bytes everywhere:

- xos:      `xos-build --from-image nginx.oci.tar` (LZ4-compressed EROFS root, the default) then
            `xos-run -p PORT:8080 nginx.xos` (a VM);
- hosted:   the same with `--platform hosted` (a sandboxed process);
- xos-none, hosted-none: the same built with `--compress none` (to choose the default);
- podman:   `podman run --runtime runc -p PORT:8080` of the image itself (crun refuses this
            machine's hybrid cgroups; runc needs the two --ulimit options tests/oci uses);
- podman-xos, podman-xos-hosted: `podman run --runtime xos-oci -p PORT:8080` of the same image
            (the OCI runtime: the engine's bundle becomes an xos VM, or with
            --annotation org.xos.platform=hosted a hosted process, in the container's network
            namespace; docs/oci-runtime.md), with --annotation org.xos.memory=256M;
- linux-vm: Debian's kernel (bench/harness/linux_vm.py) on the QEMU machine, accelerator, CPU
            and -m of xos-run's command, with xos's nginx.xos.erofs (the same file) as a
            read-only virtio-blk disk that Linux's erofs driver mounts as the root, and a small
            /init (bench/oci/linux_init.c) in an initramfs that loads the virtio/erofs modules,
            configures the network, mounts proc/dev/tmpfs over the image's /proc, /dev, /tmp,
            /run, chroots and runs the image's Cmd (nginx -c /etc/nginx/xos.conf).

Figures, from the host's clock:
- ready: from the command's start to the first HTTP 200 from GET / through the forwarded port
  (the median of --runs rounds, rounds alternating the targets; min and max kept);
- python3: the same image's `python3 -c 'print(1)'` from the command's start to its exit;
- memory: N instances started at once and left idle after each answered once: the sum of the
  proportional and resident set sizes (Pss, Rss: /proc/PID/smaps_rollup) of each instance's
  processes (QEMU for xos and linux-vm, the image process for hosted, the container's processes
  and conmon for podman);
- the EROFS file's size with and without compression, and the load average before and after.
Results: bench/results/NAME.md and NAME.jsonl (--name, default oci).
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BENCH_DIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'oci'))
sys.path.insert(0, BENCH_DIR)

import run_oci_test as oci  # noqa: E402
from harness import linux_vm  # noqa: E402
from harness import targets as harness_targets  # noqa: E402

TIMEOUT = 300
MEM = '256M'
GUEST_PORT = 8080
PYTHON = ['python3', '-c', 'print(1)']
XOS_TARGETS = {'xos': ('kvm', 'lz4'), 'hosted': ('hosted', 'lz4'), 'xos-none': ('kvm', 'none'),
               'hosted-none': ('hosted', 'none')}


def log(message):
    print('[oci] ' + message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def answered(port):
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/' % port, timeout=0.5) as response:
            return response.status == 200
    except OSError:
        return False


class LinuxVm:
    """The Linux microVM booting the image's EROFS file (see the module's description)."""

    def __init__(self, build, work, erofs):
        reference = os.path.join(build, 'tools', 'xos-kernel', 'xos-kernel.xos')  # its QEMU machine
        self.vm = harness_targets.LinuxVm(build, work, reference)
        self.erofs = erofs
        init = os.path.join(work, 'oci-linux-init')
        subprocess.run(['musl-gcc', '-static', '-O2', '-s', os.path.join(HERE, 'linux_init.c'),
                        os.path.join(BENCH_DIR, 'programs', 'linux_vm_init.c'), '-o', init], check=True)
        modules = []
        for path in linux_vm.net_modules(self.vm.kernel_dir) + linux_vm.disk_modules(self.vm.kernel_dir):
            if os.path.basename(path) not in [os.path.basename(m) for m in modules]:
                modules.append(path)
        if not linux_vm.disk_modules(self.vm.kernel_dir):
            log('note: the kernel cache has no modules-disk/: virtio_blk and erofs taken as built in')
        stage = os.path.join(work, 'oci-linux-stage')
        os.makedirs(os.path.join(stage, 'lib'), exist_ok=True)  # the modules go to /lib/modules
        self.initramfs = initramfs(stage, init, modules, os.path.join(work, 'oci-linux.cpio'))

    def command(self, port, program):
        quoted = ' '.join('"%s"' % a if (' ' in a or not a) else a for a in program)
        # Always configured: linux_vm_init.c loads the modules (the disk's too) with the network.
        net = ' xos_bench_net=10.0.2.15/24,10.0.2.2'
        argv = harness_targets.set_mem(self.vm.machine, int(MEM.rstrip('M'))) + [
            '-kernel', self.vm.vmlinux, '-initrd', self.initramfs,
            '-append', '%s%s -- %s' % (self.vm.cmdline, net, quoted),
            '-chardev', 'stdio,id=con', '-serial', 'chardev:con',
            '-drive', 'file=%s,if=none,id=root,format=raw,readonly=on' % self.erofs,
            '-device', 'virtio-blk-device,drive=root',
            '-global', 'virtio-mmio.force-legacy=false',
            '-netdev', 'user,id=net0' + (',hostfwd=tcp:127.0.0.1:%d-:%d' % (port, GUEST_PORT) if port else ''),
            '-device', 'virtio-net-device,netdev=net0']
        return argv


def initramfs(stage, init, modules, out):
    """bench/startup's initramfs writer: /init, /dev/console and the modules (loaded by
    programs/linux_vm_init.c in this order)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('startup_run', os.path.join(BENCH_DIR, 'startup', 'run.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.initramfs(stage, init, modules, out)


PODMAN_XOS = {'podman-xos': 'kvm', 'podman-xos-hosted': 'hosted'}


def command_for(target, images, port, name, program=()):
    if target in PODMAN_XOS:
        forward = ['-p', '%d:%d' % (port, GUEST_PORT)] if port else []
        return (['podman', 'run', '--rm', '--name', name, '--runtime', images['xos-oci'], '--annotation',
                 'org.xos.memory=' + MEM, '--annotation', 'org.xos.platform=' + PODMAN_XOS[target]] + forward +
                [images['podman']] + list(program))
    if target == 'podman':
        forward = ['-p', '%d:%d' % (port, GUEST_PORT)] if port else []
        return (['podman', 'run', '--rm', '--name', name, '--runtime', 'runc', '--ulimit', 'nofile=1024:1024',
                 '--ulimit', 'nproc=1024:1024'] + forward + [images['podman']] + list(program))
    if target == 'linux-vm':
        return images['linux-vm'].command(port, list(program) or ['nginx', '-c', '/etc/nginx/xos.conf'])
    forward = ['-p', '%d:%d' % (port, GUEST_PORT)] if port else []
    return ([images['xos-run'], '--mem', MEM, '--timeout', str(TIMEOUT)] + forward + [images[target]] +
            (['--'] + list(program) if program else []))


def start(target, images, name):
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(command_for(target, images, port, name), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
    ready = None
    while time.perf_counter() - started < TIMEOUT and process.poll() is None:
        if answered(port):
            ready = (time.perf_counter() - started) * 1000.0
            break
        time.sleep(0.005)
    return process, ready


def run_python(target, images, name):
    started = time.perf_counter()
    result = subprocess.run(command_for(target, images, None, name, PYTHON), capture_output=True,
                            stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    elapsed = (time.perf_counter() - started) * 1000.0
    # The Linux VM's /init powers off whatever the status: the output decides everywhere.
    ok = b'1' in result.stdout.split() and (target == 'linux-vm' or result.returncode == 0)
    if not ok:
        log('%s python3: status %d: %s' % (target, result.returncode, (result.stdout + result.stderr)[-500:]))
    return elapsed if ok else None


def stop(target, process, name):
    if target.startswith('podman'):
        subprocess.run(['podman', 'rm', '-f', '-t', '0', name], capture_output=True, timeout=120)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rollup_kib(pid):
    """(Pss, Rss) of a process in KiB, from /proc/PID/smaps_rollup."""
    found = {}
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                key = line.split(':')[0]
                if key in ('Pss', 'Rss'):
                    found[key] = int(line.split()[1])
    except OSError:
        pass
    return found.get('Pss', 0), found.get('Rss', 0)


def descendants(pid):
    out = subprocess.run(['ps', '-e', '-o', 'pid=,ppid='], capture_output=True, text=True).stdout
    children = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        found.append(p)
        stack.extend(children.get(p, []))
    return found


def instance_pids(target, process, name):
    if not target.startswith('podman'):
        return descendants(process.pid)
    inspect = subprocess.run(['podman', 'inspect', '--format', '{{.State.Pid}} {{.State.ConmonPid}}', name],
                             capture_output=True, text=True).stdout.split()
    pids = []
    for pid in inspect:
        pids += descendants(int(pid))
    return pids


def summary(values):
    good = [v for v in values if v is not None]
    if not good:
        return None
    return {'median': statistics.median(good), 'min': min(good), 'max': max(good), 'failed': len(values) - len(good)}


def cell(values):
    s = summary(values)
    if s is None:
        return 'fails'
    text = '%s ms (%s-%s)' % tuple('{:,.0f}'.format(s[k]) for k in ('median', 'min', 'max'))
    return text + (' (%d failed)' % s['failed'] if s['failed'] else '')


def ratio(values, base):
    a, b = summary(values), summary(base)
    return '%.2fx' % (a['median'] / b['median']) if a and b else '-'


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--targets', default='xos,hosted,podman,linux-vm,xos-none,hosted-none')
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--instances', type=int, default=3)
    parser.add_argument('--build-dir', default=os.path.join(ROOT, 'build'))
    parser.add_argument('--results', default=os.path.join(ROOT, 'bench', 'results'))
    parser.add_argument('--no-write', action='store_true')
    parser.add_argument('--name', default='oci', help='the results files: bench/results/NAME.md, NAME.jsonl')
    args = parser.parse_args()
    targets = args.targets.split(',')
    build = os.path.abspath(args.build_dir)
    load_before = os.getloadavg()
    made = subprocess.run([os.path.join(ROOT, 'tests', 'debian', 'make_rootfs.sh')], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    with open(os.path.join(made, 'stamp')) as f:
        stamp = f.read()
    archives, key = oci.make_images(os.path.join(made, 'root'), stamp)
    work = tempfile.mkdtemp(prefix='xos-bench-oci-')
    images = {'xos-run': os.path.join(build, 'tools', 'xos-run', 'xos-run'),
              'xos-oci': os.path.join(build, 'tools', 'xos-oci', 'xos-oci'),
              'podman': '%s:nginx-%s' % (oci.TAG, key)}
    sizes = {}
    try:
        for target, (platform, compression) in XOS_TARGETS.items():
            needed = target in targets or (target == 'xos' and 'linux-vm' in targets)
            if needed:
                images[target] = os.path.join(work, target, 'nginx.xos')
                started = time.perf_counter()
                subprocess.run([os.path.join(build, 'tools', 'xos-build', 'xos-build'), '--from-image',
                                os.path.join(archives, 'nginx.oci.tar'), '--platform', platform, '--compress',
                                compression, '-o', images[target]], check=True, capture_output=True)
                sizes[compression] = os.path.getsize(images[target] + '.erofs')
                log('xos-build --from-image (%s, %s): %.1f s, %s.erofs %d bytes' % (
                    platform, compression, time.perf_counter() - started, target, sizes[compression]))
        if 'linux-vm' in targets:
            images['linux-vm'] = LinuxVm(build, work, images['xos'] + '.erofs')
        ready = {t: [] for t in targets}
        python = {t: [] for t in targets}
        for round_number in range(args.runs):
            for target in targets:
                name = 'xos-bench-oci-%d' % os.getpid()
                process, ms = start(target, images, name)
                stop(target, process, name)
                ready[target].append(ms)
                python[target].append(run_python(target, images, name))
                log('round %d %s: ready %s ms, python3 %s ms' % (
                    round_number + 1, target, 'failed' if ms is None else '%.0f' % ms,
                    'failed' if python[target][-1] is None else '%.0f' % python[target][-1]))
        memory = {}
        for target in targets:
            running = []
            for i in range(args.instances):
                name = 'xos-bench-oci-%d-%d' % (os.getpid(), i)
                process, ms = start(target, images, name)
                running.append((process, name, ms))
            time.sleep(2)
            pss = rss = 0
            for process, name, _ in running:
                for pid in instance_pids(target, process, name):
                    p, r = rollup_kib(pid)
                    pss, rss = pss + p, rss + r
            ok = all(ms is not None for _, _, ms in running)
            memory[target] = {'pss_mib': pss / 1024.0, 'rss_mib': rss / 1024.0} if ok else None
            for process, name, _ in running:
                stop(target, process, name)
            log('%d idle %s instances: %s' % (args.instances, target, 'failed' if not ok else
                                              '%.1f MiB Pss, %.1f MiB Rss' % (pss / 1024.0, rss / 1024.0)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()

    lines = ['| target | ready (first HTTP 200), median (min-max) | vs podman | vs Linux VM | '
             'python3 -c print(1), median (min-max) | Pss / Rss of %d idle instances |' % args.instances,
             '|---|---|---|---|---|---|']
    for target in targets:
        mem = memory.get(target)
        mem = '-' if mem is None else '%.1f / %.1f MiB' % (mem['pss_mib'], mem['rss_mib'])
        lines.append('| %s | %s | %s | %s | %s | %s |' % (
            target, cell(ready[target]), ratio(ready[target], ready.get('podman', [])),
            ratio(ready[target], ready.get('linux-vm', [])), cell(python[target]), mem))
    lines.append('')
    erofs = ', '.join('%s %s bytes' % (c, '{:,}'.format(n)) for c, n in sorted(sizes.items()))
    lines.append('%sload average %.1f before, %.1f after (1 min)' % (
        'nginx.xos.erofs: %s; ' % erofs if erofs else '', load_before[0], load_after[0]))
    table = '\n'.join(lines)
    print(table)
    if not args.no_write:
        os.makedirs(args.results, exist_ok=True)
        with open(os.path.join(args.results, args.name + '.md'), 'w') as f:
            f.write('# nginx container image: xos vs podman (runc) vs a Linux microVM\n\n%d rounds, %s, %s\n\n%s\n' %
                    (args.runs, time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), os.uname().nodename, table))
        with open(os.path.join(args.results, args.name + '.jsonl'), 'a') as f:
            f.write(json.dumps({'ready_ms': ready, 'python3_ms': python, 'memory': memory,
                                'instances': args.instances, 'erofs_bytes': sizes,
                                'load': [load_before[0], load_after[0]]}) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
