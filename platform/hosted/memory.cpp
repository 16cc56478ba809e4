// Memory on the hosted platform. "Physical" RAM is one host mapping of a memfd, placed right
// after the image (so that libos's direct map is the identity, and its range [image start, RAM
// end)). The app region, the lower half below the image, is reserved PROT_NONE; map_page maps the memfd page behind a frame at the app address
// (MAP_SHARED|MAP_FIXED), so a frame is visible both through RAM and at its app address, as
// with page tables (libos moves frames for mremap and zeroes them through RAM). A software page
// table records which frame backs which app page and with what access.
//
// Address spaces: each has its own software page table; only the current one is mapped in the
// host. Switching drops the whole app region's host mappings in one call and maps the new
// space's pages again, eagerly, a run of consecutive pages with consecutive frames and the same
// access per host call (frames are handed out in ascending order, so runs are long). Eager
// rather than lazy from the SIGSEGV handler: host calls on app buffers (hostfs, the NIC) would
// fail with EFAULT on a page not mapped yet, and a signal costs more than a page of a run. The
// host fills its own page-table entries on first touch (minor faults, no signal); MAP_POPULATE
// was measured and not kept: it makes every switch cost the whole resident set (20 ms for
// 64 MiB here) to save about the same in minor faults only if all of it is touched again.
#include <cstring>

#include "xos/log.h"
#include "hosted/host.h"
#include "hosted/vcpu.h"
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
alignas(4096) uint64_t g_root[512];  // the boot space
uint64_t* g_current = g_root;  // the space the host maps; null: none (several vCPUs: the space lock's, vcpu.h)

// Table pages are RAM addresses; one helper turns an entry into a pointer.
uint64_t* table_at(uint64_t entry) { return reinterpret_cast<uint64_t*>(entry); }

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

uint64_t* leaf(uint64_t* root, uintptr_t virt, bool create) {
    uint64_t* table = root;
    for (int shift : {39, 30, 21}) {
        uint64_t& entry = table[(virt >> shift) & 511];
        if (!entry) {
            if (!create) return nullptr;
            uintptr_t page = mm::allocate_page_table_page();
            if (!page) return nullptr;
            entry = page;
        }
        table = table_at(entry);
    }
    return &table[(virt >> 12) & 511];
}

