#!/usr/bin/env python3
"""bench/http/nginx_docroot.py: Debian's nginx on xos with its document root on a 9P share vs in
the guest's memory, under wrk (keep-alive GET of a 612-byte index.html).

    bench/http/nginx_docroot.py [--build-dir build] [--rounds 3] [--duration 4] [--targets vm-share,vm-memory,hosted-share]
                                [--connections 1,16] [--probe]

Why: nginx opens, fstat()s, sendfile()s and closes the file for every request (open_file_cache
is off by default). On a --share directory each of those is one or more synchronous 9P round
trips (fs/9p/p9fs.h caches nothing but referenced vnodes), while redis touches no file per
request and the Linux microVM of bench/toolchain/servers.py serves from its initramfs.

Targets (each its own VM or process, all running for the whole measurement; every round runs
every target back to back, in a rotating order, after one warm-up pass):

- vm-share:     xos VM (xos-run --rootfs DEBIAN_ROOT, QEMU, 1 vCPU), root /xos-test/www on the share;
- vm-memory:    the same, but a shell copies www into /tmp (the root's writable layer, in the
                guest's memory) first and nginx serves /tmp/www;
- hosted-share: the hosted platform with the share (host file syscalls, no 9P);
- vm-share-before (with --before-build-dir DIR): vm-share with DIR's xos-run and kernel.

--probe also runs python3 on the VM timing fstat, pread, stat, open+close of the file on the
share and in /tmp (microseconds per call, measured by the guest).

Figures are medians over the rounds, and the ratio vm-share/vm-memory paired per round.
Run by hand (not by meson test); prints a Markdown table and the load average.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

NGINX_CONF = """daemon off;
master_process on;
worker_processes 1;
user root;
pid /tmp/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    client_body_temp_path /tmp/body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    server {
        listen 8080;
        root %s;
    }
}
"""

RUN = """#!/bin/sh
mkdir -p /tmp/www && cp /xos-test/www/index.html /tmp/www/
exec /usr/sbin/nginx -e stderr -p /tmp/ -c /xos-test/nginx-$1.conf
"""

PROBE = r"""
import os, time
def bench(name, fn, n=200):
    t = time.monotonic()
    for _ in range(n): fn()
    print("| %s | %.0f |" % (name, (time.monotonic() - t) / n * 1e6), flush=True)
os.makedirs("/tmp/www", exist_ok=True)
open("/tmp/www/index.html", "wb").write(open("/xos-test/www/index.html", "rb").read())
print("| call (guest clock) | us/call |\n|---|---|")
for root in ("/tmp/www", "/xos-test/www"):
    p = root + "/index.html"
    fd = os.open(p, os.O_RDONLY)
    bench(root + ": fstat(fd)", lambda: os.fstat(fd))
    bench(root + ": pread(fd, 64 KiB)", lambda: os.pread(fd, 65536, 0))
    os.close(fd)
    bench(root + ": stat(path)", lambda: os.stat(p))
    def open_close():
        os.close(os.open(p, os.O_RDONLY))
    bench(root + ": open+close", open_close)
    def request():
        f = os.open(p, os.O_RDONLY | os.O_NONBLOCK); os.fstat(f); os.pread(f, 65536, 0); os.close(f)
    bench(root + ": open+fstat+pread+close (nginx's per request)", request)
