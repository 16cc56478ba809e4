#!/usr/bin/env bash
# tests/lib/cache_key.sh: the versions-keyed cache of things the tests build from Debian
# packages (tests/debian/make_rootfs.sh, tests/xen/make_harness.sh, tests/toolchain's sources,
# tests/oci's images): sourced by bash scripts, or run as `cache_key.sh versions PACKAGE...`.
#
# A cache entry is ${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/xos}/NAME-<key>/ with a stamp
# file written last (its presence means the entry is complete) and NAME-<key>.lock beside it
# while it is made; <key> = the first 16 hex digits of sha256 over the making script's own
# sha256 and the candidate versions (apt-cache policy) of the packages it is made from, so a
# Debian point release or a changed script makes a new entry.
#
#   xos_cache_root                     sets CACHE_ROOT (absolute)
#   xos_cache_mode "$@"                sets MODE=build, or print-key for --print-key (else usage)
#   xos_candidate_version PACKAGE      apt's candidate version of PACKAGE ("(none)" or empty if none)
#   xos_cache_versions PACKAGE...      sets VERSIONS: PACKAGE=VERSION lines and suite=CODENAME;
#                                      exits 1 naming them when apt knows no candidate for some
#   xos_cache_dest NAME SCRIPT         sets KEY and DEST=$CACHE_ROOT/NAME-$KEY (after the above)
#   xos_cache_print_or_done            --print-key: prints DEST and exits; a complete entry
#                                      (DEST/stamp): prints DEST and exits
#   xos_cache_lock                     takes DEST.lock (fd 9) for making the entry; if another
#                                      run completed it meanwhile, prints DEST and exits
#   xos_apt_binary_sources             sets the array SOURCES: the host's apt source files with
#                                      binary packages (for mmdebstrap); exits 1 if none

xos_cache_root() {
    CACHE_ROOT=${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/xos}
    [[ $CACHE_ROOT == /* ]] || CACHE_ROOT=$PWD/$CACHE_ROOT
}

xos_cache_mode() {
    MODE=build
    case "${1:-}" in
        '') ;;
        --print-key) MODE=print-key ;;
        *) echo "usage: $0 [--print-key]" >&2; exit 2 ;;
    esac
}

xos_candidate_version() {
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'
}

xos_cache_versions() {
    local package suite
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}")
    VERSIONS=$(
        for package in "$@"; do
            printf '%s=%s\n' "$package" "$(xos_candidate_version "$package")"
        done
        printf 'suite=%s\n' "$suite"
    )
    if grep -q '=(none)$\|=$' <<<"$VERSIONS"; then
        echo "$0: apt knows no candidate for some packages (run apt-get update):" >&2
        echo "$VERSIONS" >&2
        exit 1
    fi
}

xos_cache_dest() {
    KEY=$( (sha256sum "$2" | cut -d' ' -f1; echo "$VERSIONS") | sha256sum | cut -c1-16)
    DEST=$CACHE_ROOT/$1-$KEY
}

xos_cache_print_or_done() {
    if [ "$MODE" = print-key ] || [ -f "$DEST/stamp" ]; then
        echo "$DEST"
        exit 0
    fi
}

xos_cache_lock() {
    mkdir -p "$CACHE_ROOT"
    exec 9>"$DEST.lock"
    flock 9
    if [ -f "$DEST/stamp" ]; then  # another run made it while this one waited
        echo "$DEST"
        exit 0
    fi
}

xos_apt_binary_sources() {
    local file
    SOURCES=()
    # deb822 .sources with "Types: deb", or one-line .list files with "deb " lines; deb-src
    # entries are left out.
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        if [[ $file == *.sources ]]; then
            grep -Eq '^Types:.*\bdeb\b( |$)' "$file" && SOURCES+=("$file")
        else
            grep -Eq '^[[:space:]]*deb[[:space:]]' "$file" && SOURCES+=("$file")
        fi
    done
    [ ${#SOURCES[@]} -gt 0 ] || { echo "$0: no apt sources with binary packages on this machine" >&2; exit 1; }
}

# Run rather than sourced: `cache_key.sh versions PACKAGE...` prints the VERSIONS lines (for the
# Python tests' caches, tests/lib/xostest.py).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    case "${1:-}" in
        versions) shift; xos_cache_versions "$@"; echo "$VERSIONS" ;;
        *) echo "usage: $0 versions PACKAGE..." >&2; exit 2 ;;
    esac
fi
