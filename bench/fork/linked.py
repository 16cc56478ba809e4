#!/usr/bin/env python3
"""bench/fork/linked.py: fork + exit + wait of a program linked into the image (xos-build) next to
the same program as an unmodified static binary (glibc static-pie, through the generic kernel,
xos-run --rootfs), on the VM (QEMU, TCG here) and hosted, and natively, in the same run, rounds
interleaved. The program is bench/fork/fork.c's `fork N`; times are measured inside it
(clock_gettime), ratios are paired per round. See bench/README.md ("Processes").

    bench/fork/linked.py [--build-dir build] [--runs 5] [--fork 200]
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from harness import rounds  # noqa: E402


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

        def run_one(case, target):
            result = subprocess.run(targets[target], capture_output=True, text=True, timeout=700)
            if result.returncode != 0:
                raise rounds.RunFailed('%s: status %d\n%s' % (target, result.returncode, result.stderr[-2000:]))
            return rounds.figure(result.stdout)
        try:
            samples = rounds.rounds(['fork'], targets, args.runs, run_one)
        except rounds.RunFailed as failure:
            print(failure)
            return 1
        print('| fork + exit + wait (%s rounds, us) | native | VM unmodified | VM linked | hosted unmodified | '
              'hosted linked |' % n)
        print('|---|---|---|---|---|---|')
        med = {t: rounds.median(samples[('fork', t)]) for t in targets}
        ratio = {t: rounds.paired(samples[('fork', t)], samples[('fork', 'native')]) for t in targets}
        print('| median | %s |' % ' | '.join('{:,.0f}'.format(med[t]) for t in targets))
        print('| / native | %s |' % ' | '.join('%.2f' % ratio[t] for t in targets))
    return 0


if __name__ == '__main__':
    sys.exit(main())
