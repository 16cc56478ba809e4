// xos-run CONTAINER.xos: an image made by `xos-build --from-image` (docs/container-images.md).
// CONTAINER.xos is the generic kernel; CONTAINER.xos.json says which root and config go with
// it. The run becomes an --rootfs run of the image's tree with the program, environment,
// working directory and user docker run would use (the overrides --entrypoint, --env,
// --workdir, --user and the arguments after `--` applied), passed to the generic kernel's
// loader as `--workdir DIR --user SPEC -- PROGRAM ARGS...` (tools/xos-kernel/loader.c).
#pragma once

#include "options.h"

#include <optional>
#include <string>

// IMAGE.json's path if IMAGE is a container image (the description exists), else nothing.
std::optional<std::string> container_image_description(const std::string& image);

// Rewrites `opts` for the container image described by `description` (throws UsageError for a
// malformed description, a conflicting --rootfs, or nothing to run). Prints the image's hints
// (ports to forward with -p, volumes for --share) on stderr when no -p is given and stderr is a
// terminal, or with -v.
void apply_container_image(Options& opts, const std::string& description);
