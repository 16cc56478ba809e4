#!/usr/bin/env python3
"""tests/net/httpd_test.py: black-box tests of apps/httpd over TCP, with curl and raw sockets.

    httpd_test.py [options] --httpd BUILD/apps/httpd/httpd      # native: runs it with --root WWW --port 0
    httpd_test.py [options] --port 8080 -- xos-run -p 8080:8080 BUILD/apps/httpd/httpd.xos -- --port 8080

Starts the server command, waits for its start line ("httpd: serving DIR on http://0.0.0.0:PORT/
with N thread(s)"), then checks: GET of each test file (status, Content-Type, Content-Length,
body compared with the file under --www), /, a directory, percent-decoding, 404, 405, HEAD,
path traversal refused, keep-alive (curl --next and raw), pipelining, a request split across
writes, malformed and oversized requests (400/431, connection closed, server still serving),
clients that disconnect mid-request or reset mid-response, 1,000 sequential connections
(10,000 with --long), 200 concurrent connections, and finally (unless --no-exit-check) that
SIGTERM ends the server with status 0. Exits 1 if any check failed.

--port gives the port to connect to when it differs from the one in the start line (xos-run
forwarding a host port to the guest's). --www is the directory the server serves (default
apps/httpd/rootfs/www, which is also what the xos image holds at /www).

Through QEMU's user networking (xos-run -p) give --connect-pace MS (space out the connects of
checks that open many connections at once: the forwarder's accept backlog is 1) and
--fresh-ports (never connect from a port a closed connection holds in TIME_WAIT: the forwarder
keeps its side 10 s in TIME_WAIT and confuses the two); see tests/net/meson.build. A check whose
response does not come reports the connection, the bytes received, the port's previous use and
the host's view of the connection (ss) at that moment.
"""
import argparse
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

from nettest import Failure, check, connect_from_fresh_port

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from xostest import stop_process  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_WWW = os.path.join(ROOT, "apps", "httpd", "rootfs", "www")
START_LINE = re.compile(r"httpd: serving (\S+) on http://[^:/]+:(\d+)/ with (\d+) thread")

# path requested -> (file under www, expected Content-Type)
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/data.json": ("data.json", "application/json"),
    "/hello.txt": ("hello.txt", "text/plain; charset=utf-8"),
    "/pixel.png": ("pixel.png", "image/png"),
    "/big.txt": ("big.txt", "text/plain; charset=utf-8"),
    "/with%20space.txt": ("with space.txt", "text/plain; charset=utf-8"),
    "/docs/": ("docs/index.html", "text/html; charset=utf-8"),
    "/docs/index.html?query=1": ("docs/index.html", "text/html; charset=utf-8"),
    "/./docs//index.html": ("docs/index.html", "text/html; charset=utf-8"),
}


class Server:
    """The server process; its output is drained by a thread (the access log can be long)."""

    def __init__(self, command, start_timeout):
        self.command = command
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        self.lines = queue.Queue()
        self.tail = []
        self.line_count = 0
        self.port = None
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line is None:
                break
            match = START_LINE.search(line)
            if match:
                self.root, self.port, self.threads = match.group(1), int(match.group(2)), int(match.group(3))
                self.start_line = line
                return
        self.stop()
        raise Failure("no start line within %ss from %s; output:\n%s" % (start_timeout, command, "\n".join(self.tail)))

    def _drain(self):
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.tail = (self.tail + [line])[-40:]
            self.line_count += 1
            if self.port is None:
                self.lines.put(line)
        self.lines.put(None)

    def alive(self):
        return self.process.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        return stop_process(self.process, sig, timeout)


