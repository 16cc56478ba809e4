#include "image_check.h"

#include "options.h"
#include "file_io.h"
#include "unique_fd.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace {

constexpr std::uint32_t kXenElfnotePhys32Entry = 18;
// Real note segments are tiny; the cap keeps a corrupt p_filesz from allocating gigabytes.
constexpr std::uint64_t kMaxNoteSegment = 1 << 20;

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) & ~(a - 1); }

bool notes_have_name(const std::vector<unsigned char>& notes, std::uint64_t align, const char* name) {
    std::uint64_t name_size = std::strlen(name) + 1;
    std::uint64_t pos = 0;
    while (pos + sizeof(Elf64_Nhdr) <= notes.size()) {
        Elf64_Nhdr nhdr;
        std::memcpy(&nhdr, notes.data() + pos, sizeof nhdr);
        std::uint64_t name_at = pos + sizeof nhdr;
        std::uint64_t desc_at = name_at + align_up(nhdr.n_namesz, align);
        if (desc_at + nhdr.n_descsz > notes.size()) return false;
        if (nhdr.n_namesz == name_size && std::memcmp(notes.data() + name_at, name, name_size) == 0) return true;
        pos = desc_at + align_up(nhdr.n_descsz, align);
    }
    return false;
}

bool notes_have_pvh_entry(const std::vector<unsigned char>& notes, std::uint64_t align) {
    std::uint64_t pos = 0;
    while (pos + sizeof(Elf64_Nhdr) <= notes.size()) {
        Elf64_Nhdr nhdr;
        std::memcpy(&nhdr, notes.data() + pos, sizeof nhdr);
        std::uint64_t name_at = pos + sizeof nhdr;
        std::uint64_t desc_at = name_at + align_up(nhdr.n_namesz, align);
        std::uint64_t next = desc_at + align_up(nhdr.n_descsz, align);
        if (desc_at + nhdr.n_descsz > notes.size()) return false;
        bool is_xen = nhdr.n_namesz == 4 && std::memcmp(notes.data() + name_at, "Xen", 4) == 0;
        if (is_xen && nhdr.n_type == kXenElfnotePhys32Entry && (nhdr.n_descsz == 4 || nhdr.n_descsz == 8)) return true;
        pos = next;
    }
    return false;
}

}  // namespace

ImageKind check_xos_image(const std::string& path) {
    UniqueFd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.get() < 0) throw UsageError("cannot open image '" + path + "': " + std::strerror(errno));
    const std::string not_xos = path + " is not an xos image";

    Elf64_Ehdr ehdr;
    if (!tools::read_at(file.get(), &ehdr, sizeof ehdr, 0) || std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0 ||
        ehdr.e_ident[EI_CLASS] != ELFCLASS64 || ehdr.e_ident[EI_DATA] != ELFDATA2LSB || ehdr.e_machine != EM_X86_64)
        throw UsageError(not_xos + " (not an ELF64 x86_64 file)");

    for (unsigned i = 0; i < ehdr.e_phnum && ehdr.e_phentsize >= sizeof(Elf64_Phdr); ++i) {
        Elf64_Phdr phdr;
        if (!tools::read_at(file.get(), &phdr, sizeof phdr, ehdr.e_phoff + std::uint64_t{i} * ehdr.e_phentsize)) break;
        if (phdr.p_type != PT_NOTE || phdr.p_filesz > kMaxNoteSegment) continue;
        std::vector<unsigned char> notes(phdr.p_filesz);
        if (!tools::read_at(file.get(), notes.data(), notes.size(), phdr.p_offset)) continue;
        if (notes_have_pvh_entry(notes, phdr.p_align == 8 ? 8 : 4)) return ImageKind::Pvh;
        // The note a hosted image carries (platform/hosted/entry.S).
        if (notes_have_name(notes, phdr.p_align == 8 ? 8 : 4, "xos-hosted")) return ImageKind::Hosted;
    }
    throw UsageError(not_xos + " (no PVH entry note)");
}

