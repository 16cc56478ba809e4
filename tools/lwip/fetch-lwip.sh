#!/usr/bin/env bash
# fetch-lwip.sh - fetch and extract lwIP 2.1.3 from Debian's SOURCE package into a cache
# directory outside the repository (libxos compiles it with our own port in libos/net/lwip/).
#
# Usage:
#   tools/lwip/fetch-lwip.sh               fetch if needed; last stdout line = lwIP source dir
#   tools/lwip/fetch-lwip.sh --print-dir   print the directory that would be used; fetch nothing
#   tools/lwip/fetch-lwip.sh --help
#
#   meson setup build ... -Dlwip_src="$(tools/lwip/fetch-lwip.sh | tail -1)"
#
# Everything except the final directory line goes to stderr.
#
# Result: ${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/xos}/lwip-<key>/
#   src/include/lwip/...   the lwIP headers (src/core, src/api, src/netif: the sources)
#   stamp                  the Debian source version (its presence = complete cache)
# <key> = the Debian source version of lwip (e.g. 2.1.3+dfsg1-2), which is all that decides
# the content: the extracted tree is Debian's, with debian/patches applied by dpkg-source.
# If <dir>/stamp exists the script prints <dir> and exits at once (no apt calls).
#
# The version is the newest `apt-cache showsrc lwip` knows (a deb-src entry is needed; the
# toolchain script creates one from the machine's deb entry if none exists). XOS_LWIP_VERSION
# pins another one. Not under tools/toolchain/ on purpose: build-toolchain.sh keys its cache on
# every file there, and lwIP has nothing to do with the toolchain.
set -euo pipefail

exec 3>&1 1>&2

PROG=fetch-lwip
log() { printf '[%s] %s\n' "$PROG" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }

MODE=fetch
while [[ $# -gt 0 ]]; do
	case $1 in
	--print-dir) MODE=print ;;
	-h|--help) usage; exit 0 ;;
	*) usage; die "unknown argument: $1" ;;
	esac
	shift
done

CACHE_ROOT=${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/xos}
[[ $CACHE_ROOT == /* ]] || CACHE_ROOT=$PWD/$CACHE_ROOT

# Fast path without apt: any complete cache for the pinned (or only) version.
VERSION=${XOS_LWIP_VERSION:-}
if [[ -z $VERSION ]]; then
	VERSION=$(apt-cache showsrc --only-source lwip 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -V | tail -n1) || true
fi
if [[ -z $VERSION ]]; then
	# No deb-src entry known to apt: reuse a complete cache if there is exactly one.
	shopt -s nullglob
	stamps=("$CACHE_ROOT"/lwip-*/stamp)
	if [[ ${#stamps[@]} -eq 1 ]]; then
		printf '%s\n' "$(dirname "${stamps[0]}")" >&3
		exit 0
	fi
	die "cannot find Debian's lwip source package: add a deb-src entry (tools/toolchain/build-toolchain.sh does) and run apt-get update"
fi
case $VERSION in
2.1.3*) ;;
*) die "xos's lwIP port expects lwIP 2.1.3; apt offers lwip $VERSION (set XOS_LWIP_VERSION)" ;;
esac

DIR=$CACHE_ROOT/lwip-$VERSION
if [[ $MODE == print ]]; then
	printf '%s\n' "$DIR" >&3
	exit 0
fi
if [[ -f $DIR/stamp ]]; then
	printf '%s\n' "$DIR" >&3
	exit 0
fi

command -v dpkg-source >/dev/null || die "dpkg-source not found (apt-get install dpkg-dev)"
mkdir -p "$CACHE_ROOT"
TMP=$(mktemp -d "$CACHE_ROOT/lwip-$VERSION.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
log "fetching lwip $VERSION (Debian source package)"
(cd "$TMP" && apt-get source --download-only "lwip=$VERSION" >/dev/null 2>&1) ||
	(cd "$TMP" && apt-get source --download-only "lwip=$VERSION") ||
	die "apt-get source lwip=$VERSION failed"
dsc=$(ls "$TMP"/lwip_*.dsc | head -n1)
(cd "$TMP" && dpkg-source --no-check -x "$dsc" tree >/dev/null) || die "dpkg-source -x $dsc failed"
[[ -f $TMP/tree/src/include/lwip/opt.h ]] || die "unexpected lwip source layout in $dsc"
printf '%s\n' "$VERSION" > "$TMP/tree/stamp"
rm -rf "$DIR"
mv "$TMP/tree" "$DIR"
log "lwip $VERSION in $DIR"
printf '%s\n' "$DIR" >&3
