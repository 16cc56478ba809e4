#include "elf_closure.h"

#include "file_io.h"
#include "unique_fd.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <elf.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <glob.h>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace xos::elf_closure {

const std::vector<std::string> kDefaultLibraryDirs{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
                                                   "/lib", "/usr/lib"};

const std::vector<std::string> kEtcFiles{"/etc/passwd", "/etc/group",     "/etc/nsswitch.conf",
                                         "/etc/hosts",  "/etc/localtime", "/etc/ld.so.cache"};

namespace {

namespace fs = std::filesystem;

constexpr int kMaxSymlinks = 40;  // as Linux's path walk (ELOOP)
constexpr int kMaxScriptDepth = 4;  // as Linux's binfmt_script nesting
constexpr std::uint64_t kMaxDynamicBytes = 1 << 20;
constexpr std::uint64_t kMaxStringTable = 16 << 20;

// A path inside the root, as a host path.
std::string on_host(const std::string& root, const std::string& path) { return root + path; }

std::vector<std::string> split(const std::string& text, const char* separators) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find_first_of(separators, start);
        if (end == std::string::npos) end = text.size();
        if (end > start) parts.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

std::string dirname_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::string join_path(const std::string& dir, const std::string& name) {
    return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

const char* machine_name(unsigned machine) {
    switch (machine) {
    case EM_386: return "i386";
    case EM_ARM: return "arm";
    case EM_AARCH64: return "aarch64";
    case EM_RISCV: return "riscv";
    case EM_PPC64: return "ppc64";
    case EM_PPC: return "ppc";
    case EM_S390: return "s390";
    case EM_MIPS: return "mips";
    case EM_SPARCV9: return "sparc64";
    default: return nullptr;
    }
}

struct ElfInfo {
    std::string interpreter;
    std::vector<std::string> needed;
    std::vector<std::string> rpath;  // DT_RPATH, split at ':'
    std::vector<std::string> runpath;  // DT_RUNPATH, split at ':'
    bool has_runpath = false;
};

// Why a file cannot be used as an x86_64 ELF object; empty when it can.
struct ElfCheck {
    std::string problem;
    bool is_script = false;
};

ElfCheck check_header(int fd, Elf64_Ehdr& ehdr) {
    unsigned char ident[EI_NIDENT] = {};
    ssize_t got = ::pread(fd, ident, sizeof ident, 0);
    if (got >= 2 && ident[0] == '#' && ident[1] == '!') return {"", true};
    if (got < SELFMAG || std::memcmp(ident, ELFMAG, SELFMAG) != 0) return {"not an ELF executable or a #! script"};
    if (ident[EI_CLASS] != ELFCLASS64) return {"a 32-bit ELF file; only x86_64 (64-bit) programs run"};
    if (ident[EI_DATA] != ELFDATA2LSB) return {"a big-endian ELF file; only x86_64 programs run"};
    if (!tools::read_at(fd, &ehdr, sizeof ehdr, 0)) return {"truncated ELF file (no complete header)"};
    if (ehdr.e_machine != EM_X86_64) {
        const char* name = machine_name(ehdr.e_machine);
        return {name ? std::string("this file is for ") + name + ", not x86_64"
                     : "this file is for machine " + std::to_string(ehdr.e_machine) + ", not x86_64"};
    }
    if (ehdr.e_phentsize != sizeof(Elf64_Phdr) || ehdr.e_phnum > 256) return {"bad ELF program headers"};
    return {};
}

// Reads PT_INTERP and the dynamic section. Throws ClosureError("PATH: problem").
ElfInfo read_elf(int fd, const Elf64_Ehdr& ehdr, const std::string& shown) {
    auto fail = [&](const std::string& problem) -> ClosureError { return ClosureError(shown + ": " + problem); };
    std::vector<Elf64_Phdr> phdrs(ehdr.e_phnum);
    if (!phdrs.empty() && !tools::read_at(fd, phdrs.data(), phdrs.size() * sizeof(Elf64_Phdr), ehdr.e_phoff))
        throw fail("truncated ELF file (program headers past the end)");
    ElfInfo info;
    const Elf64_Phdr* dynamic = nullptr;
    for (const auto& phdr : phdrs) {
        if (phdr.p_type == PT_INTERP) {
            if (phdr.p_filesz == 0 || phdr.p_filesz > PATH_MAX) throw fail("bad PT_INTERP");
            std::string interp(phdr.p_filesz, '\0');
            if (!tools::read_at(fd, interp.data(), interp.size(), phdr.p_offset))
                throw fail("truncated ELF file (PT_INTERP)");
            info.interpreter = interp.c_str();
        } else if (phdr.p_type == PT_DYNAMIC) {
            dynamic = &phdr;
        }
    }
    if (!dynamic) return info;
    if (dynamic->p_filesz > kMaxDynamicBytes) throw fail("bad PT_DYNAMIC");
    std::vector<Elf64_Dyn> entries(dynamic->p_filesz / sizeof(Elf64_Dyn));
    if (!entries.empty() && !tools::read_at(fd, entries.data(), entries.size() * sizeof(Elf64_Dyn), dynamic->p_offset))
        throw fail("truncated ELF file (PT_DYNAMIC)");
    std::uint64_t strtab = 0, strsz = 0;
    for (const auto& entry : entries) {
        if (entry.d_tag == DT_NULL) break;
        if (entry.d_tag == DT_STRTAB) strtab = entry.d_un.d_ptr;
        if (entry.d_tag == DT_STRSZ) strsz = entry.d_un.d_val;
    }
    if (strtab == 0) return info;
    // DT_STRTAB is an address: find the file offset through the PT_LOAD that holds it.
    std::optional<std::uint64_t> strtab_offset;
    for (const auto& phdr : phdrs) {
        if (phdr.p_type == PT_LOAD && strtab >= phdr.p_vaddr && strtab < phdr.p_vaddr + phdr.p_filesz) {
            strtab_offset = strtab - phdr.p_vaddr + phdr.p_offset;
            strsz = std::min<std::uint64_t>(strsz, phdr.p_vaddr + phdr.p_filesz - strtab);
        }
    }
    if (!strtab_offset || strsz == 0 || strsz > kMaxStringTable) throw fail("bad DT_STRTAB");
    std::string strings(strsz, '\0');
    if (!tools::read_at(fd, strings.data(), strings.size(), *strtab_offset))
        throw fail("truncated ELF file (string table)");
    strings.push_back('\0');
    auto string_at = [&](std::uint64_t offset) -> std::string {
        if (offset >= strsz) throw fail("bad string offset in the dynamic section");
        return strings.c_str() + offset;
    };
    for (const auto& entry : entries) {
        if (entry.d_tag == DT_NULL) break;
        if (entry.d_tag == DT_NEEDED) info.needed.push_back(string_at(entry.d_un.d_val));
        if (entry.d_tag == DT_RPATH) info.rpath = split(string_at(entry.d_un.d_val), ":");
        if (entry.d_tag == DT_RUNPATH) {
            info.runpath = split(string_at(entry.d_un.d_val), ":");
            info.has_runpath = true;
        }
    }
    return info;
}

// $ORIGIN, ${ORIGIN}, $LIB, ${LIB}, $PLATFORM, ${PLATFORM} as glibc's ld.so expands them on x86_64 Debian.
std::string expand_tokens(const std::string& dir, const std::string& origin) {
    std::string out;
    for (std::size_t i = 0; i < dir.size();) {
        if (dir[i] != '$') {
            out += dir[i++];
            continue;
        }
        bool matched = false;
        for (auto [name, value] : {std::pair<std::string, std::string>{"ORIGIN", origin},
                                   {"LIB", "lib/x86_64-linux-gnu"},
                                   {"PLATFORM", "x86_64"}}) {
            for (const std::string& form : {"$" + name, "${" + name + "}"}) {
                if (matched || dir.compare(i, form.size(), form) != 0) continue;
                std::size_t after = i + form.size();
                bool name_ends = form.back() == '}' || after == dir.size() ||
                    !(std::isalnum(static_cast<unsigned char>(dir[after])) || dir[after] == '_');
                if (name_ends) {
                    out += value;
                    i += form.size();
                    matched = true;
                }
            }
        }
        if (!matched) out += dir[i++];
    }
    return out;
}

class Collector {
public:
    Collector(std::string root, Closure& closure) : m_root(std::move(root)), m_closure(closure) {
        for (const auto& entry : closure.entries) m_seen.insert(entry.path);
    }

    // Walks `path` inside the root, recording every symlink met; the resolved path, or nullopt
    // if something along it is missing (or a loop).
    std::optional<std::string> resolve(const std::string& path, bool record) {
        std::deque<std::string> rest;
        for (auto& part : split(path, "/")) rest.push_back(part);
        std::vector<std::string> done;
        int links = 0;
        auto current = [&] {
            std::string text;
            for (const auto& part : done) text += "/" + part;
            return text.empty() ? std::string("/") : text;
        };
        while (!rest.empty()) {
            std::string part = rest.front();
            rest.pop_front();
            if (part == ".") continue;
            if (part == "..") {
                if (!done.empty()) done.pop_back();
                continue;
            }
            std::string candidate = join_path(current(), part);
            struct stat st;
            if (::lstat(on_host(m_root, candidate).c_str(), &st) != 0) return std::nullopt;
            if (S_ISLNK(st.st_mode)) {
                if (++links > kMaxSymlinks) return std::nullopt;
                std::string target = read_link(candidate);
                if (record) add_entry({candidate, Entry::Kind::Symlink, target});
                auto parts = split(target, "/");
                rest.insert(rest.begin(), parts.begin(), parts.end());
                if (!target.empty() && target[0] == '/') done.clear();
                continue;
            }
            if (!rest.empty() && !S_ISDIR(st.st_mode)) return std::nullopt;
            done.push_back(part);
        }
        return current();
    }

    void add_entry(Entry entry) {
        if (m_seen.insert(entry.path).second) m_closure.entries.push_back(std::move(entry));
    }

    // A file to copy (resolved, recorded with its symlinks); nullopt if missing or not a file.
    std::optional<std::string> add_file(const std::string& path) {
        auto resolved = resolve(path, false);
        if (!resolved) return std::nullopt;
        struct stat st;
        if (::stat(on_host(m_root, *resolved).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
        resolve(path, true);
        add_entry({*resolved, Entry::Kind::File, ""});
        return resolved;
    }

    void add_program(const std::string& path, int depth) {
        if (path.empty() || path[0] != '/') throw ClosureError(path + ": not an absolute path");
        auto resolved = resolve(path, false);
        if (!resolved) throw ClosureError(path + ": no such file" + in_root());
        struct stat st;
        if (::stat(on_host(m_root, *resolved).c_str(), &st) != 0 || !S_ISREG(st.st_mode))
            throw ClosureError(path + ": not a regular file");
        UniqueFd file(::open(on_host(m_root, *resolved).c_str(), O_RDONLY | O_CLOEXEC));
        if (file.get() < 0) throw ClosureError(path + ": " + std::strerror(errno));
        add_file(path);
        Elf64_Ehdr ehdr;
        ElfCheck check = check_header(file.get(), ehdr);
        if (check.is_script) return add_script(path, file.get(), depth);
        if (!check.problem.empty()) throw ClosureError(path + ": " + check.problem);
        ElfInfo info = read_elf(file.get(), ehdr, path);
        if (!info.interpreter.empty()) add_interpreter(info.interpreter, path);
        m_executable = info;
        add_libraries(info, dirname_of(*resolved), path);
    }

private:
    std::string read_link(const std::string& path) {
        std::vector<char> buffer(PATH_MAX + 1);
        ssize_t n = ::readlink(on_host(m_root, path).c_str(), buffer.data(), buffer.size() - 1);
        if (n < 0) throw ClosureError(path + ": " + std::strerror(errno));
        return std::string(buffer.data(), static_cast<std::size_t>(n));
    }

    std::string in_root() const { return m_root.empty() ? "" : " in " + m_root; }

    void add_interpreter(const std::string& interpreter, const std::string& needed_by) {
        auto resolved = add_file(interpreter);
        if (!resolved)
            throw ClosureError(interpreter + ": interpreter not found" + in_root() + " (needed by " + needed_by + ")");
        UniqueFd file(::open(on_host(m_root, *resolved).c_str(), O_RDONLY | O_CLOEXEC));
        Elf64_Ehdr ehdr;
        ElfCheck check = file.get() < 0 ? ElfCheck{std::strerror(errno)} : check_header(file.get(), ehdr);
        if (check.is_script) check.problem = "not an ELF file";
        if (!check.problem.empty())
            throw ClosureError(interpreter + ": " + check.problem + " (the interpreter of " + needed_by + ")");
        if (m_closure.interpreter.empty()) m_closure.interpreter = interpreter;
    }

    void add_script(const std::string& path, int fd, int depth) {
        if (depth >= kMaxScriptDepth) throw ClosureError(path + ": too many levels of #! interpreters");
        char line[256] = {};
        ssize_t n = ::pread(fd, line, sizeof line - 1, 0);
        std::string text(line, n > 0 ? static_cast<std::size_t>(n) : 0);
        text = text.substr(2, text.find('\n') == std::string::npos ? std::string::npos : text.find('\n') - 2);
        auto words = split(text, " \t\r");
        if (words.empty()) throw ClosureError(path + ": #! line without an interpreter");
        add_program(words[0], depth + 1);
        // `#!/usr/bin/env NAME`: NAME from the PATH a shell would have.
        if (fs::path(words[0]).filename() == "env" && words.size() == 2 && words[1][0] != '-' &&
            words[1].find('=') == std::string::npos) {
            for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
                auto candidate = join_path(dir, words[1]);
                if (resolve(candidate, false)) return add_program(candidate, depth + 1);
            }
            throw ClosureError(words[1] + ": not found in PATH" + in_root() + " (the #! interpreter of " + path + ")");
        }
    }

    std::vector<std::string> search_dirs(const ElfInfo& object, const std::string& origin) {
        std::vector<std::string> dirs;
        auto expand = [&](const std::vector<std::string>& list) {
            for (const auto& dir : list) dirs.push_back(expand_tokens(dir, origin));
        };
        if (!object.has_runpath) {
            expand(object.rpath);
            if (!m_executable.has_runpath && &object != &m_executable) expand(m_executable.rpath);
        }
        expand(object.runpath);
        for (const auto& dir : conf_dirs()) dirs.push_back(dir);
        dirs.insert(dirs.end(), kDefaultLibraryDirs.begin(), kDefaultLibraryDirs.end());
        return dirs;
    }

    // Whether `path` (inside the root) is an x86_64 ELF64 object (else ld.so skips it).
    bool usable_library(const std::string& path) {
        auto resolved = resolve(path, false);
        if (!resolved) return false;
        UniqueFd file(::open(on_host(m_root, *resolved).c_str(), O_RDONLY | O_CLOEXEC));
        if (file.get() < 0) return false;
        Elf64_Ehdr ehdr;
        ElfCheck check = check_header(file.get(), ehdr);
        return !check.is_script && check.problem.empty();
    }

    void add_libraries(const ElfInfo& first, const std::string& first_origin, const std::string& first_path) {
        struct Pending {
            ElfInfo info;
            std::string origin;
            std::string path;
        };
        std::deque<Pending> queue;
        queue.push_back({first, first_origin, first_path});
        bool is_executable = true;
        while (!queue.empty()) {
            Pending object = std::move(queue.front());
            queue.pop_front();
            const ElfInfo& info = is_executable ? m_executable : object.info;
            is_executable = false;
            for (const auto& name : info.needed) {
                if (m_libraries.count(name)) continue;
                std::string found;
                if (name.find('/') != std::string::npos) {
                    std::string path = name[0] == '/' ? name : join_path("/", name);
                    if (usable_library(path)) found = path;
                } else {
                    for (const auto& dir : search_dirs(info, object.origin)) {
                        if (dir.empty() || dir[0] != '/') continue;  // relative RUNPATH: the cwd's, unknown
                        auto candidate = join_path(dir, name);
                        if (usable_library(candidate)) {
                            found = candidate;
                            break;
                        }
                    }
                }
                if (found.empty())
                    throw ClosureError(name + ": library not found" + in_root() + " (needed by " + object.path + ")");
                m_libraries.insert(name);
                auto resolved = add_file(found);
                m_closure.libraries.push_back(*resolved);
                UniqueFd file(::open(on_host(m_root, *resolved).c_str(), O_RDONLY | O_CLOEXEC));
                Elf64_Ehdr ehdr;
                check_header(file.get(), ehdr);
                queue.push_back({read_elf(file.get(), ehdr, found), dirname_of(found), found});
            }
        }
    }

    // The directories of the root's /etc/ld.so.conf (and what it includes), read once.
    const std::vector<std::string>& conf_dirs() {
        if (!m_conf_read) {
            m_conf_read = true;
            read_conf("/etc/ld.so.conf", 0);
        }
        return m_conf_dirs;
    }

    void read_conf(const std::string& path, int depth) {
        if (depth > 8) return;
        std::ifstream in(on_host(m_root, path));
        for (std::string line; std::getline(in, line);) {
            line = line.substr(0, line.find('#'));
            auto words = split(line, " \t:,");
            if (words.empty() || words[0] == "hwcap") continue;
            if (words[0] == "include") {
                for (std::size_t i = 1; i < words.size(); ++i) {
                    std::string pattern = words[i][0] == '/' ? words[i] : join_path(dirname_of(path), words[i]);
                    glob_t matches{};
                    if (::glob(on_host(m_root, pattern).c_str(), 0, nullptr, &matches) == 0) {
                        for (std::size_t m = 0; m < matches.gl_pathc; ++m)
                            read_conf(std::string(matches.gl_pathv[m]).substr(m_root.size()), depth + 1);
                    }
                    ::globfree(&matches);
                }
                continue;
            }
            for (auto& word : words) {
                if (word[0] == '/' && std::find(m_conf_dirs.begin(), m_conf_dirs.end(), word) == m_conf_dirs.end())
                    m_conf_dirs.push_back(word.substr(0, word.find('=')));
            }
        }
    }

    std::string m_root;  // without a trailing '/': "" for the host's /
    Closure& m_closure;
    std::set<std::string> m_seen;
    std::set<std::string> m_libraries;  // DT_NEEDED names already found
    ElfInfo m_executable;
    bool m_conf_read = false;
    std::vector<std::string> m_conf_dirs;
};

std::string normalized_root(const std::string& root) {
    std::string out = root;
    while (!out.empty() && out.back() == '/') out.pop_back();
    return out;
}

void make_parents(const std::string& host_path) {
    std::error_code error;
    fs::create_directories(fs::path(host_path).parent_path(), error);
    if (error) throw ClosureError(fs::path(host_path).parent_path().string() + ": " + error.message());
}

void copy_regular(const std::string& from, const std::string& to) {
    std::error_code error;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
    if (!error) fs::permissions(to, fs::status(from).permissions(), error);
    if (error) throw ClosureError("copying " + from + " to " + to + ": " + error.message());
}

}  // namespace

Closure collect(const std::string& root, const std::string& program) {
    std::string base = normalized_root(root);
    struct stat st;
    if (!base.empty() && (::stat(base.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
        throw ClosureError(root + ": not a directory");
    Closure closure;
    closure.program = program;
    Collector collector(base, closure);
    collector.add_program(program, 0);
    return closure;
}

bool add_optional(const std::string& root, const std::string& path, Closure& closure) {
    Collector collector(normalized_root(root), closure);
    return collector.add_file(path).has_value();
}

void materialize(const std::string& root, const Closure& closure, const std::string& dest, CopyMode mode) {
    std::string base = normalized_root(root);
    std::string target_root = normalized_root(dest);
    for (const auto& entry : closure.entries) {
        std::string to = target_root + entry.path;
        make_parents(to);
        struct stat st;
        if (::lstat(to.c_str(), &st) == 0) continue;  // shared by two entries' paths
        if (entry.kind == Entry::Kind::Symlink) {
            if (::symlink(entry.link_target.c_str(), to.c_str()) != 0)
                throw ClosureError(to + ": cannot create the symlink: " + std::strerror(errno));
            continue;
        }
        std::string from = base + entry.path;
        if (mode == CopyMode::HardLinkOrCopy && ::link(from.c_str(), to.c_str()) == 0) continue;
        copy_regular(from, to);
    }
}

void add_host_tree(const std::string& source, const std::string& dest, const std::string& dest_path) {
    if (dest_path.empty() || dest_path[0] != '/') throw ClosureError(dest_path + ": not an absolute path");
    std::string target_root = normalized_root(dest);
    // Never through a symlink of the image's root (it may name a host path).
    std::string walked = target_root;
    for (const auto& part : split(dest_path, "/")) {
        if (part == "..") throw ClosureError(dest_path + ": '..' is not allowed");
        walked += "/" + part;
        struct stat st;
        if (::lstat(walked.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
            throw ClosureError(dest_path + ": " + walked.substr(target_root.size()) +
                               " is a symlink in the image's root");
    }
    std::string to = target_root + dest_path;
    std::error_code error;
    auto status = fs::symlink_status(source, error);
    if (error) throw ClosureError(source + ": " + error.message());
    make_parents(to);
    if (fs::is_directory(status)) {
        fs::copy(source, to,
                 fs::copy_options::recursive | fs::copy_options::copy_symlinks | fs::copy_options::overwrite_existing,
                 error);
        if (error) throw ClosureError("copying " + source + " to " + dest_path + ": " + error.message());
    } else if (fs::is_symlink(status)) {
        fs::copy_symlink(source, to, error);
        if (error) throw ClosureError("copying " + source + " to " + dest_path + ": " + error.message());
    } else {
        copy_regular(source, to);
    }
}

}  // namespace xos::elf_closure
