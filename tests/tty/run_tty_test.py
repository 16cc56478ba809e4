#!/usr/bin/env python3
"""Console input and the terminal on xos (tests/tty): each case runs programs from a small root
(tests/tty/ttyprobe.c built here, the host's Debian cat, dash and sleep with their libraries)
through xos-run --rootfs, on the VM or on hosted, and judges by exit status.

  pipe: ttyprobe reads its stdin from a pipe to end of file (100 KiB with every byte value, 0xff
        included): isatty/tcgetattr/fstat of fds 0-2, poll before and at end of file, the bytes'
        count and checksum; the same output as the same program natively with the same stdin.
  file: the same with stdin from a file.
  linked: the probe as a linked image (xos-build), stdin from a pipe then from a file, against
        the native probe.
  sqlite: Debian's sqlite3 (from the Debian test root, tests/debian/make_rootfs.sh) reads SQL
        from its stdin, a pipe and a file (issue 16's `echo "select 41+1;" | xos-run ...`), as
        natively in a chroot of that root; skipped (77) where the root cannot be made (not root).
  cat:  Debian's cat copies a pipe to its stdout (a pipe): the output is the input, as natively.
  pty:  xos-run on a pseudo-terminal (Python's pty module): the image's fds are terminals with
        the pty's size; an interactive dash runs a command, a line edited with DEL and ^W runs
        as edited, ^C interrupts a foreground `sleep 1000` and the shell lives on, a raw-mode read
        gets single bytes (^C included, as a byte), ^D ends the shell with status 0; Ctrl-] .
        and SIGTERM end a run, and the terminal is restored; a resize reaches TIOCGWINSZ; a
        background job reading the terminal is stopped (SIGTTIN).
  tostop: ttyprobe tostop on a pty, natively and on xos, same output and status: SIGTTOU for a
        background write with TOSTOP and for tcsetattr from the background, ignored/blocked
        SIGTTOU lets the write through, EIO for an orphaned group (write, tcsetattr, read).
"""
import argparse
import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from xostest import copy_with_libraries, debian_root  # noqa: E402

TIMEOUT = 300  # per xos-run, generous: TCG on a loaded machine
PROMPT = b'xos-tty$ '


def make_root(args, work):
    root = os.path.join(work, 'root')
    os.makedirs(os.path.join(root, 'bin'))
    os.makedirs(os.path.join(root, 'dev'))
    shutil.copy(args.probe, os.path.join(root, 'bin', 'ttyprobe'))
    for program in ['/usr/bin/cat', '/usr/bin/sleep', shutil.which('dash') or '/usr/bin/dash']:
        copy_with_libraries(program, root)
    return root


def xos_command(args, root, command, env=()):
    return ([args.xos_run, '--rootfs', root, '--platform', args.platform, '--timeout', str(TIMEOUT - 30),
             '--env', 'LC_ALL=C'] + [w for variable in env for w in ['--env', variable]] + ['--'] + command)


