#!/usr/bin/env python3
"""tests/net/net_test.py: network tests of xos through QEMU user networking, driving netcheck.c.

    net_test.py --xos-run BUILD/tools/xos-run/xos-run --image BUILD/tests/net/netcheck.xos [--port 28110]
    net_test.py --native BUILD/tests/net/netcheck-linux      # the same checks against Linux

Three boots of the same image (netcheck's roles, see netcheck.c):

  serve    `xos-run -p tcp:PORT:7000 -p udp:PORT+1:7001 netcheck.xos -- serve 7000 7001`:
           udp_echo     datagrams of 1, 1400, 8000 (IP fragments), 30000 and 65507 bytes echoed intact,
                        and the guest's recvfrom reports the host (10.0.2.2 with the host socket's port)
           concurrent   200 TCP connections open at once (connects paced: QEMU's forwarder accepts
                        with a backlog of 1), each echoes a distinct payload, then 64 KiB each from
                        200 threads, then all closed; the server's open-connection count returns to 0
           robustness   garbage, disconnects and resets mid-message, a half-close, a command prefix,
                        a peer that sends without reading; the server keeps serving
           churn        10,000 connections in a row (--connections N), each one small echo; the
                        guest's MemFree (/proc/meminfo, via the STATS command) returns to within
                        512 KiB of its value before (polled up to 30 s), no connection left open
           quit         QUIT: the server exits with status 0 (it counted no unexpected error)
  client   the guest connects out to a TCP and a UDP server of this script on the host's loopback
           (the guest reaches it as 10.0.2.2): echoes, 1 MiB each way with CRC-32s, orderly close,
           UDP echoes of 1, 1400 and 8000 bytes; the guest's exit status says whether its checks passed
  resolve  in a private network namespace (unshare -rn), a DNS responder of this script on
           127.0.0.1:53 (the guest's --dns 10.0.2.2): getaddrinfo of a name from the image's
           /etc/hosts (tests/net/rootfs), of a name only the responder knows, and of an unknown name
           (EAI_NONAME); the responder must have seen the queries for the latter two only.
           Skipped (with a message) if unshare -rn is not permitted.

With --native the same roles run as Linux processes on loopback (ports chosen by the kernel; the
resolve boot bind-mounts /etc/hosts and /etc/resolv.conf in a user+mount+net namespace), which
checks the checks. Exits 1 if any check failed, 77 if nothing could run.
"""
import argparse
import os
import queue
import random
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

from nettest import Failure, check, connect_from_fresh_port

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from xostest import stop_process  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
START_LINE = re.compile(r"netcheck: serving tcp (\d+) udp (\d+)")
GUEST_TCP, GUEST_UDP = 7000, 7001
HOSTS_NAME, HOSTS_ADDR = "hosts-only.xos.test", "10.11.12.13"  # in tests/net/rootfs/etc/hosts
DNS_NAME, DNS_ADDR = "test.xos.internal", "192.0.2.53"          # only the test's DNS responder knows it
DNS_MISSING = "missing.xos.internal"                             # NXDOMAIN


