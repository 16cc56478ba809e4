#!/bin/sh
# Installs the host programs into <prefix>/<bindir>. Meson refuses `install: true` on targets
# built for the build machine in a cross build (and xos is always configured as one), so
# `meson install` runs this instead.
# usage: install-programs.sh BINDIR PROGRAM...
set -eu
bindir=$1
shift
case $bindir in
  /*) dest=${DESTDIR:-}$bindir ;;
  *) dest=$MESON_INSTALL_DESTDIR_PREFIX/$bindir ;;
esac
mkdir -p "$dest"
for program in "$@"; do
  echo "Installing $program to $dest"
  install -m 755 "$program" "$dest/"
done
