#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a working xos:
#
#   ./bootstrap.sh demo    install what is missing, build everything, boot apps/httpd as a VM
#                          and print the URL to open (Ctrl-C stops it)
#   ./bootstrap.sh test    install what is missing, build everything, run the whole test suite
#   ./bootstrap.sh build   install what is missing and build everything
#
# Debian packages come from the machine's apt sources; the target toolchain (musl routed to
# libxos, libc++/libc++abi/libunwind) is built from Debian source packages into
# ${XOS_CACHE_DIR:-~/.cache/xos}, keyed by versions, so later runs skip it; so is the Debian
# root of tests/debian (tests/debian/make_rootfs.sh, when run as root).
# Environment: XOS_BUILD_DIR (default: build), MESON_TEST_ARGS (extra `meson test` arguments),
# XOS_DEMO_PORT (host port of the demo, default 8080 or the next free one), XOS_DEMO_SECONDS
# (stop the demo after that many seconds; default: serve until Ctrl-C).
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$(pwd)
BUILD_DIR=${XOS_BUILD_DIR:-build}

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bootstrap.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

PACKAGES=(clang-19 lld-19 llvm-19 libclang-rt-19-dev cmake ninja-build meson make xz-utils
          linux-libc-dev dpkg-dev qemu-system-x86 libgtest-dev musl-tools python3 passt
          curl wrk iproute2 clang-format-19 clang-tidy-19
          gcc libc6-dev strace  # gcc, libc6-dev (glibc's libc.a), strace: tests/exec
          sqlite3 redis-server)  # host programs of tests/runtools and bench/startup

# tests/debian: its Debian root (mmdebstrap), the Go server, the host's redis client, python-pie.
PACKAGES+=(mmdebstrap golang-go redis-tools libpython3.11-dev)

# tools/xos-image (xos-build --from-image): libarchive, nlohmann-json, OpenSSL's sha256, mkfs.erofs
# (also for the EROFS reader's tests and --root-image images: tests/unit, tests/fuzz, tests/erofs).
PACKAGES+=(libarchive-dev nlohmann-json3-dev libssl-dev erofs-utils)
# tests/oci: container images made locally (podman with runc, umoci/skopeo), no registry.
PACKAGES+=(podman runc umoci skopeo)
# tests/xen: the Xen-in-QEMU harness (tests/xen/make_harness.sh packs dom0's initramfs with cpio).
PACKAGES+=(cpio)
# tests/toolchain: sqlite's build generates its amalgamation with tclsh; binutils' ld.bfd makes
# GNU `ld -r` objects; pkg-config behind xos-pkg-config.
PACKAGES+=(tcl binutils pkg-config)
# tools/xos-oci (the OCI runtime): CLI11; tests/oci-runtime: containerd's ctr, iproute2 (ip, tc).
PACKAGES+=(libcli11-dev containerd iproute2)

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
    # tests/debian's Debian root (mmdebstrap, as root; a few minutes once, then cached).
    if [ "$(id -u)" -eq 0 ]; then
        step "Debian test root (cached)"
        tests/debian/make_rootfs.sh >/dev/null
        # tests/xen's Xen-in-QEMU harness (Xen, dom0's kernel and initramfs; minutes once, then cached).
        step "Xen test harness (cached)"
        tests/xen/make_harness.sh >/dev/null
    fi
}

# A free TCP port on the host, starting at $1.
free_port() {
    python3 - "$1" <<'PY'
import socket, sys
port = int(sys.argv[1])
for candidate in range(port, port + 100):
    with socket.socket() as s:
        try:
            s.bind(("", candidate))
        except OSError:
            continue
        print(candidate)
        break
else:
    sys.exit("no free port near %d" % port)
PY
}

# The demo: apps/hello once, then apps/httpd (a C++ HTTP server on epoll) as a VM with its port
# forwarded to the host, until Ctrl-C (or XOS_DEMO_SECONDS).
run_demo() {
    local run="$BUILD_DIR/tools/xos-run/xos-run"
    step "booting apps/hello as a VM: $run $BUILD_DIR/apps/hello.xos -- from the demo"
    "$run" --timeout 60 "$BUILD_DIR/apps/hello.xos" -- from the demo
    local port
    port=$(free_port "${XOS_DEMO_PORT:-8080}")
    step "booting apps/httpd as a VM: $run -p $port:8080 $BUILD_DIR/apps/httpd/httpd.xos"
    "$run" ${XOS_DEMO_SECONDS:+--timeout "$XOS_DEMO_SECONDS"} -p "$port:8080" "$BUILD_DIR/apps/httpd/httpd.xos" &
    local vm=$!
    trap 'kill "$vm" 2>/dev/null; wait "$vm" 2>/dev/null; exit 0' INT TERM
    if python3 - "$port" <<'PY'
import sys, time, urllib.request
url = "http://127.0.0.1:%s/" % sys.argv[1]
for _ in range(600):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            sys.exit(0 if response.status == 200 else 1)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
    then
        step "apps/httpd is serving: open http://localhost:$port/ (Ctrl-C stops the VM)"
    else
        kill "$vm" 2>/dev/null || true
        wait "$vm" 2>/dev/null || true
        die "apps/httpd did not answer on http://localhost:$port/"
    fi
    local status=0
    wait "$vm" || status=$?
    # XOS_DEMO_SECONDS ends the VM with xos-run's timeout status (124): that is the plan.
    [ -n "${XOS_DEMO_SECONDS:-}" ] && [ "$status" -eq 124 ] && status=0
    return "$status"
}

command=${1:-}
case "$command" in
    demo)
        build_all
        run_demo
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
