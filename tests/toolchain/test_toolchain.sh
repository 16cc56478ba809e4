#!/bin/bash
# xos-cc as a cross toolchain (docs/toolchain.md), with the real sysroot and libxos: the link
# line uses the sysroot alone; what xos-cc links runs directly on the host (hosted, in the host's
# current directory) and boots as a VM under xos-run, also in the emulator form; -r links and
# GNU `ld -r` objects; musl's headers under -Werror; xos-pkg-config; a configure-style check,
# a CMake project with ctest (the toolchain file) and a Meson project with meson test (the
# cross file).
#
# usage: test_toolchain.sh BUILD_DIR
set -u
BUILD=$(realpath "$1")
# A host file outside the build directory and outside /tmp (the image's /tmp is its own).
OUTSIDE=/etc/os-release
OUTSIDE_LINE=$(head -n 1 "$OUTSIDE")
XOS_CC=$BUILD/tools/xos-build/xos-cc
XOS_CXX=$BUILD/tools/xos-build/xos-c++
XOS_RUN=$BUILD/tools/xos-run/xos-run
XOS_PKG_CONFIG=$BUILD/tools/xos-build/xos-pkg-config
CMAKE_TOOLCHAIN=$BUILD/tools/xos-build/xos.cmake
MESON_CROSS=$BUILD/tools/xos-build/xos-meson-cross.ini
unset XOS_PLATFORM XOS_LIBDIR XOS_TOOLCHAIN XOS_VERBOSE

work=$(mktemp -d "${TMPDIR:-/tmp}/test-toolchain.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL - $1"
    [ -f out.txt ] && sed 's/^/    stdout: /' out.txt | tail -20
    [ -f err.txt ] && sed 's/^/    stderr: /' err.txt | tail -20
}
run() {
    "$@" >out.txt 2>err.txt
    rc=$?
}
# expect NAME RC [PATTERN [FILE]]: the last run exited RC and FILE (default out.txt) holds PATTERN.
expect() {
    local name=$1 want_rc=$2 pattern=${3-} file=${4-out.txt}
    if [ "$rc" -ne "$want_rc" ]; then
        fail "$name (exit $rc, expected $want_rc)"
    elif [ -n "$pattern" ] && ! grep -qF -- "$pattern" "$file"; then
        fail "$name ($file lacks: $pattern)"
    else
        pass "$name"
    fi
}

mkdir -p build && cd build || exit 1
cat >hello.c <<'C'
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char cwd[512], line[128] = "";
    if (!getcwd(cwd, sizeof cwd)) return 90;
    FILE *in = argc > 1 ? fopen(argv[1], "r") : NULL;
    if (in && !fgets(line, sizeof line, in)) line[0] = 0;
    printf("cwd=%s sqrt2=%.3f read=%s", cwd, sqrt(2.0), in ? line : "-\n");
    FILE *out = fopen("conftest.out", "w");
    if (!out || fprintf(out, "%d\n", argc) < 0 || fclose(out)) return 91;
    return argc > 2 ? 0 : 7;
}
C

# 0. A question with compile options and no input (busybox's Makefile asks
# `$(CC) $(CFLAGS) -dumpmachine`) is answered once and links nothing; it was taken for a link:
# clang printed the answer for each of the two links and xos-cc failed embedding into a.out.
run "$XOS_CC" -Os -Wall -fno-builtin-printf -dumpmachine
expect "xos-cc CFLAGS -dumpmachine answers" 0 "linux-musl"
[ "$(wc -l <out.txt)" -eq 1 ] && [ ! -e a.out ] && pass "xos-cc CFLAGS -dumpmachine answers once, links nothing" \
    || fail "xos-cc CFLAGS -dumpmachine answers once, links nothing"

# An output that exists and is not a regular file (busybox probes with `-o /dev/null`) is written
# into, not renamed over: as root, the rename replaced the host's /dev/null with a file. A FIFO
# stands for /dev/null here (a failure must not break the machine): it stays a FIFO and its
# reader gets the image.
printf 'int main(void) { return 0; }\n' >probe.c
mkfifo probe.fifo
timeout 300 cat probe.fifo >probe.got &
reader=$!
run timeout 300 "$XOS_CC" probe.c -o probe.fifo
expect "xos-cc -o FIFO links" 0
if [ -p probe.fifo ] && wait "$reader" && [ "$(head -c 4 probe.got | od -An -c | tr -d ' ')" = '177ELF' ]; then
    pass "xos-cc -o FIFO writes into it (still a FIFO; its reader got an ELF)"
