// xos-cc and xos-c++: compiler drivers for existing build systems (make, CMake, autoconf,
// Meson). Every argument goes to clang unchanged; the wrapper only adds the xos target flags
// and, unless the command only compiles, the xos link line.

#include "process.h"
#include "programs.h"
#include "toolchain.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <iostream>
#include <optional>
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

// Questions to the compiler itself (`--version`, `-v`, `-dumpmachine`, `-print-*`) with no input
// file: answered by clang for the xos target, without compile or link flags. Other options may
// come with them, as when a Makefile asks `$(CC) $(CFLAGS) -dumpmachine` (busybox).
bool is_query(const std::vector<std::string>& args) {
    bool asks = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& arg = args[i];
        if (arg == "--version" || arg == "-v" || arg == "--help" || arg == "-dumpversion" || arg == "-dumpmachine" ||
            arg == "-###" || starts_with(arg, "-print-") || starts_with(arg, "--print-"))
            asks = true;
        else if (arg == "-" || !starts_with(arg, "-"))
            return false;  // an input file (or stdin): a compile or a link, perhaps verbose
        else if (takes_separate_value(arg))
            ++i;
    }
    return asks;
}

// -r / -Wl,-r: a relocatable link (busybox's built-in.o, `LD = $(CC) -nostdlib`): lld merges
// the objects; no start files, libraries or linker script, as for any -r link.
bool is_relocatable_link(const std::vector<std::string>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& arg = args[i];
        if (arg == "-r" || arg == "--relocatable" || arg == "-Wl,-r" || arg == "-Wl,--relocatable" ||
            arg == "-Wl,-relocatable")
            return true;
        if (takes_separate_value(arg)) ++i;
    }
    return false;
}

// The value of -o (`-o FILE` or `-oFILE`); clang's default a.out otherwise.
std::string output_of(const std::vector<std::string>& args) {
    std::string output = "a.out";
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& arg = args[i];
        if (arg == "-o" && i + 1 < args.size())
            output = args[i + 1];
        else if (arg.size() > 2 && starts_with(arg, "-o"))
            output = arg.substr(2);
        if (takes_separate_value(arg)) ++i;
    }
    return output;
}

// `args` without its -o option.
std::vector<std::string> without_output(const std::vector<std::string>& args) {
    std::vector<std::string> rest;
    for (size_t i = 0; i < args.size(); ++i) {
        const auto& arg = args[i];
        if (arg == "-o") {
            ++i;
            continue;
        }
        if (arg.size() > 2 && starts_with(arg, "-o")) continue;
        rest.push_back(arg);
        if (takes_separate_value(arg) && i + 1 < args.size()) rest.push_back(args[++i]);
    }
    return rest;
}

bool verbose() {
    const char* value = std::getenv("XOS_VERBOSE");
    return value && *value && std::string_view(value) != "0";
}

void trace(const std::vector<std::string>& argv) {
    if (verbose()) print_command(argv);
}

// A link command's flags before the user's: the compile flags (sources may be compiled in the
// same step) and, since a static image has no use for some link options build systems add on
// Linux (CMake's -rdynamic), no -Wunused-command-line-argument for them (-Werror builds).
std::vector<std::string> link_leading_flags(const Toolchain& toolchain, Language language) {
    auto flags = target_compile_flags(toolchain, language);
    flags.push_back("-Wno-unused-command-line-argument");
    return flags;
}

bool is_source(std::string_view arg) {
    auto dot = arg.rfind('.');
    if (dot == std::string_view::npos) return false;
    auto extension = arg.substr(dot);
    return extension == ".c" || extension == ".cc" || extension == ".cpp" || extension == ".cxx" ||
        extension == ".c++" || extension == ".C" || extension == ".s" || extension == ".S";
}

// A compile-and-link command's sources, compiled once into `dir` for both links: `inputs` with
// each source replaced by its object. Every option goes to each compile (link options are unused
// there: -Wno-unused-command-line-argument keeps that quiet, also under -Werror); with -x or a
// source on stdin, nothing changes.
std::optional<std::vector<std::string>> compile_sources_once(const std::string& driver,
                                                             const std::vector<std::string>& compile_flags,
                                                             const std::vector<std::string>& inputs,
                                                             const std::string& dir) {
    std::vector<std::string> options;
    std::vector<size_t> sources;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto& arg = inputs[i];
        if (arg == "-" || starts_with(arg, "-x")) return inputs;
        if (!arg.empty() && arg[0] == '-') {
            options.push_back(arg);
            if (takes_separate_value(arg) && i + 1 < inputs.size()) options.push_back(inputs[++i]);
        } else if (is_source(arg)) {
            sources.push_back(i);
        }
    }
    auto result = inputs;
    for (size_t n = 0; n < sources.size(); ++n) {
        auto object = dir + "/" + std::to_string(n) + ".o";
        std::vector<std::string> argv{driver};
        argv.insert(argv.end(), compile_flags.begin(), compile_flags.end());
        argv.insert(argv.end(), options.begin(), options.end());
        argv.insert(argv.end(), {"-Wno-unused-command-line-argument", "-c", inputs[sources[n]], "-o", object});
        trace(argv);
        if (!run(argv, false)) return std::nullopt;
        result[sources[n]] = object;
    }
    return result;
}

