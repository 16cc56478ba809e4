#!/usr/bin/env python3
"""The platform boundary, checked on the build's own compile commands: every platform library
(platform/libxos-<name>.a) is compiled with platform/api and platform/ as its only include
directories from the source tree, never libos/ (docs: platform/meson.build, DESIGN.md "libos
sees platform/api only"; the platform logs through xos/log.h).

usage: check_platform_boundary.py BUILD_DIR SOURCE_ROOT

Exit 0 if every platform compile command passes; 1 with the offending commands otherwise, or
if no platform compile command was found at all (the check would prove nothing), or if libos's
own commands do not name libos/ (the check would not notice a violation).
"""
import json
import os
import shlex
import sys


def include_dirs(entry):
    args = entry.get("arguments") or shlex.split(entry["command"])
    dirs = []
    for i, arg in enumerate(args):
        if arg in ("-I", "-isystem", "-iquote", "-idirafter") and i + 1 < len(args):
            dirs.append(args[i + 1])
        elif arg.startswith("-I") and len(arg) > 2:
            dirs.append(arg[2:])
    return [os.path.realpath(os.path.join(entry["directory"], d)) for d in dirs]


def main():
    build_dir, source_root = (os.path.realpath(p) for p in sys.argv[1:3])
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        entries = json.load(f)
    platform_src = os.path.join(source_root, "platform")
    allowed = {os.path.join(platform_src, "api"), platform_src}
    libos = os.path.join(source_root, "libos")

    failures, platform_commands, libos_sees_libos = [], 0, False
    for entry in entries:
        output = entry.get("output", "")
        dirs = include_dirs(entry)
        if output.startswith("platform/libxos-"):
            platform_commands += 1
            for d in dirs:
                in_build = d == build_dir or d.startswith(build_dir + os.sep)  # generated files
                in_source = not in_build and (d == source_root or d.startswith(source_root + os.sep))
                if in_source and d not in allowed:
                    failures.append("%s: include directory %s" % (entry["file"], d))
        elif "libxos.a.p" in output and libos in dirs:
            libos_sees_libos = True

    if platform_commands == 0:
        failures.append("no platform library compile command in compile_commands.json")
    if not libos_sees_libos:
        failures.append("libos's own compile commands do not name %s (the check is blind)" % libos)
    for failure in failures:
        print("FAIL:", failure)
    print("%d platform compile command(s) checked" % platform_commands)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
