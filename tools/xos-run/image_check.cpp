#include "image_check.h"

#include "options.h"

#include <cerrno>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <vector>

namespace {

constexpr std::uint32_t kXenElfnotePhys32Entry = 18;
// Real note segments are tiny; the cap keeps a corrupt p_filesz from allocating gigabytes.
constexpr std::uint64_t kMaxNoteSegment = 1 << 20;

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

bool read_at(int fd, void* buf, std::size_t size, std::uint64_t offset) {
    auto* p = static_cast<char*>(buf);
    while (size > 0) {
        ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        size -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
    return true;
}

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
    Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) throw UsageError("cannot open image '" + path + "': " + std::strerror(errno));
    const std::string not_xos = path + " is not an xos image";

    Elf64_Ehdr ehdr;
    if (!read_at(file.fd, &ehdr, sizeof ehdr, 0) || std::memcmp(ehdr.e_ident, ELFMAG, SELFMAG) != 0 ||
        ehdr.e_ident[EI_CLASS] != ELFCLASS64 || ehdr.e_ident[EI_DATA] != ELFDATA2LSB || ehdr.e_machine != EM_X86_64)
        throw UsageError(not_xos + " (not an ELF64 x86_64 file)");

    for (unsigned i = 0; i < ehdr.e_phnum && ehdr.e_phentsize >= sizeof(Elf64_Phdr); ++i) {
        Elf64_Phdr phdr;
        if (!read_at(file.fd, &phdr, sizeof phdr, ehdr.e_phoff + std::uint64_t{i} * ehdr.e_phentsize)) break;
        if (phdr.p_type != PT_NOTE || phdr.p_filesz > kMaxNoteSegment) continue;
        std::vector<unsigned char> notes(phdr.p_filesz);
        if (!read_at(file.fd, notes.data(), notes.size(), phdr.p_offset)) continue;
        if (notes_have_pvh_entry(notes, phdr.p_align == 8 ? 8 : 4)) return ImageKind::Pvh;
        // The note a hosted image carries (platform/hosted/entry.S).
        if (notes_have_name(notes, phdr.p_align == 8 ? 8 : 4, "xos-hosted")) return ImageKind::Hosted;
    }
    throw UsageError(not_xos + " (no PVH entry note)");
}

bool image_loads_code(const std::string& path) {
    Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    Elf64_Ehdr ehdr;
    if (file.fd < 0 || !read_at(file.fd, &ehdr, sizeof ehdr, 0) || ehdr.e_phentsize < sizeof(Elf64_Phdr)) return false;
    for (unsigned i = 0; i < ehdr.e_phnum; ++i) {
        Elf64_Phdr phdr;
        if (!read_at(file.fd, &phdr, sizeof phdr, ehdr.e_phoff + std::uint64_t{i} * ehdr.e_phentsize)) break;
        if (phdr.p_type != PT_NOTE || phdr.p_filesz > kMaxNoteSegment) continue;
        std::vector<unsigned char> notes(phdr.p_filesz);
        if (read_at(file.fd, notes.data(), notes.size(), phdr.p_offset) &&
            notes_have_name(notes, phdr.p_align == 8 ? 8 : 4, "xos-exec"))
            return true;
    }
    return false;
}
