#!/usr/bin/env bash
# build-toolchain.sh - build the xos target sysroot (x86_64-linux-musl) from
# Debian SOURCE packages into a cache directory outside the repository.
#
# Usage:
#   tools/toolchain/build-toolchain.sh               build if needed; last stdout line = toolchain dir
#   tools/toolchain/build-toolchain.sh --print-key   print the toolchain dir that would be used; build nothing
#   tools/toolchain/build-toolchain.sh --help
#
#   TC=$(tools/toolchain/build-toolchain.sh | tail -1)
#
# Everything except the final directory line goes to stderr.
#
# Result: ${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/xos}/toolchain-<key>/
#   sysroot/include/          musl headers, Linux UAPI (all of linux-libc-dev: linux/, asm/, mtd/ ...),
#                             libc++ headers in c++/v1/ (with __config_site)
#   sysroot/lib/              crt1.o crti.o crtn.o libc.a libc++.a libc++abi.a libunwind.a ...
#   cross.ini                 Meson cross file for building xos target libraries
#   stamp                     the key inputs (written last; its presence = complete cache)
#   logs/                     build logs
# <key> = first 16 hex digits of sha256 over: the musl and llvm-toolchain-19
# Debian source versions and the contents of every file under tools/toolchain/.
# If <dir>/stamp exists the script prints <dir> and exits at once (no apt calls).
#
# What it does on a cold run:
#   1. apt-get source --download-only musl=<v> llvm-toolchain-19=<v> into
#      <cache>/src (creating a deb-src entry derived from the Debian deb entry
#      if none exists; needs root only then).
#   2. musl: dpkg-source -x (applies debian/patches, if any), delete the files in
#      musl/delete.list, copy musl/overlay/ over the tree (syscalls become calls to
#      xos_syscall(), clone to xos_clone(), both provided later by libxos),
#      configure/make/install, then refuse libc.a if it has any syscall instruction.
#   3. Linux UAPI headers (every header of linux-libc-dev) from /usr/include into the sysroot.
#   4. libc++ / libc++abi / libunwind 19 from a subset of the llvm-toolchain-19 orig
#      tarball via runtimes/ + cmake + ninja, static only, for x86_64-linux-musl.
#   5. cross.ini, a compile/link/run smoke test, stamp, then an atomic rename of
#      <dir>.tmp.<pid> to <dir>.
#
# Env knobs: XOS_CACHE_DIR, XDG_CACHE_HOME, XOS_JOBS (default: nproc),
#            XOS_KEEP_FAILED_BUILD=1 (keep the temp dir of a failed build).
set -euo pipefail

# All ordinary output goes to stderr; fd 3 is the real stdout for the result line.
exec 3>&1 1>&2

PROG=build-toolchain
log() { printf '[%s] %s\n' "$PROG" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
}

MODE=build
while [[ $# -gt 0 ]]; do
	case $1 in
	--print-key) MODE=print-key ;;
	-h|--help) usage; exit 0 ;;
	*) usage; die "unknown argument: $1" ;;
	esac
	shift
done

TC_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
TARGET=x86_64-linux-musl

