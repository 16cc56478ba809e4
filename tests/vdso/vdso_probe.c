// The vDSO a program gets (AT_SYSINFO_EHDR), checked from inside an unmodified program (glibc
// dynamic and static-pie, musl static-pie; tests/vdso/run_vdso_test.py runs it natively and on
// xos). It parses the vDSO the way the C libraries do: the first PT_LOAD gives the load bias,
// PT_DYNAMIC the tables; each symbol is found through DT_GNU_HASH (glibc's lookup) and through
// DT_HASH (musl's, Go's fallback) with its version LINUX_2.6 checked against DT_VERSYM/DT_VERDEF
// (dlvsym-style), and both must agree. Each function is then called and compared with the
// syscall: its value must lie between two syscall readings taken around it.
//
// `--require-trap-check` (on xos with XOS_REWRITE=0: every syscall instruction traps and is
// counted in /proc/xos/rewrite): the C library's clock_gettime, gettimeofday and time must not
// add a single trap, while as many getppid calls add at least as many traps.
//
// Exit status 0: all checks passed; 1: a check failed (the reason is on stderr).
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int g_failures;

#define CHECK(condition, ...)                                                                                          \
    do {                                                                                                               \
        if (!(condition)) {                                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                       \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            ++g_failures;                                                                                              \
        }                                                                                                              \
    } while (0)

// --- The vDSO as glibc and musl see it.

struct Vdso {
    uintptr_t bias;  // load address - link address
    const Elf64_Sym* symbols;
    const char* strings;
    const uint32_t* hash;  // DT_HASH
    const uint32_t* gnu_hash;  // DT_GNU_HASH
    const Elf64_Versym* versym;
    const Elf64_Verdef* verdef;
};