else
    fail "xos-cc -o FIFO writes into it (still a FIFO; its reader got an ELF)"
    kill "$reader" 2>/dev/null
    wait "$reader" 2>/dev/null
fi
rm -f probe.c probe.fifo probe.got

# 1. The sysroot alone: no host library directory, even with LIBRARY_PATH set.
run env LIBRARY_PATH=/usr/lib/x86_64-linux-gnu "$XOS_CC" -v hello.c -o hello -lm -lpthread -lrt -ldl -lcrypt -lutil -lxnet
expect "xos-cc links with musl's -lm -lpthread -lrt -ldl -lcrypt -lutil -lxnet" 0
grep -F ld.lld err.txt >lld.txt
if [ "$(wc -l <lld.txt)" -eq 2 ] && ! grep -qE "x86_64-linux-gnu|-L/usr|-L/lib|/usr/lib/gcc" lld.txt; then
    pass "the link lines name no host library directory"
else
    fail "the link lines name no host library directory: $(grep -oE -- '-L[^ ]+' lld.txt | sort -u | tr '\n' ' ')"
fi
printf '#include <zlib.h>\nint main(void) { return 0; }\n' >z.c
run "$XOS_CC" -c z.c -o z.o
expect "a header the sysroot lacks is not found (zlib.h)" 1 "zlib.h" err.txt
printf 'int deflate(void);\nint main(void) { return deflate(); }\n' >z2.c
run "$XOS_CC" z2.c -o z2 -lz
expect "a library the sysroot lacks is a link error (-lz)" 1 "unable to find library -lz" err.txt

# 2. The output runs directly: stdio, exit status, the host's cwd read-write, the rest read-only.
run ./hello "$OUTSIDE"
expect "./hello runs on the host with its exit status" 7 "read=$OUTSIDE_LINE"
grep -qF "cwd=$PWD " out.txt && pass "run directly, the program starts in the host's cwd" ||
    fail "run directly, the program starts in the host's cwd"
[ "$(cat conftest.out 2>/dev/null)" = 2 ] && pass "the program's file is in the host's cwd" ||
    fail "the program's file is in the host's cwd"
rm -f conftest.out
run ./hello "$OUTSIDE" extra
expect "./hello's exit status 0 too" 0 "sqrt2=1.414"
rm -f conftest.out

# 3. xos-run boots the embedded VM image; the emulator form shares the cwd as well.
run timeout 300 "$XOS_RUN" --timeout 240 hello
expect "xos-run boots the VM image of an xos-cc output" 7 "cwd=/ sqrt2=1.414"
[ ! -e conftest.out ] && pass "booted plainly, the VM sees no host directory" ||
    fail "booted plainly, the VM sees no host directory"
run timeout 300 "$XOS_RUN" --timeout 240 -- ./hello "$OUTSIDE"
expect "xos-run -- IMAGE ARGS (the emulator form) boots the VM" 7 "read=$OUTSIDE_LINE"
grep -qF "cwd=$PWD " out.txt && [ "$(cat conftest.out 2>/dev/null)" = 2 ] &&
    pass "in the emulator form the VM works in the host's cwd" || fail "in the emulator form the VM works in the host's cwd"
run env XOS_PLATFORM=kvm "$XOS_CC" hello.c -o vm-only -lm
expect "XOS_PLATFORM=kvm links a VM image alone" 0
run ./vm-only
[ "$rc" -ne 0 ] && pass "a VM image alone does not run on the host" || fail "a VM image alone does not run on the host"

# 4. -r links (busybox: LD = $(CC) -nostdlib) and GNU ld -r objects.
cat >a.c <<'C'
int b(int);
static int triple(int x) { return 3 * x; }
int a(int x) { return b(x) + triple(x); }
C
printf 'int b(int x) { return x + 1; }\n' >b.c
printf 'int a(int);\nint main(int argc, char **argv) { (void)argv; return a(argc); }\n' >m.c
ok=1
for f in a b m; do "$XOS_CC" -O2 -g -ffunction-sections -fdata-sections -c $f.c -o $f.o || ok=0; done
[ $ok = 1 ] && pass "objects compile" || fail "objects compile"
run "$XOS_CC" -nostdlib -r a.o b.o -o built-in.o
expect "xos-cc -nostdlib -r makes a relocatable object" 0
run "$XOS_CC" m.o built-in.o -o rprog
expect "an xos-cc -r object links" 0
run ./rprog x
expect "... and runs (a(2) = 9)" 9
if command -v ld.bfd >/dev/null; then
    ld.bfd -r a.o b.o -o gnu1.o && ld.bfd -r m.o gnu1.o -o gnu2.o
    run "$XOS_CC" gnu2.o -o gnuprog
    expect "objects from GNU ld -r link" 0
    run ./gnuprog
    expect "... and run (a(1) = 5)" 5
