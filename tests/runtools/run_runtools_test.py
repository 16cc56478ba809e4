#!/usr/bin/env python3
"""xos-run PROGRAM (the host program in a temporary root) and xos-build --exec (one image).

  shortcut:   xos-run [--platform P] /usr/bin/sort, sha256sum, printenv, true/false: the
              same output and status as the host's own run; --share and --env reach the
              program; redis-server (when installed) answers PING/SET/GET through -p; the
              temporary root is gone afterwards, also after SIGINT and SIGKILL of xos-run.
  exec-image: xos-build --exec PROGRAM --rootfs ROOT (ROOT made here with ldd, independently of
              the collector), the image moved elsewhere and ROOT removed: it still runs and
              prints what the host's program prints; the host's sqlite3 from / when it exists.
  errors:     a program that does not exist (127), a non-ELF file, another machine's ELF and
              a missing library (126), the same for xos-build --exec (status 1 or 2): each
              with a message naming the problem, and no temporary root left behind.

The verdict is this script's exit status (0: every case passed).
"""
import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from xostest import copy_with_libraries  # noqa: E402

TIMEOUT = 300
FAILURES = []


def check(condition, what, detail=''):
    if not condition:
        FAILURES.append(what)
        print('FAIL: %s\n%s' % (what, detail))
    return condition


def describe(result):
    return 'status %d\nstdout:\n%s\nstderr:\n%s' % (result.returncode, result.stdout, result.stderr)


class Env:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.tmpdir = os.path.join(work, 'tmp')  # xos-run's TMPDIR: its temporary roots land here
        os.makedirs(self.tmpdir)
        self.data = os.path.join(work, 'data')
        os.makedirs(self.data)
        with open(os.path.join(self.data, 'input.txt'), 'w') as f:
            f.write(''.join('line %d %s\n' % ((i * 7919) % 1000, 'x' * (i % 13)) for i in range(2000)))

    def xos_run(self, argv, **kwargs):
        command = [self.args.xos_run, '--platform', self.args.platform, '--timeout', '240'] + argv
        env = dict(os.environ, TMPDIR=self.tmpdir)
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env, **kwargs)

    def native(self, argv, **kwargs):
        return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)

    def roots_left(self):
        return os.listdir(self.tmpdir)


