// xos-cc and xos-c++: compiler drivers for existing build systems (make, CMake, autoconf,
// Meson). Every argument goes to clang unchanged; the wrapper only adds the xos target flags
// and, unless the command only compiles, the xos link line.

#include "process.h"
#include "programs.h"
#include "toolchain.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string_view>

namespace xos::driver {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// Options whose value is the next argument: their value is not looked at as an option.
bool takes_separate_value(std::string_view arg) {
    static constexpr std::array<std::string_view, 27> options{
        "-o",          "-x",
        "-MF",         "-MT",
        "-MQ",         "-include",
        "-imacros",    "-isystem",
        "-idirafter",  "-iquote",
        "-iprefix",    "-iwithprefix",
        "-isysroot",   "-I",
        "-L",          "-D",
        "-U",          "-l",
        "-Xlinker",    "-Xclang",
        "-Xassembler", "-Xpreprocessor",
        "-arch",       "-target",
        "-T",          "-z",
        "--param",
    };
    return std::find(options.begin(), options.end(), arg) != options.end();
}

// -c, -S, -E, -M, -MM, -fsyntax-only: nothing is linked, so no link flags are added.
bool is_compile_only(const std::vector<std::string>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& arg = args[i];
        if (arg == "-c" || arg == "-S" || arg == "-E" || arg == "-M" || arg == "-MM" || arg == "-fsyntax-only" ||
            arg == "--precompile")
            return true;
        if (takes_separate_value(arg)) ++i;
    }
    return false;
}

// Questions to the compiler itself (`--version`, `-v` alone, `-dumpmachine`, `-print-*`):
// answered by clang for the xos target, without compile or link flags.
bool is_query(const std::vector<std::string>& args) {
    return !args.empty() && std::all_of(args.begin(), args.end(), [](const std::string& arg) {
        return arg == "--version" || arg == "-v" || arg == "--help" || arg == "-dumpversion" || arg == "-dumpmachine" ||
            arg == "-###" || starts_with(arg, "-print-") || starts_with(arg, "--print-");
    });
}

int run_wrapper(const std::vector<std::string>& args, Language language) {
    auto toolchain = Toolchain::from_environment();
    const auto& driver = toolchain.driver_for(language);

    if (std::find(args.begin(), args.end(), "-shared") != args.end())
        throw Error("xos images are static; -shared is not supported");

    std::vector<std::string> argv{driver};
    if (args.empty()) {
        // Let clang say "no input files".
    } else if (is_query(args)) {
        argv.push_back(std::string("--target=") + target_triple);
        argv.insert(argv.end(), args.begin(), args.end());
    } else if (is_compile_only(args)) {
        toolchain.require_headers();
        auto flags = target_compile_flags(toolchain, language);
        argv.insert(argv.end(), flags.begin(), flags.end());
        argv.insert(argv.end(), args.begin(), args.end());
    } else {
        auto platform = default_platform();
        auto library_dirs = xos_library_dirs();
        require_platform(platform, library_dirs);
        auto files = resolve_link_files(toolchain, platform, library_dirs);
        // Sources may be compiled and linked in one step, so the compile flags come along; the
        // output is whatever -o says (clang's default: a.out).
        argv = link_command(driver, files, target_compile_flags(toolchain, language), args, std::nullopt);
    }

    if (const char* verbose = std::getenv("XOS_VERBOSE"); verbose && *verbose && std::string_view(verbose) != "0")
        print_command(argv);
    exec(argv);
}

}  // namespace

int compiler_wrapper_main(int argc, char** argv, Language language) {
    const char* program = language == Language::Cxx ? "xos-c++" : "xos-cc";
    try {
        return run_wrapper(std::vector<std::string>(argv + 1, argv + argc), language);
    } catch (const Error& error) {
        report_error(program, error.what());
        return error.exit_code();
    } catch (const std::exception& error) {
        report_error(program, std::string("internal error: ") + error.what());
        return exit_failure;
    }
}

}  // namespace xos::driver
