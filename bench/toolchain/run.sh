#!/bin/bash
# Programs built by xos-cc from Debian's sources (tests/toolchain/projects.sh), timed as the xos
# VM (xos-run), hosted (run directly) and native (the same sources built with Debian's musl-gcc
# -static -O2), all in the same run, rounds interleaved (A B C A B C). Prints the median wall
# times and the ratios against native.
#
# usage: bench/toolchain/run.sh [BUILD_DIR] [RUNS]
# Needs `meson test -C BUILD_DIR --suite toolchain-projects` (or projects.sh sqlite3 / lua5.4) first.
set -euo pipefail
BUILD=$(realpath "${1:-build}")
RUNS=${2:-5}
XOS_RUN=$BUILD/tools/xos-run/xos-run
WORK=$BUILD/tests/toolchain
OUT=$(mktemp -d "${TMPDIR:-/tmp}/bench-toolchain.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

sqlite=$WORK/work-sqlite3/sqlite
lua=$WORK/work-lua5.4/lua
[ -x "$sqlite/speedtest1" ] && [ -x "$lua/src/lua" ] || {
    echo "bench/toolchain: build the projects first (projects.sh sqlite3 lua5.4)" >&2
    exit 1
}
# Native builds of the same sources with Debian's musl.
musl-gcc -static -O2 -DSQLITE_OS_UNIX=1 -DSQLITE_THREADSAFE=1 -I"$sqlite" "$sqlite/test/speedtest1.c" \
    "$sqlite/sqlite3.c" -o "$OUT/speedtest1-native" -lm
(cd "$lua/src" && musl-gcc -static -O2 -DLUA_USE_LINUX -o "$OUT/lua-native" $(ls ./*.c | grep -v luac.c) -lm)
cat >"$OUT/loop.lua" <<'EOF'
local t = {}
for i = 1, 2000000 do t[i] = i * 2 end
local s = 0
for i = 1, #t do s = s + t[i] end
local parts = {}
for i = 1, 200000 do parts[#parts + 1] = tostring(i) end
print(s, #table.concat(parts))
EOF
cp "$OUT/loop.lua" "$lua/loop.lua"

# time_of CMD...: wall seconds of one run (the command must succeed).
time_of() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "bench/toolchain: failed: $*" >&2; exit 1; }
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

declare -A samples
for round in $(seq 0 "$RUNS"); do  # round 0 warms up
    for target in native hosted vm; do
        case $target in
        native) s=$(time_of "$OUT/speedtest1-native" --size 10 "$OUT/st.db")
                l=$(time_of "$OUT/lua-native" "$OUT/loop.lua") ;;
        hosted) s=$(cd "$OUT" && time_of "$sqlite/speedtest1" --size 10 st.db)
                l=$(cd "$lua" && time_of src/lua loop.lua) ;;
        vm) s=$(time_of "$XOS_RUN" --mem 256M "$sqlite/speedtest1" -- --size 10 /tmp/st.db)
            l=$(cd "$lua" && time_of "$XOS_RUN" --mem 256M -- src/lua loop.lua) ;;
        esac
        rm -f "$OUT/st.db"
        [ "$round" -eq 0 ] && continue
        samples[sqlite-$target]+="$s "
        samples[lua-$target]+="$l "
    done
done
printf '| program | native (s) | hosted (s) | xos VM (s) | hosted / native | VM / native |\n|---|---|---|---|---|---|\n'
for program in sqlite lua; do
    n=$(tr ' ' '\n' <<<"${samples[$program-native]}" | grep . | median)
    h=$(tr ' ' '\n' <<<"${samples[$program-hosted]}" | grep . | median)
    v=$(tr ' ' '\n' <<<"${samples[$program-vm]}" | grep . | median)
    printf '| %s | %.3f | %.3f | %.3f | %.2f | %.2f |\n' "$program" "$n" "$h" "$v" "$(awk -v a="$h" -v b="$n" 'BEGIN { print a / b }')" \
        "$(awk -v a="$v" -v b="$n" 'BEGIN { print a / b }')"
done
