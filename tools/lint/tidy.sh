#!/bin/sh
# Runs clang-tidy (.clang-tidy at the root: a small check set, warnings are errors) on the C++
# sources of libos, platform, tools and apps, with the compile commands of a configured build.
#   tools/lint/tidy.sh [BUILD_DIR]     (default: build)
set -eu
cd "$(dirname "$0")/../.."
BUILD_DIR=${1:-build}
CLANG_TIDY=${CLANG_TIDY:-$(command -v clang-tidy-19 || command -v clang-tidy || true)}
[ -n "$CLANG_TIDY" ] || { echo "tidy.sh: clang-tidy-19 not found (apt-get install clang-tidy-19)" >&2; exit 2; }
[ -f "$BUILD_DIR/compile_commands.json" ] || { echo "tidy.sh: $BUILD_DIR/compile_commands.json missing (meson setup first)" >&2; exit 2; }
files=$(git ls-files -- 'libos/*.cpp' 'platform/*.cpp' 'tools/*.cpp' 'apps/*.cpp')
echo "$files" | xargs -P "$(nproc)" -n 8 "$CLANG_TIDY" -p "$BUILD_DIR" --quiet