// The default output of xos-cc (docs/toolchain.md): the hosted image (a static Linux executable,
// so `./conftest`, ctest and test scripts run it as a sandboxed process in the host's current
// directory) carrying the VM image in its section .xos.vm, which xos-run boots. Two links of the
// same inputs; sources given on the command line are compiled once, before both.
int link_dual(const Toolchain& toolchain, const std::string& driver, const LinkFiles& vm_files,
              const LinkFiles& hosted_files, const std::vector<std::string>& compile_flags,
              const std::vector<std::string>& args) {
    auto output = output_of(args);
    install_interrupt_handlers();
    TempDir temp_dir("xos-cc");
    auto compiled = compile_sources_once(driver, compile_flags, without_output(args), temp_dir.path());
    if (!compiled) return exit_failure;
    const auto& inputs = *compiled;
    auto vm_image = temp_dir.path() + "/vm.elf";
    auto vm_link = link_command(driver, vm_files, compile_flags, inputs, vm_image);
    trace(vm_link);
    if (!run(vm_link, false)) return exit_failure;

    PendingFile image(output);
    auto hosted_inputs = inputs;
    // Run directly, the hosted platform shows the program the host's files read-only and the
    // current directory read-write, where it starts (platform/hosted/start.cpp).
    hosted_inputs.push_back("-Wl,--defsym=" + std::string(hosted_share_cwd_symbol) + "=1");
    auto hosted_link = link_command(driver, hosted_files, compile_flags, hosted_inputs, image.path());
    trace(hosted_link);
    if (!run(hosted_link, false)) return exit_failure;
    std::vector<std::string> embed{toolchain.objcopy,
                                   "--add-section",
                                   std::string(vm_image_section) + "=" + vm_image,
                                   "--set-section-flags",
                                   std::string(vm_image_section) + "=readonly",
                                   image.path()};
    trace(embed);
    if (!run(embed, false)) {
        report_error("xos-cc", "embedding the VM image into " + output + " failed");
        return exit_failure;
    }
    image.commit();
    return 0;
}

int run_wrapper(const std::vector<std::string>& args, Language language) {
    scrub_host_search_paths();
    auto toolchain = Toolchain::from_environment();
    const auto& driver = toolchain.driver_for(language);

    if (std::find(args.begin(), args.end(), "-shared") != args.end())
        throw Error("xos images are static; -shared is not supported (libtool: ./configure --disable-shared)");

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
    } else if (is_relocatable_link(args)) {
        toolchain.require_headers();
        auto flags = target_compile_flags(toolchain, language);
        argv.insert(argv.end(), flags.begin(), flags.end());
        argv.insert(argv.end(), {"-nostdlib", "-fuse-ld=lld"});
        argv.insert(argv.end(), args.begin(), args.end());
    } else {
        toolchain.require_headers();
        // XOS_PLATFORM named: an image of that platform alone (a VM image, or a hosted executable).
        bool platform_named = std::getenv("XOS_PLATFORM") && *std::getenv("XOS_PLATFORM");
        auto platform = default_platform();
        auto library_dirs = xos_library_dirs();
        require_platform(platform, library_dirs);
        auto files = resolve_link_files(toolchain, platform, library_dirs);
        if (!platform_named && platform != "hosted") {
            // Where the hosted platform was not built (or XOS_LIBDIR lacks it): the VM image alone.
            std::optional<LinkFiles> hosted_files;
            try {
                hosted_files = resolve_link_files(toolchain, "hosted", library_dirs);
            } catch (const Error& missing) {
                if (verbose()) std::cerr << "xos-cc: note: " << missing.what() << "; linking the VM image alone\n";
            }
            if (hosted_files)
                return link_dual(toolchain, driver, files, *hosted_files, link_leading_flags(toolchain, language),
                                 args);
        }
        auto inputs = args;
        if (platform == "hosted") inputs.push_back("-Wl,--defsym=" + std::string(hosted_share_cwd_symbol) + "=1");
        // Sources may be compiled and linked in one step, so the compile flags come along; the
        // output is whatever -o says (clang's default: a.out).
        argv = link_command(driver, files, link_leading_flags(toolchain, language), inputs, std::nullopt);
    }

    trace(argv);
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
