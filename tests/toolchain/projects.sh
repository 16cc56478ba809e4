#!/bin/bash
# The toolchain acceptance test (docs/toolchain.md): a real project from its Debian source package
# (tests/toolchain/fetch-sources.sh, cached under ~/.cache/xos/toolchain-projects), built with
# nothing but CC=xos-cc CXX=xos-c++ and the documented one-liners (no --host, no LDFLAGS, no
# source edits), then run as an image: directly on the host (hosted) and booted under xos-run.
#
# usage: projects.sh BUILD_DIR PROJECT
#   PROJECT: sqlite3 lua5.4 redis nginx memcached cjson jsoncpp fribidi busybox
# The work tree is BUILD_DIR/tests/toolchain/work-PROJECT (not below /tmp: an xos-cc program run
# directly sees the host read-only, but /tmp is the image's own). Every step is judged by its exit
# status; the last lines of a failing step's log are printed.
set -u
BUILD=$(realpath "$1")
PROJECT=$2
HERE=$(dirname "$(realpath "${BASH_SOURCE[0]}")")
BIN=$BUILD/tools/xos-build
export PATH=$BIN:$BUILD/tools/xos-run:$PATH
XOS_RUN=$BUILD/tools/xos-run/xos-run
unset XOS_PLATFORM XOS_LIBDIR XOS_TOOLCHAIN XOS_VERBOSE
JOBS=$(nproc)