class Client:
    def __init__(self, host, port, timeout, pace=0.0, fresh_ports=False):
        self.host, self.port, self.timeout = host, port, timeout
        self.fresh_ports = fresh_ports  # --fresh-ports
        self.pace = pace  # seconds between the connects of a burst (--connect-pace)
        self.last_connect = 0.0
        # Local port -> [(time, number)] of the connections made from it (for stall reports: on
        # loopback Linux reuses a port in TIME_WAIT right away, net.ipv4.tcp_tw_reuse=2).
        self.port_history, self.connections = {}, 0

    def connect(self, burst=False):
        """burst: this connect follows others that the server may not have accepted yet (all open at
        once, or closed before any exchange); with --connect-pace they are spaced out."""
        if burst and self.pace:
            delay = self.last_connect + self.pace - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.last_connect = time.monotonic()
        if self.fresh_ports:
            sock = connect_from_fresh_port(self.host, self.port, self.timeout)
        else:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.connect_seconds = time.monotonic() - self.last_connect
        self.connections += 1
        self.port_history.setdefault(sock.getsockname()[1], []).append((time.monotonic(), self.connections))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    @staticmethod
    def request(path, method="GET", headers=(), version="1.1"):
        lines = ["%s %s HTTP/%s" % (method, path, version), "Host: test"] + list(headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    @staticmethod
    def read_response(reader, head_only=False):
        """Reads one response from a socket file; returns (status, {lower name: value}, body)."""
        status_line = reader.readline(65536)
        check(status_line, "connection closed before a response")
        match = re.match(rb"HTTP/1\.[01] (\d{3}) ", status_line)
        check(match, "bad status line %r" % status_line)
        headers = {}
        while True:
            line = reader.readline(65536)
            check(line.endswith(b"\r\n"), "truncated header %r" % line)
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "-1"))
        check(length >= 0, "no Content-Length in %r" % headers)
        body = b""
        if not head_only:
            body = reader.read(length)
            check(len(body) == length, "body truncated: %d of %d bytes" % (len(body), length))
        return int(match.group(1)), headers, body

    def get(self, path, method="GET", headers=("Connection: close",)):
        with self.connect() as sock:
            sock.sendall(self.request(path, method, headers))
            with sock.makefile("rb") as reader:
                return self.read_response(reader, head_only=(method == "HEAD"))

    def exchange_raw(self, payload):
        """Sends payload, half-closes, returns everything the server sent until it closed."""
        with self.connect() as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            return read_until_eof(sock)


