#!/usr/bin/env python3
"""bench/oci/run.py: an nginx container image on xos vs podman (runc) on the same host.

    bench/oci/run.py [--targets xos,hosted,podman] [--runs 5] [--instances 4]
                     [--build-dir build] [--results bench/results] [--no-write]

The image is tests/oci's nginx image (Debian's nginx .debs as a layer over the Debian test
root, made by podman; run_oci_test.py makes and caches it), the same bytes everywhere:

- xos:    `xos-build --from-image nginx.oci.tar` then `xos-run -p PORT:8080 nginx.xos` (a VM);
- hosted: the same with `--platform hosted` (a sandboxed process);
- podman: `podman run --runtime runc -p PORT:8080` of the image itself (crun refuses this
          machine's hybrid cgroups; runc needs the two --ulimit options tests/oci uses).

Figures, from the host's clock:
- ready: from the command's start to the first HTTP 200 from GET / through the forwarded port
  (the median of --runs rounds, rounds alternating the targets; min and max kept);
- memory: N instances started at once and left idle after each answered once: the sum of the
  proportional set size (Pss, /proc/PID/smaps_rollup) of each instance's processes (QEMU for
  xos, the image process for hosted, the container's processes and conmon for podman).
The Linux microVM of bench/run is not a target here: it would need the image's 300 MB root as
an initramfs; bench/startup compares it for single programs. Results: bench/results/oci.md.
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
sys.path.insert(0, os.path.join(ROOT, 'tests', 'oci'))

import run_oci_test as oci  # noqa: E402

TIMEOUT = 300


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


def command_for(target, images, port, name):
    if target == 'podman':
        return ['podman', 'run', '--rm', '--name', name, '--runtime', 'runc', '--ulimit', 'nofile=1024:1024',
                '--ulimit', 'nproc=1024:1024', '-p', '%d:8080' % port, images['podman']]
    return [images['xos-run'], '--mem', '256M', '-p', '%d:8080' % port, images[target]]


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


def stop(target, process, name):
    if target == 'podman':
        subprocess.run(['podman', 'rm', '-f', '-t', '0', name], capture_output=True, timeout=120)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pss_kib(pid):
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


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
    if target != 'podman':
        return descendants(process.pid)
    inspect = subprocess.run(['podman', 'inspect', '--format', '{{.State.Pid}} {{.State.ConmonPid}}', name],
                             capture_output=True, text=True).stdout.split()
    pids = []
    for pid in inspect:
        pids += descendants(int(pid))
    return pids


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--targets', default='xos,hosted,podman')
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--instances', type=int, default=4)
    parser.add_argument('--build-dir', default=os.path.join(ROOT, 'build'))
    parser.add_argument('--results', default=os.path.join(ROOT, 'bench', 'results'))
    parser.add_argument('--no-write', action='store_true')
    args = parser.parse_args()
    targets = args.targets.split(',')
    build = os.path.abspath(args.build_dir)
    made = subprocess.run([os.path.join(ROOT, 'tests', 'debian', 'make_rootfs.sh')], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    with open(os.path.join(made, 'stamp')) as f:
        stamp = f.read()
    archives, key = oci.make_images(os.path.join(made, 'root'), stamp)
    work = tempfile.mkdtemp(prefix='xos-bench-oci-')
    images = {'xos-run': os.path.join(build, 'tools', 'xos-run', 'xos-run'),
              'podman': '%s:nginx-%s' % (oci.TAG, key)}
    try:
        for target, platform in (('xos', 'kvm'), ('hosted', 'hosted')):
            if target in targets:
                images[target] = os.path.join(work, target, 'nginx.xos')
                started = time.perf_counter()
                subprocess.run([os.path.join(build, 'tools', 'xos-build', 'xos-build'), '--from-image',
                                os.path.join(archives, 'nginx.oci.tar'), '--platform', platform, '-o',
                                images[target]], check=True, capture_output=True)
                log('xos-build --from-image (%s): %.1f s' % (platform, time.perf_counter() - started))
        ready = {t: [] for t in targets}
        for round_number in range(args.runs):
            for target in targets:
                name = 'xos-bench-oci-%d' % os.getpid()
                process, ms = start(target, images, name)
                stop(target, process, name)
                ready[target].append(ms)
                log('round %d %s: %s ms' % (round_number + 1, target, 'failed' if ms is None else '%.0f' % ms))
        memory = {}
        for target in targets:
            running = []
            for i in range(args.instances):
                name = 'xos-bench-oci-%d-%d' % (os.getpid(), i)
                process, ms = start(target, images, name)
                running.append((process, name, ms))
            time.sleep(2)
            total = sum(pss_kib(pid) for process, name, ms in running for pid in instance_pids(target, process, name))
            ok = all(ms is not None for _, _, ms in running)
            memory[target] = total / 1024.0 if ok else None
            for process, name, _ in running:
                stop(target, process, name)
            log('%d idle %s instances: %s MiB Pss' % (args.instances, target,
                                                       'failed' if not ok else '%.1f' % memory[target]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def figure(values):
        good = [v for v in values if v is not None]
        if len(good) != len(values):
            return 'fails (%d of %d)' % (len(values) - len(good), len(values))
        return '%.0f ms (%.0f-%.0f)' % (statistics.median(good), min(good), max(good))

    base = [v for v in ready.get('podman', []) if v is not None]
    lines = ['| target | ready (first HTTP 200), median (min-max) | vs podman | Pss of %d idle instances |'
             % args.instances, '|---|---|---|---|']
    for target in targets:
        good = [v for v in ready[target] if v is not None]
        ratio = '%.2fx' % (statistics.median(good) / statistics.median(base)) if base and good else '-'
        mem = '-' if memory.get(target) is None else '%.1f MiB' % memory[target]
        lines.append('| %s | %s | %s | %s |' % (target, figure(ready[target]), ratio, mem))
    table = '\n'.join(lines)
    print(table)
    if not args.no_write:
        os.makedirs(args.results, exist_ok=True)
        with open(os.path.join(args.results, 'oci.md'), 'w') as f:
            f.write('# nginx container image: xos vs podman (runc)\n\n%d rounds, %s, %s\n\n%s\n' %
                    (args.runs, time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), os.uname().nodename, table))
        with open(os.path.join(args.results, 'oci.jsonl'), 'a') as f:
            f.write(json.dumps({'ready_ms': ready, 'pss_mib': memory, 'instances': args.instances}) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