class Guest:
    """A netcheck process (xos-run or native); stdout and stderr drained by a thread."""

    def __init__(self, command):
        self.command = command
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        self.lines = queue.Queue()
        self.output = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_line(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                return None
            match = pattern.search(line)
            if match:
                return match
        return None

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        stop_process(self.process)

    def tail(self, count=30):
        return "\n".join("     | " + line for line in self.output[-count:])


class Report:
    def __init__(self):
        self.failures, self.count = [], 0

    def run(self, name, function, *args):
        self.count += 1
        started = time.monotonic()
        try:
            detail = function(*args)
            print("ok   %-22s %6.2fs  %s" % (name, time.monotonic() - started, detail or ""), flush=True)
            return True
        except (Failure, OSError, ValueError, subprocess.SubprocessError) as e:
            self.failures.append(name)
            print("FAIL %-22s %6.2fs  %s: %s" % (name, time.monotonic() - started, type(e).__name__, e), flush=True)
            return False

    def skip(self, name, why):
        print("skip %-22s         %s" % (name, why), flush=True)


# Local port -> (time, number) of the connections made from it, for stall reports: on loopback
# Linux reuses the port of a connection in TIME_WAIT right away (net.ipv4.tcp_tw_reuse=2).
PORT_HISTORY = {}
CONNECTIONS = [0]


def note_port(sock):
    CONNECTIONS[0] += 1
    PORT_HISTORY.setdefault(sock.getsockname()[1], []).append((time.monotonic(), CONNECTIONS[0]))


def ss_state(sock):
    """The host's view of a TCP connection (both ends on the host, e.g. QEMU's), for stall reports."""
    try:
        port = sock.getsockname()[1]
        uses = PORT_HISTORY.get(port, [])
        if len(uses) > 1:
            reuse = "the port's previous connection (#%d of this run) was made %.1fs earlier" % (
                uses[-2][1], uses[-1][0] - uses[-2][0])
        else:
            reuse = "first use of the port in this run"
        out = subprocess.run(["ss", "-tnoi", "( sport = :%d or dport = :%d )" % (port, port)],
                             capture_output=True, text=True, timeout=5).stdout
        return "local port %d (%s); ss: %s" % (port, reuse, " / ".join(" ".join(l.split()) for l in out.strip().splitlines()[1:]))
    except (OSError, subprocess.SubprocessError) as e:
        return "(ss failed: %s)" % e


def recv_exact(sock, count, what, timeout):
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Failure("%s: %d of %d bytes after %.1fs (stalled); %s" % (what, len(data), count, timeout, ss_state(sock)))
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(count - len(data), 1 << 20))
        except socket.timeout:
            continue
        check(chunk, "%s: connection closed after %d of %d bytes" % (what, len(data), count))
        data += chunk
    return bytes(data)


def recv_until_eof(sock, what, timeout):
    data = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Failure("%s: no EOF after %.1fs (%d bytes); %s" % (what, timeout, len(data), ss_state(sock)))
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            return bytes(data)
        data += chunk


# ------------------------------------------------------------------------------------------------
# serve: the host talks to netcheck's echo servers

