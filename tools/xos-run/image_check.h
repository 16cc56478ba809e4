// Checks that a file is an xos image before QEMU sees it: QEMU's own errors for a wrong file
// are unhelpful (it tries to boot it as a Linux bzImage or multiboot kernel).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

// Pvh: a VM image (boots under QEMU). Hosted: a static Linux executable built with
// `xos-build --platform hosted`, run directly as a sandboxed process (docs/hosted.md).
enum class ImageKind { Pvh, Hosted };

// Throws UsageError unless `path` is an ELF64 x86_64 file with a Xen PVH entry note
// (a PT_NOTE segment holding a note named "Xen" of type XEN_ELFNOTE_PHYS32_ENTRY) or the
// hosted platform's note (named "xos-hosted").
ImageKind check_xos_image(const std::string& path);

// Whether the image carries the note "xos-exec" (xos-build --exec: it loads a program's code,
// so on hosted it must run with XOS_EXEC=wx). False for an unreadable file.
bool image_loads_code(const std::string& path);

// Where the VM image sits in an executable made by xos-cc: a hosted image whose section
// ".xos.vm" holds the VM image (docs/toolchain.md). Nothing for any other file.
struct EmbeddedImage {
    std::uint64_t offset;
    std::uint64_t size;
};
std::optional<EmbeddedImage> embedded_vm_image(const std::string& path);

// Copies the embedded VM image of `path` into a new file in $TMPDIR (or /tmp), removed when
// this object goes; throws UsageError when it cannot.
class ExtractedImage {
public:
    ExtractedImage(const std::string& path, const EmbeddedImage& embedded);
    ~ExtractedImage();
    ExtractedImage(const ExtractedImage&) = delete;
    ExtractedImage& operator=(const ExtractedImage&) = delete;
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
};