static uint32_t elf_hash(const char* name) {
    uint32_t h = 0;
    for (const unsigned char* s = (const unsigned char*)name; *s; ++s) {
        h = (h << 4) + *s;
        uint32_t g = h & 0xf0000000;
        if (g) h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

static uint32_t gnu_hash(const char* name) {
    uint32_t h = 5381;
    for (const unsigned char* s = (const unsigned char*)name; *s; ++s) h = h * 33 + *s;
    return h;
}

static int parse_vdso(uintptr_t base, struct Vdso* vdso) {
    const Elf64_Ehdr* ehdr = (const Elf64_Ehdr*)base;
    if (memcmp(ehdr->e_ident, ELFMAG, SELFMAG) != 0 || ehdr->e_ident[EI_CLASS] != ELFCLASS64 ||
        ehdr->e_type != ET_DYN || ehdr->e_machine != EM_X86_64) {
        fprintf(stderr, "FAIL: AT_SYSINFO_EHDR does not point at an x86_64 ELF shared object\n");
        return 0;
    }
    const Elf64_Phdr* phdrs = (const Elf64_Phdr*)(base + ehdr->e_phoff);
    const Elf64_Dyn* dynamic = NULL;
    int have_load = 0;
    for (int i = 0; i < ehdr->e_phnum; ++i) {
        if (phdrs[i].p_type == PT_LOAD && !have_load) {
            have_load = 1;
            vdso->bias = base + phdrs[i].p_offset - phdrs[i].p_vaddr;
        } else if (phdrs[i].p_type == PT_DYNAMIC) {
            dynamic = (const Elf64_Dyn*)(base + phdrs[i].p_offset);
        }
        CHECK(phdrs[i].p_type != PT_TLS, "the vDSO has a PT_TLS segment");
    }
    if (!have_load || !dynamic) {
        fprintf(stderr, "FAIL: the vDSO has no PT_LOAD or no PT_DYNAMIC\n");
        return 0;
    }
    for (const Elf64_Dyn* d = dynamic; d->d_tag != DT_NULL; ++d) {
        uintptr_t at = vdso->bias + d->d_un.d_ptr;
        switch (d->d_tag) {
        case DT_SYMTAB: vdso->symbols = (const Elf64_Sym*)at; break;
        case DT_STRTAB: vdso->strings = (const char*)at; break;
        case DT_HASH: vdso->hash = (const uint32_t*)at; break;
        case DT_GNU_HASH: vdso->gnu_hash = (const uint32_t*)at; break;
        case DT_VERSYM: vdso->versym = (const Elf64_Versym*)at; break;
        case DT_VERDEF: vdso->verdef = (const Elf64_Verdef*)at; break;
        case DT_REL:
        case DT_RELA:
        case DT_JMPREL:
        case DT_TEXTREL: CHECK(0, "the vDSO has relocations (dynamic tag %ld)", (long)d->d_tag); break;
        }
    }
    CHECK(vdso->symbols && vdso->strings, "the vDSO has no DT_SYMTAB or DT_STRTAB");
    CHECK(vdso->hash, "the vDSO has no DT_HASH (musl's and Go's parsers need it)");
    CHECK(vdso->versym && vdso->verdef, "the vDSO has no DT_VERSYM or DT_VERDEF");
    return vdso->symbols && vdso->strings && vdso->hash && vdso->versym && vdso->verdef;
}

// Whether symbol `index` has version `version` (glibc's check_match, musl's checkver).
static int has_version(const struct Vdso* vdso, uint32_t index, const char* version) {
    unsigned wanted = vdso->versym[index] & 0x7fff;
    const Elf64_Verdef* def = vdso->verdef;
    for (;;) {
        if (!(def->vd_flags & VER_FLG_BASE) && (def->vd_ndx & 0x7fff) == wanted) {
            const Elf64_Verdaux* aux = (const Elf64_Verdaux*)((const char*)def + def->vd_aux);
            return def->vd_hash == elf_hash(version) && strcmp(vdso->strings + aux->vda_name, version) == 0;
        }
        if (!def->vd_next) return 0;
        def = (const Elf64_Verdef*)((const char*)def + def->vd_next);
    }
}

static int symbol_matches(const struct Vdso* vdso, uint32_t index, const char* name, const char* version) {
    const Elf64_Sym* sym = &vdso->symbols[index];
    int type = ELF64_ST_TYPE(sym->st_info), bind = ELF64_ST_BIND(sym->st_info);
    return sym->st_shndx != SHN_UNDEF && (type == STT_FUNC || type == STT_NOTYPE) &&
        (bind == STB_GLOBAL || bind == STB_WEAK) && strcmp(vdso->strings + sym->st_name, name) == 0 &&
        has_version(vdso, index, version);
}

static void* lookup_elf_hash(const struct Vdso* vdso, const char* name, const char* version) {
    uint32_t nbucket = vdso->hash[0];
    const uint32_t* buckets = vdso->hash + 2;
    const uint32_t* chains = buckets + nbucket;
    for (uint32_t i = buckets[elf_hash(name) % nbucket]; i; i = chains[i])
        if (symbol_matches(vdso, i, name, version)) return (void*)(vdso->bias + vdso->symbols[i].st_value);
    return NULL;
}

static void* lookup_gnu_hash(const struct Vdso* vdso, const char* name, const char* version) {
    const uint32_t* table = vdso->gnu_hash;
    uint32_t nbucket = table[0], symoffset = table[1], bloom_size = table[2], bloom_shift = table[3];
    const uint64_t* bloom = (const uint64_t*)(table + 4);
    const uint32_t* buckets = (const uint32_t*)(bloom + bloom_size);
    const uint32_t* chain = buckets + nbucket;
    uint32_t h = gnu_hash(name);
    uint64_t word = bloom[(h / 64) % bloom_size];
    if (!((word >> (h % 64)) & (word >> ((h >> bloom_shift) % 64)) & 1)) return NULL;
    uint32_t i = buckets[h % nbucket];
    if (i < symoffset) return NULL;
    for (;; ++i) {
        uint32_t chained = chain[i - symoffset];
        if ((chained | 1) == (h | 1) && symbol_matches(vdso, i, name, version))
            return (void*)(vdso->bias + vdso->symbols[i].st_value);
        if (chained & 1) return NULL;
    }
}

// dlvsym(vdso, name, "LINUX_2.6"): through DT_GNU_HASH (when there is one) and DT_HASH, which
// must agree.
static void* vdso_symbol(const struct Vdso* vdso, const char* name) {
    void* by_hash = lookup_elf_hash(vdso, name, "LINUX_2.6");
    CHECK(by_hash, "%s@LINUX_2.6 not found through DT_HASH", name);
    if (vdso->gnu_hash) {
        void* by_gnu_hash = lookup_gnu_hash(vdso, name, "LINUX_2.6");
        CHECK(by_gnu_hash == by_hash, "%s: DT_GNU_HASH gives %p, DT_HASH %p", name, by_gnu_hash, by_hash);
    }
    CHECK(!lookup_elf_hash(vdso, name, "LINUX_2.5"), "%s found with a version it does not have", name);
    return by_hash;
}

// --- Comparisons with the syscalls.

static int64_t ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }
static int64_t us(struct timeval t) { return (int64_t)t.tv_sec * 1000000 + t.tv_usec; }

typedef int (*ClockGettime)(clockid_t, struct timespec*);
typedef int (*Gettimeofday)(struct timeval*, void*);
typedef time_t (*Time)(time_t*);
typedef int (*Getcpu)(unsigned*, unsigned*, void*);
typedef int (*ClockGetres)(clockid_t, struct timespec*);

static const struct {
    clockid_t id;
    const char* name;
} CLOCKS[] = {
    {CLOCK_REALTIME, "CLOCK_REALTIME"},
    {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
    {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
    {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
    {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
    {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
    {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},  // not a fast-path clock: the syscall
};

static void check_clock_gettime(ClockGettime vdso_clock_gettime) {
    for (size_t i = 0; i < sizeof CLOCKS / sizeof CLOCKS[0]; ++i) {
        struct timespec before, during, after;
        long r1 = syscall(SYS_clock_gettime, CLOCKS[i].id, &before);
        int r2 = vdso_clock_gettime(CLOCKS[i].id, &during);
        long r3 = syscall(SYS_clock_gettime, CLOCKS[i].id, &after);
        CHECK(r1 == 0 && r2 == 0 && r3 == 0, "%s: results %ld %d %ld", CLOCKS[i].name, r1, r2, r3);
        CHECK(during.tv_nsec >= 0 && during.tv_nsec < 1000000000, "%s: tv_nsec %ld", CLOCKS[i].name,
              (long)during.tv_nsec);
        CHECK(ns(before) <= ns(during) && ns(during) <= ns(after), "%s: vDSO %lld not within [%lld, %lld]",
              CLOCKS[i].name, (long long)ns(during), (long long)ns(before), (long long)ns(after));
    }
    struct timespec unused;
    int bad = vdso_clock_gettime(12345, &unused);
    CHECK(bad == -EINVAL, "clock_gettime(12345): %d, expected -EINVAL", bad);
    printf("__vdso_clock_gettime: %zu clocks within the syscall's readings, a bad clock -EINVAL\n",
           sizeof CLOCKS / sizeof CLOCKS[0]);
}

static void check_clock_getres(ClockGetres vdso_clock_getres) {
    for (size_t i = 0; i < sizeof CLOCKS / sizeof CLOCKS[0]; ++i) {
        struct timespec from_syscall, from_vdso;
        long r1 = syscall(SYS_clock_getres, CLOCKS[i].id, &from_syscall);
        int r2 = vdso_clock_getres(CLOCKS[i].id, &from_vdso);
        CHECK(r1 == 0 && r2 == 0 && ns(from_syscall) == ns(from_vdso), "%s: clock_getres %d %lld, syscall %ld %lld",
              CLOCKS[i].name, r2, (long long)ns(from_vdso), r1, (long long)ns(from_syscall));
    }
    CHECK(vdso_clock_getres(CLOCK_MONOTONIC, NULL) == 0, "clock_getres(CLOCK_MONOTONIC, NULL) failed");
    printf("__vdso_clock_getres: the syscall's resolutions\n");
}

static void check_gettimeofday(Gettimeofday vdso_gettimeofday) {
    struct timeval before, during, after;
    struct timezone zone = {-1, -1};
    long r1 = syscall(SYS_gettimeofday, &before, NULL);
    int r2 = vdso_gettimeofday(&during, &zone);
    long r3 = syscall(SYS_gettimeofday, &after, NULL);
    CHECK(r1 == 0 && r2 == 0 && r3 == 0, "gettimeofday: results %ld %d %ld", r1, r2, r3);
    CHECK(during.tv_usec >= 0 && during.tv_usec < 1000000, "gettimeofday: tv_usec %ld", (long)during.tv_usec);
    CHECK(us(before) <= us(during) && us(during) <= us(after), "gettimeofday: vDSO %lld not within [%lld, %lld]",
          (long long)us(during), (long long)us(before), (long long)us(after));
    struct timezone from_syscall = {-2, -2};
    syscall(SYS_gettimeofday, NULL, &from_syscall);
    CHECK(zone.tz_minuteswest == from_syscall.tz_minuteswest && zone.tz_dsttime == from_syscall.tz_dsttime,
          "gettimeofday: time zone %d/%d, the syscall's %d/%d", zone.tz_minuteswest, zone.tz_dsttime,
          from_syscall.tz_minuteswest, from_syscall.tz_dsttime);
    CHECK(vdso_gettimeofday(NULL, NULL) == 0, "gettimeofday(NULL, NULL) failed");
    printf("__vdso_gettimeofday: within the syscall's readings, the same time zone\n");
}

static void check_time(Time vdso_time) {
    time_t stored = 0;
    long before = syscall(SYS_time, NULL);
    time_t during = vdso_time(&stored);
    long after = syscall(SYS_time, NULL);
    CHECK(before <= during && during <= after && stored == during, "time: vDSO %ld (stored %ld) not within [%ld, %ld]",
          (long)during, (long)stored, before, after);
    CHECK(vdso_time(NULL) >= during, "time(NULL) went backwards");
    printf("__vdso_time: within the syscall's readings\n");
}

static void check_getcpu(Getcpu vdso_getcpu) {
    unsigned cpu = ~0u, node = ~0u;
    int result = vdso_getcpu(&cpu, &node, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    CHECK(result == 0 && cpu < (unsigned)cpus && node < 1024, "getcpu: %d, cpu %u of %ld, node %u", result, cpu, cpus,
          node);
    CHECK(vdso_getcpu(NULL, NULL, NULL) == 0, "getcpu(NULL, NULL, NULL) failed");
    printf("__vdso_getcpu: a CPU this machine has\n");
}

// The C library's own time functions against the syscall.
static void check_libc(void) {
    struct timespec before, during, after;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &before);
    clock_gettime(CLOCK_MONOTONIC, &during);
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &after);
    CHECK(ns(before) <= ns(during) && ns(during) <= ns(after), "libc clock_gettime not within the syscall's readings");
    printf("libc clock_gettime: within the syscall's readings\n");
}

// --- The trap count (xos with XOS_REWRITE=0).

static long read_traps(int* enabled) {
    char text[512];
    int fd = open("/proc/xos/rewrite", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got <= 0) return -1;
    text[got] = 0;
    long traps = -1;
    const char* at = strstr(text, "traps ");
    if (at) traps = strtol(at + 6, NULL, 10);
    at = strstr(text, "enabled ");
    if (at && enabled) *enabled = (int)strtol(at + 8, NULL, 10);
    return traps;
}

enum { CALLS = 1000 };

static void time_calls(void) {
    struct timespec t;
    struct timeval tv;
    for (int i = 0; i < CALLS; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        clock_gettime(CLOCK_REALTIME, &t);
        gettimeofday(&tv, NULL);
        time(NULL);
    }
}

static void getppid_calls(void) {
    for (int i = 0; i < CALLS; ++i) syscall(SYS_getppid);
}

// Traps added by `calls`, less what reading the counter costs itself.
static long traps_during(void (*calls)(void)) {
    long t0 = read_traps(NULL), t1 = read_traps(NULL);
    calls();
    long t2 = read_traps(NULL);
    return (t2 - t1) - (t1 - t0);
}

static void check_traps(void) {
    int enabled = -1;
    if (read_traps(&enabled) < 0 || enabled != 0) {
        CHECK(0, "--require-trap-check: no /proc/xos/rewrite, or rewriting is on (enabled %d)", enabled);
        return;
    }
    long from_getppid = traps_during(getppid_calls);
    CHECK(from_getppid >= CALLS, "%d getppid syscalls added %ld traps: the counter does not see them", CALLS,
          from_getppid);
    long from_time = traps_during(time_calls);
    CHECK(from_time == 0, "%d rounds of libc clock_gettime/gettimeofday/time added %ld traps", CALLS, from_time);
    printf("trap check: getppid counted, libc time functions made no syscall\n");
}

int main(int argc, char** argv) {
    int require_trap_check = argc > 1 && strcmp(argv[1], "--require-trap-check") == 0;
    uintptr_t base = getauxval(AT_SYSINFO_EHDR);
    if (!base) {
        fprintf(stderr, "FAIL: no AT_SYSINFO_EHDR\n");
        return 1;
    }
    CHECK(base % 4096 == 0, "AT_SYSINFO_EHDR %#lx is not page-aligned", (unsigned long)base);
    struct Vdso vdso = {0};
    if (!parse_vdso(base, &vdso)) return 1;
    printf("vDSO: DT_HASH, DT_GNU_HASH %s, DT_VERSYM, DT_VERDEF\n", vdso.gnu_hash ? "yes" : "no");
    ClockGettime vdso_clock_gettime = (ClockGettime)vdso_symbol(&vdso, "__vdso_clock_gettime");
    Gettimeofday vdso_gettimeofday = (Gettimeofday)vdso_symbol(&vdso, "__vdso_gettimeofday");
    Time vdso_time = (Time)vdso_symbol(&vdso, "__vdso_time");
    Getcpu vdso_getcpu = (Getcpu)vdso_symbol(&vdso, "__vdso_getcpu");
    ClockGetres vdso_clock_getres = (ClockGetres)vdso_symbol(&vdso, "__vdso_clock_getres");
    const char* aliases[][2] = {{"clock_gettime", "__vdso_clock_gettime"},
                                {"gettimeofday", "__vdso_gettimeofday"},
                                {"time", "__vdso_time"},
                                {"getcpu", "__vdso_getcpu"}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; ++i)
        CHECK(vdso_symbol(&vdso, aliases[i][0]) == vdso_symbol(&vdso, aliases[i][1]), "%s is not %s", aliases[i][0],
              aliases[i][1]);
    if (g_failures) return 1;
    check_clock_gettime(vdso_clock_gettime);
    check_gettimeofday(vdso_gettimeofday);
    check_time(vdso_time);
    check_getcpu(vdso_getcpu);
    check_clock_getres(vdso_clock_getres);
    check_libc();
    if (require_trap_check) check_traps();
    if (g_failures) {
        fprintf(stderr, "%d check(s) failed\n", g_failures);
        return 1;
    }
    printf("all vDSO checks passed\n");
    return 0;
}