fi

# 5. musl's headers under -Werror: CMSG_NXTHDR and -Wsign-compare.
cat >cmsg.c <<'C'
#include <stddef.h>
#include <sys/socket.h>
int next(struct msghdr *m) {
    struct cmsghdr *c = CMSG_FIRSTHDR(m);
    return c && CMSG_NXTHDR(m, c) != NULL;
}
C
run "$XOS_CC" -Wall -Wextra -Wsign-compare -Werror -c cmsg.c -o cmsg.o
expect "CMSG_NXTHDR compiles with -Wall -Wextra -Werror" 0
cat >fp.c <<'C'
#include <math.h>
int classify(double d, float f) { return isnan(d) || isinf(d) || isfinite(f) || isnormal(d); }
C
run "$XOS_CC" -std=c89 -pedantic -Wall -Wextra -Werror -c fp.c -o fp.o
expect "isnan/isinf/isfinite/isnormal compile with -std=c89 -pedantic -Werror" 0

run "$XOS_CC" -Werror -rdynamic hello.c -o rdyn -lm
expect "-rdynamic (CMake's on Linux) does not fail a -Werror link" 0

# 6. xos-pkg-config: the sysroot and XOS_PKG_CONFIG_PATH only.
mkdir -p pc
printf 'prefix=/opt/x\nName: hostonly\nDescription: d\nVersion: 1\nLibs: -lhostonly\n' >pc/hostonly.pc
run env PKG_CONFIG_PATH="$PWD/pc" "$XOS_PKG_CONFIG" --exists hostonly
expect "xos-pkg-config ignores PKG_CONFIG_PATH" 1
run env XOS_PKG_CONFIG_PATH="$PWD/pc" "$XOS_PKG_CONFIG" --libs hostonly
expect "xos-pkg-config finds XOS_PKG_CONFIG_PATH's packages" 0 "-lhostonly"
if pkg-config --exists zlib 2>/dev/null; then
    run "$XOS_PKG_CONFIG" --exists zlib
    expect "xos-pkg-config does not see the host's zlib" 1
fi

# 7. A configure-style check with no --host: compile, run ./conftest, read conftest.out.
cat >configure <<'SH'
#!/bin/sh
# What autoconf's AC_RUN_IFELSE does.
cat >conftest.c <<'EOF'
#include <stdio.h>
int main(void) { FILE *f = fopen("conftest.out", "w"); if (!f) return 1; fprintf(f, "%zu\n", sizeof(long)); return fclose(f) != 0; }
EOF
$CC -o conftest conftest.c || { echo "configure: error: C compiler cannot create executables"; exit 77; }
./conftest || { echo "configure: error: cannot run C compiled programs"; exit 1; }
echo "sizeof(long)=$(cat conftest.out)"
SH
chmod +x configure
run env CC="$XOS_CC" ./configure
expect "a configure script runs its conftest (CC=xos-cc, no --host)" 0 "sizeof(long)=8"

