#!/usr/bin/env python3
"""Runs xos-run (XOS_RUN_REAL) with the signals blocked that `xos-oci run` blocks while it waits
for its container (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2), so that the hosted
platform starts with them blocked, as it does under podman. The platform must not depend on the
mask it inherits: with SIGUSR1 (its yield) blocked, a thread that blocked came back at once,
still on its wait queue (a VERIFY in the scheduler, every run of conformance-threads)."""
import os
import signal
import sys

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                                          signal.SIGUSR1, signal.SIGUSR2})
real = os.environ['XOS_RUN_REAL']
os.execv(real, [real] + sys.argv[1:])