def test_input():
    """100 KiB with every byte value (0xff included: the VM's framing escapes it), in lines."""
    chunk = bytes(range(256)) + b'\n' + b'a line of text\n' * 8
    data = chunk * (100 * 1024 // len(chunk))
    return data + b'no newline at the end'


def compare(name, native, xos):
    if (native.returncode, native.stdout) == (xos.returncode, xos.stdout):
        print('%s: same stdout (%d bytes) and status %d natively and on xos' % (name, len(xos.stdout), xos.returncode))
        return True
    print('%s: status %d on xos, %d natively' % (name, xos.returncode, native.returncode))
    if len(native.stdout) < 4000 and len(xos.stdout) < 4000:
        print('--- native stdout\n%s--- xos stdout\n%s' % (native.stdout.decode(errors='replace'),
                                                        xos.stdout.decode(errors='replace')))
    else:
        print('stdout: %d bytes natively, %d on xos' % (len(native.stdout), len(xos.stdout)))
    print('--- xos stderr\n' + xos.stderr.decode(errors='replace')[-4000:])
    return False


def check_pipe(args, root, work):
    data = test_input()
    native = subprocess.run([args.probe, 'stdio'], input=data, capture_output=True, timeout=TIMEOUT)
    xos = subprocess.run(xos_command(args, root, ['/bin/ttyprobe', 'stdio']), input=data, capture_output=True,
                         timeout=TIMEOUT)
    return compare('ttyprobe stdio < pipe', native, xos)


def check_file(args, root, work):
    path = os.path.join(work, 'input.bin')
    with open(path, 'wb') as f:
        f.write(test_input())
    with open(path, 'rb') as f:
        native = subprocess.run([args.probe, 'stdio'], stdin=f, capture_output=True, timeout=TIMEOUT)
    with open(path, 'rb') as f:
        xos = subprocess.run(xos_command(args, root, ['/bin/ttyprobe', 'stdio']), stdin=f, capture_output=True,
                             timeout=TIMEOUT)
    return compare('ttyprobe stdio < file', native, xos)


def check_linked(args, root, work):
    data = test_input()
    native = subprocess.run([args.probe, 'stdio'], input=data, capture_output=True, timeout=TIMEOUT)
    command = [args.xos_run, '--timeout', str(TIMEOUT - 30), args.linked_probe, '--', 'stdio']
    xos = subprocess.run(command, input=data, capture_output=True, timeout=TIMEOUT)
    ok = compare('linked ttyprobe stdio < pipe', native, xos)
    path = os.path.join(work, 'input.bin')
    with open(path, 'wb') as f:
        f.write(data)
    with open(path, 'rb') as f:
        native = subprocess.run([args.probe, 'stdio'], stdin=f, capture_output=True, timeout=TIMEOUT)
    with open(path, 'rb') as f:
        xos = subprocess.run(command, stdin=f, capture_output=True, timeout=TIMEOUT)
    return compare('linked ttyprobe stdio < file', native, xos) and ok


SQL = b'''select 41+1;
create table t(x integer, name text);
insert into t values (1, 'one'), (2, 'two'), (3, 'three');
select sum(x), group_concat(name, '+') from t;
select name from t where x > 1 order by x desc;
'''


def check_sqlite(args, root, work):
    if os.geteuid() != 0:
        print('skipped: the Debian test root and the native chroot need root')
        return 77
    debian = debian_root(args.make_rootfs)
    if debian is None:
        return False
    command = ['/usr/bin/sqlite3']
    def enter():
        os.chroot(debian)
        os.chdir('/')
    native = subprocess.run(command, preexec_fn=enter, input=SQL, capture_output=True, timeout=TIMEOUT,
                            env={'LC_ALL': 'C', 'PATH': '/usr/bin:/bin'})
    if not native.stdout.startswith(b'42\n'):
        print('sqlite3 natively did not answer 42: the test is broken\n%r' % native.stdout)
        return False
    xos = subprocess.run(xos_command(args, debian, command), input=SQL, capture_output=True, timeout=TIMEOUT)
    ok = compare('sqlite3 < pipe', native, xos)
    path = os.path.join(work, 'script.sql')
    with open(path, 'wb') as f:
        f.write(SQL)
    with open(path, 'rb') as f:
        xos = subprocess.run(xos_command(args, debian, command), stdin=f, capture_output=True, timeout=TIMEOUT)
    return compare('sqlite3 < file', native, xos) and ok


def check_cat(args, root, work):
    data = test_input()
    native = subprocess.run(['/usr/bin/cat'], input=data, capture_output=True, timeout=TIMEOUT)
    xos = subprocess.run(xos_command(args, root, ['/usr/bin/cat']), input=data, capture_output=True, timeout=TIMEOUT)
    if native.stdout != data:
        print('cat natively did not copy its input: the test is broken')
        return False
    return compare('cat < pipe', native, xos)


class Session:
    """xos-run on the slave side of a pty (its session and controlling terminal)."""

    def __init__(self, command, rows, cols):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvp(command[0], command)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
        self.seen = b''
        self.seen_before_match = b''
        self.status = None

    def read_until(self, wanted, timeout=120):
        """Reads until `wanted` (bytes) appears after what was consumed; False on timeout/EOF."""
        deadline = time.monotonic() + timeout
        while wanted not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                chunk = b''
            if not chunk:
                return False
            self.seen += chunk
        at = self.seen.index(wanted)
        self.seen_before_match = self.seen[:at]
        self.seen = self.seen[at + len(wanted):]
        return True

    def send(self, data):
        os.write(self.fd, data)

    def wait(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
                if ready:
                    self.seen += os.read(self.fd, 4096)
            except OSError:
                time.sleep(0.2)
        return None

    def kill(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass


def step(ok, what, session):
    print('%s: %s' % ('ok' if ok else 'FAILED', what))
    if not ok:
        print('--- terminal output since the last match\n%r' % session.seen[-3000:])
    return ok


def check_pty(args, root, work):
    # The probes first: fds 0-2 are terminals with the pty's size, the image is in the foreground.
    probe = Session(xos_command(args, root, ['/bin/ttyprobe', 'stdio']), 33, 101)
    ok = step(probe.read_until(b'fd 2: isatty 1 tcgetattr ok type tty'), 'fds 0-2 are terminals', probe)
    probe.send(b'hello\r\x04')  # a line, then ^D at the start of a line: end of file
    ok = ok and step(probe.read_until(b'poll before reading: 1 POLLIN'), 'poll: a line is readable', probe)
    ok = ok and step(probe.read_until(b'read 6 bytes, 1 lines'), 'a line then ^D: 6 bytes and end of file', probe)
    probe.send(b'\x04')  # a terminal's end of file is not sticky (as on Linux): one more for the next read
    ok = ok and step(probe.read_until(b'read after end of file: 0'), 'another ^D: end of file again', probe)
    ok = ok and step(probe.wait() == 0, 'the probe exits 0', probe)
    probe.kill()
    if not ok:
        return False
    probe = Session(xos_command(args, root, ['/bin/ttyprobe', 'winsize']), 33, 101)
    ok = step(probe.read_until(b'winsize 33 rows 101 cols'), 'TIOCGWINSZ is the pty\'s size', probe)
    ok = ok and step(probe.wait() == 0, 'the probe exits 0', probe)
    probe.kill()
    if not ok:
        return False

    # Leaving: Ctrl-] . ends the run (130), SIGTERM to xos-run too (143); the terminal is back in
    # its cooked mode after each (xos-run made it raw).
    for how, expected in [('escape', 130), ('SIGTERM', 128 + signal.SIGTERM)]:
        probe = Session(xos_command(args, root, ['/bin/ttyprobe', 'stdio']), 24, 80)
        ok = step(probe.read_until(b'fd 2: isatty 1'), 'the probe runs (%s)' % how, probe)
        ok = ok and step(not (termios.tcgetattr(probe.fd)[3] & termios.ICANON), 'the terminal is raw', probe)
        if how == 'escape':
            probe.send(b'\x1d.')
        else:
            os.kill(probe.pid, signal.SIGTERM)
        status = probe.wait()
        ok = ok and step(status == expected, '%s ends the run with %d (got %s)' % (how, expected, status), probe)
        lflag = termios.tcgetattr(probe.fd)[3]
        ok = ok and step(lflag & termios.ICANON and lflag & termios.ECHO, 'the terminal is restored', probe)
        probe.kill()
        if not ok:
            return False

    shell = Session(xos_command(args, root, ['/usr/bin/dash', '-i'], ['PS1=' + PROMPT.decode()]), 24, 80)
    try:
        ok = step(shell.read_until(PROMPT, 240), 'dash prints its prompt', shell)
        shell.send(b'echo hello$((40+2))\r')
        ok = ok and step(shell.read_until(b'hello42'), 'a command runs and prints', shell)
        ok = ok and step(shell.read_until(PROMPT), 'the prompt again', shell)
        shell.send(b'echo abX\x7fc wrong\x17right\r')  # DEL erases X; ^W erases "wrong"
        ok = ok and step(shell.read_until(b'\r\nabc right\r\n'), 'erase and word erase in canonical mode', shell)
        ok = ok and step(shell.read_until(PROMPT), 'the prompt again', shell)
        shell.send(b'/bin/ttyprobe job\r')
        ok = ok and step(shell.read_until(b'foreground yes'), 'a job is the foreground group', shell)
        ok = ok and step(shell.read_until(PROMPT), 'the prompt again', shell)
        # A resized terminal: SIGWINCH reaches xos-run (VM: a frame on COM1) or the image
        # (hosted), and TIOCGWINSZ has the new size.
        # The resize travels asynchronously: asked again (up to 30 times) until it arrived.
        fcntl.ioctl(shell.fd, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 132, 0, 0))
        resized = False
        for _ in range(30 if ok else 0):
            shell.send(b'/bin/ttyprobe winsize\r')
            if not shell.read_until(b'winsize ') or not shell.read_until(PROMPT):
                break
            if shell.seen_before_match.startswith(b'40 rows 132 cols'):
                resized = True
                break
            time.sleep(1)
        ok = ok and step(resized, 'the new size after a resize', shell)
        shell.send(b'sleep 1000\r')
        time.sleep(3)  # let sleep start (a ^C before it does interrupts dash's own line instead)
        shell.send(b'\x03')
        # Natively (a pty, Debian's dash): "^C", a new line, the prompt; $? is 130.
        ok = ok and step(shell.read_until(b'^C\r\n' + PROMPT, 120), '^C interrupts sleep 1000', shell)
        shell.send(b'echo status $?\r')
        ok = ok and step(shell.read_until(b'status 130'), 'sleep ended by SIGINT (status 130)', shell)
        ok = ok and step(shell.read_until(PROMPT), 'the shell lives on', shell)
        # A background job that reads the terminal is stopped by SIGTTIN (natively the same lines).
        shell.send(b'cat &\r')
        ok = ok and step(shell.read_until(PROMPT), 'a background job', shell)
        stopped = False
        for _ in range(30 if ok else 0):  # cat starts asynchronously: asked until it read
            shell.send(b'jobs\r')
            if not shell.read_until(PROMPT):
                break
            if b'Stopped (tty input)' in shell.seen_before_match:
                stopped = True
                break
            time.sleep(1)
        ok = ok and step(stopped, 'its read of the terminal stopped it (SIGTTIN)', shell)
        shell.send(b'kill -9 %1\r')
        ok = ok and step(shell.read_until(PROMPT), 'the prompt again', shell)
        shell.send(b'jobs\r')
        ok = ok and step(shell.read_until(b'Killed'), 'the stopped job killed', shell)
        ok = ok and step(shell.read_until(PROMPT), 'the prompt again', shell)
        shell.send(b'/bin/ttyprobe raw\r')
        ok = ok and step(shell.read_until(b'raw mode: type'), 'raw mode on', shell)
        shell.send(b'a')
        ok = ok and step(shell.read_until(b'byte 61'), 'a single byte is read at once in raw mode', shell)
        shell.send(b'\x03')
        ok = ok and step(shell.read_until(b'byte 03'), '^C is a byte in raw mode', shell)
        shell.send(b'q')
        ok = ok and step(shell.read_until(b'raw mode done'), 'raw mode off', shell)
        ok = ok and step(shell.read_until(PROMPT), 'the prompt again', shell)
        shell.send(b'echo still $((6*7))\r')
        ok = ok and step(shell.read_until(b'still 42'), 'canonical mode again', shell)
        ok = ok and step(shell.read_until(PROMPT), 'the prompt again', shell)
        shell.send(b'\x04')
        status = shell.wait()
        ok = ok and step(status == 0, '^D ends the shell; xos-run exits 0 (got %s)' % status, shell)
    finally:
        shell.kill()
    return ok


def run_on_pty(command):
    """Runs `command` as a session leader on a new pty; its whole output (\r dropped) and status."""
    session = Session(command, 24, 80)
    try:
        status = session.wait(TIMEOUT)
        return status, session.seen.replace(b'\r', b'')
    finally:
        session.kill()


def check_tostop(args, root, work):
    native_status, native = run_on_pty([args.probe, 'tostop'])
    if native_status != 0 or b'tostop done' not in native:
        print('ttyprobe tostop natively: status %s, the test is broken\n%s' % (native_status, native.decode()))
        return False
    status, output = run_on_pty(xos_command(args, root, ['/bin/ttyprobe', 'tostop']))
    # xos-run's own notes (which accelerator it picked) share the terminal.
    output = b''.join(line for line in output.splitlines(keepends=True) if not line.startswith(b'xos-run: '))
    if (status, output) == (native_status, native):
        print('ttyprobe tostop: same output (%d lines) and status %d natively and on xos' %
              (len(output.splitlines()), status))
        return True
    print('ttyprobe tostop: status %s on xos, %s natively' % (status, native_status))
    print('--- native\n%s--- xos\n%s' % (native.decode(errors='replace'), output.decode(errors='replace')))
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--xos-run', required=True)
    parser.add_argument('--platform', choices=['kvm', 'hosted'], required=True)
    parser.add_argument('--probe', required=True)
    parser.add_argument('--linked-probe', help='ttyprobe.c as an image (xos-build)')
    parser.add_argument('--make-rootfs', help='tests/debian/make_rootfs.sh (the sqlite case)')
    parser.add_argument('case', choices=['pipe', 'file', 'cat', 'linked', 'sqlite', 'pty', 'tostop'])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='xos-tty-') as work:
        root = make_root(args, work)
        checks = {'pipe': check_pipe, 'file': check_file, 'cat': check_cat, 'linked': check_linked,
                  'sqlite': check_sqlite, 'pty': check_pty, 'tostop': check_tostop}
        ok = checks[args.case](args, root, work)
    if ok == 77:
        return 77
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