# 8. CMake with the toolchain file: ctest runs the tests through xos-run (the emulator).
mkdir -p cm
cat >cm/CMakeLists.txt <<'CM'
cmake_minimum_required(VERSION 3.13)
project(cmtest C CXX)
enable_testing()
add_executable(adder adder.cpp)
add_test(NAME adds COMMAND adder 2 3 5)
add_test(NAME writes COMMAND adder 1 1 2 written.txt)
set_tests_properties(writes PROPERTIES WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
add_test(NAME fails COMMAND adder 2 2 5)
set_tests_properties(fails PROPERTIES WILL_FAIL TRUE)
CM
cat >cm/adder.cpp <<'CPP'
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
int main(int argc, char** argv) {
    if (argc < 4) return 2;
    int sum = std::stoi(argv[1]) + std::stoi(argv[2]);
    std::cout << "sum " << sum << "\n";
    if (argc > 4) std::ofstream(argv[4]) << sum << "\n";
    return sum == std::stoi(argv[3]) ? 0 : 1;
}
CPP
run cmake -S cm -B cm/build -DCMAKE_TOOLCHAIN_FILE="$CMAKE_TOOLCHAIN" -DCMAKE_BUILD_TYPE=Release
expect "cmake configures with the xos toolchain file" 0
run cmake --build cm/build
expect "cmake builds" 0
run ctest --test-dir cm/build --output-on-failure --timeout 240
expect "ctest runs the tests through xos-run (a failing one fails)" 0 "100% tests passed"
[ "$(cat cm/build/written.txt 2>/dev/null)" = 2 ] && pass "a ctest test writes into its working directory" ||
    fail "a ctest test writes into its working directory"
run cm/build/adder 20 22 42
expect "the CMake-built program runs directly" 0 "sum 42"

# 9. Meson with the cross file: meson test runs the test through xos-run (the exe_wrapper).
mkdir -p ms
cat >ms/meson.build <<'MS'
project('mstest', 'c')
m = meson.get_compiler('c').find_library('m')
exe = executable('root', 'root.c', dependencies: m)
test('root', exe, args: ['16', '4'])
MS
cat >ms/root.c <<'C'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    double r = sqrt(atof(argv[1]));
    printf("root %g\n", r);
    return r == atof(argv[2]) ? 0 : 1;
}
C
run meson setup ms/build ms --cross-file "$MESON_CROSS"
expect "meson configures with the xos cross file" 0
run meson compile -C ms/build
expect "meson builds" 0
run meson test -C ms/build --print-errorlogs -t 4
expect "meson test runs the test through xos-run" 0 "Ok:                 1"
run ms/build/root 9 3
expect "the Meson-built program runs directly" 0 "root 3"

# 10. Run directly on a terminal (a pseudo-terminal the test makes) the image sets raw mode itself,
# as xos-run does: one echo (libos's line discipline, not the host's too), ^C is a SIGINT the
# app's handler gets (before: the host's SIGINT killed the image), and the terminal is put back
# as it was when the program ends. On a pipe, isatty() is 0.
cat >tty.c <<'C'
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
static volatile sig_atomic_t got;
static void on_int(int s) { got = s; }
int main(int argc, char **argv) {
    (void)argv;
    signal(SIGINT, on_int);
    printf("tty=%d%d ready\n", isatty(0), isatty(1));
    fflush(stdout);
    if (argc > 1) return 0;  /* the isatty probe only */
    char buf[64];
    ssize_t n = read(0, buf, sizeof buf);
    printf("read=%zd\n", n);
    fflush(stdout);
    while (!got) pause();
    printf("SIGINT handled\n");
    return 3;
}
C
run "$XOS_CC" tty.c -o tty
expect "the terminal probe links" 0
run bash -o pipefail -c 'echo | ./tty probe | cat'
expect "isatty() is 0 on pipes (run directly)" 0 "tty=00 ready"
run timeout 300 python3 - ./tty <<'PY'
import fcntl, os, select, sys, termios, time
fd, slave = os.openpty()
before = termios.tcgetattr(slave)  # the mode the program finds, and must leave
pid = os.fork()
if pid == 0:  # a session of its own with the terminal as its controlling one (it is in the foreground)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for n in (0, 1, 2):
        os.dup2(slave, n)
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
def read_until(text, seconds=120):
    global out
    deadline = time.time() + seconds
    while text not in out and time.time() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                data = os.read(fd, 1024)
            except OSError:
                return
            if not data:
                return
            out += data
read_until(b"ready")
os.write(fd, b"hello\n")
read_until(b"read=")
time.sleep(0.3)
os.write(fd, b"\x03")
read_until(b"handled")
status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
after = termios.tcgetattr(slave)
print("output %r status %d" % (out, status))
problems = []
if b"tty=11 ready" not in out: problems.append("isatty is not 1 on the terminal")
if out.count(b"hello") != 1: problems.append("the line is echoed %d times" % out.count(b"hello"))
if b"\r\r\n" in out: problems.append("line ends went through two line disciplines")
if b"read=6" not in out: problems.append("the line did not arrive whole")
if b"SIGINT handled" not in out or status != 3: problems.append("^C did not reach the app's handler (status %d)" % status)
if after != before: problems.append("the terminal was not put back: %r -> %r" % (before, after))
print("; ".join(problems) or "terminal ok")
sys.exit(1 if problems else 0)
PY
expect "run directly on a terminal: raw mode, one echo, ^C to the app, the terminal put back" 0 "terminal ok"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
