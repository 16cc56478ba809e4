#!/usr/bin/env python3
"""The host half of the network test: boots net_echo.xos with a virtio-net NIC on QEMU user
networking (xos-run -p HOSTPORT:7) and libos's diagnostic TCP echo service (--net-echo 7),
then, from the host: one connection echoing 256 KiB (flow control, many segments), and 20
concurrent connections each echoing its own message. Then it signals the guest through a
shared directory, and the guest exits 0.

usage: run_net_echo_test.py --xos-run PATH [--machine microvm|q35|pc] [--xos-run-arg ARG]...
                            [--first-port N] IMAGE

--machine and --xos-run-arg reach xos-run (tests/pci runs this over virtio-net-pci and
virtio-9p-pci). The host port is any free one, or the first free one in N..N+99 with
--first-port (for tests that run alone: is_parallel false).

Verdict: the echoes are exact AND the VM's exit status is 0.
"""
import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port(first):
    if first is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    for port in range(first, first + 100):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
                return port
            except OSError:
                continue
    raise SystemExit("no free host port in %d..%d" % (first, first + 99))


def echo(port, payload, deadline):
    """Connects (retrying while the guest boots: user networking accepts on the host side, then
    closes when the guest is not listening yet) and returns what came back."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                received = bytearray()
                sender = threading.Thread(target=s.sendall, args=(payload,))
                sender.start()
                while len(received) < len(payload):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                sender.join()
                if received:
                    return bytes(received)
        except OSError:
            pass
        time.sleep(0.2)
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xos-run", required=True)
    parser.add_argument("--timeout", default="90")
    parser.add_argument("--machine", default="microvm")
    parser.add_argument("--xos-run-arg", action="append", default=[])
    parser.add_argument("--first-port", type=int)
    parser.add_argument("image")
    args = parser.parse_args()

    failures = []
    with tempfile.TemporaryDirectory(prefix="xos-net-") as shared:
        port = free_port(args.first_port)
        command = [args.xos_run, "--machine", args.machine, "--timeout", args.timeout,
                   "--share", shared + ":/mnt", "-p", f"tcp:{port}:7", "--net-echo", "7"]
        command += args.xos_run_arg + [args.image]
        print("$", " ".join(command), flush=True)
        vm = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        # Connect once the guest has its address (libos logs it): a connection made earlier is
        # accepted by QEMU's user networking, whose SYN to the guest is then only retried after
        # seconds.
        output = {"stdout": [], "stderr": []}
        addressed = threading.Event()

        def collect(stream, lines):
            for line in stream:
                lines.append(line)
                if line.startswith("xos: net: en"):
                    addressed.set()

        readers = [threading.Thread(target=collect, args=(vm.stdout, output["stdout"])),
                   threading.Thread(target=collect, args=(vm.stderr, output["stderr"]))]
        for reader in readers:
            reader.start()
        if not addressed.wait(timeout=60):
            failures.append("the guest never logged its network address")

        rng = random.Random(7)
        big = bytes(rng.getrandbits(8) for _ in range(256 * 1024))
        got = echo(port, big, deadline)
        if got != big:
            failures.append(f"256 KiB echo: got {None if got is None else len(got)} bytes, "
                            f"{'different' if got else 'nothing'}")

        results = {}

        def one(i):
            message = f"connection {i}: ".encode() + bytes([i]) * (1000 + i * 37)
            results[i] = echo(port, message, deadline) == message

        threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        bad = [i for i in range(20) if not results.get(i)]
        if bad:
            failures.append(f"concurrent echoes failed for connections {bad}")

        open(os.path.join(shared, "done"), "w").close()
        try:
            vm.wait(timeout=float(args.timeout) + 10)
        except subprocess.TimeoutExpired:
            vm.kill()
            vm.wait()
            failures.append("xos-run did not finish")
        for reader in readers:
            reader.join()
        stdout, stderr = "".join(output["stdout"]), "".join(output["stderr"])
        if vm.returncode != 0:
            failures.append(f"VM exit status {vm.returncode} (expected 0)")
        if "net_echo: host done" not in stdout:
            failures.append("the guest did not see the host's signal")

    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    for failure in failures:
        print("FAIL:", failure)
    print("net-echo:", "FAIL" if failures else "OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
