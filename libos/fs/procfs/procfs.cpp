#include "fs/procfs/procfs.h"

#include <dirent.h>
#include <elf.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>

#include "base/no_destroy.h"
#include "fs/procfs/procfs_nodes.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "net/unix.h"
#include "rewrite/rewrite.h"
#include "sched/big_lock_stats.h"
#include "sched/process_stats.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "sys/uts.h"
#include "vfs/mount.h"
#include "vfs/operations.h"
#include "vfs/process.h"
#include "xos/libos.h"
#include "xos/platform.h"

// What each CPU took and sent (xos/libos.h), defined here, where it is read.
alignas(64) XosCpuEvents xos_cpu_events[XOS_MAX_CPUS];

namespace xos::fs {

namespace {

constinit NoDestroy<ProcFs> g_procfs;

void cpuid(unsigned leaf, unsigned& a, unsigned& b, unsigned& c, unsigned& d) {
    asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(0));
}
ProcessInfo g_info;

const char* program_name() {
    if (g_info.argc == 0) return "app";
    const char* slash = strrchr(g_info.argv[0], '/');
    return slash ? slash + 1 : g_info.argv[0];
}

ErrorOr<sched::Process*> process_of(int pid) {
    sched::Process* process = sched::find_process(pid);
    if (!process) return error(ESRCH);
    return process;
}

// Copies up to `size` bytes at `address` of `memory` (current or not) through its page tables,
// stopping at the first page that is not present; returns how many were copied.
size_t read_memory(mm::VirtualMemory& memory, uintptr_t address, char* out, size_t size) {
    size_t done = 0;
    while (done < size) {
        uintptr_t at = address + done, page = at & ~uintptr_t(mm::PAGE_SIZE - 1);
        if (!memory.in_region(at)) break;
        uintptr_t frame = platform::mapped_page(memory.space(), page);
        if (!frame) break;
        size_t chunk = mm::PAGE_SIZE - (at - page);
        if (chunk > size - done) chunk = size - done;
        memcpy(out + done, static_cast<const char*>(platform::phys_to_virt(frame)) + (at - page), chunk);
        done += chunk;
    }
    return done;
}

// Appends [start, end) of the process's memory (its argument or environment strings).
ErrorOr<void> append_memory(TextBuffer& out, sched::Process& process, uintptr_t start, uintptr_t end) {
    if (!process.memory || end <= start) return {};
    char chunk[512];
    for (uintptr_t at = start; at < end;) {
        size_t want = end - at < sizeof chunk ? end - at : sizeof chunk;
        size_t got = read_memory(*process.memory, at, chunk, want);
        if (got) TRY(out.append_bytes({chunk, got}));
        if (got < want) break;
        at += got;
    }
    return {};
}

// /proc/PID/cmdline: the argument strings as they are now in the program's memory (programs
// that rewrite their argv, as nginx's "nginx: worker process", show the new text), as Linux.
// A zombie's is empty. The image's own program (never exec'd): the boot command line.
ErrorOr<void> generate_cmdline_for(TextBuffer& out, int pid) {
    sched::Process& process = *TRY(process_of(pid));
    if (process.state != sched::ProcessState::Alive) return {};
    if (process.arg_end > process.arg_start) return append_memory(out, process, process.arg_start, process.arg_end);
    for (size_t i = 0; i < g_info.argc; ++i) TRY(out.append_bytes({g_info.argv[i], strlen(g_info.argv[i]) + 1}));
    return {};
}

// /proc/PID/environ: the environment strings at exec (NUL-separated, as Linux).
ErrorOr<void> generate_environ_for(TextBuffer& out, int pid) {
    sched::Process& process = *TRY(process_of(pid));
    if (process.state != sched::ProcessState::Alive) return {};
    return append_memory(out, process, process.env_start, process.env_end);
}

// One process's state letter: R (a thread runs or may), D (all blocked, one of them in a wait
// that no signal ends: a libos Mutex, a device's request, as Linux's TASK_UNINTERRUPTIBLE), S
// (all blocked in waits a signal ends), T (stopped), Z (zombie). A thread read racily: a letter
// of a moment.
char state_of(sched::Process& process) {
    if (process.state != sched::ProcessState::Alive) return 'Z';
    if (process.stopped) return 'T';
    char state = 'S';
    sched::for_each_thread_of(process, [&](sched::Thread& t) {
        if (t.state != sched::ThreadState::Blocked)
            state = 'R';
        else if (!t.interruptible && state == 'S')
            state = 'D';
    });
    return state;
}

const char* state_name(char state) {
    switch (state) {
    case 'R': return "R (running)";
    case 'D': return "D (disk sleep)";
    case 'T': return "T (stopped)";
    case 'Z': return "Z (zombie)";
    default: return "S (sleeping)";
    }
}

const char* name_of(sched::Process& process) {
    return process.pid == 1 && !process.name[0] ? program_name() : process.name;
}

struct MemorySizes {
    size_t virtual_bytes = 0, resident_bytes = 0;
};

MemorySizes memory_sizes(sched::Process& process) {
    MemorySizes sizes;
    if (!process.memory || process.state != sched::ProcessState::Alive) return sizes;
    process.memory->for_each([&](const mm::Vma& vma) { sizes.virtual_bytes += vma.end - vma.start; });
    sizes.resident_bytes = process.memory->resident_bytes();
    return sizes;
}

ErrorOr<void> generate_status_for(TextBuffer& out, int pid) {
    sched::Process& process = *TRY(process_of(pid));
    MemorySizes sizes = memory_sizes(process);
    unsigned umask = process.files ? unsigned(__atomic_load_n(&process.files->umask, __ATOMIC_RELAXED)) : 022;
    return out.append("Name:\t%.15s\nUmask:\t%04o\nState:\t%s\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t%d\n"
                      "TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t%d\nGroups:\t\n"
                      "VmSize:\t%8zu kB\nVmRSS:\t%8zu kB\nThreads:\t%d\n",
                      name_of(process), umask, state_name(state_of(process)), process.pid, process.pid,
                      process.parent ? process.parent->pid : 0, vfs::FdTable::MAX_FDS, sizes.virtual_bytes / 1024,
                      sizes.resident_bytes / 1024, process.live_threads);
}

// /proc/PID/stat: Linux's 52 fields (pid, comm, state, ppid, pgrp, session, tty_nr, tpgid,
// flags, faults, utime, stime, cutime, cstime, priority, nice, num_threads, itrealvalue,
// starttime in clock ticks, vsize in bytes, rss in pages, rsslim, ...); what xos does not keep
// is 0.
ErrorOr<void> generate_stat_for(TextBuffer& out, int pid) {
    sched::Process& process = *TRY(process_of(pid));
    MemorySizes sizes = memory_sizes(process);
    uint64_t cpu_ticks = process.dead_threads_cpu_ns / 10000000;
    sched::for_each_thread_of(process, [&](sched::Thread& t) { cpu_ticks += t.cpu_time_ns / 10000000; });
    TRY(out.append("%d (%s) %c %d %d %d 0 -1 4194304 0 0 0 0 %lu 0 %lu 0 20 0 %d 0 %lu %zu %zu "
                   "18446744073709551615",
                   process.pid, name_of(process), state_of(process), process.parent ? process.parent->pid : 0,
                   process.pgid, process.sid, cpu_ticks, process.children_cpu_ns / 10000000, process.live_threads,
                   process.start_ns / 10000000, sizes.virtual_bytes, sizes.resident_bytes / mm::PAGE_SIZE));
    // startcode endcode startstack kstkesp kstkeip signal blocked sigignore sigcatch wchan nswap
    // cnswap exit_signal processor rt_priority policy delayacct_blkio_ticks guest_time
    // cguest_time start_data end_data start_brk arg_start arg_end env_start env_end exit_code.
    return out.append(" 0 0 0 0 0 0 0 0 0 0 0 0 %d 0 0 0 0 0 0 0 0 0 %lu %lu %lu %lu %d\n", process.exit_signal,
                      process.arg_start, process.arg_end, process.env_start, process.env_end,
                      process.state == sched::ProcessState::Alive ? 0 : process.wait_status);
}

// /proc/PID/statm: sizes in pages (size resident shared text lib data dt).
ErrorOr<void> generate_statm_for(TextBuffer& out, int pid) {
    MemorySizes sizes = memory_sizes(*TRY(process_of(pid)));
    return out.append("%zu %zu 0 0 0 0 0\n", sizes.virtual_bytes / mm::PAGE_SIZE, sizes.resident_bytes / mm::PAGE_SIZE);
}

ErrorOr<void> generate_comm_for(TextBuffer& out, int pid) {
    return out.append("%.15s\n", name_of(*TRY(process_of(pid))));
}

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

ErrorOr<void> generate_maps_for(TextBuffer& out, int pid) {
    sched::Process& process = *TRY(process_of(pid));
    if (!process.memory || process.state != sched::ProcessState::Alive) return {};
    // In address order: the app's mappings (mmap, brk, stacks: the lower half) first, ...
    // File mappings show no path: the vnode does not know its name.
    ErrorOr<void> result;
    process.memory->for_each([&](const mm::Vma& vma) {
        if (!result) return;
        // A linked image's per-process data is shown as part of the image's own segments.
        if (!process.memory->in_region(vma.start)) return;
        const char* name = vma.kind == mm::VmaKind::Heap ? "[heap]" : vma.kind == mm::VmaKind::Stack ? "[stack]" : "";
        result = append_mapping(out, vma.start, vma.end, vma.prot & PROT_READ, vma.prot & PROT_WRITE,
                                vma.prot & PROT_EXEC, 0, name);
    });
    TRY(result);
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

// /proc/xos/processes: where fork, exec and exit spend their time (sched/process_stats.h), one
// "name value" per line.
ErrorOr<void> generate_process_stats(TextBuffer& out) {
    const sched::ProcessStats& s = sched::g_process_stats;
    return out.append("forks %lu\nfork_ns %lu\nfork_memory_ns %lu\nfork_files_ns %lu\nfork_thread_ns %lu\n"
                      "fork_pages_shared %lu\nexecs %lu\nexec_ns %lu\nexec_prepare_ns %lu\nexec_create_ns %lu\n"
                      "exec_load_ns %lu\nexec_old_memory_ns %lu\nmemory_destroyed %lu\nmemory_destroy_ns %lu\n"
                      "cow_copies %lu\ncow_reclaims %lu\n",
                      s.forks, s.fork_ns, s.fork_memory_ns, s.fork_files_ns, s.fork_thread_ns, s.fork_pages_shared,
                      s.execs, s.exec_ns, s.exec_prepare_ns, s.exec_create_ns, s.exec_load_ns, s.exec_old_memory_ns,
                      s.memory_destroyed, s.memory_destroy_ns, s.cow_copies, s.cow_reclaims);
}

// /proc/xos/unix: AF_UNIX sockets alive and in flight, and the garbage collector's work
// (net/unix.h), one "name value" per line.
ErrorOr<void> generate_unix_stats(TextBuffer& out) {
    const net::UnixStats& s = net::unix_stats();
    return out.append("sockets %lu\nin_flight %lu\ncollections %lu\ncollected %lu\n", s.sockets, s.in_flight,
                      s.collections, s.collected);
}

// /proc/xos/big_lock: how often each way into libos took the big lock with several CPUs
// (sched/big_lock_stats.h): "cpus N", then "page_faults N", "interrupts N", "function_entries N",
// and "syscall NAME N" for each syscall that took it.
ErrorOr<void> generate_big_lock_stats(TextBuffer& out) {
    const sched::BigLockStats& s = sched::g_big_lock_stats;
    TRY(out.append("cpus %u\npage_faults %lu\ninterrupts %lu\nfunction_entries %lu\n", sched::cpus_online(),
                   s.page_faults, s.interrupts, s.function_entries));
    for (size_t i = 0; i < sys::SYSCALL_COUNT; ++i) {
        if (!s.syscalls[i]) continue;
        const char* name = sys::syscall_name(long(i));
        TRY(out.append("syscall %s %lu\n", name ? name : "?", s.syscalls[i]));
    }
    return {};
}

// /proc/xos/cpus: one line per CPU, "cpu N" then "name value" pairs: interrupts taken (its timer,
// devices, each kind of IPI), IPIs and NMIs sent, idle halts, threads migrated to it, and its
// big-lock waits (ticket not served at once) and the halts in them (bench/http/smp_probe.py),
// the rounds of its spin waits and those that halted (or slept, hosted), and its waits for a
// picked thread to leave its old CPU (on_cpu).
ErrorOr<void> generate_cpu_stats(TextBuffer& out) {
    for (unsigned i = 0; i < sched::cpus_online(); ++i) {
        const XosCpuEvents& e = xos_cpu_events[i];
        auto load = [](const uint64_t& counter) { return (unsigned long)__atomic_load_n(&counter, __ATOMIC_RELAXED); };
        TRY(out.append(
            "cpu %u timer %lu device %lu reschedule_ipi %lu tick_ipi %lu tlb_ipi %lu "
            "reschedule_ipi_sent %lu tlb_ipi_sent %lu tlb_nmi_sent %lu idle_halts %lu migrations %lu "
            "lock_waits %lu lock_halts %lu spin_rounds %lu spin_halts %lu on_cpu_waits %lu on_cpu_wait_ns %lu\n",
            i, load(e.timer_interrupts), load(e.device_interrupts), load(e.reschedule_ipis), load(e.tick_ipis),
            load(e.tlb_ipis), load(e.reschedule_ipis_sent), load(e.tlb_ipis_sent), load(e.tlb_nmis_sent),
            load(e.idle_halts), load(e.migrations), load(xos_cpus[i].lock_waits), load(xos_cpus[i].lock_halts),
            load(e.spin_rounds), load(e.spin_halts), load(e.on_cpu_waits), load(e.on_cpu_wait_ns)));
    }
    return {};
}

// /proc/xos/rewrite: the syscall-site rewriter's counters (libos/rewrite/rewrite.h), one
// "name value" per line.
ErrorOr<void> generate_rewrite_stats(TextBuffer& out) {
    const rewrite::Stats& stats = rewrite::stats();
    TRY(out.append("enabled %d\ntraps %lu\npatched %lu\ntrampoline_pages %lu\n", rewrite::enabled() ? 1 : 0,
                   stats.traps, stats.patched, stats.trampoline_pages));
    TRY(out.append("sites %lu\nsites_freed %lu\ncache_pages %lu\ncache_stored %lu\ncache_hits %lu\ncache_evicted "
                   "%lu\ncache_invalidated %lu\n",
                   stats.sites, stats.sites_freed, stats.cache_pages, stats.cache_stored, stats.cache_hits,
                   stats.cache_evicted, stats.cache_invalidated));
    TRY(out.append("poke_traps %lu\n", rewrite::poke_traps()));
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
    unsigned cpus = sched::cpus_online();  // one entry per CPU, as Linux
    for (unsigned cpu = 0; cpu < cpus; ++cpu) {
        TRY(out.append("processor\t: %u\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\nmodel name\t: %s\n"
                       "stepping\t: %u\ncpu cores\t: %u\nflags\t\t:",
                       cpu, vendor, (a >> 8) & 0xf, (a >> 4) & 0xf, model, a & 0xf, cpus));
        static const char* const edx_names[32] = {
            "fpu",   "vme",  "de",   "pse", "tsc",  "msr",   "pae",   "mce",   "cx8",     "apic",  nullptr,
            "sep",   "mtrr", "pge",  "mca", "cmov", "pat",   "pse36", nullptr, "clflush", nullptr, nullptr,
            nullptr, "mmx",  "fxsr", "sse", "sse2", nullptr, nullptr, nullptr, nullptr,   nullptr};
        for (int bit = 0; bit < 32; ++bit)
            if ((d >> bit) & 1 && edx_names[bit]) TRY(out.append(" %s", edx_names[bit]));
        if (c & 1) TRY(out.append(" pni"));
        if (c & (1 << 19)) TRY(out.append(" sse4_1"));
        if (c & (1 << 20)) TRY(out.append(" sse4_2"));
        if (c & (1 << 28)) TRY(out.append(" avx"));
        TRY(out.append("\n\n"));
    }
    return {};
}

ErrorOr<void> generate_mounts(TextBuffer& out) {
    for (const vfs::Mount& mount : vfs::mounts()) {
        const char* type = mount.fs->type_name();
        unsigned flags = mount.fs->mount_flags();
        TRY(out.append("%s %s %s %s%s%s%s,relatime 0 0\n", type, mount.path, type, mount.fs->read_only() ? "ro" : "rw",
                       flags & vfs::MOUNT_NO_SUID ? ",nosuid" : "", flags & vfs::MOUNT_NO_DEV ? ",nodev" : "",
                       flags & vfs::MOUNT_NO_EXEC ? ",noexec" : ""));
    }
    return {};
}

ErrorOr<KString> self_text(uint64_t) {
    char text[16];
    snprintf(text, sizeof text, "%d", sched::current_process().pid);
    return KString::from(text);
}

ErrorOr<KString> exe_text(uint64_t pid) {
    sched::Process& process = *TRY(process_of(int(pid)));
    if (process.exe.size()) return KString::from(process.exe.view());
    const char* argv0 = g_info.argc ? g_info.argv[0] : "app";
    if (argv0[0] == '/') return KString::from(argv0);
    char path[vfs::PATH_MAX_BYTES];
    snprintf(path, sizeof path, "/%s", argv0);
    return KString::from(path);
}

ErrorOr<KString> cwd_text(uint64_t pid) {
    vfs::Process& files = *TRY(files_of(int(pid)));
    char path[vfs::PATH_MAX_BYTES];
    TRY(vfs::directory_path(files.context(), files.cwd, path));
    return KString::from(path);
}

ErrorOr<RefPtr<vfs::Vnode>> cwd_follow(uint64_t pid) { return TRY(files_of(int(pid)))->cwd; }

ErrorOr<KString> root_text(uint64_t pid) {
    vfs::Process& files = *TRY(files_of(int(pid)));
    char path[vfs::PATH_MAX_BYTES];
    TRY(vfs::directory_path(files.context(), files.root, path));
    return KString::from(path);
}

ErrorOr<RefPtr<vfs::Vnode>> root_follow(uint64_t pid) { return TRY(files_of(int(pid)))->root; }

template <typename T, typename... Args>
RefPtr<vfs::Vnode> make(Args&&... args) {
    return RefPtr<vfs::Vnode>(mm::kcreate<T>(static_cast<Args&&>(args)...));
}

int parse_pid(std::string_view name) {
    int pid = 0;
    if (name.empty() || name.size() > 9 || (name.size() > 1 && name[0] == '0')) return 0;
    for (char c : name) {
        if (c < '0' || c > '9') return 0;
        pid = pid * 10 + (c - '0');
    }
    return pid;
}

// /proc/PID of any process, alive or zombie (made at each lookup; its files are generated
// when opened, from the process as it is then, ESRCH/ENOENT once it is gone).
ErrorOr<RefPtr<vfs::Vnode>> pid_lookup(ProcDir& root, std::string_view name) {
    int pid = parse_pid(name);
    if (!pid || !sched::find_process(pid)) return error(ENOENT);
    ProcFs& fs = g_procfs.get();
    auto* directory = mm::kcreate<ProcDir>(fs, &root);
    if (!directory) return error(ENOMEM);
    RefPtr<vfs::Vnode> result(directory);
    TRY(directory->add("fd", make<ProcFdDir>(fs, directory, pid)));
    TRY(directory->add("cwd", make<ProcLink>(fs, &cwd_text, &cwd_follow, uint64_t(pid))));
    TRY(directory->add("root", make<ProcLink>(fs, &root_text, &root_follow, uint64_t(pid))));
    TRY(directory->add("exe", make<ProcLink>(fs, &exe_text, nullptr, uint64_t(pid))));
    TRY(directory->add("cmdline", make<ProcTextFile>(fs, &generate_cmdline_for, pid)));
    TRY(directory->add("environ", make<ProcTextFile>(fs, &generate_environ_for, pid)));
    TRY(directory->add("status", make<ProcTextFile>(fs, &generate_status_for, pid)));
    TRY(directory->add("stat", make<ProcTextFile>(fs, &generate_stat_for, pid)));
    TRY(directory->add("statm", make<ProcTextFile>(fs, &generate_statm_for, pid)));
    TRY(directory->add("comm", make<ProcTextFile>(fs, &generate_comm_for, pid)));
    TRY(directory->add("maps", make<ProcTextFile>(fs, &generate_maps_for, pid)));
    TRY(directory->add("mounts", make<ProcTextFile>(fs, &generate_mounts)));
    return result;
}

// readdir(/proc) after its fixed entries: one directory per process (alive or zombie) in
// ascending pid order; `cookie` is the next pid to list.
void list_pids(ProcDir& root, uint64_t& cookie, vfs::DirSink& sink) {
    for (;;) {
        int next = 0;
        sched::for_each_process([&](sched::Process& process) {
            if (process.state == sched::ProcessState::Reaped || uint64_t(process.pid) < cookie) return;
            if (!next || process.pid < next) next = process.pid;
        });
        if (!next) {
            cookie = uint64_t(INT32_MAX) + 1;
            return;
        }
        char name[12];
        int length = snprintf(name, sizeof name, "%d", next);
        // Inode numbers of pid directories: above the fixed ones (allocate_ino counts up from 1).
        if (!sink.emit({(uint64_t(1) << 32) + uint64_t(next),
                        uint64_t(next) + 1 + root.child_count() + 2,
                        DT_DIR,
                        {name, size_t(length)}}))
            return;
        cookie = uint64_t(next) + 1;
    }
}

// /proc/uptime: seconds since boot, and idle seconds (not kept: 0).
ErrorOr<void> generate_uptime(TextBuffer& out) {
    uint64_t ns = platform::monotonic_ns();
    return out.append("%lu.%02lu 0.00\n", ns / 1000000000, ns / 10000000 % 100);
}

// /proc/stat: what ps and top read (the CPU line, boot time, process counts).
ErrorOr<void> generate_proc_stat(TextBuffer& out) {
    uint64_t busy = sched::process_cpu_time_ns() / 10000000;
    uint64_t total = platform::monotonic_ns() / 10000000;
    uint64_t idle = total > busy ? total - busy : 0;
    int running = 0;
    sched::for_each_process([&](sched::Process& process) {
        if (state_of(process) == 'R') ++running;
    });
    return out.append("cpu  %lu 0 0 %lu 0 0 0 0 0 0\ncpu0 %lu 0 0 %lu 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime %lu\n"
                      "processes %d\nprocs_running %d\nprocs_blocked 0\n",
                      busy, idle, busy, idle, uint64_t(platform::realtime_ns()) / 1000000000 - total / 100,
                      sched::process_count(), running);
}

ErrorOr<void> generate_loadavg(TextBuffer& out) {
    int last = 0;
    sched::for_each_process([&](sched::Process& process) {
        if (process.pid > last) last = process.pid;
    });
    return out.append("0.00 0.00 0.00 1/%d %d\n", sched::process_count(), last);
}

// /proc/sys/kernel/hostname and domainname: the UTS names (read-only here; sethostname(2)
// changes them).
ErrorOr<void> generate_hostname(TextBuffer& out) {
    sys::UtsNameCopy copy = sys::hostname();
    std::string_view name = copy.view();
    return out.append("%.*s\n", int(name.size()), name.data());
}

ErrorOr<void> generate_domainname(TextBuffer& out) {
    sys::UtsNameCopy copy = sys::domainname();
    std::string_view name = copy.view();
    return out.append("%.*s\n", int(name.size()), name.data());
}

ErrorOr<void> generate_osrelease(TextBuffer& out) { return out.append("6.1.0-xos\n"); }

}  // namespace

void note_exec(const char* path, std::span<const char* const> argv, std::span<const char* const> envp,
               uintptr_t stack_pointer) {
    sched::Process& process = sched::current_process();
    // /proc/PID/exe: the path made absolute against the working directory.
    char absolute[vfs::PATH_MAX_BYTES];
    size_t used = 0;
    bool fits = true;
    if (path[0] != '/') {
        vfs::Process& files = vfs::process();
        auto length = vfs::directory_path(files.context(), files.cwd, absolute);
        fits = bool(length);
        if (length) used = *length - 1;
        if (used > 1 && used + 1 < sizeof absolute) absolute[used++] = '/';  // "/" ends in one already
    }
    size_t n = strlen(path);
    if (fits && used + n < sizeof absolute) {
        memcpy(absolute + used, path, n + 1);
        if (auto text = KString::from({absolute, used + n})) process.exe = static_cast<KString&&>(*text);
    }
    // /proc/PID/cmdline and environ: the strings build_initial_stack placed, argv's first then
    // envp's, one after the other; argv[0]'s address is the word above argc.
    auto bytes = [](std::span<const char* const> strings) {
        size_t sum = 0;
        for (const char* string : strings) sum += strlen(string) + 1;
        return sum;
    };
    uintptr_t first = 0;
    if (!argv.empty())
        first = *reinterpret_cast<const uintptr_t*>(stack_pointer + 8);
    else if (!envp.empty())
        first = *reinterpret_cast<const uintptr_t*>(stack_pointer + 16);
    process.arg_start = first;
    process.arg_end = process.env_start = first + bytes(argv);
    process.env_end = process.env_start + bytes(envp);
}

ErrorOr<void> mount_procfs(const ProcessInfo& info) {
    g_info = info;
    ProcFs& fs = g_procfs.get();
    auto* root = mm::kcreate<ProcDir>(fs, nullptr);
    if (!root) return error(ENOMEM);
    fs.m_root = root;
    root->set_fallback(pid_lookup);
    root->set_lister(list_pids);
    TRY(root->add("self", make<ProcLink>(fs, &self_text, nullptr, 0)));
    TRY(root->add("meminfo", make<ProcTextFile>(fs, &generate_meminfo)));
    TRY(root->add("cpuinfo", make<ProcTextFile>(fs, &generate_cpuinfo)));
    TRY(root->add("mounts", make<ProcTextFile>(fs, &generate_mounts)));
    TRY(root->add("uptime", make<ProcTextFile>(fs, &generate_uptime)));
    TRY(root->add("stat", make<ProcTextFile>(fs, &generate_proc_stat)));
    TRY(root->add("loadavg", make<ProcTextFile>(fs, &generate_loadavg)));
    auto* xos_dir = mm::kcreate<ProcDir>(fs, root);  // xos's own figures
    if (!xos_dir) return error(ENOMEM);
    TRY(root->add("xos", RefPtr<vfs::Vnode>(xos_dir)));
    TRY(xos_dir->add("rewrite", make<ProcTextFile>(fs, &generate_rewrite_stats)));
    TRY(xos_dir->add("processes", make<ProcTextFile>(fs, &generate_process_stats)));
    TRY(xos_dir->add("unix", make<ProcTextFile>(fs, &generate_unix_stats)));
    TRY(xos_dir->add("big_lock", make<ProcTextFile>(fs, &generate_big_lock_stats)));
    TRY(xos_dir->add("cpus", make<ProcTextFile>(fs, &generate_cpu_stats)));
    auto* sys_dir = mm::kcreate<ProcDir>(fs, root);
    if (!sys_dir) return error(ENOMEM);
    TRY(root->add("sys", RefPtr<vfs::Vnode>(sys_dir)));
    auto* kernel_dir = mm::kcreate<ProcDir>(fs, sys_dir);
    if (!kernel_dir) return error(ENOMEM);
    TRY(sys_dir->add("kernel", RefPtr<vfs::Vnode>(kernel_dir)));
    TRY(kernel_dir->add("hostname", make<ProcTextFile>(fs, &generate_hostname)));
    TRY(kernel_dir->add("domainname", make<ProcTextFile>(fs, &generate_domainname)));
    TRY(kernel_dir->add("osrelease", make<ProcTextFile>(fs, &generate_osrelease)));

    vfs::Process& process = vfs::process();
    auto context = process.context(process.root.get());
    if (!vfs::resolve(context, "/proc", vfs::Follow::Yes)) TRY(vfs::make_directory(context, "/proc", 0555));
    RefPtr<vfs::Vnode> mount_point = TRY(vfs::resolve(context, "/proc", vfs::Follow::Yes));
    return vfs::mount(fs, mount_point, "/proc");
}

}  // namespace xos::fs