class ServeChecks:
    def __init__(self, args, host, tcp_port, udp_port, native):
        self.args, self.host, self.tcp_port, self.udp_port, self.native = args, host, tcp_port, udp_port, native
        self.timeout = args.io_timeout
        self.pace = 0 if native else args.connect_pace / 1000.0
        self.fresh_ports = not native and not args.reuse_ports
        self.last_connect = 0.0

    def connect(self, burst=False):
        if burst and self.pace:
            delay = self.last_connect + self.pace - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.last_connect = time.monotonic()
        if self.fresh_ports:
            # connect() alone may take the local port of a connection closed a moment ago (on
            # loopback Linux reuses TIME_WAIT ports: net.ipv4.tcp_tw_reuse=2), and QEMU's user
            # networking, whose side of a forwarded connection the client closed stays in TIME_WAIT
            # for 10 s, then takes the guest's SYN-ACK for the old connection: the new one is
            # delayed by seconds or stalls (--reuse-ports shows it). So ports are taken in turn.
            sock = connect_from_fresh_port(self.host, self.tcp_port, self.timeout)
        else:
            sock = socket.create_connection((self.host, self.tcp_port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        note_port(sock)
        return sock

    def echo(self, payload, what="echo"):
        with self.connect() as sock:
            sock.sendall(payload)
            got = recv_exact(sock, len(payload), what, self.timeout)
            check(got == payload, "%s: echoed data differs" % what)

    def stats(self):
        with self.connect() as sock:
            sock.sendall(b"STATS\n")
            line = recv_until_eof(sock, "STATS", self.timeout).decode()
        match = re.match(r"STATS memfree=(-?\d+) memavailable=(-?\d+) open=(\d+) accepted=(\d+) udp=(\d+) errors=(\d+)\n$", line)
        check(match, "bad STATS reply %r" % line)
        return dict(zip(["memfree", "memavailable", "open", "accepted", "udp", "errors"], map(int, match.groups())))

    def wait_no_open(self, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["open"] == 0 or time.monotonic() > deadline:
                return stats
            time.sleep(0.2)

    def udp_echo(self):
        # Sizes up to 65,507 bytes (45 IPv4 fragments): this test found two limits of libos's
        # lwIP configuration, since raised (ARP queue of 3 packets per unresolved neighbour;
        # reassembly of at most 10 fragments, i.e. 14,792 bytes).
        sizes = self.args.udp_sizes
        resends = []
        # First a TCP exchange: the start line may come before DHCP has configured the guest (servers
        # on INADDR_ANY need not wait), and a datagram before that is lost where TCP retransmits.
        self.stats()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(3)
            for size in sizes:
                payload = os.urandom(size)
                for attempt in range(3):
                    sock.sendto(payload, (self.host, self.udp_port))
                    try:
                        data, peer = sock.recvfrom(65536)
                        break
                    except socket.timeout:
                        resends.append(size)
                        continue
                else:
                    raise Failure("%d bytes: no echo in 3 tries" % size)
                check(data == payload, "%d bytes: got %d bytes%s" % (size, len(data), " that differ" if len(data) == size else ""))
                check(peer == (self.host, self.udp_port), "%d bytes: echo from %r" % (size, peer))
            # What the guest's recvfrom reported as the sender.
            sock.sendto(b"PEER?", (self.host, self.udp_port))
            data, _ = sock.recvfrom(1000)
            expected = "PEER %s:%d" % ("127.0.0.1" if self.native else "10.0.2.2", sock.getsockname()[1])
            check(data.decode() == expected, "recvfrom in the guest reported %r, want %r" % (data, expected))
        return "sizes %s, peer %s%s" % (sizes, data.decode()[5:], ", resent (lost): %s" % resends if resends else "")

    def concurrent(self):
        count = 200
        socks, slow = [], 0
        try:
            for _ in range(count):
                socks.append(self.connect(burst=True))
                slow += time.monotonic() - self.last_connect > 0.9
            payloads = [("connection %d " % i).encode() + os.urandom(random.randint(1, 3000)) for i in range(count)]
            for sock, payload in zip(socks, payloads):  # all open before any data
                sock.sendall(payload)
            for i, (sock, payload) in enumerate(zip(socks, payloads)):
                got = recv_exact(sock, len(payload), "connection %d" % i, self.timeout)
                check(got == payload, "connection %d: echoed data differs" % i)
            # Then 64 KiB on every connection at once from threads (the server's output blocks).
            errors = []

            def worker(index):
                try:
                    payload = os.urandom(65536)
                    sender = threading.Thread(target=socks[index].sendall, args=(payload,))
                    sender.start()
                    got = recv_exact(socks[index], len(payload), "connection %d (64 KiB)" % index, self.timeout * 2)
                    sender.join()
                    if got != payload:
                        errors.append("connection %d: 64 KiB echo differs" % index)
                except (Failure, OSError) as e:
                    errors.append(str(e))
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            check(not errors, "%d error(s): %s" % (len(errors), " | ".join(errors[:3])))
        finally:
            for sock in socks:
                sock.close()
        stats = self.wait_no_open()
        check(stats["open"] == 0, "%d connections still open in the server after all were closed" % stats["open"])
        return "%d connections%s" % (count, ", %d connects over 0.9s (dropped SYN)" % slow if slow else "")

    def robustness(self):
        # Garbage (binary, then closed), a command prefix, then a reset mid-message.
        for payload in [os.urandom(3000), b"\x00" * 100, b"STA", b"QUI", b"\xff\xfe" * 5000]:
            with self.connect(burst=True) as sock:
                sock.sendall(payload)
        for payload in [b"x", os.urandom(20000), b"STATS"]:
            sock = self.connect(burst=True)
            sock.sendall(payload)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        # A peer that sends 1 MiB without reading, then resets: the server's send blocks, then fails.
        sock = self.connect(burst=True)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(2)
        sent = 0
        try:
            while sent < (1 << 20):
                sent += sock.send(os.urandom(65536))
        except socket.timeout:
            pass
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        # Half-close: what was sent is still echoed, then EOF.
        with self.connect() as sock:
            payload = os.urandom(5000)
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            got = recv_until_eof(sock, "half-closed echo", self.timeout)
            check(got == payload, "half-closed: got %d of %d bytes back" % (len(got), len(payload)))
        # An echo straddling the command check: "STATS\n" followed by more bytes is data.
        self.echo(b"STATS\nnot a command", "STATS plus data")
        self.echo(os.urandom(100), "echo afterwards")
        stats = self.wait_no_open()
        check(stats["open"] == 0, "%d connections still open in the server" % stats["open"])
        check(stats["errors"] == 0, "the server counted %d unexpected errors (see its stderr)" % stats["errors"])
        return "%d bytes sent to a non-reader before its reset" % sent

    def churn(self):
        count = self.args.connections
        self.echo(b"warm up")
        before = self.stats()
        started = time.monotonic()
        for i in range(count):
            with self.connect() as sock:
                payload = b"churn %d\n" % i
                sock.sendall(payload)
                got = recv_exact(sock, len(payload), "churn connection %d" % i, self.timeout)
                check(got == payload, "churn connection %d: echo differs" % i)
        elapsed = time.monotonic() - started
        # Memory back to where it was (the guest's lwIP keeps closed pcbs a while: poll). The kernel
        # heap keeps its free lists, so after the warm-up by the checks before this one MemFree
        # comes back exactly (0 kB difference seen); 512 KiB catches a leak of 52 bytes or more
        # per connection.
        tolerance_kb = 512
        deadline = time.monotonic() + 30
        while True:
            after = self.stats()
            settled = after["open"] == 0 and (self.native or abs(after["memfree"] - before["memfree"]) <= tolerance_kb)
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        check(after["open"] == 0, "%d connections still open in the server" % after["open"])
        check(after["accepted"] - before["accepted"] == count + 1, "the server accepted %d connections, want %d" %
              (after["accepted"] - before["accepted"], count + 1))
        memory = "MemFree %d -> %d kB" % (before["memfree"], after["memfree"])
        if not self.native:  # a host's MemFree moves with everything else running on it
            check(abs(after["memfree"] - before["memfree"]) <= tolerance_kb, "%s: not back within %d kB after 30 s" %
                  (memory, tolerance_kb))
        self.echo(b"still serving")
        return "%d connections in %.1fs (%.1f ms each); %s" % (count, elapsed, elapsed * 1000 / count, memory)

    def quit(self, guest):
        stats = self.stats()
        with self.connect() as sock:
            sock.sendall(b"QUIT\n")
            reply = recv_until_eof(sock, "QUIT", self.timeout)
        check(reply == b"BYE errors=0\n", "QUIT: %r" % reply)
        try:
            status = guest.process.wait(30)
        except subprocess.TimeoutExpired:
            raise Failure("the server did not exit within 30s of QUIT")
        check(status == 0, "exit status %d" % status)
        return "status 0 after %d connections, %d datagrams" % (stats["accepted"] + 1, stats["udp"])


def run_serve(args, report):
    native = bool(args.native)
    if not native:
        # Host ports: --port and --port+1; if someone holds them, the next pairs in 28100-28199.
        for tcp_port in range(args.port, args.port + 10, 2):
            guest = Guest([args.xos_run, "--timeout", str(args.guest_timeout * 3)] + args.xos_run_arg +
                          ["-p", "tcp:%d:%d" % (tcp_port, GUEST_TCP), "-p", "udp:%d:%d" % (tcp_port + 1, GUEST_UDP),
                           args.image, "--", "serve", str(GUEST_TCP), str(GUEST_UDP)])
            match = guest.wait_line(START_LINE, args.start_timeout)
            if match or not any("host forwarding rule" in line for line in guest.output):
                break
            print("     host ports %d/%d taken, trying the next pair" % (tcp_port, tcp_port + 1), flush=True)
    else:
        guest = Guest([args.native, "serve", "0", "0"])
        match = guest.wait_line(START_LINE, args.start_timeout)
    if not match:
        guest.stop()
        report.failures.append("serve start")
        print("FAIL serve: no start line within %ss; output:\n%s" % (args.start_timeout, guest.tail()), flush=True)
        return
    if native:
        tcp, udp = int(match.group(1)), int(match.group(2))
    else:
        tcp, udp = tcp_port, tcp_port + 1
    checks = ServeChecks(args, "127.0.0.1", tcp, udp, native)
    try:
        for name in ["udp_echo", "concurrent", "robustness", "churn"]:
            if args.only and name not in args.only:
                continue
            report.run(name, getattr(checks, name))
            if not guest.alive():
                report.failures.append("serve died")
                print("FAIL serve exited with %s; output:\n%s" % (guest.process.returncode, guest.tail()), flush=True)
                return
        report.run("quit", checks.quit, guest)
    finally:
        guest.stop()
    if report.failures:
        print("     serve output (last lines):\n%s" % guest.tail(), flush=True)


# ------------------------------------------------------------------------------------------------
# client: the guest connects out to this script's servers

class HostServers:
    """TCP server speaking netcheck's client protocol, and a UDP echo server, on 127.0.0.1."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.errors, self.sessions = [], 0
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.datagrams = 0
        self.stopping = False
        for target in [self._accept, self._udp]:
            threading.Thread(target=target, daemon=True).start()

    def ports(self):
        return self.tcp.getsockname()[1], self.udp.getsockname()[1]

    def _udp(self):
        while not self.stopping:
            if not select.select([self.udp], [], [], 0.2)[0]:
                continue
            data, peer = self.udp.recvfrom(65536)
            self.datagrams += 1
            self.udp.sendto(data, peer)

    def _accept(self):
        while not self.stopping:
            if not select.select([self.tcp], [], [], 0.2)[0]:
                continue
            conn, _ = self.tcp.accept()
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        self.sessions += 1
        try:
            conn.settimeout(self.timeout)
            reader = conn.makefile("rb")
            while True:
                line = reader.readline(1000)
                if not line:
                    self.errors.append("the guest closed without BYE")
                    return
                words = line.decode().split()
                if words == ["HELLO"]:
                    conn.sendall(b"HELLO netcheck-host\n")
                elif len(words) == 2 and words[0] == "ECHO":
                    conn.sendall(reader.read(int(words[1])))
                elif len(words) == 2 and words[0] == "UP":
                    data = reader.read(int(words[1]))
                    conn.sendall(b"SUM %08x\n" % zlib.crc32(data))
                elif len(words) == 2 and words[0] == "DOWN":
                    data = os.urandom(int(words[1]))
                    conn.sendall(data + b"SUM %08x\n" % zlib.crc32(data))
                elif words == ["BYE"]:
                    conn.sendall(b"BYE\n")
                    if reader.read(1) != b"":
                        self.errors.append("data after BYE")
                    return
                else:
                    self.errors.append("unexpected line %r" % line)
                    return
        except OSError as e:
            self.errors.append("session: %s" % e)
        finally:
            conn.close()

    def stop(self):
        self.stopping = True


def run_guest_program(args, command_args, extra=()):
    """Runs netcheck with ARGS to completion; returns (status, output lines)."""
    if args.native:
        command = [args.native] + command_args
    else:
        command = [args.xos_run, "--timeout", str(args.guest_timeout), "--net", "user"] + list(extra) + [args.image, "--"] + command_args
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                timeout=args.guest_timeout + 30)
    except subprocess.TimeoutExpired:
        return None, ["(killed after %ds)" % (args.guest_timeout + 30)]
    return result.returncode, result.stdout.decode("utf-8", "replace").splitlines()


def guest_verdict(status, lines):
    guest_failures = [line for line in lines if line.startswith("FAIL")]
    oks = sum(line.startswith("ok") for line in lines)
    for line in lines:
        print("     | " + line, flush=True)
    check(status == 0 and not guest_failures and "netcheck: all checks passed" in lines,
          "exit status %s, %d failed check(s): %s" % (status, len(guest_failures), "; ".join(guest_failures[:3])))
    return oks


def client_check(args):
    servers = HostServers(args.io_timeout)
    try:
        tcp, udp = servers.ports()
        host = "127.0.0.1" if args.native else "10.0.2.2"
        status, lines = run_guest_program(args, ["client", host, str(tcp), str(udp)])
        oks = guest_verdict(status, lines)
    finally:
        servers.stop()
    check(servers.sessions == 1 and not servers.errors, "host side: %d session(s), errors: %s" % (servers.sessions, servers.errors))
    check(servers.datagrams >= 6, "host side: %d datagrams" % servers.datagrams)
    return "%d guest checks passed" % oks


# ------------------------------------------------------------------------------------------------
# resolve: a DNS responder in a private network namespace

def dns_answer(query, log):
    """The response to one DNS query: A for DNS_NAME, NXDOMAIN for other names (NOERROR without
    answers for other types of DNS_NAME)."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    if qdcount != 1:
        return None
    labels, pos = [], 12
    while pos < len(query) and query[pos]:
        labels.append(query[pos + 1:pos + 1 + query[pos]].decode("ascii", "replace"))
        pos += 1 + query[pos]
    pos += 1
    if pos + 4 > len(query):
        return None
    qtype, qclass = struct.unpack("!HH", query[pos:pos + 4])
    question = query[12:pos + 4]
    name = ".".join(labels).lower()
    log.append((name, qtype))
    rd = flags & 0x0100
    if name == DNS_NAME:
        answers = b""
        count = 0
        if qtype == 1 and qclass == 1:
            answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(DNS_ADDR)
            count = 1
        return struct.pack("!HHHHHH", ident, 0x8080 | rd, 1, count, 0, 0) + question + answers
    return struct.pack("!HHHHHH", ident, 0x8083 | rd, 1, 0, 0, 0) + question  # NXDOMAIN


def dns_inner(args):
    """Runs inside `unshare -rn` (and -m natively): lo up, the responder on 127.0.0.1:53, netcheck resolve."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    extra = []
    if args.native:
        etc = tempfile.mkdtemp(prefix="net-test-etc-")
        shutil.copy(os.path.join(HERE, "rootfs", "etc", "hosts"), os.path.join(etc, "hosts"))
        with open(os.path.join(etc, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\n")
        for name in ["hosts", "resolv.conf"]:
            subprocess.run(["mount", "--bind", os.path.join(etc, name), "/etc/" + name], check=True)
    else:
        extra = ["--dns", "10.0.2.2"]  # slirp forwards the guest's 10.0.2.2 to this namespace's loopback
    responder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    responder.bind(("127.0.0.1", 53))
    log = []

    def serve():
        while True:
            query, peer = responder.recvfrom(4096)
            answer = dns_answer(query, log)
            if answer:
                responder.sendto(answer, peer)
    threading.Thread(target=serve, daemon=True).start()
    status, lines = run_guest_program(args, ["resolve", "localhost=127.0.0.1", "%s=%s" % (HOSTS_NAME, HOSTS_ADDR),
                                             "%s=%s" % (DNS_NAME, DNS_ADDR), "%s=NONAME" % DNS_MISSING], extra)
    try:
        oks = guest_verdict(status, lines)
        names = {name for name, _ in log}
        check((DNS_NAME, 1) in log and (DNS_MISSING, 1) in log, "the responder did not see the A queries: %r" % log)
        check(HOSTS_NAME not in names and "localhost" not in names, "names in /etc/hosts went to DNS: %r" % log)
        print("     %d guest checks passed; the responder answered %d queries" % (oks, len(log)), flush=True)
        return 0
    except Failure as e:
        print("     %s" % e, flush=True)
        return 1


def resolve_check(args, report):
    unshare = shutil.which("unshare")
    flags = "-rnm" if args.native else "-rn"
    probe = subprocess.run([unshare or "unshare", flags, "true"], capture_output=True) if unshare else None
    if not probe or probe.returncode != 0:
        report.skip("resolve", "unshare %s is not permitted here (%s): no private network namespace for a DNS "
                    "responder on port 53" % (flags, probe.stderr.decode().strip() if probe else "no unshare"))
        return
    command = [unshare, flags, sys.executable, os.path.abspath(__file__), "--dns-inner"] + sys.argv[1:]

    def run():
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                timeout=args.guest_timeout + 60)
        output = result.stdout.decode("utf-8", "replace").rstrip()
        check(result.returncode == 0, "status %d:\n%s" % (result.returncode, output))
        print(output, flush=True)
    report.run("resolve", run)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xos-run", help="xos-run (with --image)")
    parser.add_argument("--image", help="netcheck.xos")
    parser.add_argument("--native", help="netcheck built for Linux: run the roles as host processes")
    parser.add_argument("--port", type=int, default=28110, help="host TCP port for the guest's server (UDP: +1)")
    parser.add_argument("--connect-pace", type=float, default=20, metavar="MS",
                        help="wait MS milliseconds between connects that open many connections at once (not natively)")
    parser.add_argument("--udp-sizes", default="1,1400,8000,30000,65507",
                        help="UDP echo datagram sizes, in order (default 1,1400,8000,30000,65507; see the comment at udp_echo)")
    parser.add_argument("--reuse-ports", action="store_true",
                        help="let the host connect from local ports still in TIME_WAIT (the default natively; through "
                             "QEMU's port forwarding it makes some connections stall, see ServeChecks.connect)")
    parser.add_argument("--connections", type=int, default=10000, help="connections in the churn check (10,000)")
    parser.add_argument("--only", help="comma-separated checks (udp_echo,concurrent,robustness,churn,client,resolve)")
    parser.add_argument("--xos-run-arg", action="append", default=[], metavar="ARG",
                        help="extra xos-run option for the serve boot (repeatable), e.g. to capture the guest's traffic: "
                             "--xos-run-arg=--qemu-arg=-object --xos-run-arg=--qemu-arg=filter-dump,id=d0,netdev=net0,file=X.pcap")
    parser.add_argument("--io-timeout", type=float, default=20)
    parser.add_argument("--start-timeout", type=float, default=60)
    parser.add_argument("--guest-timeout", type=int, default=200,
                        help="xos-run --timeout of the client and resolve boots (serve: 3 times as long)")
    parser.add_argument("--dns-inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.only = args.only.split(",") if args.only else None
    args.udp_sizes = [int(size) for size in args.udp_sizes.split(",")]
    if not args.native and not (args.xos_run and args.image):
        parser.error("give --xos-run and --image, or --native")
    if args.dns_inner:
        return dns_inner(args)

    report = Report()
    started = time.monotonic()
    serve_checks = ["udp_echo", "concurrent", "robustness", "churn"]
    if not args.only or any(name in args.only for name in serve_checks):
        run_serve(args, report)
    if not args.only or "client" in args.only:
        report.run("client", client_check, args)
    if not args.only or "resolve" in args.only:
        resolve_check(args, report)
    if report.failures:
        print("net_test: %d failure(s): %s (%.0fs)" % (len(report.failures), ", ".join(report.failures),
                                                      time.monotonic() - started), flush=True)
        return 1
    if report.count == 0:
        return 77
    print("net_test: all %d checks passed (%.0fs)" % (report.count, time.monotonic() - started), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
