#!/usr/bin/env python3
"""Network over virtio-net-pci: boots net_echo.xos on a PCI machine (xos-run --machine q35 or pc)
with QEMU user networking forwarding HOSTPORT to guest port 7 and libos's diagnostic TCP echo
service (--net-echo 7), echoes a few messages from the host (one of 64 KiB), then signals the
guest through a shared directory (virtio-9p-pci) so that it exits 0.

usage: net_echo_pci.py --xos-run PATH [--machine q35] [--xos-run-arg ARG]... IMAGE

The host port is the first free one in 28200..28299 from --first-port on (the test runs
alone: is_parallel false). Verdict: the echoes are exact AND the VM's exit status is 0.
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
    for port in range(first, 28300):
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
                return port
            except OSError:
                continue
    raise SystemExit("no free host port in %d..28299" % first)


def echo(port, payload, deadline):
    """Connects (retrying while the guest boots: user networking accepts on the host side, then
    closes when the guest is not listening yet) and returns what came back, or None."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                sender = threading.Thread(target=s.sendall, args=(payload,))
                sender.start()
                received = bytearray()
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
    parser.add_argument("--machine", default="q35")
    parser.add_argument("--xos-run-arg", action="append", default=[])
    parser.add_argument("--first-port", type=int, default=28230)
    parser.add_argument("--timeout", default="90")
    parser.add_argument("image")
    args = parser.parse_args()

    failures = []
    with tempfile.TemporaryDirectory(prefix="xos-net-pci-") as shared:
        port = free_port(args.first_port)
        command = [args.xos_run, "--machine", args.machine, "--timeout", args.timeout, "--share", shared + ":/mnt",
                   "-p", f"tcp:{port}:7", "--net-echo", "7"] + args.xos_run_arg + [args.image]
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

        rng = random.Random(28)
        messages = [b"hello over virtio-net-pci\n", bytes(rng.getrandbits(8) for _ in range(64 * 1024)), b"x"]
        for i, message in enumerate(messages):
            got = echo(port, message, deadline)
            if got != message:
                failures.append(f"echo {i} ({len(message)} bytes): got "
                                f"{'nothing' if got is None else f'{len(got)} different bytes'}")

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
            failures.append("the guest did not see the host's signal (virtio-9p-pci)")

    sys.stdout.write("--- stdout ---\n" + stdout + "--- stderr ---\n" + stderr)
    for failure in failures:
        print("FAIL:", failure)
    print("net-echo-pci:", "FAIL" if failures else "OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
