#!/usr/bin/env bash
# The Debian test root of tests/debian (issue 12's acceptance tests): Debian's own coreutils,
# busybox-static, python3, sqlite3 and redis-server with everything they need, made with
# mmdebstrap from the machine's apt sources (never a server named here) and cached outside the
# repository, keyed by the packages' versions, like the toolchain.
#
#   tests/debian/make_rootfs.sh              build the root if it is not cached; print its path last
#   tests/debian/make_rootfs.sh --print-key  print the path that would be used; build nothing
#
# Result: ${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/xos}/debian-root-<key>/
#   root/    the root file system (a directory; root-owned files as dpkg made them)
#   stamp    the package versions it was made from (written last: its presence = complete)
# <key> = first 16 hex digits of sha256 over this script and the candidate versions (apt-cache
# policy) of the packages named below, so a Debian point release or a changed script makes a
# new root (tests/lib/cache_key.sh). The root also holds the tests' fixed files (below) and an
# empty directory /xos-test where each test mounts its own writable work directory.
set -euo pipefail

# The versions-keyed cache (CACHE_ROOT, VERSIONS, DEST, the lock): tests/lib/cache_key.sh.
. "$(dirname "$(readlink -f "$0")")/../lib/cache_key.sh"
xos_cache_mode "$@"

# What the tests run, on top of mmdebstrap's "essential" variant (coreutils, libc6, dash,
# base-files, base-passwd...). sqlite3 is the shell; python3's json and sqlite3 modules are in
# its standard library (libpython3.11-stdlib). libpython3.11 (the interpreter as a shared
# library) is for python-pie.c, a position-independent python3 while non-PIE ones are refused.
PACKAGES=(busybox-static python3 libpython3.11 sqlite3 redis-server)
# Multi-process applications (tests/debian's nginx, ps cases): nginx with master and workers,
# procps' ps reading /proc.
PACKAGES+=(nginx-light procps)

xos_cache_root
SCRIPT=$(readlink -f "$0")
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}")
xos_apt_binary_sources
xos_cache_versions libc6 coreutils "${PACKAGES[@]}"
xos_cache_dest debian-root "$SCRIPT"
xos_cache_print_or_done

command -v mmdebstrap >/dev/null || { echo "$0: mmdebstrap is not installed (bootstrap.sh installs it)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (mmdebstrap's root mode; the tests chroot into the result)" >&2; exit 1; }
xos_cache_lock
rm -rf "$DEST"
mkdir -p "$DEST"
start=$(date +%s)
echo "make_rootfs: building $DEST (mmdebstrap $SUITE, essential + ${PACKAGES[*]})" >&2
include=$(IFS=,; echo "${PACKAGES[*]}")
# --mode=root: this script runs as root; dpkg configures the packages inside the new root (no
# service is started: mmdebstrap installs a policy-rc.d that forbids it). The apt lists and
# .deb files are dropped afterwards (mmdebstrap's default cleanup).
mmdebstrap --quiet --mode=root --variant=essential --include="$include" \
    "$SUITE" "$DEST/root" "${SOURCES[@]}" >&2

# The tests' fixed content: a directory for `ls -la` whose names, sizes, modes, owners and
# times do not depend on when the root was made, and the mount point of the tests' work directory.
fixture=$DEST/root/srv/ls
mkdir -p "$fixture/sub"
printf 'alpha\n' > "$fixture/a.txt"
printf 'bravo bravo\n' > "$fixture/b.txt"
head -c 5000 /dev/zero > "$fixture/zeros"
ln -s a.txt "$fixture/link"
chmod 0644 "$fixture/a.txt" "$fixture/zeros"
chmod 0600 "$fixture/b.txt"
chmod 0755 "$fixture" "$fixture/sub"
# Owned by root: hosted's sandbox (a user namespace) shows other host owners as nobody.
chown -h 0:0 "$fixture" "$fixture"/* "$fixture/link"
touch -h -d '2009-02-13 23:31:30 UTC' "$fixture"/* "$fixture/link" "$fixture"
mkdir -p "$DEST/root/xos-test"
chmod 1777 "$DEST/root/tmp"

echo "$VERSIONS" > "$DEST/stamp"
echo "make_rootfs: done in $(( $(date +%s) - start )) s ($(du -sh "$DEST/root" | cut -f1))" >&2
echo "$DEST"
