// Entry points of the three programs; each main() is one call.
#pragma once

#include "toolchain.h"

#include <string>

namespace xos::driver {

// xos-build: compiles sources and links them into an xos image.
int build_main(int argc, char** argv);

// xos-cc (Language::C) and xos-c++ (Language::Cxx): drop-in compiler drivers for build systems.
int compiler_wrapper_main(int argc, char** argv, Language language);

// Prints `<program>: error: <message>` to stderr.
void report_error(const std::string& program, const std::string& message);

}  // namespace xos::driver
