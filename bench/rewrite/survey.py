#!/usr/bin/env python3
"""bench/rewrite/survey.py: the shapes of the `syscall` sites in an ELF's code (objdump -d), and
which of them libos/rewrite's patterns cover (docs/syscall-rewriting.md).

usage: bench/rewrite/survey.py [/lib/x86_64-linux-gnu/libc.so.6 ...]
"""
import collections
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)\s*(.*)$")


def instructions(path):
    out = subprocess.run(["objdump", "-d", "-w", path], capture_output=True, text=True, check=True).stdout
    result = []
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            result.append((int(m.group(1), 16), bytes.fromhex(m.group(2).replace(" ", "")), m.group(3).strip()))
    return result


# The instruction after a `syscall` that the rewriter moves into the trampoline (the "after"
# patterns, libos/rewrite/rewrite.cpp relocatable()), by its bytes' shape.
def relocatable(code):
    if len(code) == 6 and code[:2] == b"\x48\x3d":
        return "cmp $imm32,%rax"
    if len(code) == 5 and code[0] == 0x3d:
        return "cmp $imm32,%eax"
    if len(code) == 4 and code[:3] == b"\x48\x83\xf8":
        return "cmp $imm8,%rax"
    if len(code) == 3 and code[:2] == b"\x83\xf8":
        return "cmp $imm8,%eax"
    if len(code) == 3 and code[0] in (0x48, 0x49) and code[1] == 0x89 and code[2] & 0xf8 == 0xc0:
        return "mov %rax,%reg"
    if len(code) == 2 and code[0] == 0x89 and code[1] & 0xf8 == 0xc0:
        return "mov %eax,%reg32"
    if len(code) == 3 and code[0] == 0x41 and code[1] == 0x89 and code[2] & 0xf8 == 0xc0:
        return "mov %eax,%reg32"
    if code in (b"\x48\x85\xc0", b"\x85\xc0"):
        return "test %rax,%rax"
    return None


def classify(insns, i):
    before = insns[i - 1][1] if i else b""
    if len(before) == 5 and before[0] == 0xb8:
        return "before: mov $imm32,%eax; syscall"
    if len(before) == 7 and before[:3] == b"\x48\xc7\xc0":
        return "before: mov $imm32,%rax; syscall"
    length, names = 2, []
    for j in range(i + 1, min(i + 4, len(insns))):
        name = relocatable(insns[j][1])
        if not name:
            break
        names.append(name)
        length += len(insns[j][1])
        if length >= 5:
            return "after: syscall; " + "; ".join(names)
    return None


def shape_before(insns, i):
    b = insns[i - 1][2] if i else ""
    b = re.sub(r"0x[0-9a-f]+", "N", b.split("#")[0]).strip()
    return re.sub(r"\s+", " ", b)


def main():
    paths = sys.argv[1:] or ["/lib/x86_64-linux-gnu/libc.so.6"]
    for path in paths:
        insns = instructions(path)
        sites = [i for i, (_, code, _) in enumerate(insns) if code == b"\x0f\x05"]
        covered = collections.Counter()
        uncovered = collections.Counter()
        befores = collections.Counter()
        for i in sites:
            befores[shape_before(insns, i)] += 1
            kind = classify(insns, i)
            if kind:
                covered[kind] += 1
            else:
                after = re.sub(r"0x[0-9a-f]+", "N", insns[i + 1][2].split("#")[0]) if i + 1 < len(insns) else ""
                after = re.sub(r"\s+", " ", re.sub(r"<.*>", "", after)).strip()
                uncovered["%s; syscall; %s" % (shape_before(insns, i), after)] += 1
        total = len(sites)
        print("%s: %d syscall sites, %d covered (%.0f%%)" % (path, total, sum(covered.values()),
                                                             100.0 * sum(covered.values()) / max(total, 1)))
        print("  the instruction before the syscall:")
        for shape, n in befores.most_common(12):
            print("    %4d  %s" % (n, shape))
        print("  covered, by pattern (the before patterns take precedence):")
        for kind, n in covered.most_common():
            print("    %4d  %s" % (n, kind))
        print("  not covered (before; syscall; after), most common:")
        for kind, n in uncovered.most_common(15):
            print("    %4d  %s" % (n, kind))


if __name__ == "__main__":
    main()
