#!/usr/bin/env bash
# check-no-syscall.sh - verify that x86_64 objects/archives contain no raw
# system-call instruction (syscall, sysenter, int $0x80).
#
# In xos every system call musl makes must be a plain function call into
# libxos (xos_syscall / xos_clone); a leftover `syscall` instruction would
# trap on bare metal. This is the acceptance check for the xos musl build.
#
# Usage: tools/toolchain/check-no-syscall.sh FILE...   (e.g. sysroot/lib/libc.a)
#
# Exit status: 0  no such instruction in any FILE
#              1  found; every offending archive member/function is listed on
#                 stdout as "FILE(member): function: <instruction line>"
#              2  usage error or the disassembler failed
#
# Env: OBJDUMP (default llvm-objdump-19, falling back to llvm-objdump).
#
# Note: a plain `llvm-objdump -d libc.a | grep -w syscall` is NOT a usable
# check, because musl legitimately defines a C function named `syscall()`
# (src/misc/syscall.c) whose label and section name match the word. This
# script matches the instruction mnemonic only.
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	[[ $# -lt 1 ]] && exit 2 || exit 0
fi

OBJDUMP=${OBJDUMP:-}
if [[ -z $OBJDUMP ]]; then
	if command -v llvm-objdump-19 >/dev/null 2>&1; then OBJDUMP=llvm-objdump-19
	elif command -v llvm-objdump >/dev/null 2>&1; then OBJDUMP=llvm-objdump
	else echo "check-no-syscall: llvm-objdump-19 not found (set OBJDUMP)" >&2; exit 2
	fi
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

status=0
for f in "$@"; do
	if [[ ! -f $f ]]; then
		echo "check-no-syscall: no such file: $f" >&2
		exit 2
	fi
	if ! "$OBJDUMP" -d "$f" >"$tmp" 2>"$tmp.err"; then
		echo "check-no-syscall: $OBJDUMP -d $f failed:" >&2
		cat "$tmp.err" >&2
		rm -f "$tmp.err"
		exit 2
	fi
	rm -f "$tmp.err"
	# llvm-objdump layout:
	#   <file>(<member>):<TAB>file format elf64-x86-64
	#   0000000000000000 <function>:
	#         9e: 0f 05                    <TAB>syscall
	if ! awk -v file="$f" '
		/:[ \t]+file format / { member = $0; sub(/:[ \t]+file format .*/, "", member); next }
		/^[0-9a-fA-F]+ <.*>:[ \t]*$/ { fn = $0; sub(/^[0-9a-fA-F]+ </, "", fn); sub(/>:[ \t]*$/, "", fn); next }
		/^[ \t]+[0-9a-fA-F]+:/ {
			if ($0 ~ /\t(syscall|sysenter)([ \t]|$)/ || $0 ~ /\tint[ \t]+\$0x80([ \t]|$)/) {
				line = $0; gsub(/[ \t]+/, " ", line)
				print (member != "" ? member : file) ": " (fn != "" ? fn : "?") ":" line
				bad = 1
			}
		}
		END { exit bad ? 1 : 0 }' "$tmp"; then
		status=1
	fi
done

if [[ $status -ne 0 ]]; then
	echo "check-no-syscall: FAIL: raw system-call instructions found (listed above)" >&2
else
	echo "check-no-syscall: OK: no syscall/sysenter/int \$0x80 instruction in: $*" >&2
fi
exit "$status"
