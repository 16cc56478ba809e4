// Time from Xen's pvclock: vCPU 0's vcpu_time_info in shared_info gives system time (ns since
// Xen booted) at a TSC stamp and the TSC's scale; the wall clock at system time 0 is
// shared_info's wc_*. Both are versioned (odd while Xen updates them). RDTSC only: RDTSCP fails
// Xen's instruction-length check under QEMU TCG (docs/xen.md).
#include "x86_64/cpu.h"
#include "xen/xen.h"

namespace xos::xen {

namespace {

uint64_t g_boot_system_time;

uint32_t read_version(const volatile uint32_t& version) { return __atomic_load_n(&version, __ATOMIC_ACQUIRE); }

}  // namespace

uint64_t system_time_ns() {
    shared_info* info = shared();
    if (!info) return 0;
    const vcpu_time_info& time = info->vcpu[0].time;
    uint32_t version;
    uint64_t result;
    do {
        version = read_version(time.version);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint64_t delta = x86::rdtsc() - time.tsc_timestamp;
        int8_t shift = time.tsc_shift;
        if (shift < 0)
            delta >>= -shift;
        else
            delta <<= shift;
        result = time.system_time + uint64_t((unsigned __int128)delta * time.tsc_to_system_mul >> 32);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((version & 1) || version != read_version(time.version));
    return result;
}

uint64_t monotonic_ns() {
    uint64_t now = system_time_ns();
    if (!g_boot_system_time) g_boot_system_time = now;
    return now - g_boot_system_time;
}

int64_t realtime_ns() {
    shared_info* info = shared();
    if (!info) return 0;
    uint32_t version;
    int64_t wall;
    do {
        version = read_version(info->wc_version);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        wall = int64_t((uint64_t(info->wc_sec_hi) << 32) | info->wc_sec) * 1000000000 + info->wc_nsec;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((version & 1) || version != read_version(info->wc_version));
    return wall + int64_t(system_time_ns());
}

}  // namespace xos::xen