// Calls fn(virt, entry) for the present pages of [start, end), skipping absent tables.
template <typename Fn>
void for_each_present(uint64_t* root, uintptr_t start, uintptr_t end, Fn&& fn) {
    for (uintptr_t virt = start; virt < end;) {
        uint64_t* table = root;
        bool missing = false;
        for (int shift : {39, 30, 21}) {
            uint64_t entry = table[(virt >> shift) & 511];
            if (!entry) {
                virt = (virt + (1ull << shift)) & ~((1ull << shift) - 1);
                missing = true;
                break;
            }
            table = table_at(entry);
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

uint32_t access_of(uint64_t pte) { return uint32_t(pte >> ACCESS_SHIFT) & 7; }

// Maps [virt, virt+size) in the host to the RAM memfd from frame `phys` on.
bool host_map(uintptr_t virt, size_t size, uintptr_t phys, uint32_t access) {
    uintptr_t r =
        host::mmap(virt, size, host_prot(access), host::MAP_SHARED | host::MAP_FIXED, g_ram_fd, phys - g_ram_base);
    if (!host::failed(r)) return true;
    klog("xos: host mmap of the pages at %#lx-%#lx failed (errno %ld; too many host mappings? see vm.max_map_count)",
         virt, virt + size, -long(r));
    return false;
}

// Frees the tables below `table` (level 3: the root's children, down to 1: a leaf table).
void free_table(uint64_t* table, int level) {
    if (level > 1)
        for (size_t i = 0; i < 512; ++i)
            if (table[i]) free_table(table_at(table[i]), level - 1);
    mm::free_page_table_page(reinterpret_cast<uintptr_t>(table));
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

struct AppSpace {};  // a root table (512 entries)

namespace {
uint64_t* root_of(AppSpace* space) { return reinterpret_cast<uint64_t*>(space); }
AppSpace* space_of(uint64_t* root) { return reinterpret_cast<AppSpace*>(root); }
bool is_current(AppSpace* space) { return root_of(space) == hosted::g_current; }
}  // namespace

AppSpace* boot_app_space() { return space_of(hosted::g_root); }

AppSpace* create_app_space() {
    uintptr_t page = mm::allocate_page_table_page();
    return page ? space_of(hosted::table_at(page)) : nullptr;
}

void destroy_app_space(AppSpace* space) {
    if (xos_smp_active) {
        // With several vCPUs the host may still map a space no vCPU uses any more (its process
        // ended): its pages go, and the host maps none until a vCPU needs one.
        hosted::SpaceLockGuard guard;
        if (is_current(space)) {
            hosted::g_current = nullptr;
            hosted::reserve(hosted::APP_BASE, hosted::app_end(), 0);
            ProcessDataRange data = process_data_range();
            if (data.end > data.base) hosted::reserve(data.base, data.end, 0);
        }
    } else if (is_current(space)) {
        panic("destroying the current address space");
    }
    uint64_t* root = root_of(space);
    for (size_t i = 0; i < 512; ++i) {
        if (root[i]) hosted::free_table(hosted::table_at(root[i]), 3);
        root[i] = 0;
    }
    if (root != hosted::g_root) mm::free_page_table_page(reinterpret_cast<uintptr_t>(root));
}

// The image's per-process data (process_data_range) is switched like the app region: only the
// current space's pages are mapped there, the rest is PROT_NONE.
void release_image_process_data() {
    ProcessDataRange data = process_data_range();
    if (data.end > data.base) hosted::reserve(data.base, data.end, 0);
}

void activate_app_space(AppSpace* space) {
    if (xos_smp_active) {
        // Several vCPUs: this vCPU's thread needs `space`; it takes it up at once, or, when the
        // scheduler switches in a signal handler, once the scheduler is done (settle_space).
        hosted::Vcpu& v = hosted::this_vcpu();
        v.space = root_of(space);
        if (!v.in_handler) hosted::use_space();
        return;
    }
    if (is_current(space)) return;
    hosted::map_space_now(root_of(space));
}

AppSpace* current_app_space() {
    if (xos_smp_active) return space_of(hosted::this_vcpu().space);  // its thread's
    return space_of(hosted::g_current);
}

}  // namespace xos::platform

namespace xos::hosted {

uint64_t* mapped_space() { return g_current; }

// The host maps `root`'s pages from now on (with several vCPUs: under the space lock, no vCPU
// using the space mapped before).
void map_space_now(uint64_t* root) {
    hosted::g_current = root;
    hosted::reserve(hosted::APP_BASE, hosted::app_end(), 0);  // drops every host mapping of the region
    platform::ProcessDataRange data = platform::process_data_range();
    if (data.end > data.base) hosted::reserve(data.base, data.end, 0);
    uintptr_t run_virt = 0, run_phys = 0, run_size = 0;
    uint32_t run_access = 0;
    auto flush = [&] {
        if (run_size) (void)hosted::host_map(run_virt, run_size, run_phys, run_access);
        run_size = 0;
    };
    auto add = [&](uintptr_t virt, uint64_t& pte) {
        uintptr_t phys = pte & hosted::PTE_ADDRESS;
        uint32_t access = hosted::access_of(pte);
        if (run_size && virt == run_virt + run_size && phys == run_phys + run_size && access == run_access) {
            run_size += hosted::PAGE;
            return;
        }
        flush();
        run_virt = virt;
        run_phys = phys;
        run_access = access;
        run_size = hosted::PAGE;
    };
    hosted::for_each_present(hosted::g_current, hosted::APP_BASE, hosted::app_end(), add);
    if (data.end > data.base) hosted::for_each_present(hosted::g_current, data.base, data.end, add);
    flush();
}

}  // namespace xos::hosted

namespace xos::platform {

// With several vCPUs the software page table's change and the host's are one step under the
// space lock: a vCPU mapping that space meanwhile sees either both or neither.
bool map_page(AppSpace* space, uintptr_t virt, uintptr_t phys, uint32_t access) {
    hosted::OptionalSpaceLock guard;
    uint64_t* pte = hosted::leaf(root_of(space), virt, true);
    if (!pte) return false;
    if (is_current(space) && !hosted::host_map(virt, hosted::PAGE, phys, access)) return false;
    *pte = phys | hosted::PTE_PRESENT | (uint64_t(access) << hosted::ACCESS_SHIFT);
    return true;
}

uintptr_t mapped_page(AppSpace* space, uintptr_t virt, uint32_t* access) {
    uint64_t* pte = hosted::leaf(root_of(space), virt, false);
    if (!pte || !(*pte & hosted::PTE_PRESENT)) return 0;
    if (access) *access = hosted::access_of(*pte);
    return *pte & hosted::PTE_ADDRESS;
}

void unmap_range(AppSpace* space, uintptr_t start, uintptr_t end, void (*release)(uintptr_t phys, void* context),
                 void* context) {
    hosted::OptionalSpaceLock guard;
    hosted::Runs runs(hosted::reserve, 0);
    bool current = is_current(space);
    hosted::for_each_present(root_of(space), start, end, [&](uintptr_t virt, uint64_t& pte) {
        uintptr_t phys = pte & hosted::PTE_ADDRESS;
        pte = 0;
        if (current) runs.add(virt);
        release(phys, context);
    });
}

void protect_range(AppSpace* space, uintptr_t start, uintptr_t end, uint32_t access) {
    hosted::OptionalSpaceLock guard;
    hosted::Runs runs(hosted::protect, hosted::host_prot(access));
    bool current = is_current(space);
    hosted::for_each_present(root_of(space), start, end, [&](uintptr_t virt, uint64_t& pte) {
        pte = (pte & hosted::PTE_ADDRESS) | hosted::PTE_PRESENT | (uint64_t(access) << hosted::ACCESS_SHIFT);
        if (current) runs.add(virt);
    });
}

void for_each_mapped(AppSpace* space, uintptr_t start, uintptr_t end,
                     void (*visit)(uintptr_t virt, uintptr_t phys, void* context), void* context) {
    hosted::for_each_present(root_of(space), start, end,
                             [&](uintptr_t virt, uint64_t& pte) { visit(virt, pte & hosted::PTE_ADDRESS, context); });
}

}  // namespace xos::platform
