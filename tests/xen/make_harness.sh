#!/usr/bin/env bash
# The Xen-in-QEMU harness's inputs (docs/xen.md, "Testing on a real Xen"): Debian's Xen 4.17
# hypervisor, Debian's kernel as dom0 and a small dom0 initramfs (busybox /init plus xl,
# xenstored, xenconsoled and what they need), made from Debian packages and cached outside the
# repository, keyed by the packages' versions, like the toolchain and tests/debian's root.
#
#   tests/xen/make_harness.sh              build the harness if it is not cached; print its path last
#   tests/xen/make_harness.sh --print-key  print the path that would be used; build nothing
#
# Result: ${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/xos}/xen-harness-<key>/
#   xen              the hypervisor (ELF32; QEMU's -kernel boots it through multiboot)
#   vmlinuz          dom0's kernel
#   dom0.cpio.gz     dom0's initramfs without /init (run_xen.py appends /init and the guests),
#                    padded to 512 bytes so that an uncompressed cpio can follow it
#   stamp            the package versions it was made from (written last: its presence = complete)
# <key> = first 16 hex digits of sha256 over this script and the candidate versions (apt-cache
# policy) of the packages named below. Needs root (mmdebstrap's root mode, for dom0's userland).
set -euo pipefail

# The versions-keyed cache (CACHE_ROOT, VERSIONS, DEST, the lock): tests/lib/cache_key.sh.
. "$(dirname "$(readlink -f "$0")")/../lib/cache_key.sh"
xos_cache_mode "$@"

# dom0's userland comes from a throw-away mmdebstrap root with these (only the binaries the
# harness runs and their libraries are kept).
ROOT_PACKAGES=(xen-utils-4.17 xenstore-utils busybox kmod iproute2 curl)
# Unpacked with dpkg-deb: the hypervisor, the kernel (dom0 and the Linux domU) and busybox.
KERNEL_PACKAGE=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
[ -n "$KERNEL_PACKAGE" ] || { echo "$0: apt knows no linux-image-amd64 (run apt-get update)" >&2; exit 1; }
DEB_PACKAGES=(xen-hypervisor-4.17-amd64 "$KERNEL_PACKAGE" busybox-static)
# dom0's kernel modules, in load order (busybox insmod does not read modules.dep).
MODULES=(xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc xen-blkback xen-netback
         llc stp bridge loop)
# dom0's programs (copied with the shared libraries ldd names).
PROGRAMS=(/usr/sbin/xl /usr/bin/xenstore-read /usr/bin/xenstore-write /usr/bin/xenstore-ls
          /usr/bin/xenstore-list /usr/bin/xenstore-rm /usr/bin/xenstore-watch /usr/bin/xenstore-exists
          /usr/bin/xenstore-chmod /usr/bin/bash /usr/bin/flock /usr/bin/curl /usr/sbin/ip)

xos_cache_root
SCRIPT=$(readlink -f "$0")
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}")
xos_cache_versions libc6 "${ROOT_PACKAGES[@]}" "${DEB_PACKAGES[@]}"
xos_cache_dest xen-harness "$SCRIPT"
xos_cache_print_or_done

