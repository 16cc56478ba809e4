#!/usr/bin/env python3
"""bench/fork/linked.py: fork + exit + wait of a program linked into the image (xos-build) next to
the same program as an unmodified static binary (glibc static-pie, through the generic kernel,
xos-run --rootfs), on the VM (QEMU, TCG here) and hosted, and natively, in the same run, rounds
interleaved. The program is bench/fork/fork.c's `fork N`; times are measured inside it
(clock_gettime), ratios are paired per round. See bench/README.md ("Processes").

    bench/fork/linked.py [--build-dir build] [--runs 5] [--fork 200]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


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
    args = parser.parse_args()
    xos_run = os.path.join(args.build_dir, 'tools', 'xos-run', 'xos-run')
    xos_build = os.path.join(args.build_dir, 'tools', 'xos-build', 'xos-build')
    source = os.path.join(HERE, 'fork.c')
    with tempfile.TemporaryDirectory(prefix='xos-bench-linked-fork-') as work:
        root = os.path.join(work, 'root')
        os.makedirs(os.path.join(root, 'bin'))
        native = os.path.join(root, 'bin', 'fork')
        subprocess.run(['gcc', '-O2', '-static-pie', '-o', native, source], check=True)
        vm_image, hosted_image = os.path.join(work, 'fork.xos'), os.path.join(work, 'fork-hosted')
        subprocess.run([xos_build, '-O2', source, '-o', vm_image], check=True)
        subprocess.run([xos_build, '--platform', 'hosted', '-O2', source, '-o', hosted_image], check=True)
        n = str(args.fork)
        targets = {
            'native': [native, 'fork', n],
            'vm-unmodified': [xos_run, '--rootfs', root, '--timeout', '600', '--', '/bin/fork', 'fork', n],
            'vm-linked': [xos_run, '--timeout', '600', vm_image, '--', 'fork', n],
            'hosted-unmodified': [xos_run, '--platform', 'hosted', '--rootfs', root, '--timeout', '600', '--',
                                  '/bin/fork', 'fork', n],
            'hosted-linked': [xos_run, '--timeout', '600', hosted_image, '--', 'fork', n],
        }
        samples = {t: [] for t in targets}
        for round_number in range(args.runs + 1):  # round 0 warms up
            for target, command in targets.items():
                result = subprocess.run(command, capture_output=True, text=True, timeout=700)
                if result.returncode != 0:
                    print('%s: status %d\n%s' % (target, result.returncode, result.stderr[-2000:]))
                    return 1
                if round_number:
                    samples[target].append(figure(result.stdout))
            print('round %d done' % round_number, file=sys.stderr)
        print('| fork + exit + wait (%s rounds, us) | native | VM unmodified | VM linked | hosted unmodified | '
              'hosted linked |' % n)
        print('|---|---|---|---|---|---|')
        med = {t: statistics.median(samples[t]) for t in targets}
        ratio = {t: statistics.median(x / y for x, y in zip(samples[t], samples['native'])) for t in targets}
        print('| median | %s |' % ' | '.join('{:,.0f}'.format(med[t]) for t in targets))
        print('| / native | %s |' % ' | '.join('%.2f' % ratio[t] for t in targets))
    return 0


if __name__ == '__main__':
    sys.exit(main())
