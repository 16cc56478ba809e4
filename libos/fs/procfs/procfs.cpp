#include "fs/procfs/procfs.h"

#include <elf.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>

#include "base/no_destroy.h"
#include "fs/procfs/procfs_nodes.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "rewrite/rewrite.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "vfs/mount.h"
#include "vfs/operations.h"
#include "vfs/process.h"
#include "xos/platform.h"

namespace xos::fs {

namespace {

constinit NoDestroy<ProcFs> g_procfs;

void cpuid(unsigned leaf, unsigned& a, unsigned& b, unsigned& c, unsigned& d) {
    asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(0));
}
ProcessInfo g_info;

ErrorOr<void> generate_cmdline(TextBuffer& out) {
    for (size_t i = 0; i < g_info.argc; ++i) TRY(out.append_bytes({g_info.argv[i], strlen(g_info.argv[i]) + 1}));
    return {};
}

const char* program_name() {
    if (g_info.argc == 0) return "app";
    const char* slash = strrchr(g_info.argv[0], '/');
    return slash ? slash + 1 : g_info.argv[0];
}

// One process's state letter: R, S (blocked), T (stopped), Z (zombie).
char state_of(sched::Process& process) {
    if (process.state != sched::ProcessState::Alive) return 'Z';
    if (process.stopped) return 'T';
    char state = 'S';
    sched::for_each_thread_of(process, [&](sched::Thread& t) {
        if (t.state != sched::ThreadState::Blocked) state = 'R';
    });
    return state;
}

const char* state_name(char state) {
    switch (state) {
    case 'R': return "R (running)";
    case 'T': return "T (stopped)";
    case 'Z': return "Z (zombie)";
    default: return "S (sleeping)";
    }
}

const char* name_of(sched::Process& process) {
    return process.pid == 1 && !process.name[0] ? program_name() : process.name;
}

ErrorOr<void> generate_status_for(TextBuffer& out, int pid) {
    sched::Process* process = sched::find_process(pid);
    if (!process) return error(ESRCH);
    size_t rss_kb = process->memory ? process->memory->resident_bytes() / 1024 : 0;
    unsigned umask = process->files ? unsigned(process->files->umask) : 022;
    return out.append("Name:\t%.15s\nUmask:\t%04o\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\n"
                      "TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t%d\nGroups:\t\n"
                      "VmRSS:\t%8zu kB\nThreads:\t%d\n",
                      name_of(*process), umask, state_name(state_of(*process)), process->pid, process->pid,
                      process->parent ? process->parent->pid : 0, vfs::FdTable::MAX_FDS, rss_kb, process->live_threads);
}

// /proc/PID/stat: the fields ps and top read (pid, comm, state, ppid, pgrp, session, ...,
// utime, ..., num_threads, ..., starttime in clock ticks).
ErrorOr<void> generate_stat_for(TextBuffer& out, int pid) {
    sched::Process* process = sched::find_process(pid);
    if (!process) return error(ESRCH);
    uint64_t cpu_ticks = process->dead_threads_cpu_ns / 10000000;
    return out.append("%d (%s) %c %d %d %d 0 -1 4194304 0 0 0 0 %lu 0 %lu 0 20 0 %d 0 %lu 0 0\n", process->pid,
                      name_of(*process), state_of(*process), process->parent ? process->parent->pid : 0, process->pgid,
                      process->sid, cpu_ticks, process->children_cpu_ns / 10000000, process->live_threads,
                      process->start_ns / 10000000);
}

ErrorOr<void> generate_comm_for(TextBuffer& out, int pid) {
    sched::Process* process = sched::find_process(pid);
    if (!process) return error(ESRCH);
    return out.append("%.15s\n", name_of(*process));
}

ErrorOr<void> generate_status(TextBuffer& out) { return generate_status_for(out, sched::current_process().pid); }
ErrorOr<void> generate_stat(TextBuffer& out) { return generate_stat_for(out, sched::current_process().pid); }
ErrorOr<void> generate_comm(TextBuffer& out) { return generate_comm_for(out, sched::current_process().pid); }

// One line of /proc/self/maps as Linux prints it: "start-end rwxp offset 00:00 0 " and, for a
// named mapping, spaces up to column 73 and the name.
ErrorOr<void> append_mapping(TextBuffer& out, uintptr_t start, uintptr_t end, bool r, bool w, bool x, uintptr_t offset,
                             const char* name) {
    char line[96];
    int length = snprintf(line, sizeof line, "%08lx-%08lx %c%c%cp %08lx 00:00 0 ", start, end, r ? 'r' : '-',
                          w ? 'w' : '-', x ? 'x' : '-', offset);
    if (!name || !*name) return out.append("%s\n", line);
    constexpr int NAME_COLUMN = 73;
    return out.append("%s%*s%s\n", line, length < NAME_COLUMN ? NAME_COLUMN - length : 0, "", name);
}

ErrorOr<void> generate_maps(TextBuffer& out) {
    // In address order: the app's mappings (mmap, brk, stacks: the lower half) first, ...
    struct Visit {
        TextBuffer& out;
        ErrorOr<void> result;
    } visit{out, {}};
    mm::for_each_app_mapping(
        [](const mm::MappingView& mapping, void* context) {
            auto& state = *static_cast<Visit*>(context);
            if (!state.result) return;
            state.result = append_mapping(state.out, mapping.start, mapping.end, mapping.prot & PROT_READ,
                                          mapping.prot & PROT_WRITE, mapping.prot & PROT_EXEC, 0, mapping.name);
        },
        &visit);
    TRY(visit.result);
    // ... then the image's own segments (code, constants, data), from its program headers.
    // Segments with the same permissions that share a page (.data and .bss) are one mapping.
    platform::ImageInfo image = platform::image_info();
    auto* headers = static_cast<const Elf64_Phdr*>(image.phdr);
    struct Segment {
        uintptr_t start, end, offset;
        uint32_t flags;
    } pending{};
    auto flush = [&]() -> ErrorOr<void> {
        if (pending.end == 0) return {};
        return append_mapping(out, pending.start, pending.end, pending.flags & PF_R, pending.flags & PF_W,
                              pending.flags & PF_X, pending.offset, "/proc/self/exe");
    };
    for (size_t i = 0; i < image.phnum; ++i) {
        const Elf64_Phdr& ph = headers[i];
        if (ph.p_type != PT_LOAD) continue;
        Segment segment{ph.p_vaddr & ~uintptr_t(4095), mm::page_round_up(ph.p_vaddr + ph.p_memsz),
                        ph.p_offset & ~uintptr_t(4095), ph.p_flags};
        if (pending.end != 0 && segment.flags == pending.flags && segment.start <= pending.end) {
            if (segment.end > pending.end) pending.end = segment.end;
            continue;
        }
        TRY(flush());
        pending = segment;
    }
    TRY(flush());
    return {};
}

ErrorOr<void> generate_meminfo(TextBuffer& out) {
    size_t free_kb = mm::free_memory_bytes() / 1024;
    size_t total_kb = (mm::address_space().free_bytes() + mm::address_space().mapped_bytes()) / 1024;
    return out.append("MemTotal:       %8zu kB\nMemFree:        %8zu kB\nMemAvailable:   %8zu kB\n"
                      "Buffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\n"
                      "SwapTotal:             0 kB\nSwapFree:              0 kB\n",
                      total_kb, free_kb, free_kb);
}

// /proc/xos/rewrite: the syscall-site rewriter's counters (libos/rewrite/rewrite.h), one
// "name value" per line.
ErrorOr<void> generate_rewrite_stats(TextBuffer& out) {
    const rewrite::Stats& stats = rewrite::stats();
    TRY(out.append("enabled %d\ntraps %lu\npatched %lu\ntrampoline_pages %lu\n", rewrite::enabled() ? 1 : 0,
                   stats.traps, stats.patched, stats.trampoline_pages));
    for (size_t i = 0; i < size_t(rewrite::Reason::Count); ++i)
        TRY(out.append("left_%s %lu %lu\n", rewrite::reason_name(rewrite::Reason(i)), stats.left[i],
                       stats.left_traps[i]));
    for (size_t i = 1; i < size_t(rewrite::Pattern::Count); ++i)
        TRY(out.append("patched_%s %lu\n", rewrite::pattern_name(rewrite::Pattern(i)), stats.patched_by[i]));
    // Then one line per remembered site: "site ADDRESS file+OFFSET|- patched|left_REASON PATTERN
    // traps N bytes HEX" with the bytes from 12 before the `syscall` ("..": page not present).
    struct Context {
        TextBuffer* out;
        bool failed;
    } context{&out, false};
    rewrite::for_each_site(
        [](const rewrite::Site& site, void* opaque) {
            auto& c = *static_cast<Context*>(opaque);
            char hex[3 * rewrite::WINDOW + 1];
            for (size_t i = 0; i < rewrite::WINDOW; ++i) {
                static constexpr char digits[] = "0123456789abcdef";
                bool present = site.present & (1u << i);
                hex[3 * i] = present ? digits[site.bytes[i] >> 4] : '.';
                hex[3 * i + 1] = present ? digits[site.bytes[i] & 15] : '.';
                hex[3 * i + 2] = i + 1 == rewrite::WINDOW_BEFORE ? '|' : ' ';
            }
            hex[3 * rewrite::WINDOW - 1] = 0;
            char where[32] = "-";
            if (site.file_offset >= 0) snprintf(where, sizeof where, "file+%#lx", uint64_t(site.file_offset));
            bool patched = site.state == rewrite::Reason::Count;
            if (!c.failed &&
                !c.out->append("site %#lx %s %s%s %s traps %lu bytes %s\n", site.at, where,
                               patched ? "patched" : "left_", patched ? "" : rewrite::reason_name(site.state),
                               rewrite::pattern_name(site.pattern), site.traps, hex))
                c.failed = true;
        },
        &context);
    if (context.failed) return error(ENOMEM);
    return {};
}

ErrorOr<void> generate_cpuinfo(TextBuffer& out) {
    unsigned registers[12] = {};
    char vendor[13] = {};
    unsigned a, b, c, d;
    cpuid(0, a, b, c, d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    char model[49] = "unknown";
    cpuid(0x80000000, a, b, c, d);
    if (a >= 0x80000004) {
        for (unsigned leaf = 0; leaf < 3; ++leaf)
            cpuid(0x80000002 + leaf, registers[leaf * 4], registers[leaf * 4 + 1], registers[leaf * 4 + 2],
                  registers[leaf * 4 + 3]);
        memcpy(model, registers, 48);
        model[48] = '\0';
    }
    cpuid(1, a, b, c, d);
    TRY(out.append("processor\t: 0\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\nmodel name\t: %s\n"
                   "stepping\t: %u\ncpu cores\t: 1\nflags\t\t:",
                   vendor, (a >> 8) & 0xf, (a >> 4) & 0xf, model, a & 0xf));
    static const char* const edx_names[32] = {"fpu",  "vme",   "de",    "pse",     "tsc",   "msr",   "pae",   "mce",
                                              "cx8",  "apic",  nullptr, "sep",     "mtrr",  "pge",   "mca",   "cmov",
                                              "pat",  "pse36", nullptr, "clflush", nullptr, nullptr, nullptr, "mmx",
                                              "fxsr", "sse",   "sse2",  nullptr,   nullptr, nullptr, nullptr, nullptr};
    for (int bit = 0; bit < 32; ++bit)
        if ((d >> bit) & 1 && edx_names[bit]) TRY(out.append(" %s", edx_names[bit]));
    if (c & 1) TRY(out.append(" pni"));
    if (c & (1 << 19)) TRY(out.append(" sse4_1"));
    if (c & (1 << 20)) TRY(out.append(" sse4_2"));
    if (c & (1 << 28)) TRY(out.append(" avx"));
    return out.append("\n\n");
}

ErrorOr<void> generate_mounts(TextBuffer& out) {
    for (const vfs::Mount& mount : vfs::mounts()) {
        const char* type = mount.fs->type_name();
        TRY(out.append("%s %s %s %s,relatime 0 0\n", type, mount.path, type, mount.fs->read_only() ? "ro" : "rw"));
    }
    return {};
}

ErrorOr<KString> self_text(int) {
    char text[16];
    snprintf(text, sizeof text, "%d", sched::current_process().pid);
    return KString::from(text);
}

char g_executable_path[vfs::PATH_MAX_BYTES];  // set by execve (set_executable_path); "" before

ErrorOr<KString> exe_text(int) {
    if (g_executable_path[0]) return KString::from(g_executable_path);
    const char* argv0 = g_info.argc ? g_info.argv[0] : "app";
    if (argv0[0] == '/') return KString::from(argv0);
    char path[vfs::PATH_MAX_BYTES];
    snprintf(path, sizeof path, "/%s", argv0);
    return KString::from(path);
}

ErrorOr<KString> cwd_text(int) {
    char path[vfs::PATH_MAX_BYTES];
    vfs::Process& process = vfs::process();
    TRY(vfs::directory_path(process.context(), process.cwd, path));
    return KString::from(path);
}

ErrorOr<RefPtr<vfs::Vnode>> cwd_follow(int) { return vfs::process().cwd; }

template <typename T, typename... Args>
RefPtr<vfs::Vnode> make(Args&&... args) {
    return RefPtr<vfs::Vnode>(mm::kcreate<T>(static_cast<Args&&>(args)...));
}

// No destructor (base/no_destroy.h): a forked child's exit() would run it on shared state.
[[clang::no_destroy]] RefPtr<vfs::Vnode> g_self_dir;  // the current process's /proc/PID (what /proc/self names)

// /proc/PID: the current process's is the full directory; another's has stat, status, comm.
ErrorOr<RefPtr<vfs::Vnode>> pid_lookup(ProcDir& root, std::string_view name) {
    int pid = 0;
    for (char c : name) {
        if (c < '0' || c > '9' || pid > 100000000) return error(ENOENT);
        pid = pid * 10 + (c - '0');
    }
    sched::Process* process = name.empty() ? nullptr : sched::find_process(pid);
    if (!process) return error(ENOENT);
    if (process == &sched::current_process()) return g_self_dir;
    ProcFs& fs = g_procfs.get();
    auto* directory = mm::kcreate<ProcDir>(fs, &root);
    if (!directory) return error(ENOMEM);
    RefPtr<vfs::Vnode> result(directory);
    TRY(directory->add("stat", make<ProcTextFile>(fs, &generate_stat_for, pid)));
    TRY(directory->add("status", make<ProcTextFile>(fs, &generate_status_for, pid)));
    TRY(directory->add("comm", make<ProcTextFile>(fs, &generate_comm_for, pid)));
    return result;
}

}  // namespace

void set_executable_path(const char* path) {
    char absolute[vfs::PATH_MAX_BYTES];
    size_t used = 0;
    if (path[0] != '/') {
        vfs::Process& process = vfs::process();
        auto length = vfs::directory_path(process.context(), process.cwd, absolute);
        if (!length) return;
        used = *length - 1;
        if (used > 1 && used + 1 < sizeof absolute) absolute[used++] = '/';  // "/" ends in one already
    }
    size_t n = strlen(path);
    if (used + n >= sizeof absolute) return;
    memcpy(absolute + used, path, n + 1);
    memcpy(g_executable_path, absolute, used + n + 1);
}

ErrorOr<void> mount_procfs(const ProcessInfo& info) {
    g_info = info;
    ProcFs& fs = g_procfs.get();
    auto* root = mm::kcreate<ProcDir>(fs, nullptr);
    if (!root) return error(ENOMEM);
    fs.m_root = root;
    auto* self = mm::kcreate<ProcDir>(fs, root);
    if (!self) return error(ENOMEM);
    RefPtr<vfs::Vnode> self_ref(self);
    TRY(self->add("fd", make<ProcFdDir>(fs, self)));
    TRY(self->add("cwd", make<ProcLink>(fs, &cwd_text, &cwd_follow, 0)));
    TRY(self->add("exe", make<ProcLink>(fs, &exe_text, nullptr, 0)));
    TRY(self->add("cmdline", make<ProcTextFile>(fs, &generate_cmdline)));
    TRY(self->add("status", make<ProcTextFile>(fs, &generate_status)));
    TRY(self->add("maps", make<ProcTextFile>(fs, &generate_maps)));
    TRY(self->add("mounts", make<ProcTextFile>(fs, &generate_mounts)));
    TRY(self->add("stat", make<ProcTextFile>(fs, &generate_stat)));
    TRY(self->add("comm", make<ProcTextFile>(fs, &generate_comm)));
    g_self_dir = self_ref;
    root->set_fallback(pid_lookup);
    TRY(root->add("self", make<ProcLink>(fs, &self_text, nullptr, 0)));
    TRY(root->add("meminfo", make<ProcTextFile>(fs, &generate_meminfo)));
    TRY(root->add("cpuinfo", make<ProcTextFile>(fs, &generate_cpuinfo)));
    TRY(root->add("mounts", make<ProcTextFile>(fs, &generate_mounts)));
    auto* xos_dir = mm::kcreate<ProcDir>(fs, root);  // xos's own figures
    if (!xos_dir) return error(ENOMEM);
    TRY(root->add("xos", RefPtr<vfs::Vnode>(xos_dir)));
    TRY(xos_dir->add("rewrite", make<ProcTextFile>(fs, &generate_rewrite_stats)));

    vfs::Process& process = vfs::process();
    auto context = process.context(process.root.get());
    if (!vfs::resolve(context, "/proc", vfs::Follow::Yes)) TRY(vfs::make_directory(context, "/proc", 0555));
    RefPtr<vfs::Vnode> mount_point = TRY(vfs::resolve(context, "/proc", vfs::Follow::Yes));
    return vfs::mount(fs, mount_point, "/proc");
}

}  // namespace xos::fs
