#!/usr/bin/env bash
# llvm-objdump for tools/toolchain/check-no-syscall.sh on images: the checker finds instruction
# lines by their indented address (/^[ \t]+addr:/), which llvm-objdump prints only for addresses
# of up to 8 hex digits. Images are linked above 4 GiB (the VM's upper half, hosted's 126 TiB), so
# their lines get the indent here. (The checker's pattern is better fixed in the script itself,
# the next time the toolchain's key changes: every file of tools/toolchain is part of it.)
set -euo pipefail
"${XOS_OBJDUMP:-llvm-objdump-19}" "$@" | sed 's/^\([0-9a-fA-F]\{9,\}:\)/ \1/'
