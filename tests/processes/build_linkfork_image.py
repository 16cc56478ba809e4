#!/usr/bin/env python3
"""Builds linkfork.c into an image whose rootfs holds the same program as a static Linux binary at
/bin/linkfork (the program a forked child execs).

usage: build_linkfork_image.py XOS_BUILD PLATFORM NATIVE_BINARY SOURCE OUTPUT
"""
import os
import shutil
import subprocess
import sys


def main():
    xos_build, platform, native, source, output = sys.argv[1:]
    root = output + '.rootfs'
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, 'bin'))
    shutil.copy(native, os.path.join(root, 'bin', 'linkfork'))
    command = [xos_build, '--platform', platform, '-O2', source, '--rootfs', root, '-o', output]
    return subprocess.run(command).returncode


if __name__ == '__main__':
    sys.exit(main())
