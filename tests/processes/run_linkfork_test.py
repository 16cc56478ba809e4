#!/usr/bin/env python3
"""fork in a linked image (docs/processes.md, "Linked images"): linkfork.c natively (a static
Linux binary) and as an xos image (VM or hosted), same stdout and exit status 0; then, on xos
only, N forks leave the free memory where it was (`linkfork leak N`, judged by its exit status).

usage: run_linkfork_test.py --xos-run PATH --native PATH --image PATH [--forks N] [--xos-run-arg ARG]...
"""
import argparse
import subprocess
import sys

TIMEOUT = 300


def show(title, result):
    print('--- %s: status %d ---\n%s--- stderr ---\n%s' % (title, result.returncode, result.stdout, result.stderr))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--native', required=True)
    parser.add_argument('--image', required=True)
    parser.add_argument('--forks', default='100')
    parser.add_argument('--xos-run-arg', action='append', default=[], help='extra xos-run option')
    args = parser.parse_args()

    failures = []
    native = subprocess.run([args.native, args.native], capture_output=True, text=True, timeout=TIMEOUT)
    show('native', native)
    if native.returncode != 0:
        failures.append('the native run failed (status %d)' % native.returncode)
    xos = subprocess.run([args.xos_run, '--timeout', '240'] + args.xos_run_arg + [args.image, '--', '/bin/linkfork'],
                         capture_output=True, text=True, timeout=TIMEOUT)
    show('xos', xos)
    if xos.returncode != 0:
        failures.append('the xos run failed (status %d)' % xos.returncode)
    if xos.stdout != native.stdout:
        failures.append('stdout differs between the native and the xos run')
    leak = subprocess.run([args.xos_run, '--timeout', '240', args.image, '--', 'leak', args.forks],
                          capture_output=True, text=True, timeout=TIMEOUT)
    show('xos leak check', leak)
    if leak.returncode != 0:
        failures.append('%s forks changed the free memory (status %d)' % (args.forks, leak.returncode))
    for failure in failures:
        print('FAIL:', failure)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