WORK=$BUILD/tests/toolchain/work-$PROJECT
# A program xos-cc made, run directly, sees the host's / but its own /tmp (docs/toolchain.md):
# a build tree under the host's /tmp (a clone there) would hide the sources next to the build
# directory, so the work goes below the cache instead, one directory per build tree.
case "$(realpath "$BUILD")/" in
/tmp/*)
    WORK=${XDG_CACHE_HOME:-$HOME/.cache}/xos/toolchain-work/$(realpath "$BUILD" | sha256sum | cut -c1-12)/$PROJECT
    ;;
esac
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 1
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL - $1"
}
# step NAME CMD...: runs CMD with its output in step-N.log; fails the test (and stops) if it fails.
n=0
step() {
    local name=$1
    shift
    n=$((n + 1))
    local log=$WORK/step-$n.log
    local start=$SECONDS
    if "$@" >"$log" 2>&1; then
        pass "$name ($((SECONDS - start)) s)"
    else
        local rc=$?
        fail "$name (exit $rc, $((SECONDS - start)) s; $log)"
        tail -n 40 "$log" | sed 's/^/    /'
        finish
    fi
}
finish() {
    echo "$PROJECT: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for SECONDS CMD...: until CMD succeeds (QEMU's port forward accepts connections before
# the guest listens, so readiness is an answer from the server itself).
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    while [ $SECONDS -lt $deadline ]; do
        "$@" && return 0
        sleep 2
    done
    return 1
}

source_of() {
    local line
    line=$("$HERE/fetch-sources.sh" "$1" | tail -n 1) || return 1
    echo "${line#* }"
}
# copy PACKAGE DIR: the unpacked source package (with Debian's patches applied) into DIR.
copy_source() {
    local src
    src=$(source_of "$1") || return 1
    cp -a "$src" "$2"
}

main() {
case $PROJECT in
sqlite3)
    step "fetch sqlite3" copy_source sqlite3 sqlite
    cd sqlite || exit 1
    step "./configure CC=xos-cc --disable-shared (no --host: conftest runs on the host)" ./configure CC=xos-cc \
        --disable-shared --disable-tcl --disable-readline
    # (--disable-readline: sqlite's configure probes the host's /usr/include/readline by path,
    # which no sysroot can hide, and then the sysroot has no readline)
    step "make sqlite3 speedtest1" make -j"$JOBS" sqlite3 speedtest1
    step "the shell runs directly" sh -c 'test "$(./sqlite3 db.sqlite "create table t(x); insert into t values(41); select x+1 from t;")" = 42 &&
        test -s db.sqlite'
    step "the shell boots as a VM" sh -c 'test "$(timeout 600 xos-run --timeout 500 sqlite3 -- :memory: "select 6*7;")" = 42'
    step "speedtest1 completes directly" ./speedtest1 --size 5
    step "speedtest1 completes as a VM" timeout 900 xos-run --timeout 800 --mem 256M speedtest1 -- --size 5
    ;;
lua5.4)
    step "fetch lua5.4" copy_source lua5.4 lua
    cd lua || exit 1
    step "make linux CC=xos-cc" make -j"$JOBS" linux CC=xos-cc
    step "lua runs directly" sh -c 'test "$(src/lua -e "local t = {} for i = 1, 100000 do t[i] = i * i end print(#t, t[300])")" = "$(printf "100000\t90000")"'
    step "lua boots as a VM" sh -c 'timeout 600 xos-run --timeout 500 src/lua -- -e "print(string.format(\"%d\", 6 * 7))" | grep -qx 42'
    ;;
redis)
    step "fetch redis" copy_source redis redis
    cd redis || exit 1
    step "make MALLOC=libc CC=xos-cc" make -j"$JOBS" MALLOC=libc CC=xos-cc CXX=xos-c++ USE_SYSTEMD=no BUILD_TLS=no
    port=$(free_port)
    timeout 900 "$XOS_RUN" --timeout 800 --mem 256M -p "$port:6379" src/redis-server -- \
        --port 6379 --protected-mode no --save "" >server.log 2>&1 &
    pids+=($!)
    step "redis-server boots as a VM (answers PING)" wait_for 600 sh -c "redis-cli -p $port ping | grep -qx PONG"
    step "redis-benchmark gets answers" redis-benchmark -h 127.0.0.1 -p "$port" -n 2000 -c 4 -t set,get,incr,lpush -q
    step "redis-cli round trip" sh -c "redis-cli -p $port set k 42 && test \"\$(redis-cli -p $port get k)\" = 42"
    step "redis-cli --version runs directly" src/redis-cli --version
    ;;
nginx)
    step "fetch nginx" copy_source nginx nginx
    cd nginx || exit 1
    step "CC=xos-cc ./configure (minimal modules)" env CC=xos-cc ./configure --prefix=/usr/local/nginx \
        --without-http_rewrite_module --without-http_gzip_module --without-pcre
    step "make" make -j"$JOBS"
    mkdir -p root/conf root/html root/logs
    cp conf/mime.types root/conf/
    echo "hello from nginx on xos" >root/html/index.html
    cat >root/conf/nginx.conf <<'EOF'
daemon off;
master_process off;
worker_processes 1;
error_log stderr;
events { worker_connections 64; }
http {
    include mime.types;
    access_log off;
    server { listen 8080; location / { root /srv/html; } }
}
EOF
    port=$(free_port)
    timeout 900 "$XOS_RUN" --timeout 800 -p "$port:8080" --share "$PWD/root:/srv" objs/nginx -- \
        -p /srv -c /srv/conf/nginx.conf >server.log 2>&1 &
    pids+=($!)
    step "nginx boots as a VM and answers curl" wait_for 600 sh -c \
        "curl -sf --max-time 30 http://127.0.0.1:$port/ | grep -qx 'hello from nginx on xos'"
    step "nginx -v runs directly" objs/nginx -v
    ;;
memcached)
    step "fetch libevent" copy_source libevent libevent
    step "fetch memcached" copy_source memcached memcached
    prefix=$WORK/prefix
    cd libevent || exit 1
    step "libevent: ./configure CC=xos-cc --disable-shared" ./configure CC=xos-cc --prefix="$prefix" \
        --disable-shared --disable-openssl --disable-samples --disable-libevent-regress
    step "libevent: make install" make -j"$JOBS" install
    cd ../memcached || exit 1
    step "memcached: ./configure CC=xos-cc --with-libevent" ./configure CC=xos-cc --with-libevent="$prefix"
    step "memcached: make" make -j"$JOBS" memcached
    step "memcached -V runs directly" sh -c './memcached -V | grep -q "^memcached 1\."'
    step "memcached -V boots as a VM" sh -c 'timeout 600 xos-run --timeout 500 memcached -- -V | grep -q "^memcached 1\."'
    # As root (xos's uid is 0) memcached wants -u; it raises RLIMIT_NOFILE and sets groups.
    port=$(free_port)
    timeout 900 "$XOS_RUN" --timeout 800 -p "$port:11211" memcached -- -u root -p 11211 >server.log 2>&1 &
    pids+=($!)
    step "memcached serves as a VM (set, then get)" wait_for 600 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"set k 0 0 2\r\n42\r\nget k\r\n")
data = b""
while b"END\r\n" not in data:
    chunk = s.recv(256)
    if not chunk:
        break
    data += chunk
sys.exit(0 if b"STORED\r\nVALUE k 0 2\r\n42\r\nEND\r\n" in data else 1)' "$port"
    ;;
cjson)
    step "fetch cjson" copy_source cjson cjson
    step "cmake with the xos toolchain file" cmake -S cjson -B cjson-build \
        -DCMAKE_TOOLCHAIN_FILE="$BIN/xos.cmake" -DENABLE_CJSON_TEST=ON -DENABLE_CJSON_UTILS=ON \
        -DBUILD_SHARED_AND_STATIC_LIBS=OFF -DENABLE_CUSTOM_COMPILER_FLAGS=ON -DENABLE_VALGRIND=OFF
    step "cmake --build" cmake --build cjson-build -j "$JOBS"
    # cJSON's add_test names the test programs by path, so ctest runs them directly (hosted).
    step "ctest (cJSON's own suite)" ctest --test-dir cjson-build --output-on-failure --timeout 600
    ;;
jsoncpp)
    step "fetch libjsoncpp" copy_source libjsoncpp jsoncpp
    step "cmake with the xos toolchain file" cmake -S jsoncpp -B jsoncpp-build \
        -DCMAKE_TOOLCHAIN_FILE="$BIN/xos.cmake"
    # (the build runs jsoncpp_test through the toolchain file's emulator, xos-run)
    step "cmake --build" cmake --build jsoncpp-build -j "$JOBS"
    # The reader/writer tests are a Python runner that executes jsontestrunner_exe directly.
    step "ctest (jsoncpp's own suite)" ctest --test-dir jsoncpp-build --output-on-failure --timeout 600
    ;;
fribidi)
    step "fetch fribidi" copy_source fribidi fribidi
    step "meson setup with the xos cross file" meson setup fribidi-build fribidi --cross-file "$BIN/xos-meson-cross.ini" \
        -Ddocs=false
    step "meson compile" meson compile -C fribidi-build
    step "meson test (the test runner runs fribidi directly)" meson test -C fribidi-build --print-errorlogs -t 10
    ;;
busybox)
    step "fetch busybox" copy_source busybox busybox
    cd busybox || exit 1
    # defconfig as it is: the whole Linux UAPI set is in the sysroot (mtd/, ubi-user.h for
    # nandwrite and the ubi tools), GNU `ld -r` is not needed (busybox links built-in.o with
    # $(CC) -nostdlib -r), and its scripts/trylink link line goes through xos-cc unchanged.
    step "make defconfig" make defconfig
    step "make CC=xos-cc" make -j"$JOBS" CC=xos-cc
    mkdir -p lsdir && touch lsdir/alpha lsdir/beta lsdir/gamma
    # ls into a pipe: one name a line (isatty(1) is 0 on a pipe, as on Linux)
    step "busybox ls runs directly (one name a line into a pipe)" sh -c \
        'test "$(./busybox ls lsdir | tr "\n" " ")" = "alpha beta gamma "'
    step "busybox wc runs directly (stdin from a pipe)" sh -c 'test "$(printf "a b\nc\n" | ./busybox wc -l)" = 2'
    step "busybox sh -c runs directly (a pipeline: fork, pipe, wait)" sh -c \
        'test "$(./busybox sh -c "x=\$((6 * 7)); for i in 1 2 3; do echo \$i; done | { read a; read b; echo \$x\$a\$b; }")" = 4212'
    step "busybox sh -c boots as a VM" sh -c \
        'test "$(timeout 600 xos-run --timeout 500 busybox -- sh -c "echo \$((6 * 7))")" = 42'
    step "busybox wc boots as a VM (stdin from a pipe)" sh -c \
        'test "$(printf "a b\nc\n" | timeout 600 xos-run --timeout 500 busybox -- wc -w)" = 3'
    step "busybox ls boots as a VM (xos-run -- IMAGE: the current directory shared)" sh -c \
        'test "$(timeout 600 xos-run --timeout 500 -- busybox ls lsdir | tr "\n" " ")" = "alpha beta gamma "'
    ;;
*)
    echo "projects.sh: unknown project $PROJECT" >&2
    exit 2
    ;;
esac
finish
}

main
