#!/usr/bin/env python3
"""bench/rootimage/run.py: the EROFS root (xos-run --root-image) against the share root
(xos-run --rootfs: 9p on the VM, hostfs on hosted) and native, on the Debian test root.

    bench/rootimage/run.py [--runs 5] [--build-dir build] [--instances 4] [--only startup,memory]

- startup: wall time from the command's start to its exit for python3 -c 'print(1)' (Debian's
  python3 from the Debian test root, tests/debian/make_rootfs.sh) with the root given as the
  EROFS image (tests/erofs/make_image.sh) and as the directory, on the VM and on hosted; native is
  the same python3 in a chroot of the directory. Rounds alternate the targets (A B C ... A B C);
  each figure is the median of --runs rounds, with min and max.
- memory: N VMs (--instances) started from the same EROFS file, each running python3 that imports
  json and sqlite3, prints "ready" and sleeps; once all are ready, the host memory they take: the
  sum of the QEMU processes' RSS and PSS (/proc/PID/smaps_rollup), per VM, for N = 1 and N;
  the same with N VMs on the share root for comparison. The image file is opened read-only by
  every QEMU (readonly=on), so the host keeps one copy of its pages in its page cache.

Needs root (the Debian root is root-owned, the native run chroots). Prints a Markdown table.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ENV = ['PATH=/usr/bin:/bin', 'HOME=/root', 'LC_ALL=C', 'PYTHONDONTWRITEBYTECODE=1']


def log(message):
    print('[rootimage] ' + message, file=sys.stderr, flush=True)


def xos_command(xos_run, platform, root_kind, root, program, mem='512M'):
    option = ['--root-image', root] if root_kind == 'erofs' else ['--rootfs', root]
    command = [xos_run] + option + ['--platform', platform, '--mem', mem, '--timeout', '300']
    for variable in ENV:
        command += ['--env', variable]
    return command + ['--'] + program


def timed(command):
    start = time.monotonic()
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
    elapsed = time.monotonic() - start
    if result.returncode != 0 or result.stdout.strip() != b'1':
        raise RuntimeError('%s: status %d, stdout %r, stderr %s' %
                           (' '.join(command), result.returncode, result.stdout, result.stderr.decode()[-2000:]))
    return elapsed * 1000


def startup(args, image, root):
    program = ['/usr/bin/python3', '-c', 'print(1)']
    targets = {}
    for platform in ('kvm', 'hosted'):
        for kind, path in (('erofs', image), ('share', root)):
            targets['%s %s' % ('VM' if platform == 'kvm' else 'hosted', kind)] = xos_command(
                args.xos_run, platform, kind, path, program)
    targets['native (chroot)'] = ['env', '-i'] + ENV + ['/usr/sbin/chroot', root] + program
    samples = {name: [] for name in targets}
    for name, command in targets.items():  # warm-up: the host's page cache, QEMU's binary
        timed(command)
    for round_number in range(args.runs):
        for name, command in targets.items():
            samples[name].append(timed(command))
        log('startup round %d/%d' % (round_number + 1, args.runs))
    print('\n| python3 -c \'print(1)\' to exit | median ms | min-max |')
    print('|---|---|---|')
    for name, values in samples.items():
        print('| %s | %.0f | %.0f-%.0f |' % (name, statistics.median(values), min(values), max(values)))


def descendants(pid):
    """pid and every process below it."""
    found = [pid]
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as f:
                    parent = int(f.read().rsplit(')', 1)[1].split()[1])
            except OSError:
                continue
            if parent == pid:
                found += descendants(int(entry))
    return found


def rss_pss_kib(pid):
    values = {}
    try:
        with open('/proc/%d/smaps_rollup' % pid) as f:
            for line in f:
                key, _, rest = line.partition(':')
                if key in ('Rss', 'Pss'):
                    values[key] = int(rest.split()[0])
        with open('/proc/%d/comm' % pid) as f:
            comm = f.read().strip()
    except OSError:
        return None
    return comm, values.get('Rss', 0), values.get('Pss', 0)


def memory(args, image, root, kind, count):
    program = ['/usr/bin/python3', '-c',
               'import json, sqlite3, time; print("ready", flush=True); time.sleep(600)']
    path = image if kind == 'erofs' else root
    processes = []
    try:
        for _ in range(count):
            processes.append(subprocess.Popen(xos_command(args.xos_run, 'kvm', kind, path, program, mem='256M'),
                                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                              stderr=subprocess.DEVNULL))
        for process in processes:
            line = process.stdout.readline()
            if line.strip() != b'ready':
                raise RuntimeError('an instance did not start: %r' % line)
        time.sleep(2)
        rss = pss = 0
        for process in processes:
            for pid in descendants(process.pid):
                measured = rss_pss_kib(pid)
                if measured and measured[0].startswith('qemu'):
                    rss += measured[1]
                    pss += measured[2]
        return rss, pss
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()
        # QEMU goes with xos-run (PR_SET_PDEATHSIG); give it a moment.
        time.sleep(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--build-dir', default=os.path.join(REPO, 'build'))
    parser.add_argument('--instances', type=int, default=4)
    parser.add_argument('--only', default='startup,memory')
    args = parser.parse_args()
    args.xos_run = os.path.join(args.build_dir, 'tools', 'xos-run', 'xos-run')
    make_rootfs = os.path.join(REPO, 'tests', 'debian', 'make_rootfs.sh')
    image = subprocess.run([os.path.join(REPO, 'tests', 'erofs', 'make_image.sh'), make_rootfs],
                           stdout=subprocess.PIPE, text=True, check=True).stdout.strip().splitlines()[-1]
    root = os.path.join(os.path.dirname(image), 'root')
    log('image %s (%d MiB), root %s' % (image, os.path.getsize(image) >> 20, root))
    only = args.only.split(',')
    if 'startup' in only:
        startup(args, image, root)
    if 'memory' in only:
        print('\n| idle VMs (python3, -m 256M) | VMs | QEMU RSS total MiB | RSS per VM MiB | PSS total MiB |')
        print('|---|---|---|---|---|')
        for kind, count in (('erofs', 1), ('erofs', args.instances), ('share', args.instances)):
            rss, pss = memory(args, image, root, kind, count)
            print('| %s | %d | %.0f | %.0f | %.0f |' % ('--root-image' if kind == 'erofs' else '--rootfs (9p)', count,
                                                       rss / 1024, rss / 1024 / count, pss / 1024))
            log('memory %s x%d done' % (kind, count))


if __name__ == '__main__':
    sys.exit(main())