"""


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_http(port, deadline):
    while time.monotonic() < deadline:
        r = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5',
                            'http://127.0.0.1:%d/index.html' % port], capture_output=True, text=True)
        if r.stdout == '200':
            return True
        time.sleep(1)
    return False


def wrk(port, connections, duration):
    r = subprocess.run(['wrk', '-t1', '-c%d' % connections, '-d%ds' % duration, '--latency',
                        'http://127.0.0.1:%d/index.html' % port], capture_output=True, text=True,
                       timeout=duration + 60)
    rate, p99 = None, None
    for line in r.stdout.splitlines():
        words = line.split()
        if line.startswith('Requests/sec:'):
            rate = float(words[1])
        if words and words[0] == '99%':
            p99 = words[1]
    if rate is None:
        raise RuntimeError('wrk failed: ' + r.stdout + r.stderr)
    return rate, p99


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--build-dir', default=os.path.join(REPO, 'build'))
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--duration', type=int, default=4)
    parser.add_argument('--targets', default='vm-share,vm-memory,hosted-share')
    parser.add_argument('--connections', default='1,16')
    parser.add_argument('--probe', action='store_true')
    parser.add_argument('--before-build-dir', help='also measure vm-share-before: the share with the xos-run of '
                        'this other build (a before/after comparison in one run)')
    args = parser.parse_args()
    xos_run = os.path.join(args.build_dir, 'tools', 'xos-run', 'xos-run')
    dest = subprocess.run([os.path.join(REPO, 'tests', 'debian', 'make_rootfs.sh')], capture_output=True,
                          text=True, check=True).stdout.strip().splitlines()[-1]
    root = os.path.join(dest, 'root')
    work = tempfile.mkdtemp(prefix='nginx-docroot-', dir=os.path.expanduser('~'))  # shares need xattrs
    processes = []
    try:
        os.makedirs(os.path.join(work, 'www'))
        with open(os.path.join(work, 'www', 'index.html'), 'w') as f:
            f.write('x' * 611 + '\n')  # 612 bytes, as nginx's own index.html
        with open(os.path.join(work, 'nginx-share.conf'), 'w') as f:
            f.write(NGINX_CONF % '/xos-test/www')
        with open(os.path.join(work, 'nginx-memory.conf'), 'w') as f:
            f.write(NGINX_CONF % '/tmp/www')
        with open(os.path.join(work, 'run.sh'), 'w') as f:
            f.write(RUN)
        os.chmod(os.path.join(work, 'run.sh'), 0o755)
        with open(os.path.join(work, 'probe.py'), 'w') as f:
            f.write(PROBE)
        common = ['--rootfs', root, '--timeout', '1800', '--mem', '512M', '--share', work + ':/xos-test',
                  '--env', 'PATH=/usr/bin:/bin:/usr/sbin:/sbin']
        if args.probe:
            r = subprocess.run([xos_run] + common + ['--', '/usr/bin/python3', '/xos-test/probe.py'],
                               capture_output=True, text=True, timeout=600)
            print(r.stdout)
        targets = args.targets.split(',')
        if args.before_build_dir:
            targets.insert(0, 'vm-share-before')
        ports = {}
        for target in targets:
            port = free_port()
            platform = 'hosted' if target.startswith('hosted') else 'kvm'
            conf = 'memory' if target.endswith('memory') else 'share'
            log = open(os.path.join(work, target + '.log'), 'w')
            runner = os.path.join(args.before_build_dir, 'tools', 'xos-run', 'xos-run') \
                if target == 'vm-share-before' else xos_run
            processes.append(subprocess.Popen([runner, '--platform', platform] + common +
                                              ['-p', '%d:8080' % port, '--', '/xos-test/run.sh', conf],
                                              stdin=subprocess.DEVNULL, stdout=log, stderr=log))
            ports[target] = port
        for target in targets:
            if not wait_http(ports[target], time.monotonic() + 300):
                sys.exit('%s did not answer: %s' % (target, open(os.path.join(work, target + '.log')).read()))
        connections = [int(c) for c in args.connections.split(',')]
        load_before = os.getloadavg()
        for target in targets:  # warm-up
            wrk(ports[target], 1, 1)
        results = {(t, c): [] for t in targets for c in connections}
        for n in range(args.rounds):
            order = targets[n % len(targets):] + targets[:n % len(targets)]
            for c in connections:
                for target in order:
                    results[(target, c)].append(wrk(ports[target], c, args.duration))
        load_after = os.getloadavg()
        print('| target | connections | req/s (median) | p99 (per round) |\n|---|---|---|---|')
        for c in connections:
            for target in targets:
                samples = results[(target, c)]
                print('| %s | %d | %.0f | %s |' % (target, c, statistics.median(s[0] for s in samples),
                                                    ' '.join(s[1] or '?' for s in samples)))
        for better, worse in (('vm-memory', 'vm-share'), ('vm-share', 'vm-share-before')):
            if better in targets and worse in targets:
                for c in connections:
                    ratios = [b[0] / w[0] for w, b in zip(results[(worse, c)], results[(better, c)])]
                    print('\n%s / %s, %d connection(s): %.2fx (paired median)' % (better, worse, c,
                                                                                statistics.median(ratios)))
        print('\nload average: %.1f before, %.1f after (1 min)' % (load_before[0], load_after[0]))
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
