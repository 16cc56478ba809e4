#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a working xos:
#
#   ./bootstrap.sh demo    install what is missing, build everything, boot apps/hello as a VM
#   ./bootstrap.sh test    install what is missing, build everything, run the whole test suite
#   ./bootstrap.sh build   install what is missing and build everything
#
# Debian packages come from the machine's apt sources; the target toolchain (musl routed to
# libxos, libc++/libc++abi/libunwind) is built from Debian source packages into
# ${XOS_CACHE_DIR:-~/.cache/xos}, keyed by versions, so later runs skip it.
# Environment: XOS_BUILD_DIR (default: build), MESON_TEST_ARGS (extra `meson test` arguments).
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$(pwd)
BUILD_DIR=${XOS_BUILD_DIR:-build}

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bootstrap.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

PACKAGES=(clang-19 lld-19 llvm-19 libclang-rt-19-dev cmake ninja-build meson make xz-utils
          linux-libc-dev dpkg-dev qemu-system-x86 libgtest-dev musl-tools python3)

install_packages() {
    local missing=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    step "installing Debian packages: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

build_all() {
    install_packages
    step "target toolchain (cached)"
    TOOLCHAIN=$(tools/toolchain/build-toolchain.sh | tail -n 1)
    [ -f "$TOOLCHAIN/cross.ini" ] || die "toolchain build did not produce $TOOLCHAIN/cross.ini"
    step "lwIP source (cached)"
    LWIP_SRC=$(tools/lwip/fetch-lwip.sh | tail -n 1)
    [ -f "$LWIP_SRC/src/include/lwip/opt.h" ] || die "tools/lwip/fetch-lwip.sh did not produce $LWIP_SRC"

    # Reconfigure from scratch when the toolchain changed (its path is its key).
    if [ -f "$BUILD_DIR/.xos-toolchain" ] && [ "$(cat "$BUILD_DIR/.xos-toolchain")" != "$TOOLCHAIN" ]; then
        step "toolchain changed: reconfiguring $BUILD_DIR"
        rm -rf "$BUILD_DIR"
    fi
    if [ ! -f "$BUILD_DIR/build.ninja" ]; then
        step "configuring $BUILD_DIR"
        meson setup "$BUILD_DIR" --cross-file "$TOOLCHAIN/cross.ini" -Dlwip_src="$LWIP_SRC"
        echo "$TOOLCHAIN" > "$BUILD_DIR/.xos-toolchain"
    elif [ "$(meson introspect --buildoptions "$BUILD_DIR" 2>/dev/null |
              python3 -c 'import json,sys; print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "lwip_src"), ""))' 2>/dev/null)" != "$LWIP_SRC" ]; then
        step "pointing $BUILD_DIR at $LWIP_SRC"
        meson setup --reconfigure "$BUILD_DIR" -Dlwip_src="$LWIP_SRC"
    fi
    step "building"
    meson compile -C "$BUILD_DIR"
}

command=${1:-}
case "$command" in
    demo)
        build_all
        step "booting apps/hello as a VM: $BUILD_DIR/tools/xos-run/xos-run $BUILD_DIR/apps/hello.xos -- from the demo"
        "$BUILD_DIR/tools/xos-run/xos-run" --timeout 60 "$BUILD_DIR/apps/hello.xos" -- from the demo
        ;;
    test)
        build_all
        step "running the test suite"
        # shellcheck disable=SC2086
        meson test -C "$BUILD_DIR" --print-errorlogs ${MESON_TEST_ARGS:-}
        ;;
    build)
        build_all
        ;;
    -h|--help|help)
        usage
        ;;
    *)
        usage >&2
        die "unknown command '${command}' (expected demo, test or build)"
        ;;
esac