def read_until_eof(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def ensure_curl():
    if shutil.which("curl"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "curl"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return shutil.which("curl") is not None


def curl(*args):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    result = subprocess.run(["curl", "--noproxy", "*", "-sS", "--max-time", "30"] + list(args),
                            capture_output=True, env=env)
    check(result.returncode == 0, "curl %s failed (%d): %s" % (" ".join(args), result.returncode,
                                                             result.stderr.decode(errors="replace")))
    return result.stdout


def parse_curl_heads(output):
    """curl -D - output with one or more responses -> list of (status, headers)."""
    heads = []
    for block in re.split(rb"\r\n\r\n", output):
        match = re.match(rb"HTTP/1\.[01] (\d{3})", block)
        if match:
            headers = {}
            for line in block.split(b"\r\n")[1:]:
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            heads.append((int(match.group(1)), headers))
    return heads


class Suite:
    def __init__(self, args, server, client):
        self.args, self.server, self.client = args, server, client
        self.base = "http://%s:%d" % (args.host, client.port)
        self.www = args.www
        self.failures = []
        # Descriptors of a native server (the command is the server itself, not a VM runner).
        self.baseline_fds = self.open_fds() if args.httpd else None

    def file(self, name):
        with open(os.path.join(self.www, name), "rb") as f:
            return f.read()

    def run(self, name, function):
        started = time.monotonic()
        lines_before = self.server.line_count
        try:
            function()
            print("ok   %-28s %.2fs" % (name, time.monotonic() - started), flush=True)
        except (Failure, OSError, ValueError) as e:
            self.failures.append(name)
            print("FAIL %-28s %s: %s (after %.2fs)" % (name, type(e).__name__, e, time.monotonic() - started), flush=True)
            new_lines = min(self.server.line_count - lines_before, len(self.server.tail))
            if new_lines:
                print("     server output during the check (last %d lines):\n     %s" %
                      (new_lines, "\n     ".join(self.server.tail[-new_lines:])), flush=True)
        if not self.server.alive():
            self.failures.append(name + " (server died)")
            print("FAIL server exited with %s; last output:\n%s" % (self.server.process.returncode,
                                                                  "\n".join(self.server.tail)), flush=True)
            raise SystemExit(1)

    # --- the checks ---

    def test_curl_get(self):
        for path, (name, content_type) in FILES.items():
            body_path = "/tmp/httpd-test-body-%d" % os.getpid()
            try:
                heads = parse_curl_heads(curl("-D", "-", "-o", body_path, self.base + path))
                with open(body_path, "rb") as f:
                    body = f.read()
            finally:
                if os.path.exists(body_path):
                    os.unlink(body_path)
            expected = self.file(name)
            check(len(heads) == 1, "%s: %d responses" % (path, len(heads)))
            status, headers = heads[0]
            check(status == 200, "%s: status %d" % (path, status))
            check(headers.get("content-type") == content_type, "%s: Content-Type %r, want %r" %
                  (path, headers.get("content-type"), content_type))
            check(headers.get("content-length") == str(len(expected)), "%s: Content-Length %r, want %d" %
                  (path, headers.get("content-length"), len(expected)))
            check(body == expected, "%s: body differs from %s (%d vs %d bytes)" % (path, name, len(body), len(expected)))

    def test_raw_get_all(self):
        for path, (name, content_type) in FILES.items():
            status, headers, body = self.client.get(path)
            check(status == 200 and body == self.file(name), "%s: %d, %d bytes" % (path, status, len(body)))
            check(headers.get("content-type") == content_type, "%s: Content-Type %r" % (path, headers.get("content-type")))
            check(headers.get("connection", "").lower() == "close", "%s: no Connection: close" % path)

    def test_not_found(self):
        for path in ["/nonexistent", "/nonexistent.html", "/docs/missing/", "/hello.txt/x", "/%7Enobody"]:
            heads = parse_curl_heads(curl("-D", "-", "-o", "/dev/null", self.base + path))
            check(heads and heads[0][0] == 404, "%s: %r" % (path, heads))
        status, _, _ = self.client.get("/nope")
        check(status == 404, "raw /nope: %d" % status)

    def test_directory_redirect(self):
        status, headers, _ = self.client.get("/docs")
        check(status == 301 and headers.get("location") == "/docs/", "/docs: %d %r" % (status, headers.get("location")))

    def test_method_not_allowed(self):
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "BREW"]:
            heads = parse_curl_heads(curl("-D", "-", "-o", "/dev/null", "-X", method, self.base + "/index.html"))
            check(heads and heads[0][0] == 405, "%s: %r" % (method, heads))
            check(heads[0][1].get("allow") == "GET, HEAD", "%s: Allow %r" % (method, heads[0][1].get("allow")))
        # A POST with a body on a keep-alive connection: 405, the body skipped, the next request answered.
        with self.client.connect() as sock, sock.makefile("rb") as reader:
            sock.sendall(b"POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello=world" +
                         self.client.request("/hello.txt"))
            status, _, _ = self.client.read_response(reader)
            check(status == 405, "POST with body: %d" % status)
            status, _, body = self.client.read_response(reader)
            check(status == 200 and body == self.file("hello.txt"), "after POST body: %d" % status)

    def test_head(self):
        heads = parse_curl_heads(curl("-I", self.base + "/big.txt"))
        check(heads and heads[0][0] == 200, "curl -I: %r" % heads)
        check(heads[0][1].get("content-length") == str(len(self.file("big.txt"))), "HEAD Content-Length %r" % heads)
        # On one connection: HEAD must send no body, so the GET's response follows the HEAD's head directly.
        with self.client.connect() as sock, sock.makefile("rb") as reader:
            sock.sendall(self.client.request("/big.txt", "HEAD") + self.client.request("/hello.txt") +
                         self.client.request("/nope", "HEAD"))
            status, headers, _ = self.client.read_response(reader, head_only=True)
            check(status == 200 and headers.get("content-type") == "text/plain; charset=utf-8", "HEAD: %d" % status)
            status, _, body = self.client.read_response(reader)
            check(status == 200 and body == self.file("hello.txt"), "GET after HEAD: %d %r" % (status, body[:40]))
            status, _, _ = self.client.read_response(reader, head_only=True)
            check(status == 404, "HEAD of a missing file: %d" % status)

    def test_traversal(self):
        for path in ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/docs/../../etc/passwd",
                     "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/..%2f..%2fetc/passwd", "/docs/%2e%2e/%2e%2e/etc/hostname"]:
            status, _, body = self.client.get(path)
            check(status in (403, 404), "%s: status %d" % (path, status))
            check(b"root:" not in body, "%s: leaked a file" % path)
            heads = parse_curl_heads(curl("--path-as-is", "-D", "-", "-o", "/dev/null", self.base + path))
            check(heads and heads[0][0] in (403, 404), "curl %s: %r" % (path, heads))

    def test_keep_alive_curl(self):
        output = curl("-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
                      self.base + "/index.html", "--next", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
                      self.base + "/nope", "--next", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
                      self.base + "/big.txt", "--next", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
                      self.base + "/data.json")
        rows = [line.split() for line in output.decode().splitlines()]
        check([r[0] for r in rows] == ["200", "404", "200", "200"], "statuses %r" % rows)
        check(sum(int(r[1]) for r in rows) == 1, "curl opened %d connections for 4 requests" % sum(int(r[1]) for r in rows))

    def test_keep_alive_raw(self):
        with self.client.connect() as sock, sock.makefile("rb") as reader:
            for i, path in enumerate(["/hello.txt", "/big.txt", "/nope", "/data.json", "/"] * 4):
                sock.sendall(self.client.request(path))
                status, headers, body = self.client.read_response(reader)
                check("close" not in headers.get("connection", "").lower(), "request %d closed the connection" % i)
                if path == "/nope":
                    check(status == 404, "request %d: %d" % (i, status))
                else:
                    check(status == 200 and body == self.file(FILES[path][0]), "request %d (%s): %d" % (i, path, status))
            # HTTP/1.0 with keep-alive asked for, then a request that closes.
            sock.sendall(self.client.request("/hello.txt", headers=["Connection: keep-alive"], version="1.0"))
            status, headers, _ = self.client.read_response(reader)
            check(status == 200 and headers.get("connection", "").lower() == "keep-alive", "1.0 keep-alive: %r" % headers)
            sock.sendall(self.client.request("/hello.txt", headers=["Connection: close"]))
            status, headers, _ = self.client.read_response(reader)
            check(status == 200 and headers.get("connection", "").lower() == "close", "close: %r" % headers)
            check(reader.read(1) == b"", "connection still open after Connection: close")

    def test_pipelining(self):
        paths = ["/hello.txt", "/nope", "/big.txt", "/data.json", "/index.html", "/pixel.png"] * 5
        with self.client.connect() as sock, sock.makefile("rb") as reader:
            sock.sendall(b"".join(self.client.request(p) for p in paths))
            for i, path in enumerate(paths):
                status, _, body = self.client.read_response(reader)
                if path == "/nope":
                    check(status == 404, "pipelined %d: %d" % (i, status))
                else:
                    check(status == 200 and body == self.file(FILES[path][0]), "pipelined %d (%s): %d" % (i, path, status))
        # Many small pipelined requests (more output than the server's high-water mark).
        many = 400
        with self.client.connect() as sock, sock.makefile("rb") as reader:
            sock.sendall(self.client.request("/index.html") * many)
            for i in range(many):
                status, _, body = self.client.read_response(reader)
                check(status == 200 and body == self.file("index.html"), "pipelined small %d: %d" % (i, status))

    def test_split_request(self):
        request = self.client.request("/data.json", headers=["Accept: */*", "X-Padding: " + "p" * 200])
        with self.client.connect() as sock, sock.makefile("rb") as reader:
            for cut in [[1, 5, 17, 30, 31, 100, 150], list(range(0, len(request), 7))]:
                pieces = [request[a:b] for a, b in zip([0] + cut, cut + [len(request)])]
                for piece in pieces:
                    sock.sendall(piece)
                    time.sleep(0.005)
                status, _, body = self.client.read_response(reader)
                check(status == 200 and body == self.file("data.json"), "split request: %d" % status)
            # The end of one request and the start of the next in the same write.
            first, second = self.client.request("/hello.txt"), self.client.request("/style.css")
            sock.sendall(first[:-3])
            time.sleep(0.02)
            sock.sendall(first[-3:] + second[:10])
            time.sleep(0.02)
            sock.sendall(second[10:])
            status, _, body = self.client.read_response(reader)
            check(status == 200 and body == self.file("hello.txt"), "straddling 1: %d" % status)
            status, _, body = self.client.read_response(reader)
            check(status == 200 and body == self.file("style.css"), "straddling 2: %d" % status)

    def expect_error_and_close(self, payload, statuses, what):
        with self.client.connect() as sock, sock.makefile("rb") as reader:
            sock.sendall(payload)
            status, headers, _ = self.client.read_response(reader)
            check(status in statuses, "%s: status %d, want %s" % (what, status, statuses))
            check(headers.get("connection", "").lower() == "close", "%s: no Connection: close" % what)
            check(reader.read(1) == b"", "%s: connection not closed after the error" % what)
        status, _, _ = self.client.get("/hello.txt")
        check(status == 200, "after %s the server answered %d" % (what, status))

    def test_malformed(self):
        self.expect_error_and_close(b"GARBAGE\r\n\r\n", (400,), "garbage request line")
        self.expect_error_and_close(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", (400,), "header without colon")
        self.expect_error_and_close(b"GET /hello.txt HTTP/1.1\r\n\r\n", (400,), "HTTP/1.1 without Host")
        self.expect_error_and_close(b"GET /hello.txt HTTP/9.9\r\nHost: t\r\n\r\n", (505, 400), "HTTP/9.9")
        self.expect_error_and_close(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200) + b"\r\n\r\n",
                                    (400,), "a TLS ClientHello")
        # A good request, then a bad one pipelined behind it: the first is answered, then 400.
        with self.client.connect() as sock, sock.makefile("rb") as reader:
            sock.sendall(self.client.request("/hello.txt") + b"NOT HTTP AT ALL\r\n\r\n" + self.client.request("/hello.txt"))
            status, _, _ = self.client.read_response(reader)
            check(status == 200, "good request before the bad one: %d" % status)
            status, _, _ = self.client.read_response(reader)
            check(status == 400, "bad pipelined request: %d" % status)
            check(reader.read(1) == b"", "connection not closed after the pipelined bad request")

    def test_oversized(self):
        self.expect_error_and_close(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", (414, 400), "a 20 KB request line")
        self.expect_error_and_close(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 100000 + b"\r\n\r\n", (431, 400),
                                    "a 100 KB header")
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(1000))
        self.expect_error_and_close(b"GET / HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n", (431, 400), "1000 header fields")
        # A never-ending header: the server must answer (not buffer forever) while we are still sending.
        with self.client.connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
            sent, reply = 0, b""
            sock.settimeout(0.05)
            deadline = time.monotonic() + self.client.timeout
            while time.monotonic() < deadline and not reply:
                try:
                    sock.sendall(b"X-Endless: " + b"e" * 1000 + b"\r\n")
                    sent += 1
                except (BrokenPipeError, ConnectionResetError, socket.timeout):
                    pass
                try:
                    reply = sock.recv(100)
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    reply = b"(reset)"
            check(reply.startswith(b"HTTP/1.1 431") or reply.startswith(b"HTTP/1.1 400") or reply == b"(reset)",
                  "endless header: reply %r after %d KB" % (reply[:40], sent))
            check(sent < 1000, "server accepted %d KB of header without complaint" % sent)
        status, _, _ = self.client.get("/hello.txt")
        check(status == 200, "after oversized requests: %d" % status)

    def test_disconnects(self):
        for payload in [b"", b"GET", b"GET /hello.txt HTT", b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n",
                        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX: y", os.urandom(3000)]:
            sock = self.client.connect(burst=True)
            if payload:
                sock.sendall(payload)
            sock.close()
            # The same, with a reset instead of a FIN.
            sock = self.client.connect(burst=True)
            if payload:
                sock.sendall(payload)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        # Reset while the server is sending a large response, and after pipelining many.
        for payload in [self.client.request("/big.txt"), self.client.request("/big.txt") * 20]:
            sock = self.client.connect()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(payload)
            sock.recv(1000)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        # Half-close after the request: the response still arrives.
        data = self.client.exchange_raw(self.client.request("/hello.txt"))
        check(data.startswith(b"HTTP/1.1 200 ") and data.endswith(self.file("hello.txt")), "half-closed client: %r" % data[:60])
        status, _, body = self.client.get("/big.txt")
        check(status == 200 and body == self.file("big.txt"), "after disconnects: %d" % status)

    def test_slow_reader(self):
        # One client that stops reading a stream of big responses must not block another.
        stuck = self.client.connect()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(self.client.request("/big.txt") * 50)
        time.sleep(0.2)
        started = time.monotonic()
        for _ in range(20):
            status, _, body = self.client.get("/big.txt")
            check(status == 200 and body == self.file("big.txt"), "while a client is stuck: %d" % status)
        elapsed = time.monotonic() - started
        stuck.close()
        check(elapsed < 10 * self.client.timeout, "other clients were slow (%.1fs)" % elapsed)

    def test_sequential(self):
        count = 10000 if self.args.long else 1000
        expected = self.file("hello.txt")
        request = self.client.request("/hello.txt", headers=["Connection: close"])
        for i in range(count):
            with self.client.connect() as sock:
                buffer = bytearray()
                sent = time.monotonic()
                sock.sendall(request)
                try:
                    status, _, body = read_response_buffered(sock, buffer, self.client.timeout)
                except (socket.timeout, Failure, OSError) as e:
                    raise Failure("%s: %s" % (e, self.describe_stall(i, sock, buffer, sent)))
            check(status == 200 and body == expected, "connection %d: %d" % (i, status))

    def open_fds(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.server.process.pid))
        except OSError:
            return None

    def test_descriptors_released(self):
        """Native only: after all the above, the server holds as many descriptors as at start."""
        if self.baseline_fds is None:
            print("     (descriptor check skipped: the server is not a local process we can inspect)")
            return
        deadline = time.monotonic() + 8  # lingering closes take up to 2 s, idle sweeps 1 s
        while self.open_fds() > self.baseline_fds and time.monotonic() < deadline:
            time.sleep(0.2)
        check(self.open_fds() <= self.baseline_fds, "server holds %s descriptors, %d at start" %
              (self.open_fds(), self.baseline_fds))

    def test_concurrent(self):
        count = 200
        socks = []
        try:
            connect_times = []
            for _ in range(count):
                socks.append(self.client.connect(burst=True))
                connect_times.append(self.client.connect_seconds)
            # A connect over 1 s is a dropped SYN (the forwarder's accept queue overflowed): not an
            # error, but worth seeing when the check is slow.
            print("     %d connects: slowest %.3fs, %d over 0.9s" %
                  (count, max(connect_times), sum(t > 0.9 for t in connect_times)), flush=True)
            for sock in socks:  # all connected before any request
                sock.sendall(self.client.request("/index.html"))
            sent = time.monotonic()
            buffers = [bytearray() for _ in socks]
            stalls = []
            for i, sock in enumerate(socks):
                # After a first stall the others get less time: is one connection stuck, or all?
                timeout = self.client.timeout if not stalls else 5
                try:
                    status, _, body = read_response_buffered(sock, buffers[i], timeout)
                except (socket.timeout, Failure, OSError) as e:
                    stalls.append((i, "%s: %s" % (e, self.describe_stall(i, sock, buffers[i], sent))))
                    if len(stalls) >= 3:
                        break
                    continue
                check(status == 200 and body == self.file("index.html"), "connection %d: %d" % (i, status))
            if stalls:
                for i, _ in stalls:
                    try:  # does the response arrive late, or never?
                        read_response_buffered(socks[i], buffers[i], 10)
                        late = "arrived late (%.1fs after the request)" % (time.monotonic() - sent)
                    except (socket.timeout, Failure, OSError) as e:
                        late = "still missing after another 10s (%s)" % type(e).__name__
                    print("     connection %d: %s" % (i, late), flush=True)
                try:
                    status, _, _ = self.client.get("/hello.txt")
                    print("     a new connection got %d" % status, flush=True)
                except (Failure, OSError) as e:
                    print("     a new connection failed: %s" % e, flush=True)
                raise Failure("%d connection(s) stalled: %s" % (len(stalls), " | ".join(d for _, d in stalls)))
            # Second round in parallel threads, with a large file.
            errors = []

            def worker(index):
                try:
                    socks[index].sendall(self.client.request("/big.txt"))
                    buffers[index].clear()
                    status, _, body = read_response_buffered(socks[index], buffers[index], self.client.timeout)
                    if status != 200 or body != self.file("big.txt"):
                        errors.append("connection %d: %d" % (index, status))
                except (socket.timeout, Failure, OSError) as e:
                    errors.append("%s: %s" % (e, self.describe_stall(index, socks[index], buffers[index], started)))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append("connection %d: %s" % (index, e))
            started = time.monotonic()
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            check(not errors, "%d error(s): %s" % (len(errors), " | ".join(errors[:5])))
        finally:
            for sock in socks:
                sock.close()

    def check_port_reuse(self):
        """Not in the default list (run it with --only port_reuse): requests from the local port of
        the connection the server has just closed, at once (what a client picking ports at random
        does now and then). It found a libos bug (TIME_WAIT reuse freed a pcb a half-closed socket
        still held; fixed in libos/net/inet.cpp release_if_time_wait). Opt-in because the host's
        own TIME_WAIT on the loopback side of QEMU's forwarding can refuse the bind or connect
        (EADDRINUSE), which says nothing about the server."""
        request = self.client.request("/hello.txt", headers=["Connection: close"])
        for i in range(5):
            with self.client.connect() as sock:
                port = sock.getsockname()[1]
                sock.sendall(request)
                status, _, _ = read_response_buffered(sock, bytearray(), self.client.timeout)
                check(status == 200, "first connection from port %d: %d" % (port, status))
                read_until_eof(sock)  # the server closes first
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            with sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.settimeout(self.client.timeout)
                sock.bind((self.client.host, port))
                sock.connect((self.client.host, self.client.port))
                sock.sendall(request)
                buffer = bytearray()
                try:
                    status, _, _ = read_response_buffered(sock, buffer, self.client.timeout)
                except (socket.timeout, Failure, OSError) as e:
                    raise Failure("round %d, second connection from port %d: %s (%d bytes)" % (i, port, e, len(buffer)))
                check(status == 200, "round %d, second connection from port %d: %d" % (i, port, status))
            time.sleep(0.5)

    def describe_stall(self, index, sock, received, since):
        """A connection whose response did not come: which one, how much of it came, the host's
        view of the socket (ss: queues, TCP state) at this moment."""
        try:
            port = sock.getsockname()[1]
        except OSError:
            return "connection %d (socket already closed)" % index
        uses = self.client.port_history.get(port, [])
        reuse = ("the port's previous connection (#%d) was made %.1fs earlier" % (uses[-2][1], uses[-1][0] - uses[-2][0])
                 if len(uses) > 1 else "first use of the port")
        head = bytes(received[:received.find(b"\r\n")]) if b"\r\n" in received else bytes(received[:40])
        ss = subprocess.run(["ss", "-tnoi", "( sport = :%d or dport = :%d )" % (port, port)],
                            capture_output=True, text=True).stdout.strip().replace("\n", " / ")
        return "connection %d (local port %d, %s): %d bytes received %r, %.1fs after the request; ss: %s" % (
            index, port, reuse, len(received), head, time.monotonic() - since, ss)


