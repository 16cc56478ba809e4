"""Rounds of interleaved runs and their medians, for the bench scripts that measure a few cases on
a few targets in the same run (bench/fork/linked.py, bench/fork/processes.py,
bench/toolchain/servers.py):

    samples = rounds(cases, targets, runs, run_one)   # {(case, target): [value per round]}
    median(samples[key]), paired(samples[a], samples[b])

Round 0 warms up and is not counted; every round runs every case on every target back to back.
A run that fails stops the benchmark (RunFailed, with what the run said).
"""
import json
import statistics
import subprocess
import sys


class RunFailed(Exception):
    pass


def run_or_exit(command, timeout=600):
    """Runs a command and returns its stdout; a failure ends the benchmark with what it said."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        sys.exit("failed (%d): %s\n%s%s" % (result.returncode, " ".join(command), result.stdout, result.stderr))
    return result.stdout


def figure(output):
    """The value of the first JSON line ('{...}') a program printed."""
    for line in output.splitlines():
        if line.startswith('{'):
            return json.loads(line)['value']
    raise RunFailed('no figure in %r' % output[-2000:])


def rounds(cases, targets, runs, run_one, rotate=False, log=None):
    """Calls run_one(case, target) for each case and target, runs + 1 times (round 0 warms up);
    run_one returns the round's value or raises RunFailed. With rotate, round r starts at target
    r mod len(targets) (A B C, B C A, ...). Returns {(case, target): [value per counted round]}."""
    targets = list(targets)
    samples = {(c, t): [] for c in cases for t in targets}
    for round_number in range(runs + 1):
        shift = round_number % len(targets) if rotate else 0
        for case in cases:
            for target in targets[shift:] + targets[:shift]:
                value = run_one(case, target)
                if round_number:
                    samples[(case, target)].append(value)
        (log or (lambda text: print(text, file=sys.stderr, flush=True)))(
            'round %d of %d done%s' % (round_number, runs, ' (warm-up)' if not round_number else ''))
    return samples


def median(values):
    return statistics.median(values)


def paired(a, b):
    """The median of the per-round ratios a[i] / b[i] (rounds with a zero or missing b left out)."""
    ratios = [x / y for x, y in zip(a, b) if x is not None and y]
    return statistics.median(ratios) if ratios else None
