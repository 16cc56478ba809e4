#!/usr/bin/env python3
"""bench/fork: fork+exit+wait, vfork+exec+wait of a static binary and a dash loop running a
static binary, natively (chrooted into the root made here), on xos in the VM (QEMU, TCG here)
and on xos hosted, in the same run, rounds interleaved. Times are measured inside each program
(clock_gettime), the ratios are paired per round. See bench/README.md ("Processes").

    bench/fork/processes.py [--build-dir build] [--runs 5] [--fork 200] [--vfork 100] [--dash 1000]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def copy_with_libraries(program, root):
    paths = [program]
    for line in subprocess.run(['ldd', program], capture_output=True, text=True).stdout.splitlines():
        paths += [w for w in line.split() if w.startswith('/')]
    for path in paths:
        target = os.path.join(root, path.lstrip('/'))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy(os.path.realpath(path), target)


def figure(output):
    for line in output.splitlines():
        if line.startswith('{'):
            return json.loads(line)['value']
    raise RuntimeError('no figure in %r' % output)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--build-dir', default=os.path.join(HERE, '..', '..', 'build'))
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--fork', type=int, default=200)
    parser.add_argument('--vfork', type=int, default=100)
    parser.add_argument('--dash', type=int, default=1000)
    args = parser.parse_args()
    xos_run = os.path.join(args.build_dir, 'tools', 'xos-run', 'xos-run')
    with tempfile.TemporaryDirectory(prefix='xos-bench-fork-') as work:
        root = os.path.join(work, 'root')
        os.makedirs(os.path.join(root, 'bin'))
        os.makedirs(os.path.join(root, 'dev'))
        open(os.path.join(root, 'dev', 'null'), 'w').close()
        subprocess.run(['gcc', '-O2', '-static-pie', '-o', os.path.join(root, 'bin', 'fork'),
                        os.path.join(HERE, 'fork.c')], check=True)
        copy_with_libraries('/usr/bin/dash', root)
        targets = {
            'native': lambda cmd: subprocess.run(['chroot', root] + cmd, capture_output=True, text=True, timeout=600),
            'xos-vm': lambda cmd: subprocess.run([xos_run, '--rootfs', root, '--timeout', '600', '--'] + cmd,
                                                 capture_output=True, text=True, timeout=700),
            'xos-hosted': lambda cmd: subprocess.run([xos_run, '--platform', 'hosted', '--rootfs', root,
                                                      '--timeout', '600', '--'] + cmd,
                                                     capture_output=True, text=True, timeout=700),
        }
        cases = [('fork', args.fork), ('vfork', args.vfork), ('dash', args.dash)]
        samples = {(c, t): [] for c, _ in cases for t in targets}
        for round_number in range(args.runs + 1):  # round 0 warms up
            for case, n in cases:
                for target, run in targets.items():
                    result = run(['/bin/fork', case, str(n)])
                    if result.returncode != 0:
                        print('%s on %s: status %d\n%s' % (case, target, result.returncode, result.stderr[-2000:]))
                        return 1
                    if round_number:
                        samples[(case, target)].append(figure(result.stdout))
            print('round %d done' % round_number, file=sys.stderr)
        print('| case | native | xos VM (TCG) | xos hosted | xos VM / native | xos hosted / native |')
        print('|---|---|---|---|---|---|')
        for case, n in cases:
            med = {t: statistics.median(samples[(case, t)]) for t in targets}
            ratio = {t: statistics.median(x / y for x, y in zip(samples[(case, t)], samples[(case, 'native')]))
                     for t in targets}
            print('| %s (%d, us/iteration) | %.1f | %.1f | %.1f | %.2f | %.2f |' %
                  (case, n, med['native'], med['xos-vm'], med['xos-hosted'], ratio['xos-vm'], ratio['xos-hosted']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