xos_apt_binary_sources
for tool in mmdebstrap cpio dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is not installed (bootstrap.sh installs it)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (mmdebstrap's root mode)" >&2; exit 1; }

xos_cache_lock
start=$(date +%s)
echo "make_harness: building $DEST" >&2
WORK=$DEST.tmp.$$
rm -rf "$DEST" "$WORK"
mkdir -p "$WORK/debs" "$WORK/unpacked" "$WORK/initrd"
[ -n "${XOS_XEN_HARNESS_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT  # XOS_XEN_HARNESS_KEEP=1 keeps it to debug

# 1. The packages unpacked with dpkg-deb (apt-get download uses the machine's own sources).
(cd "$WORK/debs" && apt-get download -q "${DEB_PACKAGES[@]}" >&2)
for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$WORK/unpacked"; done
zcat "$WORK"/unpacked/boot/xen-4.17-amd64.gz > "$WORK/xen"
cp "$WORK"/unpacked/boot/vmlinuz-* "$WORK/vmlinuz"
MODDIR=$(echo "$WORK"/unpacked/lib/modules/*)

# 2. dom0's userland from a throw-away Debian root.
include=$(IFS=,; echo "${ROOT_PACKAGES[*]}")
mmdebstrap --quiet --mode=root --variant=essential --include="$include" \
    "$SUITE" "$WORK/root" "${SOURCES[@]}" >&2

INITRD=$WORK/initrd
mkdir -p "$INITRD"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,run,tmp,var/log/xen/console,var/lib/xen,var/run/xen,modules,guests}
cp "$WORK"/unpacked/bin/busybox "$INITRD/bin/busybox"
# Copies a file of the Debian root into the initramfs at the same path (symlinks resolved).
copy_from_root() {
    local path=$1
    mkdir -p "$INITRD$(dirname "$path")"
    cp -L "$WORK/root$path" "$INITRD$path"
}
# A program and every shared library ldd names for it (ldd runs inside the root).
copy_program() {
    local program=$1 library
    copy_from_root "$program"
    while read -r library; do
        [ -n "$library" ] && copy_from_root "$library"
    done < <(chroot "$WORK/root" ldd "$program" | grep -o '/[^ ]*' | sort -u)
}
# The Xen daemons and helpers live in /usr/lib/xen-4.17/bin and /usr/lib/xen-common/bin; xenctx
# (a domain's vCPU registers and stack) is what run_xen.py prints when a guest times out.
xen_programs=()
while read -r program; do xen_programs+=("${program#"$WORK/root"}"); done < <(
    find "$WORK/root/usr/lib/xen-4.17/bin" -maxdepth 1 -type f \
        \( -name xenstored -o -name xenconsoled -o -name xen-init-dom0 -o -name libxl-save-helper \
           -o -name xl -o -name 'xenstore*' -o -name xenctx \))
for program in "${PROGRAMS[@]}" "${xen_programs[@]}"; do copy_program "$program"; done
# xl aborts without libgcc_s ("libgcc_s.so.1 must be installed for pthread_cancel to work").
copy_from_root "$(chroot "$WORK/root" sh -c 'ls /lib/x86_64-linux-gnu/libgcc_s.so.1 /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 2>/dev/null | head -n 1')"
mkdir -p "$INITRD/etc/xen"
cp -a "$WORK/root/etc/xen/." "$INITRD/etc/xen/"
# libxl reads its scripts directory and keeps state here.
mkdir -p "$INITRD/var/lib/xen/dump" "$INITRD/var/lib/xenstored" "$INITRD/run/xen" "$INITRD/run/xenstored"
# The kernel modules (uncompressed).
for module in "${MODULES[@]}"; do
    file=$(find "$MODDIR" \( -name "$module.ko" -o -name "$module.ko.xz" \) | head -n 1)
    [ -n "$file" ] || { echo "$0: kernel module $module not found in $KERNEL_PACKAGE" >&2; exit 1; }
    case "$file" in
        *.xz) xz -dc "$file" > "$INITRD/modules/$module.ko" ;;
        *) cp "$file" "$INITRD/modules/$module.ko" ;;
    esac
done
printf '%s\n' "${MODULES[@]}" > "$INITRD/modules/order"
# busybox applets (sh, mount, insmod, ...) as links.
for applet in $("$INITRD/bin/busybox" --list); do
    [ -e "$INITRD/bin/$applet" ] || [ -e "$INITRD/usr/bin/$applet" ] || [ -e "$INITRD/usr/sbin/$applet" ] ||
        ln -s busybox "$INITRD/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$INITRD/etc/passwd"
printf 'root:x:0:\n' > "$INITRD/etc/group"
(cd "$INITRD" && find . | LC_ALL=C sort | cpio --quiet -o -H newc | gzip -6) > "$WORK/dom0.cpio.gz"
# Pad to 512 bytes: the kernel then finds an uncompressed cpio appended after it.
size=$(stat -c %s "$WORK/dom0.cpio.gz")
pad=$(( (512 - size % 512) % 512 ))
[ "$pad" -eq 0 ] || head -c "$pad" /dev/zero >> "$WORK/dom0.cpio.gz"

mkdir -p "$DEST.new"
mv "$WORK/xen" "$WORK/vmlinuz" "$WORK/dom0.cpio.gz" "$DEST.new/"
echo "$VERSIONS" > "$DEST.new/stamp"
mv "$DEST.new" "$DEST"
echo "make_harness: done in $(( $(date +%s) - start )) s (initramfs $(du -h "$DEST/dom0.cpio.gz" | cut -f1))" >&2
echo "$DEST"