def same_as_native(env, what, xos, native):
    check(xos.returncode == native.returncode and xos.stdout == native.stdout, what,
          'natively: %s\non xos: %s' % (describe(native), describe(xos)))


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_shortcut(env):
    share = ['--share', env.data + ':/data']
    native = env.native(['sort', 'input.txt'], cwd=env.data, env={'LC_ALL': 'C'})
    xos = env.xos_run(share + ['--env', 'LC_ALL=C', '/usr/bin/sort', '--', '/data/input.txt'])
    same_as_native(env, 'xos-run /usr/bin/sort', xos, native)
    native = env.native(['sha256sum', 'input.txt'], cwd=env.data)
    xos = env.xos_run(share + ['sha256sum', '--', '/data/input.txt'])  # a name: found in PATH
    check(xos.returncode == 0 and xos.stdout.split()[0] == native.stdout.split()[0], 'xos-run sha256sum (from PATH)',
          describe(xos))
    xos = env.xos_run(['--env', 'XOS_TEST_VALUE=two words', '/usr/bin/printenv', '--', 'XOS_TEST_VALUE'])
    check(xos.returncode == 0 and xos.stdout == 'two words\n', 'xos-run --env ... printenv', describe(xos))
    check(env.xos_run(['/usr/bin/true']).returncode == 0, 'xos-run /usr/bin/true: 0')
    check(env.xos_run(['/usr/bin/false']).returncode == 1, 'xos-run /usr/bin/false: 1')
    check(not env.roots_left(), 'no temporary root left after the runs', str(env.roots_left()))

    if os.path.exists('/usr/bin/redis-server'):
        check_redis(env)

    # xos-run interrupted (^C) or killed while the program runs: the root still goes away.
    for sig in (signal.SIGINT, signal.SIGKILL):
        process = subprocess.Popen([env.args.xos_run, '--platform', env.args.platform, '--timeout', '120',
                                    '/usr/bin/sleep', '--', '60'], env=dict(os.environ, TMPDIR=env.tmpdir),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        appeared = wait_for(lambda: env.roots_left(), 60)
        check(appeared, 'the temporary root exists while %s runs' % 'sleep')
        time.sleep(1)
        process.send_signal(sig)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            check(False, 'xos-run ends after %s' % sig.name)
        check(wait_for(lambda: not env.roots_left(), 30), 'the temporary root is removed after %s' % sig.name,
              str(env.roots_left()))


def redis_command(port, *words):
    """One RESP command over a new connection; the reply's first line, or None."""
    request = ('*%d\r\n' % len(words) + ''.join('$%d\r\n%s\r\n' % (len(w), w) for w in words)).encode()
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
            s.sendall(request)
            reply = b''
            while b'\r\n' not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
            if reply.startswith(b'$') and b'\r\n' in reply:  # a bulk string: its data line follows
                while reply.count(b'\r\n') < 2:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            return reply.decode(errors='replace').split('\r\n')[:2]
    except OSError:
        return None


def check_redis(env):
    """redis-server (Debian's, the host's) through -p: PING, SET, GET, SHUTDOWN from the host."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([env.args.xos_run, '--platform', env.args.platform, '--timeout', '240', '-p',
                                '%d:6379' % port, '/usr/bin/redis-server', '--', '--port', '6379',
                                '--protected-mode', 'no', '--save', ''], env=dict(os.environ, TMPDIR=env.tmpdir),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    answered = wait_for(lambda: (redis_command(port, 'PING') or [''])[0] == '+PONG', 180)
    if check(answered, 'redis-server answers PING through xos-run -p'):
        check(redis_command(port, 'SET', 'key', 'some value') == ['+OK', ''], 'redis SET')
        check(redis_command(port, 'GET', 'key') == ['$10', 'some value'], 'redis GET',
              str(redis_command(port, 'GET', 'key')))
        redis_command(port, 'SHUTDOWN', 'NOSAVE')
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    check(answered and process.returncode == 0, 'redis-server ends with status 0 after SHUTDOWN',
          'status %s\n%s' % (process.returncode, output[-3000:]))


def build_exec(env, argv):
    command = [env.args.xos_build, '--platform', env.args.platform] + argv
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)


def test_exec_image(env):
    root = os.path.join(env.work, 'root')
    os.makedirs(root)
    copy_with_libraries('/usr/bin/sort', root, check=True)
    built = os.path.join(env.work, 'built')
    os.makedirs(built)
    image = os.path.join(built, 'sort.xos')
    result = build_exec(env, ['--exec', '/usr/bin/sort', '--rootfs', root, '--add',
                              os.path.join(env.data, 'input.txt') + ':/data/input.txt', '-o', image])
    if not check(result.returncode == 0 and os.path.isfile(image), 'xos-build --exec /usr/bin/sort', describe(result)):
        return
    # Self-contained: moved elsewhere, its root gone.
    shutil.rmtree(root)
    moved = os.path.join(env.work, 'elsewhere', 'sort-image')
    os.makedirs(os.path.dirname(moved))
    shutil.move(image, moved)
    shutil.rmtree(built)
    native = env.native(['sort', '-r', 'input.txt'], cwd=env.data, env={'LC_ALL': 'C'})
    xos = env.xos_run(['--env', 'LC_ALL=C', moved, '--', '-r', '/data/input.txt'])
    same_as_native(env, 'the --exec image of sort, its root removed', xos, native)
    xos = env.xos_run([moved, '--', '--version'])
    check(xos.returncode == 0 and xos.stdout.startswith('sort '), 'the --exec image runs sort (argv[0])',
          describe(xos))

    sqlite3 = shutil.which('sqlite3')
    if sqlite3:
        image = os.path.join(env.work, 'sqlite3.xos')
        result = build_exec(env, ['--exec', os.path.realpath(sqlite3), '-o', image])
        if check(result.returncode == 0, 'xos-build --exec sqlite3 (from /)', describe(result)):
            sql = 'create table t(x); insert into t values (6),(7),(29); select sum(x), count(*) from t;'
            native = env.native([sqlite3, ':memory:', sql])
            xos = env.xos_run(['--mem', '256M', image, '--', ':memory:', sql])
            same_as_native(env, 'the --exec image of sqlite3', xos, native)


def make_missing_library_program(env):
    """A program that needs libxosgone.so, which is removed after the link."""
    source = os.path.join(env.work, 'needs.c')
    library = os.path.join(env.work, 'libxosgone.so')
    with open(os.path.join(env.work, 'gone.c'), 'w') as f:
        f.write('int gone(void) { return 3; }\n')
    with open(source, 'w') as f:
        f.write('int gone(void);\nint main(void) { return gone(); }\n')
    program = os.path.join(env.work, 'needs-gone')
    subprocess.run(['gcc', '-shared', '-fPIC', '-o', library, os.path.join(env.work, 'gone.c')], check=True)
    subprocess.run(['gcc', '-o', program, source, '-L' + env.work, '-lxosgone'], check=True)
    os.unlink(library)
    return program


def test_errors(env):
    text = os.path.join(env.work, 'text-program')
    with open(text, 'w') as f:
        f.write('this is not a program\n')
    os.chmod(text, 0o755)
    arm = os.path.join(env.work, 'arm-program')
    data = bytearray(open('/usr/bin/true', 'rb').read())
    data[18:20] = (183).to_bytes(2, 'little')  # EM_AARCH64
    open(arm, 'wb').write(bytes(data))
    os.chmod(arm, 0o755)
    cases = [
        ('/usr/bin/no-such-program-here', 127, 'no such file'),
        ('no-such-program-in-path', 127, 'no such file'),
        (text, 126, 'not an ELF'),
        (arm, 126, 'this file is for aarch64'),
    ]
    if shutil.which('gcc'):
        cases.append((make_missing_library_program(env), 126, 'libxosgone.so: library not found'))
    for program, status, message in cases:
        xos = env.xos_run([program])
        check(xos.returncode == status and message in xos.stderr and 'crash' not in xos.stderr,
              'xos-run %s: status %d, "%s"' % (program, status, message), describe(xos))
        if program.startswith('/'):
            result = build_exec(env, ['--exec', program, '-o', os.path.join(env.work, 'never.xos')])
            check(result.returncode == 1 and message in result.stderr and not os.path.exists(
                os.path.join(env.work, 'never.xos')), 'xos-build --exec %s: status 1, "%s"' % (program, message),
                  describe(result))
    result = build_exec(env, ['--exec', 'relative/program'])
    check(result.returncode == 2 and 'absolute path' in result.stderr, 'xos-build --exec relative/program',
          describe(result))
    result = build_exec(env, ['--exec', '/usr/bin/true', 'main.c'])
    check(result.returncode == 2 and 'no sources' in result.stderr, 'xos-build --exec with a source',
          describe(result))
    check(not env.roots_left(), 'no temporary root left after the errors', str(env.roots_left()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--xos-build', required=True)
    parser.add_argument('--platform', default='kvm')
    parser.add_argument('mode', choices=['shortcut', 'exec-image', 'errors'])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='xos-runtools-') as work:
        env = Env(args, work)
        {'shortcut': test_shortcut, 'exec-image': test_exec_image, 'errors': test_errors}[args.mode](env)
    if FAILURES:
        print('%d case(s) failed: %s' % (len(FAILURES), '; '.join(FAILURES)))
        return 1
    print('%s on %s: all cases passed' % (args.mode, args.platform))
    return 0


if __name__ == '__main__':
    sys.exit(main())
