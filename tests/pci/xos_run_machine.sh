#!/bin/sh
# xos-run on another QEMU machine, for host-side test scripts that take the path of an xos-run
# to call (tests/image/run_share_test.py): runs `$XOS_RUN --machine $XOS_RUN_MACHINE ARGS...`.
exec "${XOS_RUN:?}" --machine "${XOS_RUN_MACHINE:?}" "$@"
