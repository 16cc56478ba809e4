#!/usr/bin/env python3
"""bench/fork: fork+exit+wait, vfork+exec+wait of a static binary and a dash loop running a
static binary, natively (chrooted into the root made here), on xos in the VM (QEMU, TCG here),
on xos hosted and in the Linux microVM (bench/harness: Debian's kernel on the same QEMU machine,
accelerator, CPU and memory as xos-run's, the same root as its initramfs with bench/startup's
/init), in the same run, rounds interleaved. Times are measured inside each program
(clock_gettime, the guest's clock in a VM), the ratios are paired per round. See
bench/README.md ("Processes").

    bench/fork/processes.py [--build-dir build] [--runs 5] [--fork 200] [--vfork 100] [--dash 1000]
                            [--targets native,xos-vm,xos-hosted,linux-vm] [--before DIR]

--before DIR adds the targets xos-vm-before and xos-hosted-before (for those of xos-vm and
xos-hosted that --targets names): the same xos-run with the
generic kernels DIR/xos-kernel.xos and DIR/xos-kernel-hosted (XOS_KERNEL), e.g. copies of an
earlier build's, to compare a change before and after in one run.
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH_DIR), 'tests', 'lib'))
from harness import rounds, targets as harness_targets  # noqa: E402
from xostest import copy_with_libraries  # noqa: E402


def startup_module():
    """bench/startup/run.py, for its initramfs builder and /init."""
    spec = importlib.util.spec_from_file_location('startup_run', os.path.join(BENCH_DIR, 'startup', 'run.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def linux_vm_target(args, root, work):
    """The Linux microVM running `cmd` from `root` (as its initramfs, with bench/startup's /init)."""
    reference = os.path.join(args.build_dir, 'tools', 'xos-kernel', 'xos-kernel.xos')  # its QEMU machine
    vm = harness_targets.LinuxVm(args.build_dir, work, reference)
    init = os.path.join(work, 'linux-init')
    subprocess.run(['musl-gcc', '-static', '-O2', '-s', os.path.join(BENCH_DIR, 'startup', 'init.c'),
                    os.path.join(BENCH_DIR, 'programs', 'linux_vm_init.c'), '-o', init], check=True)
    for directory in ('proc', 'tmp'):
        os.makedirs(os.path.join(root, directory), exist_ok=True)
    initramfs = startup_module().initramfs(root, init, [], os.path.join(work, 'fork.cpio'))
    accel = 'TCG' if 'tcg' in ' '.join(vm.machine) else 'KVM'

    def run(cmd):
        argv = vm.machine + ['-kernel', vm.vmlinux, '-initrd', initramfs,
                             '-append', '%s -- %s' % (vm.cmdline, ' '.join(cmd)),
                             '-chardev', 'stdio,id=con', '-serial', 'chardev:con']
        result = subprocess.run(argv, capture_output=True, text=True, timeout=700)
        # /init powers the VM off (status 0) whatever the program's status: the figure decides.
        if not any(line.strip().startswith('{') for line in result.stdout.splitlines()):
            result.returncode = result.returncode or 1
        return result
    return run, accel


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--build-dir', default=os.path.join(HERE, '..', '..', 'build'))
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--fork', type=int, default=200)
    parser.add_argument('--vfork', type=int, default=100)
    parser.add_argument('--dash', type=int, default=1000)
    parser.add_argument('--targets', default='native,xos-vm,xos-hosted,linux-vm')
    parser.add_argument('--before', help='a directory with earlier generic kernels (see above)')
    args = parser.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
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
        if args.before:
            before = os.path.abspath(args.before)

            def with_kernel(platform, image):
                env = dict(os.environ, XOS_KERNEL=os.path.join(before, image))
                return lambda cmd: subprocess.run([xos_run, '--platform', platform, '--rootfs', root, '--timeout',
                                                   '600', '--'] + cmd, capture_output=True, text=True, timeout=700,
                                                  env=env)
            wanted = args.targets.split(',')
            if 'xos-vm' in wanted:
                targets['xos-vm-before'] = with_kernel('kvm', 'xos-kernel.xos')
                args.targets += ',xos-vm-before'
            if 'xos-hosted' in wanted:
                targets['xos-hosted-before'] = with_kernel('hosted', 'xos-kernel-hosted')
                args.targets += ',xos-hosted-before'
        if 'linux-vm' in args.targets.split(','):
            targets['linux-vm'], accel = linux_vm_target(args, root, work)
            print('Linux microVM under %s' % accel, file=sys.stderr)
        targets = {name: run for name, run in targets.items() if name in args.targets.split(',')}
        cases = [('fork', args.fork), ('vfork', args.vfork), ('dash', args.dash)]

        def run_one(case, target):
            result = targets[target](['/bin/fork', case, str(dict(cases)[case])])
            if result.returncode != 0:
                raise rounds.RunFailed('%s on %s: status %d\n%s' % (case, target, result.returncode,
                                                                    result.stderr[-2000:]))
            return rounds.figure(result.stdout)
        try:
            samples = rounds.rounds([c for c, _ in cases], targets, args.runs, run_one)
        except rounds.RunFailed as failure:
            print(failure)
            return 1
        others = [t for t in targets if t != 'native']
        print('| case | ' + ' | '.join(targets) + ' | ' + ' | '.join('%s / native' % t for t in others) +
              (' | linux-vm / xos-vm |' if 'linux-vm' in targets and 'xos-vm' in targets else ' |'))
        print('|---' * (1 + len(targets) + len(others) + ('linux-vm' in targets and 'xos-vm' in targets)) + '|')
        for case, n in cases:
            med = {t: rounds.median(samples[(case, t)]) for t in targets}

            def paired(a, b):
                return rounds.paired(samples[(case, a)], samples[(case, b)])
            row = ['%s (%d, us/iteration)' % (case, n)] + ['%.1f' % med[t] for t in targets]
            row += ['%.2f' % paired(t, 'native') for t in others]
            if 'linux-vm' in targets and 'xos-vm' in targets:
                row.append('%.2f' % paired('linux-vm', 'xos-vm'))
            print('| ' + ' | '.join(row) + ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
