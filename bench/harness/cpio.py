"""A minimal initramfs writer: cpio "newc" (SVR4, no CRC), the format the Linux kernel unpacks.

The archive holds /dev, /dev/console (so the kernel can open the console for /init even if its
built-in initramfs lacks it) and /init; it is left uncompressed (the kernel then only copies it).
"""
import os
import stat

_TRAILER = "TRAILER!!!"


def _entry(out, ino, name, mode, data=b"", rdev=(0, 0), nlink=1):
    encoded = name.encode() + b"\0"
    header = "070701" + "".join("%08X" % v for v in (
        ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0))
    out += header.encode() + encoded
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)


def initramfs(init_path):
    """An uncompressed newc archive whose /init is the executable at init_path."""
    with open(init_path, "rb") as f:
        init = f.read()
    out = bytearray()
    _entry(out, 1, "dev", stat.S_IFDIR | 0o755, nlink=2)
    _entry(out, 2, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    _entry(out, 3, "init", stat.S_IFREG | 0o755, init)
    _entry(out, 0, _TRAILER, 0)
    out += b"\0" * (-len(out) % 512)
    return bytes(out)


def write_initramfs(init_path, out_path):
    data = initramfs(init_path)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out_path)
    return out_path
