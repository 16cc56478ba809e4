#!/bin/sh
# Applies the project's one code style (.clang-format at the root) to every C and C++ file of
# libos, platform, tools, apps, tests and bench; with --check, changes nothing and fails (status 1)
# listing the files that differ. The test suite runs the check (test "format").
#   tools/lint/format.sh [--check]
set -eu
cd "$(dirname "$0")/../.."
CLANG_FORMAT=${CLANG_FORMAT:-$(command -v clang-format-19 || command -v clang-format || true)}
[ -n "$CLANG_FORMAT" ] || { echo "format.sh: clang-format-19 not found (apt-get install clang-format-19)" >&2; exit 2; }
files=$(git ls-files -- 'libos/*' 'platform/*' 'tools/*' 'apps/*' 'tests/*' 'bench/*' |
        grep -E '\.(c|cpp|h)$' | grep -v '^tools/toolchain/musl/' || true)
[ -n "$files" ] || { echo "format.sh: no files found (not a git checkout?)" >&2; exit 2; }
if [ "${1:-}" = "--check" ]; then
    bad=0
    for f in $files; do
        if ! "$CLANG_FORMAT" --style=file "$f" | cmp -s - "$f"; then
            echo "not formatted: $f (run tools/lint/format.sh)"
            bad=1
        fi
    done
    exit $bad
fi
echo "$files" | xargs "$CLANG_FORMAT" --style=file -i
