// Memory on the hosted platform. "Physical" RAM is one host mapping of a memfd, placed right
// after the image (so that libos's direct map is the identity, and its range [image start, RAM
// end)). The app region, the lower half below the image, is reserved PROT_NONE; map_page maps the memfd page behind a frame at the app address
// (MAP_SHARED|MAP_FIXED), so a frame is visible both through RAM and at its app address, as
// with page tables (libos moves frames for mremap and zeroes them through RAM). A software page
// table records which frame backs which app page and with what access.
#include <cstring>

#include "xos/log.h"
#include "hosted/host.h"
#include "xos/libos.h"
#include "xos/platform.h"

extern "C" char __xos_image_start[], __xos_image_end[];

namespace xos::hosted {

int g_ram_fd = -1;
uintptr_t g_ram_base;

namespace {

constexpr uintptr_t PAGE = 4096;
// 64 KiB .. the image (126 TiB, xos-hosted.ld): what Linux gives a process but the host's own
// stack, vDSO and mmap area near 128 TiB, where the image and its RAM sit.
constexpr uintptr_t APP_BASE = 64ull << 10;

constexpr uint64_t PTE_PRESENT = 1;
constexpr int ACCESS_SHIFT = 1;  // PAGE_READ/WRITE/EXEC in bits 1..3
constexpr uint64_t PTE_ADDRESS = ~uint64_t(PAGE - 1);

platform::MemoryRange g_free;
alignas(4096) uint64_t g_root[512];

uintptr_t app_end() { return reinterpret_cast<uintptr_t>(__xos_image_start) & ~((1ull << 30) - 1); }

// The host protection of an app page. The filter (seccomp.cpp) never lets a mapping be
// executable, or with XOS_EXEC=wx never writable and executable at once; an access that asks for
// more loses execute (executing it is then a protection fault, reported as a crash), said once.
int host_prot(uint32_t access) {
    int prot = 0;
    if (access & platform::PAGE_READ) prot |= host::PROT_READ;
    if (access & platform::PAGE_WRITE) prot |= host::PROT_WRITE;
    if (access & platform::PAGE_EXEC) {
        if (g_exec_allowed && !(access & platform::PAGE_WRITE)) {
            prot |= host::PROT_EXEC;
        } else {
            static bool said;
            if (!said) {
                said = true;
                klog(g_exec_allowed ? "xos: note: app memory that is writable and executable is mapped without execute "
                                      "on the hosted platform (W^X)"
                                    : "xos: note: app memory is never executable on the hosted platform unless the "
                                      "image is started with XOS_EXEC=wx (then W^X)");
            }
        }
    }
    return prot;
}

uint64_t* leaf(uintptr_t virt, bool create) {
    uint64_t* table = g_root;
    for (int shift : {39, 30, 21}) {
        uint64_t& entry = table[(virt >> shift) & 511];
        if (!entry) {
            if (!create) return nullptr;
            uintptr_t page = mm::allocate_page_table_page();
            if (!page) return nullptr;
            entry = page;
        }
        table = reinterpret_cast<uint64_t*>(entry);
    }
    return &table[(virt >> 12) & 511];
}

// Calls fn(virt, entry) for the present pages of [start, end), skipping absent tables.
template <typename Fn>
void for_each_present(uintptr_t start, uintptr_t end, Fn&& fn) {
    for (uintptr_t virt = start; virt < end;) {
        uint64_t* table = g_root;
        bool missing = false;
        for (int shift : {39, 30, 21}) {
            uint64_t entry = table[(virt >> shift) & 511];
            if (!entry) {
                virt = (virt + (1ull << shift)) & ~((1ull << shift) - 1);
                missing = true;
                break;
            }
            table = reinterpret_cast<uint64_t*>(entry);
        }
        if (missing) continue;
        uintptr_t table_end = (virt | ((1ull << 21) - 1)) + 1;
        if (table_end > end) table_end = end;
        for (; virt < table_end; virt += PAGE) {
            uint64_t& pte = table[(virt >> 12) & 511];
            if (pte & PTE_PRESENT) fn(virt, pte);
        }
    }
}

// Groups consecutive pages into runs so that one host call covers each run.
class Runs {
public:
    explicit Runs(void (*flush)(uintptr_t start, uintptr_t end, long arg), long arg) : m_flush(flush), m_arg(arg) {}
    ~Runs() { finish(); }
    void add(uintptr_t page) {
        if (m_end && m_end == page) {
            m_end += PAGE;
            return;
        }
        finish();
        m_start = page;
        m_end = page + PAGE;
    }
    void finish() {
        if (m_end) m_flush(m_start, m_end, m_arg);
        m_start = m_end = 0;
    }

private:
    void (*m_flush)(uintptr_t, uintptr_t, long);
    long m_arg;
    uintptr_t m_start = 0, m_end = 0;
};

void reserve(uintptr_t start, uintptr_t end, long) {
    uintptr_t r = host::mmap(start, end - start, host::PROT_NONE,
                             host::MAP_PRIVATE | host::MAP_ANONYMOUS | host::MAP_FIXED | host::MAP_NORESERVE, -1, 0);
    if (host::failed(r))
        klog("xos: warning: host mmap(PROT_NONE) of %#lx-%#lx failed (errno %ld)", start, end, -long(r));
}

void protect(uintptr_t start, uintptr_t end, long prot) {
    long r = host::call(host::MPROTECT, long(start), long(end - start), prot);
    if (r < 0) klog("xos: warning: host mprotect of %#lx-%#lx failed (errno %ld)", start, end, -r);
}

}  // namespace

void init_memory(size_t ram_bytes) {
    long fd = host::call(host::MEMFD_CREATE, long("xos-ram"), 1 /* MFD_CLOEXEC */);
    if (fd < 0) setup_failed("memfd_create for the RAM failed", fd);
    g_ram_fd = place_fd(fd, host::FD_RAM, "cannot move the RAM memfd to its descriptor number");
    long r = host::call(host::FTRUNCATE, g_ram_fd, long(ram_bytes));
    if (r < 0) setup_failed("cannot size the RAM memfd", r);
    uintptr_t base = (reinterpret_cast<uintptr_t>(__xos_image_end) + PAGE - 1) & ~(PAGE - 1);
    uintptr_t ram = host::mmap(base, ram_bytes, host::PROT_READ | host::PROT_WRITE,
                               host::MAP_SHARED | host::MAP_FIXED_NOREPLACE, g_ram_fd, 0);
    if (host::failed(ram) || ram != base) setup_failed("cannot map the RAM after the image", long(ram));
    g_ram_base = base;
    g_free = {base, ram_bytes};
    uintptr_t app =
        host::mmap(APP_BASE, app_end() - APP_BASE, host::PROT_NONE,
                   host::MAP_PRIVATE | host::MAP_ANONYMOUS | host::MAP_FIXED_NOREPLACE | host::MAP_NORESERVE, -1, 0);
    if (host::failed(app) || app != APP_BASE)
        setup_failed("cannot reserve the app region (64 KiB up to the image; is vm.mmap_min_addr above 64 KiB?)",
                     long(app));
}

}  // namespace xos::hosted

