#!/bin/bash
# Fetches and unpacks Debian source packages for the toolchain acceptance test (tests/toolchain),
# cached under ${XOS_CACHE_DIR:-~/.cache/xos}/toolchain-projects/<package>_<version>/ (the version
# the archive offers now, so an update of the archive makes a new entry). Prints one line per
# package: `<package> <unpacked source dir>`. Nothing is vendored: the sources come from Debian's
# archive through apt-get source.
#
# usage: fetch-sources.sh PACKAGE...
set -euo pipefail

. "$(dirname "$(readlink -f "$0")")/../lib/cache_key.sh"  # the cache root, as every test cache has it
xos_cache_root
CACHE=$CACHE_ROOT/toolchain-projects
mkdir -p "$CACHE"
apt_opts=()
[[ $(id -u) -ne 0 ]] || apt_opts+=(-o APT::Sandbox::User=root)

for package in "$@"; do
    version=$(apt-cache showsrc "$package" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
    [[ -n $version ]] || { echo "fetch-sources: no source package $package (apt-get update? deb-src?)" >&2; exit 1; }
    dir=$CACHE/${package}_${version//:/%}
    if [[ ! -f $dir/.upstream ]]; then
        mkdir -p "$dir"
        exec 9>"$dir.lock"
        flock 9
        if [[ ! -f $dir/.downloaded ]]; then
            rm -rf "$dir/download"
            mkdir -p "$dir/download"
            echo "fetch-sources: apt-get source $package=$version" >&2
            (cd "$dir/download" && apt-get source --download-only "${apt_opts[@]}" "$package=$version") >"$dir/fetch.log" 2>&1 ||
                { tail -n 20 "$dir/fetch.log" >&2; exit 1; }
            touch "$dir/.downloaded"
        fi
        if [[ ! -f $dir/.upstream ]]; then
            # The upstream release as Debian ships it, without Debian's patches (some turn the
            # build into Debian's own, e.g. lua5.4's libtool Makefile).
            rm -rf "$dir/upstream"
            dpkg-source --skip-patches -x "$dir/download/"*.dsc "$dir/upstream" >>"$dir/fetch.log" 2>&1 ||
                { tail -n 20 "$dir/fetch.log" >&2; exit 1; }
            touch "$dir/.upstream"
        fi
        exec 9>&-
    fi
    echo "$package $dir/upstream"
done
