#!/bin/sh
# libos's globals must not have destructors (libos/base/no_destroy.h): the compiler registers
# them with musl's atexit list, and every process of a linked image that calls exit() -- forked
# children too -- would run them on libos's state, which all processes share. Fails, naming the
# objects, when an object of the archives given calls __cxa_atexit (or atexit).
# usage: check_no_atexit.sh NM ARCHIVE...
nm=$1
shift
found=$("$nm" -A "$@" 2>/dev/null | grep -E ' U (__cxa_atexit|atexit)$')
if [ -n "$found" ]; then
    echo "objects that register destructors or exit handlers (use [[clang::no_destroy]] or NoDestroy):"
    echo "$found"
    exit 1
fi
echo "no object of $* registers an exit handler"
