#!/usr/bin/env python3
"""tests/net/httpd_proc_test.py: apps/httpd serving files whose st_size is 0 (procfs).

    httpd_proc_test.py --httpd BUILD/apps/httpd/httpd                 # native: --root /proc --port 0
    httpd_proc_test.py --port 8080 -- xos-run -p 8080:8080 httpd.xos -- --root /proc --port 8080

The server's document root is /proc, where stat gives st_size 0 for files that are not empty (as
on Linux). Checks, each on the server's own /proc: GET /self/status and /meminfo answer 200 with a
Content-Length equal to the body's length and a body that is the file (it starts with "Name:",
contains "MemTotal:"); HEAD gives a non-zero Content-Length; two GETs on one keep-alive connection
both parse (a wrong length would garble the second). Exits 1 if any check failed.
"""
import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httpd_test import Client, Server  # noqa: E402
from nettest import Failure, check  # noqa: E402


def wait_until_answering(client, timeout):
    """The first connection through a forwarder (passt, slirp) can be reset while the image's
    network comes up after the start line; what is checked here is the server's answers, so the
    checks start once one request has been answered."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.get("/meminfo")
            return
        except OSError as e:
            if time.monotonic() > deadline:
                raise Failure("no answer within %ss: %s" % (timeout, e))
            print("httpd_proc_test: not answering yet (%s); retrying" % e, flush=True)
            time.sleep(0.5)


def get_status(client):
    status, headers, body = client.get("/self/status")
    check(status == 200, "GET /self/status: status %d" % status)
    length = int(headers["content-length"])
    check(length > 0, "GET /self/status: Content-Length 0")
    check(length == len(body), "GET /self/status: Content-Length %d, body %d bytes" % (length, len(body)))
    check(body.startswith(b"Name:"), "GET /self/status: body starts %r" % body[:40])


def get_meminfo(client):
    status, headers, body = client.get("/meminfo")
    check(status == 200, "GET /meminfo: status %d" % status)
    check(int(headers["content-length"]) == len(body) > 0, "GET /meminfo: length %s, body %d bytes"
          % (headers["content-length"], len(body)))
    check(b"MemTotal:" in body, "GET /meminfo: no MemTotal in %r" % body[:80])


def head_status(client):
    status, headers, _ = client.get("/self/status", method="HEAD")
    check(status == 200, "HEAD /self/status: status %d" % status)
    check(int(headers["content-length"]) > 0, "HEAD /self/status: Content-Length 0")


def keep_alive(client):
    with client.connect() as sock:
        sock.sendall(client.request("/self/status") + client.request("/meminfo", headers=("Connection: close",)))
        with sock.makefile("rb") as reader:
            first = client.read_response(reader)
            second = client.read_response(reader)
    check(first[0] == 200 and first[2].startswith(b"Name:"), "keep-alive: first response %r" % (first[:2],))
    check(second[0] == 200 and b"MemTotal:" in second[2], "keep-alive: second response %r" % (second[:2],))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--httpd", help="native httpd binary (run with --root /proc --port 0 --quiet)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="port to connect to (default: the one in the start line)")
    parser.add_argument("--start-timeout", type=float, default=60)
    parser.add_argument("--io-timeout", type=float, default=20)
    parser.add_argument("command", nargs="*", help="server command (after --), instead of --httpd")
    args = parser.parse_args()
    if args.httpd:
        command = [args.httpd, "--root", "/proc", "--port", "0", "--quiet"]
    elif args.command:
        command = args.command
    else:
        parser.error("give --httpd or a server command")

    print("httpd_proc_test: starting %s" % " ".join(command), flush=True)
    try:
        server = Server(command, args.start_timeout)
    except Failure as e:
        print("FAIL start: %s" % e, flush=True)
        return 1
    client = Client(args.host, args.port or server.port, args.io_timeout)
    failures = []
    try:
        try:
            wait_until_answering(client, args.start_timeout)
        except Failure as e:
            failures.append("start")
            print("FAIL start: %s" % e, flush=True)
        for name, function in [("get_status", get_status), ("get_meminfo", get_meminfo),
                               ("head_status", head_status), ("keep_alive", keep_alive)]:
            try:
                function(client)
                print("ok   %s" % name, flush=True)
            except (Failure, OSError, KeyError, ValueError) as e:
                failures.append(name)
                print("FAIL %s: %s" % (name, e), flush=True)
    finally:
        server.stop(signal.SIGTERM)
    if failures:
        print("httpd_proc_test: %d failure(s): %s" % (len(failures), ", ".join(failures)), flush=True)
        print("server output (last lines):\n" + "\n".join(server.tail), flush=True)
        return 1
    print("httpd_proc_test: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
