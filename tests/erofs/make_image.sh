#!/usr/bin/env bash
# The EROFS image of the Debian test root (tests/debian/make_rootfs.sh), for xos-run --root-image:
# made by mkfs.erofs (uncompressed: what libos reads) next to the root in its cache directory,
# so it is keyed by the root's key and by mkfs.erofs's version, and made once.
#
#   tests/erofs/make_image.sh MAKE_ROOTFS    print the image's path last (made if missing)
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 tests/debian/make_rootfs.sh" >&2; exit 2; }
made=$("$1" | tail -n 1)
[ -f "$made/stamp" ] || { echo "$0: no Debian root at '$made'" >&2; exit 1; }
version=$(dpkg-query -W -f '${Version}' erofs-utils 2>/dev/null || true)
[ -n "$version" ] || { echo "$0: mkfs.erofs not found (apt-get install erofs-utils)" >&2; exit 1; }
image="$made/root-erofs-$version.erofs"
if [ ! -f "$image" ]; then
    exec 9>"$made/erofs.lock"
    flock 9
    if [ ! -f "$image" ]; then
        # Each file's own mtime (extended inodes where it is not the build time), a fixed UUID.
        mkfs.erofs --quiet -U 6e0f5000-0000-4000-8000-000000000001 --preserve-mtime \
            "$image.tmp" "$made/root" >&2
        mv "$image.tmp" "$image"
    fi
fi
echo "$image"
