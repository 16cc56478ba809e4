#include "exec/exec.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cstring>

#include "base/klog.h"
#include "boot/initial_stack.h"
#include "exec/elf.h"
#include "fs/procfs/procfs.h"
#include "mm/file_cache.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "mm/vm.h"
#include "rewrite/rewrite.h"
#include "sched/thread.h"
#include "sys/signal.h"
#include "vdso/vdso.h"
#include "vfs/file.h"
#include "vfs/path_walk.h"
#include "vfs/process.h"
#include "xos/platform.h"

namespace xos::exec {

namespace {

constexpr size_t MAIN_STACK_SIZE = 8 << 20;  // Linux's default RLIMIT_STACK
constexpr size_t STACK_GUARD = 64 << 10;
constexpr uint64_t PAGE = mm::PAGE_SIZE;
// Where Linux puts a PIE (ELF_ET_DYN_BASE, 2/3 of the lower half, without randomisation).
constexpr uintptr_t PIE_BASE = 0x555555554000;

// Which role a file has: the program (ET_EXEC at its link address, ET_DYN at PIE_BASE) or its
// interpreter (anywhere: top-down below the stack, as Linux's mmap).
enum class Role { Program, Interpreter };

uint64_t page_down(uint64_t value) { return value & ~(PAGE - 1); }
uint64_t page_up(uint64_t value) { return (value + PAGE - 1) & ~(PAGE - 1); }

int segment_prot(uint32_t flags) {
    return ((flags & PF_R) ? PROT_READ : 0) | ((flags & PF_W) ? PROT_WRITE : 0) | ((flags & PF_X) ? PROT_EXEC : 0);
}

// One ELF file as loaded: where its segments went (address = ELF address + bias).
struct LoadedElf {
    Elf64_Ehdr header;
    Elf64_Phdr program_headers[MAX_PROGRAM_HEADERS];
    ElfLayout layout;
    uintptr_t bias = 0;
    char interpreter[MAX_INTERPRETER_BYTES];  // PT_INTERP's path, "" without one
};

// Large, and exec runs on one thread at a time (the caller is the program's only thread).
LoadedElf g_program;
LoadedElf g_interpreter;

Error refuse(const char* path, ElfProblem problem, const Elf64_Ehdr* header = nullptr) {
    if (problem == ElfProblem::WrongMachine && header)
        klog("xos: exec: %s: %s (this file is for %s)", path, describe(problem), machine_name(header->e_machine));
    else
        klog("xos: exec: %s: %s", path, describe(problem));
    return Error{ENOEXEC};
}

// Copies [offset, offset + size) of a program file from its page cache when every page of it
// is there (a program run recently, held by remember_program after its version was checked:
// exec maps its segments from those same pages), saving a file-system round trip (a 9p or
// hostfs request) per read. False: some page is not cached, nothing copied.
bool read_from_cache(vfs::Vnode& vnode, uint64_t offset, std::byte* to, size_t size) {
    mm::FileCache* cache = mm::FileCache::existing(vnode);
    if (!cache || !size) return false;
    uint64_t first = offset / PAGE, last = (offset + size - 1) / PAGE;
    if (last >= cache->size_in_pages()) return false;
    for (uint64_t index = first; index <= last; ++index)
        if (!cache->page(index, false)) return false;
    while (size) {
        uint64_t index = offset / PAGE, within = offset % PAGE;
        size_t n = PAGE - within < size ? PAGE - within : size;
        memcpy(to, static_cast<const std::byte*>(platform::phys_to_virt(cache->page(index, false))) + within, n);
        to += n, offset += n, size -= n;
    }
    return true;
}

ErrorOr<void> read_exactly(vfs::Vnode& vnode, uint64_t offset, void* to, size_t size) {
    auto* bytes = static_cast<std::byte*>(to);
    if (read_from_cache(vnode, offset, bytes, size)) return {};
    while (size) {
        size_t got = TRY(vnode.read(offset, {bytes, size}));
        if (!got) return error(EIO);  // the file shrank under us
        bytes += got, offset += got, size -= got;
    }
    return {};
}

// Programs run recently, held so that their page cache (mm/file_cache.h) outlives the processes
// that ran them: a loop that runs the same program maps the cached pages again rather than reading
// the file from the host each time. Each is kept with the size and modification time it had, and
// dropped when they change (a program rebuilt on the host is read again; as for any mapped
// file, a change that keeps both is not seen while the file stays cached). Files with pages of
// their own (ramfs, the initrd) need no holding.
struct RecentProgram {
    RefPtr<vfs::Vnode> vnode;
    uint64_t size = 0;
    vfs::Timestamp mtime;
};
constexpr size_t RECENT_PROGRAMS = 8;
// No destructor (base/no_destroy.h): a forked child's exit() would run it on shared state.
[[clang::no_destroy]] RecentProgram g_recent[RECENT_PROGRAMS];
size_t g_recent_next;  // the slot replaced next (round robin)

bool same_version(const RecentProgram& recent, const vfs::Attributes& attributes) {
    return recent.size == attributes.size && recent.mtime.sec == attributes.mtime.sec &&
        recent.mtime.nsec == attributes.mtime.nsec;
}

// `vnode` (with `attributes`) is being run: held from now on. When a held version of it is out
// of date, returns true after dropping it: the caller resolves the path again, so that a file
// nobody else maps gets a fresh vnode and cache.
bool remember_program(const RefPtr<vfs::Vnode>& vnode, const vfs::Attributes& attributes) {
    if (vnode->has_data_pages()) return false;
    for (RecentProgram& recent : g_recent) {
        if (recent.vnode.get() != vnode.get()) continue;
        if (same_version(recent, attributes)) return false;
        rewrite::file_changed(*vnode);  // changed on the host: its rewritten pages are stale
        recent = {};
        return true;
    }
    g_recent[g_recent_next] = {vnode, attributes.size, attributes.mtime};
    g_recent_next = (g_recent_next + 1) % RECENT_PROGRAMS;
    return false;
}

// The executable file at `path`: a regular file with an execute bit.
ErrorOr<RefPtr<vfs::Vnode>> open_executable(const char* path, const char* role) {
    auto found = vfs::resolve(vfs::process().context(), path, vfs::Follow::Yes);
    if (!found) {
        if (found.error().code == ENOENT)
            klog("xos: exec: %s: %s not found", path, role);
        else
            klog("xos: exec: %s: cannot open the %s (errno %d)", path, role, found.error().code);
        return std::unexpected(found.error());
    }
    RefPtr<vfs::Vnode> vnode = *found;
    if (vnode->is_directory()) {
        klog("xos: exec: %s: is a directory", path);
        return error(EISDIR);
    }
    if (!vnode->is_regular() || !(vnode->mode() & 0111)) {
        klog("xos: exec: %s: permission denied (not an executable regular file)", path);
        return error(EACCES);
    }
    if (vnode->fs().mount_flags() & vfs::MOUNT_NO_EXEC) {
        klog("xos: exec: %s: permission denied (on a noexec mount)", path);
        return error(EACCES);
    }
    return vnode;
}

// Reads and checks the headers of the file at `path` into `elf` (nothing is mapped yet).
ErrorOr<RefPtr<vfs::Vnode>> inspect(const char* path, const char* role, LoadedElf& elf) {
    RefPtr<vfs::Vnode> vnode = TRY(open_executable(path, role));
    vfs::Attributes attributes = TRY(vnode->getattr());
    if (remember_program(vnode, attributes)) {  // changed since it was last run
        vnode = nullptr;
        vnode = TRY(open_executable(path, role));
        attributes = TRY(vnode->getattr());
        (void)remember_program(vnode, attributes);
    }
    uint64_t file_size = attributes.size;
    std::byte head[sizeof(Elf64_Ehdr)] = {};
    size_t head_bytes = 0;
    if (file_size >= sizeof head && read_from_cache(*vnode, 0, head, sizeof head))
        head_bytes = sizeof head;
    else
        head_bytes = TRY(vnode->read(0, head));
    while (head_bytes < sizeof head && head_bytes < file_size) {
        size_t got = TRY(vnode->read(head_bytes, std::span(head).subspan(head_bytes)));
        if (!got) break;
        head_bytes += got;
    }
    memcpy(&elf.header, head, sizeof elf.header);
    if (ElfProblem problem = check_header({head, head_bytes}, file_size); problem != ElfProblem::None)
        return std::unexpected(refuse(path, problem, head_bytes >= sizeof elf.header ? &elf.header : nullptr));
    TRY(read_exactly(*vnode, elf.header.e_phoff, elf.program_headers, elf.header.e_phnum * sizeof(Elf64_Phdr)));
    std::span<const Elf64_Phdr> headers(elf.program_headers, elf.header.e_phnum);
    if (ElfProblem problem = check_program_headers(elf.header, headers, file_size, PAGE, elf.layout);
        problem != ElfProblem::None)
        return std::unexpected(refuse(path, problem));
    elf.interpreter[0] = 0;
    if (const Elf64_Phdr* interp = elf.layout.interpreter) {
        TRY(read_exactly(*vnode, interp->p_offset, elf.interpreter, interp->p_filesz));
        if (elf.interpreter[interp->p_filesz - 1] != 0 || strlen(elf.interpreter) != interp->p_filesz - 1)
            return std::unexpected(refuse(path, ElfProblem::BadInterpreter));
    }
    return vnode;
}

// One page's worth of a segment that starts in the previous segment's last page (exec runs one
// at a time).
std::byte g_shared_page[PAGE];
const std::byte g_zeroes[PAGE] = {};

// Maps the PT_LOAD segments of `elf` into the app region (ET_EXEC at its link address, else
// where `role` says), as Linux's binfmt_elf: a PROT_NONE reservation over the whole span (the
// gaps between segments stay so), then each segment's file-backed pages a MAP_PRIVATE mapping
// of the file (its page cache: nothing is copied until written) with the segment's
// protections, the tail of the page holding the end of p_filesz zeroed in a private copy when
// the segment has more in memory, and the rest (.bss) anonymous. A page that two segments share
// gets both segments' rights (Linux maps the second over it) and the second's bytes copied in.
ErrorOr<void> map_segments(const char* path, vfs::Vnode& vnode, LoadedElf& elf, Role role) {
    mm::VirtualMemory& memory = mm::app_memory();
    size_t span = elf.layout.span_end - elf.layout.span_start;
    uintptr_t start;
    if (elf.layout.fixed_address) {
        platform::MemoryRange region = platform::app_region();
        if (elf.layout.span_start < region.base || elf.layout.span_end > region.end()) {
            klog("xos: exec: %s: its segments (%#lx-%#lx) lie outside the app region (%#lx-%#lx)", path,
                 elf.layout.span_start, elf.layout.span_end, region.base, region.end());
            return error(ENOEXEC);
        }
        auto fixed = memory.map(elf.layout.span_start, span, PROT_NONE, mm::Placement::FixedNoReplace);
        if (!fixed && fixed.error().code == EEXIST) {
            klog("xos: exec: %s: its segments (%#lx-%#lx) overlap memory already mapped there", path,
                 elf.layout.span_start, elf.layout.span_end);
            return error(ENOEXEC);
        }
        start = TRY(fixed);
    } else {
        uintptr_t hint = role == Role::Program ? PIE_BASE : 0;
        start = TRY(memory.map(hint, span, PROT_NONE, mm::Placement::Hint));
    }
    elf.bias = start - elf.layout.span_start;
    auto undo = [&](Error e) {
        (void)memory.unmap(start, span);
        return std::unexpected(e);
    };
    auto* description = mm::kcreate<vfs::File>(RefPtr<vfs::Vnode>(&vnode), O_RDONLY);
    if (!description) return undo(Error{ENOMEM});
    RefPtr<vfs::File> file(description);
    uint64_t previous_end = 0;  // page-rounded end of the previous segment
    int previous_prot = 0;
    for (size_t i = 0; i < elf.header.e_phnum; ++i) {
        const Elf64_Phdr& ph = elf.program_headers[i];
        if (ph.p_type != PT_LOAD) continue;
        uint64_t first = page_down(ph.p_vaddr), end = page_up(ph.p_vaddr + ph.p_memsz);
        uint64_t file_bytes_end = ph.p_vaddr + ph.p_filesz, file_end = page_up(file_bytes_end);
        int prot = segment_prot(ph.p_flags);
        uint64_t own = first;  // the first page this segment maps itself
        if (previous_end > first) {
            own = previous_end;
            if (auto set = memory.protect(first + elf.bias, previous_end - first, prot | previous_prot); !set)
                return undo(set.error());
            uint64_t shared_end = file_bytes_end < previous_end ? file_bytes_end : previous_end;
            if (shared_end > ph.p_vaddr) {
                std::span<std::byte> bytes(g_shared_page, shared_end - ph.p_vaddr);
                if (auto read = read_exactly(vnode, ph.p_offset, bytes.data(), bytes.size()); !read)
                    return undo(read.error());
                if (auto written = memory.write(ph.p_vaddr + elf.bias, bytes.data(), bytes.size()); !written)
                    return undo(written.error());
            }
        }
        uint64_t anonymous = own;  // where .bss starts (a segment without file bytes maps none)
        if (ph.p_filesz && file_end > own) {
            auto mapped = memory.map_file(own + elf.bias, file_end - own, prot, mm::Placement::Fixed, *file,
                                          ph.p_offset - (ph.p_vaddr - own), false);
            if (!mapped) return undo(mapped.error());
            anonymous = file_end;
        }
        if (end > anonymous)
            if (auto set = memory.protect(anonymous + elf.bias, end - anonymous, prot); !set) return undo(set.error());
        // Linux's padzero: the bytes after p_filesz in its last page read as zero (.bss starts
        // there), through a private copy of that page.
        if (ph.p_filesz && ph.p_memsz > ph.p_filesz && file_bytes_end < file_end && file_bytes_end >= own)
            if (auto zeroed = memory.write(file_bytes_end + elf.bias, g_zeroes, file_end - file_bytes_end); !zeroed)
                return undo(zeroed.error());
        previous_end = end, previous_prot = prot;
    }
    return {};
}

}  // namespace

ErrorOr<void> execute(const char* path, std::span<const char* const> argv, std::span<const char* const> envp) {
    mm::VirtualMemory& memory = mm::app_memory();
    RefPtr<vfs::Vnode> program_file = TRY(inspect(path, "file", g_program));
    bool has_interpreter = g_program.interpreter[0] != 0;
    RefPtr<vfs::Vnode> interpreter_file;
    if (has_interpreter) {
        auto found = inspect(g_program.interpreter, "interpreter", g_interpreter);
        if (!found) {
            klog("xos: exec: %s: cannot use its interpreter %s", path, g_program.interpreter);
            return std::unexpected(found.error());
        }
        interpreter_file = *found;
        if (g_interpreter.interpreter[0]) {
            klog("xos: exec: %s: its interpreter %s has an interpreter itself", path, g_program.interpreter);
            return error(ENOEXEC);
        }
    }

    // From here on, failures are out of memory: the new program's mappings are undone.
    TRY(map_segments(path, *program_file, g_program, Role::Program));
    bool interpreter_mapped = false;
    auto unmap_program = [&] {
        (void)memory.unmap(g_program.layout.span_start + g_program.bias,
                           g_program.layout.span_end - g_program.layout.span_start);
        if (interpreter_mapped)
            (void)memory.unmap(g_interpreter.layout.span_start + g_interpreter.bias,
                               g_interpreter.layout.span_end - g_interpreter.layout.span_start);
    };
    if (has_interpreter) {
        if (auto mapped = map_segments(g_program.interpreter, *interpreter_file, g_interpreter, Role::Interpreter);
            !mapped) {
            unmap_program();
            return std::unexpected(mapped.error());
        }
        interpreter_mapped = true;
    }

    // The stack at the top of the app region, as Linux's below 0x7ffffffff000 (the region's end
    // on the VM; on hosted the region ends below the image).
    int stack_prot = PROT_READ | PROT_WRITE | (g_program.layout.executable_stack ? PROT_EXEC : 0);
    uintptr_t stack_hint = platform::app_region().end() - (MAIN_STACK_SIZE + STACK_GUARD);
    auto stack_mapping =
        memory.map(stack_hint, MAIN_STACK_SIZE + STACK_GUARD, stack_prot, mm::Placement::Hint, mm::VmaKind::Stack);
    if (!stack_mapping || !memory.protect(*stack_mapping, STACK_GUARD, PROT_NONE)) {
        klog("xos: exec: %s: no memory for the stack", path);
        unmap_program();
        return error(ENOMEM);
    }
    uintptr_t stack = *stack_mapping + STACK_GUARD;
    auto vdso = vdso::map_into(memory);
    if (!vdso) {
        klog("xos: exec: %s: no memory for the vDSO", path);
        (void)memory.unmap(*stack_mapping, MAIN_STACK_SIZE + STACK_GUARD);
        unmap_program();
        return error(ENOMEM);
    }

    uintptr_t entry = g_program.layout.entry + g_program.bias;
    uintptr_t interpreter_base = 0, start = entry;
    if (has_interpreter) {
        interpreter_base = g_interpreter.layout.span_start + g_interpreter.bias;
        start = g_interpreter.layout.entry + g_interpreter.bias;
    }
    // The AT_* names are <elf.h>'s macros here (the same numbers as boot::AuxTag's).
    const boot::AuxEntry auxv[] = {
        {AT_PHDR, g_program.layout.phdr_address + g_program.bias},
        {AT_PHENT, sizeof(Elf64_Phdr)},
        {AT_PHNUM, g_program.header.e_phnum},
        {AT_PAGESZ, PAGE},
        {AT_BASE, interpreter_base},
        {AT_FLAGS, 0},
        {AT_ENTRY, entry},
        {AT_UID, 0},
        {AT_EUID, 0},
        {AT_GID, 0},
        {AT_EGID, 0},
        {AT_SECURE, 0},
        {AT_HWCAP, platform::hwcap()},
        {AT_HWCAP2, 0},
        {AT_CLKTCK, 100},
        {AT_MINSIGSTKSZ, 2048},
        {AT_SYSINFO_EHDR, vdso->image},
    };
    uint8_t random[16];
    platform::entropy(random, sizeof random);
    boot::InitialStackSpec spec{
        .argv = argv,
        .envp = envp,
        .auxv = auxv,
        .random = &random,
        .platform = "x86_64",
        .execfn = path,
    };
    auto sp = boot::build_initial_stack(stack, stack + MAIN_STACK_SIZE, spec);
    if (!sp) {
        klog("xos: exec: %s: arguments and environment do not fit on the stack", path);
        (void)memory.unmap(*stack_mapping, MAIN_STACK_SIZE + STACK_GUARD);
        vdso::unmap(memory, *vdso);
        unmap_program();
        return error(E2BIG);
    }
    // The point of no return: sys::finish_exec() destroys the old program's address space (exec
    // built this one in a fresh one; a linked program's code and data stay, being the image).
    program_file = nullptr;
    interpreter_file = nullptr;
    memory.set_break_base(g_program.layout.span_end + g_program.bias);  // brk right after the program
    vfs::FdTable& fds = vfs::process().fds;
    for (int fd = 0; fd < vfs::FdTable::MAX_FDS; ++fd)
        if (fds.is_open(fd) && fds.cloexec(fd).value_or(false)) (void)fds.close(fd);
    fs::note_exec(path, argv, envp, *sp);  // /proc/self/exe, cmdline, environ
    sys::finish_exec();  // the old address space, signal handlers (libos/sys/exec.cpp)
    sched::leave_kernel();
    platform::enter_app(reinterpret_cast<void (*)()>(start), *sp);
}

}  // namespace xos::exec
