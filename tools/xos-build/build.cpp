// xos-build: compile each source for the xos target, then link everything into one image.

#include "exec_image.h"
#include "from_image.h"
#include "image_error.h"
#include "process.h"
#include "programs.h"
#include "rootfs.h"
#include "toolchain.h"
#include "xos_build_config.h"

#include <algorithm>
#include <csignal>
#include <elf.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <unistd.h>

namespace xos::driver {

namespace {

constexpr const char* program = "xos-build";

// Which sources a pass-through compile flag applies to (`-std=c++20` must not reach a C file).
enum class FlagScope { AllSources, COnly, CxxOnly };

struct CompileFlag {
    std::vector<std::string> args;
    FlagScope scope;
    bool family;  // accepted by prefix (-f*, -m*, -O*, -g*): clang decides which ones exist
};

struct Source {
    std::string path;
    Language language;
    bool language_forced;  // by -x
    size_t link_position;  // where its object goes among the link items
};

struct BuildOptions {
    std::vector<CompileFlag> compile_flags;
    std::vector<Source> sources;
    std::vector<std::string> link_items;  // objects, archives, -L, -l, -Wl in the order given
    std::vector<std::string> input_files;  // every named file, in order, for the existence check
    std::optional<std::string> first_object;  // first source or object, for the default output name
    std::optional<std::string> output;
    std::optional<std::string> platform;
    std::optional<std::string> rootfs;  // --rootfs DIR (with --exec: the root the program comes from)
    std::optional<std::string> exec;  // --exec PROGRAM
    std::vector<AddedFile> added;  // --add SRC[:DEST] (with --exec)
    std::optional<std::string> from_image;  // --from-image ARCHIVE|DIR (docs/container-images.md)
    std::optional<std::string> compress;  // --compress none|lz4|lz4hc (with --from-image)
    bool keep_root{false};  // --keep-root (with --from-image)
    bool strip{false};
    bool verbose{false};
    bool help{false};
    bool version{false};
};

void print_help() {
    std::cout << R"(usage: xos-build [options] INPUTS... [-o OUT]
       xos-build --exec PROGRAM [--rootfs ROOTFS] [--add SRC[:DEST]]... [-o OUT]
       xos-build --from-image ARCHIVE|DIR [--platform kvm|hosted] [--compress none|lz4|lz4hc]
                 [--keep-root] [-o OUT]

Builds an xos image: compiles each C, C++ and assembler source for the xos target (musl libc,
libc++), then links the objects with libxos, the platform layer and the C/C++ runtimes into one
statically linked ELF that boots as a PVH guest (run it with xos-run).

Inputs:
  FILE.c                      C source (compiled with clang-19)
  FILE.cc .cpp .cxx .c++ .C   C++ source (compiled with clang++-19, libc++)
  FILE.s .S                   assembler (.S goes through the C preprocessor)
  FILE.o, FILE.a              objects and archives built for xos (e.g. with xos-cc / xos-c++)
  -lNAME, -LDIR               libraries and library directories, in link order

Options of xos-build:
  -o FILE                     the image (default: stem of the first source or object + .xos)
  --platform NAME             platform layer to link (default: )" XOS_DEFAULT_PLATFORM R"()
  --rootfs DIR                pack DIR into the image (cpio); it is unpacked into / at boot:
                              directories, files, symlinks and FIFOs with their modes, owners
                              and mtimes (device nodes and sockets are skipped with a warning)
  --exec PROGRAM              no sources: an image that runs the unmodified Linux executable
                              PROGRAM (an absolute path in ROOTFS, default /): the generic
                              kernel's loader with PROGRAM baked in, and as its initrd PROGRAM,
                              its ELF interpreter and the libraries it needs (read from the ELF
                              files: DT_NEEDED, RUNPATH/RPATH, ld.so.conf), a #! script's
                              interpreter, and ROOTFS's /etc/passwd, group, nsswitch.conf, hosts,
                              localtime and ld.so.cache. `xos-run OUT -- ARGS` runs
                              `PROGRAM ARGS`. The image needs nothing of ROOTFS at run time.
                              Default OUT: PROGRAM's name + .xos
  --add SRC[:DEST]            with --exec: also put the host file or directory SRC at DEST in
                              the image (default: SRC's own absolute path; repeatable)
  --from-image ARCHIVE|DIR    no sources: an image of a container image (an OCI archive or
                              layout directory, or a docker-archive, as podman/docker save and
                              skopeo write): OUT is the generic kernel, OUT.erofs the merged
                              layers as an EROFS file system and OUT.json the image's config
                              (Entrypoint, Cmd, Env, WorkingDir, User, ...), which `xos-run OUT`
                              honours as docker run does (docs/container-images.md). Same
                              input, same bytes out. Default OUT: ARCHIVE's or DIR's name
                              (without .tar) + .xos
  --compress none|lz4|lz4hc   with --from-image: how OUT.erofs stores file data (default: lz4)
  --keep-root                 with --from-image: also keep the merged tree as the directory
                              OUT.root/, for inspection (nothing reads it at run time)
  -s, --strip                 strip symbols from the image
  -v, --verbose               print each command before running it
  --help                      this help
  --version                   version and configuration

Compiler options passed through (to every compile; -Wl, to the link):
  -O*  -g*  -I DIR  -D NAME[=VALUE]  -U NAME  -std=*  -W*  -Wa,...  -Wl,...  -f*  -m*
  -include FILE  -isystem DIR  -x LANG (c, c++, assembler, assembler-with-cpp, none)
  -pthread (accepted; threads are always available)
A -std= for C reaches only C sources, one for C++ only C++ sources. Any other option is an error.

Environment:
  XOS_TOOLCHAIN   toolchain directory holding sysroot/ (default: the configured one)
  XOS_LIBDIR      colon-separated directories with libxos.a, libxos-<platform>.a and
                  xos-<platform>.ld (default: the installed layout, else the build tree)
  XOS_PLATFORM    default platform

Examples:
  xos-build hello.cpp                        # -> hello.xos
  xos-build -O2 -std=c++20 -Iinclude main.cpp util.cpp -o app.xos
  xos-build -DNDEBUG server.c libparser.a -Llib -lz -o server.xos
  xos-build -s --platform kvm app.cpp && xos-run app.xos
  xos-build server.c --rootfs rootfs/ -o server.xos   # rootfs/etc/server.conf -> /etc/server.conf
  make CC=xos-cc CXX=xos-c++                 # whole projects: use the compiler wrappers
  xos-build --exec /usr/bin/redis-server -o redis.xos && xos-run -p 6379:6379 redis.xos -- --port 6379
  xos-build --exec /usr/bin/sqlite3 --rootfs debian-root/ --platform hosted -o sqlite3
)";
}

void print_version() {
    auto toolchain = Toolchain::from_environment();
    std::cout << "xos-build " << XOS_VERSION << " (xos)\n"
              << "target: " << target_triple << ", default platform: " << default_platform() << "\n"
              << "compilers: " << toolchain.clang << ", " << toolchain.clangxx << "\n"
              << "toolchain: " << toolchain.toolchain_dir << "\n"
              << "library dirs:";
    for (const auto& dir : xos_library_dirs()) std::cout << " " << dir;
    std::cout << "\n";
}

[[noreturn]] void usage_error(const std::string& message) {
    throw Error(message + " (see xos-build --help)", exit_usage);
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::optional<Language> language_from_extension(const std::string& path) {
    auto extension = std::filesystem::path(path).extension().string();
    if (extension == ".c") return Language::C;
    if (extension == ".cc" || extension == ".cpp" || extension == ".cxx" || extension == ".c++" || extension == ".C")
        return Language::Cxx;
    if (extension == ".s") return Language::Asm;
    if (extension == ".S") return Language::AsmWithCpp;
    return std::nullopt;
}

std::optional<Language> language_from_name(const std::string& name) {
    if (name == "c") return Language::C;
    if (name == "c++") return Language::Cxx;
    if (name == "assembler") return Language::Asm;
    if (name == "assembler-with-cpp") return Language::AsmWithCpp;
    return std::nullopt;
}

const char* language_name(Language language) {
    switch (language) {
    case Language::C: return "c";
    case Language::Cxx: return "c++";
    case Language::Asm: return "assembler";
    case Language::AsmWithCpp: return "assembler-with-cpp";
    }
    return "c";
}

BuildOptions parse_options(const std::vector<std::string>& args) {
    BuildOptions options;
    std::optional<Language> forced_language;

    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        // The value of an option given either joined (-Ifoo) or as the next argument (-I foo).
        auto value_of = [&](const std::string& option) -> std::string {
            if (arg.size() > option.size()) return arg.substr(option.size());
            if (i + 1 >= args.size()) usage_error("missing argument to '" + option + "'");
            return args[++i];
        };
        auto add_compile = [&](std::vector<std::string> flag, FlagScope scope = FlagScope::AllSources,
                               bool family = false) {
            options.compile_flags.push_back({std::move(flag), scope, family});
        };

        if (arg.empty() || arg[0] != '-' || arg == "-") {
            if (arg == "-") usage_error("reading a source from standard input is not supported");
            options.input_files.push_back(arg);
            auto language = forced_language ? forced_language : language_from_extension(arg);
            if (language) {
                options.sources.push_back({arg, *language, forced_language.has_value(), options.link_items.size()});
                options.link_items.emplace_back();  // filled with the object once compiled
            } else {
                options.link_items.push_back(arg);  // object, archive or other linker input
            }
            if (!options.first_object && (language || ends_with(arg, ".o"))) options.first_object = arg;
            continue;
        }

        if (arg == "--help") {
            options.help = true;
            return options;
        } else if (arg == "--version") {
            options.version = true;
            return options;
        } else if (arg == "-s" || arg == "--strip") {
            options.strip = true;
        } else if (arg == "-v" || arg == "--verbose") {
            options.verbose = true;
        } else if (arg == "-pthread") {
            // Accepted for compatibility: musl's pthreads are always part of the image.
        } else if (starts_with(arg, "--platform=")) {
            options.platform = arg.substr(std::string("--platform=").size());
        } else if (arg == "--platform") {
            options.platform = value_of(arg);
        } else if (starts_with(arg, "--rootfs=")) {
            options.rootfs = arg.substr(std::string("--rootfs=").size());
            if (options.rootfs->empty()) usage_error("missing argument to '--rootfs'");
        } else if (arg == "--rootfs") {
            options.rootfs = value_of(arg);
        } else if (starts_with(arg, "--exec=") || arg == "--exec") {
            options.exec = arg == "--exec" ? value_of(arg) : arg.substr(std::string("--exec=").size());
            if (options.exec->empty() || (*options.exec)[0] != '/')
                usage_error("--exec: expected an absolute path, got '" + *options.exec + "'");
        } else if (starts_with(arg, "--from-image=") || arg == "--from-image") {
            options.from_image =
                arg == "--from-image" ? value_of(arg) : arg.substr(std::string("--from-image=").size());
            if (options.from_image->empty()) usage_error("missing argument to '--from-image'");
        } else if (starts_with(arg, "--compress=") || arg == "--compress") {
            options.compress = arg == "--compress" ? value_of(arg) : arg.substr(std::string("--compress=").size());
            if (!xos::image::parse_compression(*options.compress))
                usage_error("--compress: expected none, lz4 or lz4hc, got '" + *options.compress + "'");
        } else if (arg == "--keep-root") {
            options.keep_root = true;
        } else if (starts_with(arg, "--add=") || arg == "--add") {
            options.added.push_back(parse_added_file(arg == "--add" ? value_of(arg) : arg.substr(6)));
        } else if (starts_with(arg, "-o")) {
            options.output = value_of("-o");
        } else if (starts_with(arg, "-x")) {
            auto name = value_of("-x");
            if (name == "none")
                forced_language.reset();
            else if (auto language = language_from_name(name))
                forced_language = language;
            else
                usage_error("unsupported language '-x " + name + "'");
        } else if (arg == "-include") {
            add_compile({arg, value_of(arg)});
        } else if (starts_with(arg, "-isystem")) {
            add_compile({"-isystem", value_of("-isystem")});
        } else if (starts_with(arg, "-I") || starts_with(arg, "-D") || starts_with(arg, "-U")) {
            auto option = arg.substr(0, 2);
            add_compile({option + value_of(option)});
        } else if (starts_with(arg, "-l") || starts_with(arg, "-L")) {
            auto option = arg.substr(0, 2);
            options.link_items.push_back(option + value_of(option));
        } else if (starts_with(arg, "-Wl,")) {
            options.link_items.push_back(arg);
        } else if (starts_with(arg, "-std=")) {
            bool cxx = arg.find("++") != std::string::npos;
            add_compile({arg}, cxx ? FlagScope::CxxOnly : FlagScope::COnly);
        } else if (arg.size() > 2 && starts_with(arg, "-W")) {
            add_compile({arg});  // unknown warning names are only warnings
        } else if ((arg.size() > 2 && (starts_with(arg, "-f") || starts_with(arg, "-m"))) || starts_with(arg, "-O") ||
                   starts_with(arg, "-g")) {
            add_compile({arg}, FlagScope::AllSources, true);
        } else {
            usage_error("unknown option '" + arg + "'");
        }
    }
    return options;
}

// -f*, -m*, -O* and -g* are passed through by prefix, but `-foo` is a typo, not a flag: ask
// the clang driver (with -###, so nothing runs) which of them it does not know.
void reject_unknown_compiler_flags(const Toolchain& toolchain, const BuildOptions& options) {
    std::vector<std::string> argv{
        toolchain.clang, std::string("--target=") + target_triple, "-###", "-c", "-x", "c", "/dev/null", "-o",
        "/dev/null"};
    size_t first_flag = argv.size();
    for (const auto& flag : options.compile_flags) {
        if (flag.family) argv.insert(argv.end(), flag.args.begin(), flag.args.end());
    }
    std::string diagnostics;
    if (argv.size() == first_flag || run_capturing_stderr(argv, diagnostics)) return;
    // clang-19: error: unknown argument: '-foo'
    // clang-19: error: unknown argument '-fomit-frame-pointr'; did you mean '-fomit-frame-pointer'?
    size_t at = diagnostics.find("error: unknown argument");
    if (at == std::string::npos) return;  // e.g. a bad value (-fsanitize=bogus): the compile reports it
    size_t open = diagnostics.find('\'', at);
    size_t close = open == std::string::npos ? open : diagnostics.find('\'', open + 1);
    if (close == std::string::npos) return;
    auto name = diagnostics.substr(open + 1, close - open - 1);
    size_t line_end = diagnostics.find('\n', close);
    auto rest = diagnostics.substr(close + 1, line_end == std::string::npos ? std::string::npos : line_end - close - 1);
    usage_error("unknown option '" + name + "'" + rest);
}

std::vector<std::string> compile_command(const Toolchain& toolchain, const BuildOptions& options, const Source& source,
                                         const std::string& object, bool color) {
    bool is_asm = source.language == Language::Asm || source.language == Language::AsmWithCpp;
    auto flag_language = is_asm ? Language::C : source.language;
    std::vector<std::string> argv{toolchain.driver_for(source.language)};
    auto target = target_compile_flags(toolchain, flag_language);
    argv.insert(argv.end(), target.begin(), target.end());
    if (color) argv.push_back("-fcolor-diagnostics");
    for (const auto& flag : options.compile_flags) {
        bool applies = flag.scope == FlagScope::AllSources ||
            (flag.scope == FlagScope::COnly && source.language == Language::C) ||
            (flag.scope == FlagScope::CxxOnly && source.language == Language::Cxx);
        if (applies) argv.insert(argv.end(), flag.args.begin(), flag.args.end());
    }
    if (source.language_forced) {
        argv.push_back("-x");
        argv.push_back(language_name(source.language));
    }
    argv.insert(argv.end(), {"-c", source.path, "-o", object});
    return argv;
}

struct CompileJob {
    const Source* source;
    std::vector<std::string> argv;
    std::string log;  // captured diagnostics when compiles run in parallel
    pid_t pid{-1};
};

// Compiles every source into `temp_dir`, up to one compiler per CPU at a time. Fills the
// sources' link items with their objects. Returns false (after reporting) if any failed.
bool compile_all(const Toolchain& toolchain, BuildOptions& options, const std::string& temp_dir) {
    unsigned parallel = std::min<unsigned>(cpu_count(), static_cast<unsigned>(options.sources.size()));
    bool capture = parallel > 1;  // keep each file's diagnostics together
    bool color = capture && isatty(STDERR_FILENO);

    std::vector<CompileJob> jobs;
    for (size_t n = 0; n < options.sources.size(); ++n) {
        auto& source = options.sources[n];
        auto stem = std::filesystem::path(source.path).stem().string();
        auto object = temp_dir + "/" + std::to_string(n) + "-" + stem + ".o";
        options.link_items[source.link_position] = object;
        jobs.push_back({&source, compile_command(toolchain, options, source, object, color),
                        capture ? temp_dir + "/" + std::to_string(n) + ".log" : ""});
    }

    std::vector<size_t> running;
    auto pids = [&] {
        std::vector<pid_t> result;
        for (size_t index : running) result.push_back(jobs[index].pid);
        return result;
    };
    size_t next = 0;
    bool failed = false;
    try {
        for (;;) {
            // After a signal nothing new starts; wait_any terminates the running compilers.
            while (!failed && !interrupted() && next < jobs.size() && running.size() < parallel) {
                auto& job = jobs[next];
                if (options.verbose) print_command(job.argv);
                job.pid = spawn(job.argv, job.log);
                running.push_back(next++);
            }
            if (running.empty()) {
                check_interrupted();
                break;
            }
            bool succeeded = false;
            pid_t pid = wait_any(pids(), succeeded);
            auto it =
                std::find_if(running.begin(), running.end(), [&](size_t index) { return jobs[index].pid == pid; });
            auto& job = jobs[*it];
            running.erase(it);
            if (capture) copy_to_stderr(job.log);
            if (!succeeded) {
                failed = true;
                report_error(program, "compilation of " + job.source->path + " failed");
            }
        }
    } catch (const Interrupted&) {
        throw;  // wait_any has already terminated and reaped the running compilers
    } catch (...) {
        // Do not leave compilers writing into a directory that is about to be removed.
        terminate_children(pids());
        throw;
    }
    return !failed;
}

// --from-image: the generic kernel of the platform, the image's layers as an EROFS root (and,
// with --keep-root, as a directory) and its config next to it (tools/xos-image/from_image.h).
int build_from_container_image(const BuildOptions& options) {
    if (options.exec || options.rootfs || !options.input_files.empty() || !options.link_items.empty() ||
        !options.added.empty())
        usage_error("--from-image builds an image of a container image: no sources, --exec, --rootfs or --add");
    auto platform = options.platform.value_or("kvm");
    if (platform != "kvm" && platform != "hosted")
        usage_error("--from-image: --platform must be kvm or hosted, got '" + platform + "'");
    auto library_dirs = xos_library_dirs();
    std::string name = std::filesystem::path(*options.from_image).lexically_normal().filename().string();
    if (name.empty())
        name = std::filesystem::path(*options.from_image).lexically_normal().parent_path().filename().string();
    for (const char* suffix : {".tar.gz", ".tgz", ".tar"}) {
        if (ends_with(name, suffix) && name.size() > std::string(suffix).size()) {
            name.resize(name.size() - std::string(suffix).size());
            break;
        }
    }
    xos::image::FromImageOptions from;
    from.source = *options.from_image;
    from.output = options.output.value_or(name + ".xos");
    from.platform = platform;
    from.kernel = find_in_library_dirs(platform == "hosted" ? "xos-kernel-hosted" : "xos-kernel.xos", library_dirs);
    if (options.compress) from.compression = *xos::image::parse_compression(*options.compress);
    from.keep_root = options.keep_root;
    from.verbose = options.verbose;
    try {
        xos::image::build_from_image(from);
        auto description = xos::image::read_description(from.output + ".json");
        for (const auto& hint : xos::image::image_hints(description.config))
            std::cerr << program << ": note: " << hint << "\n";
    } catch (const xos::image::ImageError& error) {
        throw Error(error.what());
    }
    return 0;
}

// Packs `dir` into temp_dir/rootfs.cpio and assembles the object that carries it into the
// image (see rootfs.h). Returns the object, or nothing (reported) if the assembler failed.
std::optional<std::string> pack_rootfs(const Toolchain& toolchain, const std::string& dir, const std::string& temp_dir,
                                       bool verbose) {
    auto archive = temp_dir + "/rootfs.cpio";
    auto assembly = temp_dir + "/rootfs.s";
    auto object = temp_dir + "/rootfs.o";
    auto warn = [](const std::string& message) { std::cerr << program << ": warning: " << message << std::endl; };
    size_t entries = write_rootfs_archive(dir, archive, warn);
    if (verbose)
        std::cerr << program << ": packed " << entries << " entries of " << dir << " into " << archive << " ("
                  << std::filesystem::file_size(archive) << " bytes)" << std::endl;
    {
        std::ofstream out(assembly);
        out << rootfs_assembly(archive);
        if (!out.flush()) throw Error("cannot write " + assembly);
    }
    std::vector<std::string> argv{toolchain.clang, std::string("--target=") + target_triple, "-c", assembly, "-o",
                                  object};
    if (!run(argv, verbose)) {
        report_error(program, "assembling the rootfs archive failed");
        return std::nullopt;
    }
    return object;
}

int run_build(const std::vector<std::string>& args) {
    auto options = parse_options(args);
    if (options.help) {
        print_help();
        return 0;
    }
    if (options.version) {
        print_version();
        return 0;
    }

    if (options.from_image) return build_from_container_image(options);
    if (options.compress || options.keep_root) usage_error("--compress and --keep-root go with --from-image");

    scrub_host_search_paths();
    auto toolchain = Toolchain::from_environment();
    reject_unknown_compiler_flags(toolchain, options);

    auto platform = options.platform.value_or(default_platform());
    auto library_dirs = xos_library_dirs();
    require_platform(platform, library_dirs);

    if (options.exec && !(options.input_files.empty() && options.link_items.empty()))
        usage_error("--exec builds an image of an existing program: no sources, objects or libraries");
    if (!options.added.empty() && !options.exec) usage_error("--add goes with --exec (without it use --rootfs DIR)");
    std::optional<std::string> loader_object;
    if (options.exec) loader_object = find_in_library_dirs("xos-loader.o", library_dirs);
    if (!options.exec && options.input_files.empty() && options.link_items.empty()) usage_error("no input files");
    for (const auto& file : options.input_files) {
        if (!file_exists(file)) throw Error("no such file: " + file);
    }
    if (options.rootfs) require_rootfs_dir(*options.rootfs);

    if (!options.sources.empty()) toolchain.require_headers();
    auto link_files = resolve_link_files(toolchain, platform, library_dirs);

    std::string output = options.output.value_or(
        options.exec               ? std::filesystem::path(*options.exec).filename().string() + ".xos"
            : options.first_object ? std::filesystem::path(*options.first_object).stem().string() + ".xos"
                                   : "a.xos");

    install_interrupt_handlers();
    TempDir temp_dir("xos-build");
    std::vector<std::string> leading_items;
    if (options.exec) {
        // The program's closure from ROOTFS (default /) is the initrd; a generated source bakes
        // the program's path in, linked with the generic kernel's loader.
        auto stage = temp_dir.path() + "/root";
        std::filesystem::create_directory(stage);
        stage_exec_root(options.rootfs.value_or("/"), *options.exec, options.added, stage, options.verbose);
        auto object = pack_rootfs(toolchain, stage, temp_dir.path(), options.verbose);
        if (!object) return exit_failure;
        leading_items.push_back(*object);
        auto source = temp_dir.path() + "/exec_program.c";
        {
            std::ofstream out(source);
            out << exec_program_source(*options.exec);
            if (!out.flush()) throw Error("cannot write " + source);
        }
        options.sources.push_back({source, Language::C, false, options.link_items.size()});
        options.link_items.emplace_back();
        options.link_items.push_back(*loader_object);
    } else if (options.rootfs) {
        // Packed first: an unreadable file fails the build before anything is compiled.
        auto object = pack_rootfs(toolchain, *options.rootfs, temp_dir.path(), options.verbose);
        if (!object) return exit_failure;
        leading_items.push_back(*object);
    }
    if (!compile_all(toolchain, options, temp_dir.path())) return exit_failure;

    PendingFile image(output);
    auto link = link_command(toolchain.clangxx, link_files, leading_items, options.link_items, image.path());
    if (!run(link, options.verbose)) {
        report_error(program, "linking " + output + " failed");
        return exit_failure;
    }
    if (options.strip && !run({toolchain.strip, image.path()}, options.verbose)) {
        report_error(program, "stripping " + output + " failed");
        return exit_failure;
    }
    image.commit();
    return 0;
}

}  // namespace

void report_error(const std::string& program_name, const std::string& message) {
    std::cerr << program_name << ": error: " << message << std::endl;
}

int build_main(int argc, char** argv) {
    try {
        return run_build(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const Error& error) {
        report_error(program, error.what());
        return error.exit_code();
    } catch (const Interrupted& interrupted) {
        reraise(interrupted.signal);
    } catch (const std::exception& error) {
        report_error(program, std::string("internal error: ") + error.what());
        return exit_failure;
    }
}

}  // namespace xos::driver