def read_response_buffered(sock, buffer, timeout):
    """Reads one response (with a body) into buffer (kept by the caller, so that after a timeout
    it shows how much arrived); returns (status, {lower name: value}, body)."""
    deadline = time.monotonic() + timeout
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
            match = re.match(r"HTTP/1\.[01] (\d{3}) ", head[0])
            check(match, "bad status line %r" % head[0])
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "-1"))
            check(length >= 0, "no Content-Length in %r" % headers)
            if len(buffer) >= end + 4 + length:
                return int(match.group(1)), headers, bytes(buffer[end + 4:end + 4 + length])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        check(chunk, "connection closed after %d bytes of the response" % len(buffer))
        buffer += chunk

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--httpd", help="native httpd binary (run with --root WWW --port 0 --quiet)")
    parser.add_argument("--httpd-arg", action="append", default=[], help="extra argument for --httpd (repeatable)")
    parser.add_argument("--www", default=DEFAULT_WWW, help="the files the server serves (for comparison)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="port to connect to (default: the one in the start line)")
    parser.add_argument("--start-timeout", type=float, default=60)
    parser.add_argument("--io-timeout", type=float, default=20)
    parser.add_argument("--long", action="store_true", help="10,000 sequential connections instead of 1,000")
    parser.add_argument("--no-exit-check", action="store_true", help="do not require exit status 0 after SIGTERM")
    parser.add_argument("--only", help="comma-separated test names to run")
    parser.add_argument("--fresh-ports", action="store_true",
                        help="connect from local ports 40000-59999 in turn, so that no port is used again soon "
                             "(QEMU's user networking keeps its side of a forwarded connection the client closed "
                             "in TIME_WAIT for 10 s and takes a new connection from the same host port for the old "
                             "one: it stalls; curl's few connections are left as they are)")
    parser.add_argument("--connect-pace", type=float, default=0, metavar="MS",
                        help="wait MS milliseconds between connects that open many connections at once "
                             "(QEMU user networking accepts forwarded connections with a backlog of 1: "
                             "a burst overflows the host's accept queue and each dropped SYN costs 1 s)")
    parser.add_argument("command", nargs="*", help="server command (after --), instead of --httpd")
    args = parser.parse_args()

    if args.httpd:
        command = [args.httpd, "--root", args.www, "--port", "0", "--quiet"] + args.httpd_arg
    elif args.command:
        command = args.command
    else:
        default = os.path.join(ROOT, "build", "apps", "httpd", "httpd")
        command = [default, "--root", args.www, "--port", "0", "--quiet"]
    if not ensure_curl():
        print("httpd_test: curl is missing and could not be installed (apt-get install curl)", file=sys.stderr)
        return 1

    print("httpd_test: starting %s" % " ".join(command), flush=True)
    try:
        server = Server(command, args.start_timeout)
    except Failure as e:
        print("FAIL start: %s" % e, flush=True)
        return 1
    print("httpd_test: %s" % server.start_line, flush=True)
    client = Client(args.host, args.port or server.port, args.io_timeout, args.connect_pace / 1000.0, args.fresh_ports)

    suite = Suite(args, server, client)
    tests = [(name[5:], getattr(suite, name)) for name in Suite.__dict__ if name.startswith("test_")]
    tests.sort(key=lambda t: t[0] == "descriptors_released")  # last: after everything else
    if args.only:
        wanted = args.only.split(",")
        tests = [(n, f) for n, f in tests if n in wanted]
        if "port_reuse" in wanted:  # opt-in only (see check_port_reuse)
            tests.append(("port_reuse", suite.check_port_reuse))
    try:
        for name, function in tests:
            suite.run(name, function)
    finally:
        if server.alive():
            status = server.stop(signal.SIGTERM)
            if not args.no_exit_check:
                if status != 0:
                    suite.failures.append("exit")
                print("%s exit-on-SIGTERM               status %s" % ("ok  " if status == 0 else "FAIL", status), flush=True)
    if suite.failures:
        print("httpd_test: %d failure(s): %s" % (len(suite.failures), ", ".join(suite.failures)), flush=True)
        return 1
    print("httpd_test: all %d checks passed" % len(tests), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