namespace xos::platform {

// "Physical" addresses are those of the RAM mapping: no translation.
void* phys_to_virt(uintptr_t phys) { return reinterpret_cast<void*>(phys); }
uintptr_t virt_to_phys(const void* virt) { return reinterpret_cast<uintptr_t>(virt); }

std::span<const MemoryRange> free_memory() { return {&hosted::g_free, 1}; }

MemoryRange addressable_memory() {
    auto start = reinterpret_cast<uintptr_t>(__xos_image_start);
    return {start, hosted::g_free.end() - start};
}

MemoryRange app_region() { return {hosted::APP_BASE, hosted::app_end() - hosted::APP_BASE}; }

bool map_page(uintptr_t virt, uintptr_t phys, uint32_t access) {
    uint64_t* pte = hosted::leaf(virt, true);
    if (!pte) return false;
    uintptr_t r = hosted::host::mmap(virt, hosted::PAGE, hosted::host_prot(access),
                                     hosted::host::MAP_SHARED | hosted::host::MAP_FIXED, hosted::g_ram_fd,
                                     phys - hosted::g_ram_base);
    if (hosted::host::failed(r)) {
        klog("xos: host mmap of the page at %#lx failed (errno %ld; too many host mappings? see vm.max_map_count)",
             virt, -long(r));
        return false;
    }
    *pte = phys | hosted::PTE_PRESENT | (uint64_t(access) << hosted::ACCESS_SHIFT);
    return true;
}

uintptr_t mapped_page(uintptr_t virt) {
    uint64_t* pte = hosted::leaf(virt, false);
    if (!pte || !(*pte & hosted::PTE_PRESENT)) return 0;
    return *pte & hosted::PTE_ADDRESS;
}

void unmap_range(uintptr_t start, uintptr_t end, void (*release)(uintptr_t phys, void* context), void* context) {
    hosted::Runs runs(hosted::reserve, 0);
    hosted::for_each_present(start, end, [&](uintptr_t virt, uint64_t& pte) {
        uintptr_t phys = pte & hosted::PTE_ADDRESS;
        pte = 0;
        runs.add(virt);
        release(phys, context);
    });
}

void protect_range(uintptr_t start, uintptr_t end, uint32_t access) {
    hosted::Runs runs(hosted::protect, hosted::host_prot(access));
    hosted::for_each_present(start, end, [&](uintptr_t virt, uint64_t& pte) {
        pte = (pte & hosted::PTE_ADDRESS) | hosted::PTE_PRESENT | (uint64_t(access) << hosted::ACCESS_SHIFT);
        runs.add(virt);
    });
}

}  // namespace xos::platform