CACHE_ROOT=${XOS_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/xos}
[[ $CACHE_ROOT == /* ]] || CACHE_ROOT=$PWD/$CACHE_ROOT

# ---------------------------------------------------------------------------
# Key: source package versions + contents of tools/toolchain/. No apt calls on
# the common path: the versions come from the installed binary packages (dpkg
# database), the source is then fetched at exactly those versions.
# ---------------------------------------------------------------------------
src_version_installed() { # <binary package>... -> source version of the first installed one
	local p v
	for p in "$@"; do
		v=$(dpkg-query -W -f='${db:Status-Status} ${source:Version}\n' "$p" 2>/dev/null |
			awk '$1 == "installed" { print $2; exit }') || true
		if [[ -n $v ]]; then printf '%s\n' "$v"; return 0; fi
	done
	return 1
}

src_version_candidate() { # <source package> -> newest version apt knows (local lists only)
	apt-cache showsrc --only-source "$1" 2>/dev/null |
		awk '/^Version:/ { print $2 }' | sort -V | tail -n1
}

command -v dpkg-query >/dev/null || die "dpkg-query not found (this script expects Debian)"

LLVM_VER=$(src_version_installed clang-19) ||
	die "clang-19 is not installed (apt-get install clang-19 lld-19 llvm-19 libclang-rt-19-dev)"
MUSL_VER=$(src_version_installed musl-tools musl-dev musl) || MUSL_VER=
MUSL_VER_FROM=installed
if [[ -z $MUSL_VER ]]; then
	MUSL_VER=$(src_version_candidate musl)
	MUSL_VER_FROM=apt-cache
	[[ -n $MUSL_VER ]] ||
		die "cannot determine the musl version: install musl-tools, or add a deb-src entry and run apt-get update"
fi

key_inputs() {
	printf 'xos-toolchain-format: 1\n'
	printf 'target: %s\n' "$TARGET"
	printf 'musl-source-version: %s\n' "$MUSL_VER"
	printf 'llvm-toolchain-19-source-version: %s\n' "$LLVM_VER"
	printf 'files under tools/toolchain (sha256):\n'
	(cd "$TC_SRC_DIR" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
KEY_INPUTS=$(key_inputs)
KEY=$(printf '%s\n' "$KEY_INPUTS" | sha256sum | cut -c1-16)
TC_DIR=$CACHE_ROOT/toolchain-$KEY

if [[ $MODE == print-key ]]; then
	log "musl $MUSL_VER, llvm-toolchain-19 $LLVM_VER, key $KEY"
	printf '%s\n' "$TC_DIR" >&3
	exit 0
fi

if [[ -f $TC_DIR/stamp ]]; then
	log "up to date: $TC_DIR"
	printf '%s\n' "$TC_DIR" >&3
	exit 0
fi

# ---------------------------------------------------------------------------
# Slow path: build.
# ---------------------------------------------------------------------------
T_START=$SECONDS
step() { log "[$((SECONDS - T_START))s] $*"; }

need_tools=(clang-19 clang++-19 ld.lld-19 llvm-ar-19 llvm-ranlib-19 llvm-nm-19 llvm-objdump-19
	llvm-strip-19 llvm-objcopy-19 cmake ninja make tar xz gzip sha256sum flock
	dpkg-source dpkg-parsechangelog apt-get apt-cache python3)
missing=()
for t in "${need_tools[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
[[ ${#missing[@]} -eq 0 ]] || die "missing tools: ${missing[*]}
  (apt-get install clang-19 lld-19 llvm-19 libclang-rt-19-dev cmake ninja-build make xz-utils linux-libc-dev dpkg-dev)"
for h in /usr/include/linux/futex.h /usr/include/asm-generic/errno.h /usr/include/x86_64-linux-gnu/asm/unistd.h; do
	[[ -f $h ]] || die "missing $h (apt-get install linux-libc-dev)"
done

RESOURCE_DIR=$(clang-19 -print-resource-dir)
[[ -d $RESOURCE_DIR/include ]] || die "clang resource dir not found: $RESOURCE_DIR"
CRT_BEGIN=$RESOURCE_DIR/lib/linux/clang_rt.crtbegin-x86_64.o
CRT_END=$RESOURCE_DIR/lib/linux/clang_rt.crtend-x86_64.o
BUILTINS=$RESOURCE_DIR/lib/linux/libclang_rt.builtins-x86_64.a
for f in "$CRT_BEGIN" "$CRT_END" "$BUILTINS"; do
	[[ -f $f ]] || die "missing $f (apt-get install libclang-rt-19-dev)"
done

JOBS=${XOS_JOBS:-$(nproc 2>/dev/null || echo 2)}

mkdir -p "$CACHE_ROOT"
# One build per key at a time; a second caller waits and then takes the fast path.
exec 9>"$CACHE_ROOT/toolchain-$KEY.lock"
if ! flock -n 9; then
	log "another build of toolchain-$KEY is running; waiting for it"
	flock 9
fi
if [[ -f $TC_DIR/stamp ]]; then
	log "built by another process meanwhile: $TC_DIR"
	printf '%s\n' "$TC_DIR" >&3
	exit 0
fi
# Leftovers of interrupted builds of this key (safe: we hold the lock).
rm -rf "$CACHE_ROOT/toolchain-$KEY.tmp."*
[[ ! -e $TC_DIR ]] || { log "removing incomplete $TC_DIR (no stamp)"; rm -rf "$TC_DIR"; }

WORK=$CACHE_ROOT/toolchain-$KEY.tmp.$$
BUILD=$WORK/build
LOGS=$WORK/logs
SYSROOT_TMP=$WORK/sysroot
SRC_CACHE=$CACHE_ROOT/src
mkdir -p "$BUILD" "$LOGS" "$SYSROOT_TMP" "$SRC_CACHE"

BUILD_OK=0
cleanup() {
	if [[ $BUILD_OK -ne 1 && -d $WORK ]]; then
		if [[ ${XOS_KEEP_FAILED_BUILD:-0} == 1 ]]; then
			log "build failed; kept $WORK for inspection (logs in $LOGS)"
		else
			log "build failed; removing $WORK (set XOS_KEEP_FAILED_BUILD=1 to keep it)"
			rm -rf "$WORK"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

run_logged() { # <logname> <command>...: run with output in logs/<logname>.log
	local name=$1; shift
	local lf=$LOGS/$name.log
	if ! "$@" >"$lf" 2>&1; then
		log "command failed: $*"
		log "---- last 40 lines of $lf ----"
		tail -n 40 "$lf" >&2 || true
		die "step '$name' failed (full log: $lf)"
	fi
}

log "building toolchain-$KEY (musl $MUSL_VER, llvm-toolchain-19 $LLVM_VER, -j$JOBS)"
log "cache: $CACHE_ROOT"

# ---------------------------------------------------------------------------
# 1. Source packages
# ---------------------------------------------------------------------------
have_deb_src() {
	local f
	grep -Eqs '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list && return 0
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		grep -Eqi '^Types:.*[[:space:]]deb-src([[:space:]]|$)' "$f" && return 0
	done
	return 1
}

APT_UPDATED=0
apt_update() {
	[[ $APT_UPDATED -eq 0 ]] || return 0
	[[ $(id -u) -eq 0 ]] || die "apt-get update is needed but this is not root; run: sudo apt-get update"
	step "apt-get update"
	run_logged apt-update apt-get update
	APT_UPDATED=1
}

ensure_deb_src() {
	have_deb_src && return 0
	local out=/etc/apt/sources.list.d/xos-src.sources
	[[ $(id -u) -eq 0 ]] || die "no deb-src entry in the apt sources; as root, create $out from
  /etc/apt/sources.list.d/debian.sources with 'Types: deb' turned into 'Types: deb-src', then apt-get update"
	if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
		step "creating $out (deb-src twin of debian.sources)"
		sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' \
			/etc/apt/sources.list.d/debian.sources >"$out.tmp"
		mv "$out.tmp" "$out"
	elif grep -Eqs '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
		out=/etc/apt/sources.list.d/xos-src.list
		step "creating $out (deb-src twin of /etc/apt/sources.list)"
		sed -En 's/^[[:space:]]*deb([[:space:]])/deb-src\1/p' /etc/apt/sources.list >"$out.tmp"
		mv "$out.tmp" "$out"
	else
		die "no Debian apt source found to derive a deb-src entry from"
	fi
	APT_UPDATED=0
	apt_update
}

# dsc_complete <dsc>: every file the .dsc lists is present with the right sha256
dsc_complete() {
	local dsc=$1 dir sum name
	[[ -f $dsc ]] || return 1
	dir=$(dirname "$dsc")
	while read -r sum _ name; do
		[[ -f $dir/$name ]] || return 1
		[[ $(sha256sum "$dir/$name" | cut -d' ' -f1) == "$sum" ]] || return 1
	done < <(awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 } f && NF == 3 { print }' "$dsc")
}

# fetch_source <source package> <version> -> sets FETCHED_DSC
fetch_source() {
	local pkg=$1 ver=$2
	local dsc=$SRC_CACHE/${pkg}_${ver#*:}.dsc
	if dsc_complete "$dsc"; then
		step "source $pkg $ver: already in $SRC_CACHE (checksums OK)"
	else
		download_source "$pkg" "$ver" "$dsc"
	fi
	local got
	got=$(awk '/^Version:/ { print $2; exit }' "$dsc")
	[[ $got == "$ver" ]] || die "$dsc has Version $got, expected $ver"
	FETCHED_DSC=$dsc
}

download_source() { # <pkg> <ver> <expected dsc>
	local pkg=$1 ver=$2 dsc=$3
	ensure_deb_src
	if [[ -z $(apt-cache showsrc --only-source "$pkg" 2>/dev/null | sed -n '/^Version:/p') ]]; then
		apt_update
	fi
	local apt_opts=()
	# root cannot hand the download to the _apt sandbox user in a private $HOME
	[[ $(id -u) -ne 0 ]] || apt_opts+=(-o APT::Sandbox::User=root)
	step "apt-get source --download-only $pkg=$ver"
	if ! (cd "$SRC_CACHE" && apt-get source --download-only "${apt_opts[@]}" "$pkg=$ver") \
		>"$LOGS/fetch-$pkg.log" 2>&1; then
		if [[ $APT_UPDATED -eq 0 && $(id -u) -eq 0 ]]; then
			apt_update
			(cd "$SRC_CACHE" && apt-get source --download-only "${apt_opts[@]}" "$pkg=$ver") \
				>>"$LOGS/fetch-$pkg.log" 2>&1 || true
		fi
	fi
	if ! dsc_complete "$dsc"; then
		tail -n 20 "$LOGS/fetch-$pkg.log" >&2 || true
		die "could not fetch source package $pkg=$ver. The archive may have moved on from the
  installed binary version; upgrade the binaries (apt-get install --only-upgrade clang-19 musl-tools)
  so that the installed compiler and the fetched sources match, then rerun."
	fi
}

# dsc_orig <dsc> -> path of the upstream orig tarball listed in the .dsc
dsc_orig() {
	local name
	name=$(awk '/^Files:/ { f = 1; next } /^[^ ]/ { f = 0 } f && $3 ~ /\.orig\.tar\./ && $3 !~ /\.asc$/ { print $3; exit }' "$1")
	[[ -n $name ]] || die "no orig tarball listed in $1"
	printf '%s/%s\n' "$(dirname "$1")" "$name"
}

fetch_source musl "$MUSL_VER"; MUSL_DSC=$FETCHED_DSC
fetch_source llvm-toolchain-19 "$LLVM_VER"; LLVM_DSC=$FETCHED_DSC

# ---------------------------------------------------------------------------
# 2. musl
# ---------------------------------------------------------------------------
step "musl: extracting $(basename "$MUSL_DSC") (dpkg-source -x applies Debian's patches)"
MUSL_SRC=$BUILD/musl
run_logged musl-extract dpkg-source -x "$MUSL_DSC" "$MUSL_SRC"
MUSL_PATCHES=none
if [[ -s $MUSL_SRC/debian/patches/series ]]; then
	MUSL_PATCHES=$(grep -Ev '^[[:space:]]*(#|$)' "$MUSL_SRC/debian/patches/series" | tr '\n' ' ')
fi
log "musl: Debian patches applied: $MUSL_PATCHES"
got=$(dpkg-parsechangelog -l "$MUSL_SRC/debian/changelog" -S Version)
[[ $got == "$MUSL_VER" ]] || die "extracted musl is $got (debian/changelog), expected $MUSL_VER"
[[ -f $MUSL_SRC/src/thread/x86_64/syscall_cp.s ]] || die "unexpected musl tree layout in $MUSL_SRC"

step "musl: applying xos overlay (tools/toolchain/musl)"
while IFS= read -r rel || [[ -n $rel ]]; do
	rel=${rel%%#*}; rel=${rel//[[:space:]]/}
	[[ -n $rel ]] || continue
	[[ -e $MUSL_SRC/$rel ]] || die "musl/delete.list: $rel does not exist in the musl tree"
	rm -f "$MUSL_SRC/$rel"
	log "  deleted $rel"
done <"$TC_SRC_DIR/musl/delete.list"
(cd "$TC_SRC_DIR/musl/overlay" && find . -type f | LC_ALL=C sort) | while IFS= read -r rel; do
	log "  overlay ${rel#./}"
done
cp -R "$TC_SRC_DIR/musl/overlay/." "$MUSL_SRC/"

# Code generation for the image, shared with meson.build (kernel_common_args) and xos-build
# (target_compile_flags): -fPIE because images are linked above 2 GiB (the VM's upper half,
# high in the hosted process's lower half), out of reach of the small non-PIC code model
# (clang's default for Linux targets, spelled out so the key says it); -fno-plt so that a call
# through a weak reference that stays undefined (libc++abi's __cxa_thread_atexit_impl) goes
# through a GOT entry holding 0 instead of a PC-relative call to address 0, which the linker
# cannot encode from there (calls to defined functions are relaxed to direct ones); frame pointers for
# backtraces, and +slow-incdec: add/sub instead of
# inc/dec, which preserve CF and make QEMU's TCG compute the previous flags on every one (a
# counted loop ran 4.5x slower emulated; on hardware the two forms cost the same).
TARGET_CODEGEN="-fPIE -fno-plt -fno-omit-frame-pointer -Xclang -target-feature -Xclang +slow-incdec"
MUSL_CFLAGS="-O2 $TARGET_CODEGEN -ffunction-sections -fdata-sections"
step "musl: configure"
run_logged musl-configure env -C "$MUSL_SRC" CC="clang-19 --target=$TARGET" AR=llvm-ar-19 RANLIB=llvm-ranlib-19 \
	CFLAGS="$MUSL_CFLAGS" \
	./configure --prefix="$SYSROOT_TMP" --disable-shared --target="$TARGET"
step "musl: make -j$JOBS"
run_logged musl-make make -C "$MUSL_SRC" -j"$JOBS"
run_logged musl-install make -C "$MUSL_SRC" install-libs install-headers

step "musl: checking libc.a for raw syscall instructions"
if ! "$TC_SRC_DIR/check-no-syscall.sh" "$SYSROOT_TMP/lib/libc.a" >"$LOGS/check-no-syscall-libc.log" 2>&1; then
	cat "$LOGS/check-no-syscall-libc.log" >&2
	die "libc.a still contains syscall instructions"
fi
libc_syms=$(llvm-nm-19 --defined-only "$SYSROOT_TMP/lib/libc.a" 2>/dev/null)
for sym in __clone __syscall_cp_asm __restore_rt __set_thread_area __unmapself vfork; do
	grep -Eq " [TtWw] $sym\$" <<<"$libc_syms" || die "libc.a does not define $sym"
done
unset libc_syms

# ---------------------------------------------------------------------------
# 3. Linux UAPI headers
# ---------------------------------------------------------------------------
# The whole set linux-libc-dev installs (linux/, asm-generic/, asm/, and mtd/, rdma/, sound/,
# video/, misc/, xen/ ...: busybox includes some of them), taken from the package's file list so
# that a directory added by a later linux-libc-dev comes along; the arch's asm/ lives under the
# multiarch directory on Debian and goes to include/asm. Only the files of linux-libc-dev are
# copied, never other packages' headers that share those directories.
step "sysroot: Linux UAPI headers (the whole linux-libc-dev set)"
UAPI_LIST=$(dpkg-query -L linux-libc-dev) || die "linux-libc-dev is not installed (apt-get install linux-libc-dev)"
UAPI_DIRS=$(awk -F/ '$2 == "usr" && $3 == "include" && NF >= 5 && $4 != "x86_64-linux-gnu" { print $4 }' <<<"$UAPI_LIST" | sort -u)
for d in $UAPI_DIRS asm; do
	[[ ! -e $SYSROOT_TMP/include/$d ]] || die "musl unexpectedly installed include/$d"
done
uapi_files=0
while IFS= read -r f; do
	[[ -f $f && ! -L $f ]] || continue
	case $f in
	/usr/include/x86_64-linux-gnu/asm/*) rel=asm/${f#/usr/include/x86_64-linux-gnu/asm/} ;;
	/usr/include/x86_64-linux-gnu/*) die "unexpected linux-libc-dev file $f" ;;
	/usr/include/*) rel=${f#/usr/include/} ;;
	*) continue ;;
	esac
	mkdir -p "$SYSROOT_TMP/include/$(dirname "$rel")"
	cp "$f" "$SYSROOT_TMP/include/$rel"
	uapi_files=$((uapi_files + 1))
done <<<"$UAPI_LIST"
log "  $uapi_files headers in: $(tr '\n' ' ' <<<"$UAPI_DIRS")asm"
for h in linux/futex.h asm-generic/errno.h asm/unistd.h mtd/mtd-user.h sound/asound.h; do
	[[ -f $SYSROOT_TMP/include/$h ]] || die "sysroot/include/$h missing after the UAPI copy"
done

# ---------------------------------------------------------------------------
# 4. libc++ / libc++abi / libunwind
# ---------------------------------------------------------------------------
LLVM_ORIG=$(dsc_orig "$LLVM_DSC")
[[ -f $LLVM_ORIG ]] || die "missing $LLVM_ORIG"
LLVM_TOP=$(tar -tf "$LLVM_ORIG" 2>/dev/null | head -n1) || true
LLVM_TOP=${LLVM_TOP%%/*}
[[ -n $LLVM_TOP ]] || die "cannot read the top-level directory of $LLVM_ORIG"
step "llvm: extracting the runtimes subset of $LLVM_TOP"
LLVM_SUBSET=(runtimes libcxx libcxxabi libunwind cmake llvm/cmake llvm/utils/lit llvm/utils/llvm-lit)
patterns=()
for p in "${LLVM_SUBSET[@]}"; do patterns+=("$LLVM_TOP/$p/*"); done
run_logged llvm-extract tar -xf "$LLVM_ORIG" -C "$BUILD" --wildcards \
	--exclude="$LLVM_TOP/libcxx/test/*" --exclude="$LLVM_TOP/libcxx/benchmarks/*" \
	--exclude="$LLVM_TOP/libcxxabi/test/*" --exclude="$LLVM_TOP/libunwind/test/*" \
	--exclude="$LLVM_TOP/libcxx/docs/*" \
	"${patterns[@]}"
LLVM_SRC=$BUILD/$LLVM_TOP
[[ -f $LLVM_SRC/runtimes/CMakeLists.txt ]] || die "runtimes/CMakeLists.txt missing after extraction"

CLANG_C=$(command -v clang-19); CLANG_CXX=$(command -v clang++-19)
# runtimes/ needs a Python 3 interpreter at configure time; prefer Debian's.
PYTHON3=/usr/bin/python3
[[ -x $PYTHON3 ]] || PYTHON3=$(command -v python3)
RT_FLAGS="-nostdinc -isystem $RESOURCE_DIR/include -isystem $SYSROOT_TMP/include $TARGET_CODEGEN -ffunction-sections -fdata-sections"
TOOLCHAIN_FILE=$BUILD/x86_64-linux-musl.cmake
cat >"$TOOLCHAIN_FILE" <<EOF
# Generated by tools/toolchain/build-toolchain.sh
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_SYSROOT "$SYSROOT_TMP")
set(CMAKE_C_COMPILER "$CLANG_C")
set(CMAKE_CXX_COMPILER "$CLANG_CXX")
set(CMAKE_ASM_COMPILER "$CLANG_C")
set(CMAKE_C_COMPILER_TARGET $TARGET)
set(CMAKE_CXX_COMPILER_TARGET $TARGET)
set(CMAKE_ASM_COMPILER_TARGET $TARGET)
set(CMAKE_AR "$(command -v llvm-ar-19)" CACHE FILEPATH "")
set(CMAKE_RANLIB "$(command -v llvm-ranlib-19)" CACHE FILEPATH "")
set(CMAKE_NM "$(command -v llvm-nm-19)" CACHE FILEPATH "")
set(CMAKE_OBJCOPY "$(command -v llvm-objcopy-19)" CACHE FILEPATH "")
set(CMAKE_STRIP "$(command -v llvm-strip-19)" CACHE FILEPATH "")
# Nothing can be linked into an executable before libc++ exists (and the libc
# needs libxos anyway), so CMake's checks only compile + archive.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "$RT_FLAGS")
set(CMAKE_CXX_FLAGS_INIT "$RT_FLAGS")
set(CMAKE_ASM_FLAGS_INIT "$RT_FLAGS")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
EOF

step "llvm: cmake configure (runtimes: libcxx;libcxxabi;libunwind)"
RT_BUILD=$BUILD/runtimes-build
run_logged runtimes-configure cmake -G Ninja -S "$LLVM_SRC/runtimes" -B "$RT_BUILD" \
	-DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN_FILE" \
	-DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
	-DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
	-DCMAKE_ASM_FLAGS_RELEASE="-O2 -DNDEBUG" \
	-DCMAKE_INSTALL_PREFIX="$SYSROOT_TMP" \
	-DPython3_EXECUTABLE="$PYTHON3" \
	-DLLVM_ENABLE_RUNTIMES="libcxx;libcxxabi;libunwind" \
	-DLLVM_ENABLE_PER_TARGET_RUNTIME_DIR=OFF \
	-DLLVM_INCLUDE_TESTS=OFF -DLLVM_INCLUDE_DOCS=OFF \
	-DLIBCXX_HAS_MUSL_LIBC=ON \
	-DLIBCXX_CXX_ABI=libcxxabi \
	-DLIBCXX_ENABLE_SHARED=OFF -DLIBCXXABI_ENABLE_SHARED=OFF -DLIBUNWIND_ENABLE_SHARED=OFF \
	-DLIBCXX_ENABLE_STATIC=ON -DLIBCXXABI_ENABLE_STATIC=ON -DLIBUNWIND_ENABLE_STATIC=ON \
	-DLIBCXX_ENABLE_STATIC_ABI_LIBRARY=ON \
	-DLIBCXXABI_USE_LLVM_UNWINDER=ON \
	-DLIBCXXABI_ENABLE_STATIC_UNWINDER=ON \
	-DLIBCXXABI_STATICALLY_LINK_UNWINDER_IN_STATIC_LIBRARY=ON \
	-DLIBCXX_USE_COMPILER_RT=ON -DLIBCXXABI_USE_COMPILER_RT=ON -DLIBUNWIND_USE_COMPILER_RT=ON \
	-DLIBCXX_ENABLE_THREADS=ON -DLIBCXXABI_ENABLE_THREADS=ON -DLIBUNWIND_ENABLE_THREADS=ON \
	-DLIBCXXABI_HAS_CXA_THREAD_ATEXIT_IMPL=OFF \
	-DLIBCXX_HAS_ATOMIC_LIB=OFF \
	-DLIBCXX_ENABLE_TIME_ZONE_DATABASE=OFF \
	-DLIBCXX_INSTALL_MODULES=OFF \
	-DLIBCXX_INCLUDE_TESTS=OFF -DLIBCXXABI_INCLUDE_TESTS=OFF -DLIBUNWIND_INCLUDE_TESTS=OFF \
	-DLIBCXX_INCLUDE_BENCHMARKS=OFF -DLIBCXX_INCLUDE_DOCS=OFF -DLIBUNWIND_INCLUDE_DOCS=OFF
step "llvm: ninja -j$JOBS"
run_logged runtimes-build ninja -C "$RT_BUILD" -j"$JOBS"
run_logged runtimes-install ninja -C "$RT_BUILD" install

# libc++'s __config_site must sit in include/c++/v1 (found via -isystem .../c++/v1).
if [[ ! -f $SYSROOT_TMP/include/c++/v1/__config_site ]]; then
	cs=$(find "$SYSROOT_TMP/include" -name __config_site -print -quit)
	[[ -n $cs ]] || die "__config_site was not installed"
	cp "$cs" "$SYSROOT_TMP/include/c++/v1/__config_site"
fi
for f in crt1.o crti.o crtn.o libc.a libc++.a libc++abi.a libunwind.a; do
	[[ -f $SYSROOT_TMP/lib/$f ]] || die "sysroot/lib/$f was not produced"
done

step "checking the C++ runtime archives for raw syscall instructions"
if ! "$TC_SRC_DIR/check-no-syscall.sh" "$SYSROOT_TMP"/lib/libc++.a "$SYSROOT_TMP"/lib/libc++abi.a \
	"$SYSROOT_TMP"/lib/libunwind.a >"$LOGS/check-no-syscall-cxx.log" 2>&1; then
	cat "$LOGS/check-no-syscall-cxx.log" >&2
	die "C++ runtime archives contain syscall instructions"
fi

# ---------------------------------------------------------------------------
# 5. cross.ini, smoke test, stamp, publish
# ---------------------------------------------------------------------------
write_cross_ini() { # <toolchain dir> <out file>
	local dir=$1 sr=$1/sysroot
	cat >"$2" <<EOF
# Meson cross file for xos target code (x86_64-linux-musl, xos sysroot).
# Generated by tools/toolchain/build-toolchain.sh - toolchain-$KEY
# musl $MUSL_VER + libc++/libc++abi/libunwind from llvm-toolchain-19 $LLVM_VER
#
# Links use -nostdlib: the final link must name crt1.o crti.o crtbegin, the
# objects, --start-group libc++.a libc++abi.a libunwind.a libc.a builtins
# --end-group, crtend, crtn.o explicitly (see xos_* properties below).

[binaries]
c = ['clang-19', '--target=$TARGET']
cpp = ['clang++-19', '--target=$TARGET']
ar = 'llvm-ar-19'
strip = 'llvm-strip-19'
objcopy = 'llvm-objcopy-19'
nm = 'llvm-nm-19'
ranlib = 'llvm-ranlib-19'

[built-in options]
c_args = ['-nostdinc', '-isystem', '$RESOURCE_DIR/include', '-isystem', '$sr/include']
cpp_args = ['-nostdinc++', '-isystem', '$sr/include/c++/v1', '-nostdinc', '-isystem', '$RESOURCE_DIR/include', '-isystem', '$sr/include']
c_link_args = ['-nostdlib', '-fuse-ld=lld']
cpp_link_args = ['-nostdlib', '-fuse-ld=lld']

[properties]
xos_sysroot = '$sr'
xos_toolchain = '$dir'
xos_clang_resource_dir = '$RESOURCE_DIR'
xos_crtbegin = '$CRT_BEGIN'
xos_crtend = '$CRT_END'
xos_builtins = '$BUILTINS'
# Target binaries need libxos to run; never try to execute them on the build machine.
needs_exe_wrapper = true

[host_machine]
system = 'linux'
cpu_family = 'x86_64'
cpu = 'x86_64'
endian = 'little'
EOF
}
write_cross_ini "$TC_DIR" "$WORK/cross.ini"

step "smoke test: C++ (iostream, std::string, static ctor, throw/catch) linked statically, run natively"
SMOKE=$BUILD/smoke
mkdir -p "$SMOKE"
cat >"$SMOKE/shim.c" <<'EOF'
/* Build-time smoke test only: real Linux syscalls behind the xos entry points. */
long xos_syscall(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	unsigned long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ __volatile__ ("syscall" : "=a"(ret) : "a"(n), "D"(a1), "S"(a2), "d"(a3),
			      "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
	return ret;
}
int xos_clone(int (*f)(void *), void *s, int fl, void *a, int *p, void *t, int *c)
{
	(void)f; (void)s; (void)fl; (void)a; (void)p; (void)t; (void)c;
	return -38; /* -ENOSYS */
}
int xos_clock_gettime(int clk, void *ts)
{
	(void)clk; (void)ts;
	return -38; /* -ENOSYS: musl falls back to the clock_gettime syscall */
}
EOF
cat >"$SMOKE/smoke.cpp" <<'EOF'
#include <iostream>
#include <stdexcept>
#include <string>
static std::string g_init = std::string("static") + "-ctor";
[[gnu::noinline]] static void thrower(int v) { throw std::runtime_error("thrown " + std::to_string(v)); }
[[gnu::noinline]] static int catcher() {
	try { thrower(42); } catch (const std::exception &e) { std::cout << "caught " << e.what() << "\n"; return 3; }
	return 0;
}
int main() { std::cout << "xos-smoke " << g_init << "\n"; return catcher(); }
EOF
S=$SYSROOT_TMP
SMOKE_CFLAGS=(--target=$TARGET -nostdinc -isystem "$RESOURCE_DIR/include" -isystem "$S/include" -fPIE -fno-plt -O2)
SMOKE_CXXFLAGS=(--target=$TARGET -nostdinc++ -isystem "$S/include/c++/v1" -nostdinc -isystem "$RESOURCE_DIR/include" -isystem "$S/include" -fPIE -fno-plt -O2)
run_logged smoke-cc clang-19 "${SMOKE_CFLAGS[@]}" -c "$SMOKE/shim.c" -o "$SMOKE/shim.o"
run_logged smoke-cxx clang++-19 "${SMOKE_CXXFLAGS[@]}" -c "$SMOKE/smoke.cpp" -o "$SMOKE/smoke.o"
run_logged smoke-link clang++-19 --target=$TARGET -static -nostdlib -fuse-ld=lld -o "$SMOKE/smoke" \
	"$S/lib/crt1.o" "$S/lib/crti.o" "$CRT_BEGIN" "$SMOKE/smoke.o" "$SMOKE/shim.o" \
	-Wl,--start-group "$S/lib/libc++.a" "$S/lib/libc++abi.a" "$S/lib/libunwind.a" "$S/lib/libc.a" "$BUILTINS" -Wl,--end-group \
	"$CRT_END" "$S/lib/crtn.o"
smoke_rc=0
smoke_out=$("$SMOKE/smoke" 2>&1) || smoke_rc=$?
if [[ $smoke_rc -ne 3 || $smoke_out != $'xos-smoke static-ctor\ncaught thrown 42' ]]; then
	die "smoke test failed: exit $smoke_rc, output: $smoke_out"
fi
log "  smoke test OK"

if command -v meson >/dev/null 2>&1; then
	step "smoke test: meson setup + build of a static library with cross.ini"
	MS=$BUILD/meson-smoke
	mkdir -p "$MS"
	cat >"$MS/meson.build" <<'EOF'
project('xos-cross-smoke', 'c', 'cpp', default_options : ['cpp_std=c++20'])
static_library('smoke', 'a.c', 'b.cpp')
EOF
	printf '#include <string.h>\nsize_t a(const char *s) { return strlen(s); }\n' >"$MS/a.c"
	printf '#include <string>\n#include <vector>\nstd::size_t b(const std::string &s) { std::vector<char> v(s.begin(), s.end()); return v.size(); }\n' >"$MS/b.cpp"
	# cross.ini points at the final location; check it against the temp sysroot.
	write_cross_ini "$WORK" "$MS/cross.ini"
	run_logged meson-smoke-setup meson setup --cross-file "$MS/cross.ini" "$MS/build" "$MS"
	run_logged meson-smoke-build ninja -C "$MS/build"
	log "  meson cross file OK"
else
	log "meson not found; skipping the cross.ini check"
fi

step "writing stamp and publishing"
{
	printf '%s\n' "$KEY_INPUTS"
	printf 'key: %s\n' "$KEY"
	printf 'musl-version-from: %s\n' "$MUSL_VER_FROM"
	printf 'musl-debian-patches: %s\n' "$MUSL_PATCHES"
	printf 'clang: %s\n' "$(clang-19 --version | sed -n 1p)"
	printf 'built: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$WORK/stamp.tmp"
rm -rf "$BUILD"
mv "$WORK/stamp.tmp" "$WORK/stamp"
mv -T "$WORK" "$TC_DIR"
BUILD_OK=1

for f in libc.a libc++.a libc++abi.a libunwind.a; do
	log "  $(du -h "$TC_DIR/sysroot/lib/$f" | cut -f1)	sysroot/lib/$f"
done
step "done: $TC_DIR"
printf '%s\n' "$TC_DIR" >&3