bool image_loads_code(const std::string& path) {
    UniqueFd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    Elf64_Ehdr ehdr;
    if (file.get() < 0 || !tools::read_at(file.get(), &ehdr, sizeof ehdr, 0) || ehdr.e_phentsize < sizeof(Elf64_Phdr))
        return false;
    for (unsigned i = 0; i < ehdr.e_phnum; ++i) {
        Elf64_Phdr phdr;
        if (!tools::read_at(file.get(), &phdr, sizeof phdr, ehdr.e_phoff + std::uint64_t{i} * ehdr.e_phentsize)) break;
        if (phdr.p_type != PT_NOTE || phdr.p_filesz > kMaxNoteSegment) continue;
        std::vector<unsigned char> notes(phdr.p_filesz);
        if (tools::read_at(file.get(), notes.data(), notes.size(), phdr.p_offset) &&
            notes_have_name(notes, phdr.p_align == 8 ? 8 : 4, "xos-exec"))
            return true;
    }
    return false;
}

std::optional<EmbeddedImage> embedded_vm_image(const std::string& path) {
    UniqueFd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    Elf64_Ehdr ehdr;
    if (file.get() < 0 || !tools::read_at(file.get(), &ehdr, sizeof ehdr, 0) ||
        std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0 || ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
        ehdr.e_shentsize < sizeof(Elf64_Shdr) || ehdr.e_shstrndx == SHN_UNDEF || ehdr.e_shstrndx >= ehdr.e_shnum)
        return std::nullopt;
    Elf64_Shdr names;
    if (!tools::read_at(file.get(), &names, sizeof names,
                        ehdr.e_shoff + std::uint64_t{ehdr.e_shstrndx} * ehdr.e_shentsize) ||
        names.sh_size > kMaxNoteSegment)
        return std::nullopt;
    std::vector<char> strings(names.sh_size + 1, 0);
    if (!tools::read_at(file.get(), strings.data(), names.sh_size, names.sh_offset)) return std::nullopt;
    constexpr char kSection[] = ".xos.vm";
    for (unsigned i = 0; i < ehdr.e_shnum; ++i) {
        Elf64_Shdr shdr;
        if (!tools::read_at(file.get(), &shdr, sizeof shdr, ehdr.e_shoff + std::uint64_t{i} * ehdr.e_shentsize)) break;
        if (shdr.sh_name >= names.sh_size || std::strcmp(strings.data() + shdr.sh_name, kSection) != 0) continue;
        if (shdr.sh_type == SHT_NOBITS || shdr.sh_size == 0) return std::nullopt;
        return EmbeddedImage{shdr.sh_offset, shdr.sh_size};
    }
    return std::nullopt;
}

ExtractedImage::ExtractedImage(const std::string& path, const EmbeddedImage& embedded) {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string pattern = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/xos-run-vm-XXXXXX";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back(0);
    UniqueFd out{::mkostemp(name.data(), O_CLOEXEC)};
    if (out.get() < 0)
        throw UsageError("cannot create a file for the VM image in " + pattern + ": " + std::strerror(errno));
    m_path = name.data();
    UniqueFd in{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    std::vector<char> buffer(1 << 20);
    std::uint64_t done = 0;
    while (done < embedded.size) {
        std::size_t chunk = std::size_t(std::min<std::uint64_t>(buffer.size(), embedded.size - done));
        if (in.get() < 0 || !tools::read_at(in.get(), buffer.data(), chunk, embedded.offset + done)) {
            ::unlink(m_path.c_str());
            throw UsageError("cannot read the VM image embedded in " + path);
        }
        for (std::size_t written = 0; written < chunk;) {
            ssize_t n = ::write(out.get(), buffer.data() + written, chunk - written);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                int error = errno;
                ::unlink(m_path.c_str());
                throw UsageError("cannot write " + m_path + ": " + std::strerror(error));
            }
            written += std::size_t(n);
        }
        done += chunk;
    }
}

ExtractedImage::~ExtractedImage() { ::unlink(m_path.c_str()); }
