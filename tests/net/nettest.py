"""Shared by the network test drivers (httpd_test.py, net_test.py): the failure type and check(),
and connecting from fresh local ports."""
import errno
import random
import socket


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


FRESH_PORTS = list(range(40000, 60000))
FRESH_NEXT = [random.randrange(len(FRESH_PORTS))]


def connect_from_fresh_port(host, port, timeout):
    """Connects from the local ports 40000-59999 in turn (skipping those in use or in TIME_WAIT),
    so that a port comes back only after 20,000 connections. connect() alone may take the port
    of a connection closed a moment ago (on loopback Linux reuses TIME_WAIT ports:
    net.ipv4.tcp_tw_reuse=2), and bind() to port 0 picks ports at random, often the last one."""
    for _ in range(len(FRESH_PORTS)):
        local = FRESH_PORTS[FRESH_NEXT[0] % len(FRESH_PORTS)]
        FRESH_NEXT[0] += 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        # SO_REUSEADDR: a port this or an earlier run left in TIME_WAIT is fine (a new QEMU has no
        # state about it); connect() still refuses a four-tuple in TIME_WAIT it may not reuse.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, local))
            sock.connect((host, port))
            return sock
        except OSError as e:
            sock.close()
            if e.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                raise
    raise OSError(errno.EADDRINUSE, "no usable local port in 40000-59999")
