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
    if code == b"\xc3":
        return "ret"
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


# The instruction before a `syscall` the rewriter moves, decoded backwards from the `syscall`
# as libos/rewrite/rewrite.cpp movable_before() does: its length, or 0. (The rewriter also checks
# the instruction's effect against the registers at the trap, which catches most misdecodings;
# this counts those the bytes alone would make.)
def movable_before(c):
    n = len(c)
    rex = lambda b: b & 0xF0 == 0x40
    if n >= 7 and c[-7] in (0x48, 0x49) and c[-6] == 0xC7 and c[-5] & 0xF8 == 0xC0:
        return 7
    if n >= 6 and c[-6] == 0x41 and c[-5] & 0xF8 == 0xB8:
        return 6
    if n >= 5 and c[-5] & 0xF8 == 0xB8 and not (n >= 6 and rex(c[-6])):
        return 5
    rex_store = n >= 5 and rex(c[-5]) and not c[-5] & 3 and c[-4] == 0x89
    if (rex_store or (n >= 4 and c[-4] == 0x89 and not (n >= 5 and rex(c[-5])))) and c[-3] & 0xC7 == 0x44 \
            and c[-2] == 0x24:
        return 5 if rex_store else 4
    if n >= 3 and rex(c[-3]) and c[-2] in (0x89, 0x8B, 0x31) and c[-1] & 0xC0 == 0xC0:
        return 3
    if n >= 2 and c[-2] in (0x89, 0x8B, 0x31) and c[-1] & 0xC0 == 0xC0 and not (n >= 3 and rex(c[-3])):
        return 2
    return 0


MISDECODED = []  # sites where the backward decoding disagrees with objdump's instruction boundary


def take_after(insns, i, wanted):
    length, names = 0, []
    for j in range(i + 1, min(i + 4, len(insns))):
        if length >= wanted or (names and names[-1] == "ret"):
            break
        name = relocatable(insns[j][1])
        if not name:
            break
        names.append(name)
        length += len(insns[j][1])
    return (length, names) if length >= wanted and length <= 8 else (None, None)


def classify(insns, i):
    """(pattern, the bytes [start, end) the patch replaces) or (None, 0, 0)."""
    at = insns[i][0]
    before = insns[i - 1][1] if i else b""
    if len(before) == 5 and before[0] == 0xb8:
        return "before: mov $imm32,%eax; syscall", at - 5, at
    if len(before) == 7 and before[:3] == b"\x48\xc7\xc0":
        return "before: mov $imm32,%rax; syscall", at - 7, at - 2
    length, names = take_after(insns, i, 3)
    if names:
        return "after: syscall; " + "; ".join(names), at, at + 2 + length
    # The 12 bytes before the syscall, as the rewriter sees them (across instruction boundaries).
    raw = b""
    for j in range(i - 1, max(i - 13, -1), -1):
        raw = insns[j][1] + raw
        if len(raw) >= 12:
            break
    before = movable_before(raw[-12:])
    if before:
        if before != len(insns[i - 1][1]):
            MISDECODED.append("%x" % at)
            return None, 0, 0
        length, names = take_after(insns, i, max(0, 3 - before))
        if names is not None:
            text = re.sub(r"0x[0-9a-f]+", "N", insns[i - 1][2].split("#")[0]).strip()
            return "before and after: %s; syscall%s" % (re.sub(r"\s+", " ", text), "".join("; " + n for n in names)), at - before, at + 2 + length
    return None, 0, 0


TARGET = re.compile(r"^(?:j[a-z]+|call|loop[a-z]*|jmp)\s+([0-9a-f]+)\b")


def branch_targets(insns):
    targets = set()
    for _, _, text in insns:
        m = TARGET.match(text)
        if m:
            targets.add(int(m.group(1), 16))
    return targets


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
        targets = branch_targets(insns)
        inside = []  # patched sites with a direct branch into the middle of the replaced bytes
        for i in sites:
            befores[shape_before(insns, i)] += 1
            kind, start, end = classify(insns, i)
            if kind and any(start < t < end for t in targets):
                inside.append("%x %s" % (insns[i][0], kind))
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
        print("  covered sites with a direct branch into the replaced bytes: %d %s" % (len(inside), inside[:5]))
        print("  sites where the backward decoding of the instruction before the syscall is wrong: %d %s"
              % (len(MISDECODED), MISDECODED[:5]))
        del MISDECODED[:]
        print("  not covered (before; syscall; after), most common:")
        for kind, n in uncovered.most_common(15):
            print("    %4d  %s" % (n, kind))


if __name__ == "__main__":
    main()
