// Time on the kvm platform: the TSC, calibrated once against the PIT (channel 2, 10 ms) the
// first time anybody asks for the time, and the CMOS RTC for the wall clock.
// TODO(threads issue): kvmclock (pvclock) when the host offers it, and the LAPIC timer.
#include <atomic>
#include <ctime>

#include "x86_64/cpu.h"
#include "xos/platform.h"

namespace xos::kvm {

namespace {

constexpr uint64_t PIT_HZ = 1193182;
constexpr uint16_t PIT_CH2 = 0x42, PIT_CMD = 0x43, PIT_GATE = 0x61;

uint64_t g_boot_tsc;
std::atomic<bool> g_calibrated;
uint64_t g_ns_per_tsc_q32;  // nanoseconds per TSC tick, 32.32 fixed point
int64_t g_realtime_at_boot_ns;

uint64_t calibrate_tsc_hz() {
    constexpr uint16_t ticks = PIT_HZ / 100;  // 10 ms
    x86::outb(PIT_GATE, (x86::inb(PIT_GATE) & ~0x02) | 0x01);  // gate on, speaker off
    x86::outb(PIT_CMD, 0xb0);                                   // ch2, lo/hi, mode 0
    x86::outb(PIT_CH2, ticks & 0xff);
    x86::outb(PIT_CH2, ticks >> 8);
    uint64_t start = x86::rdtsc();
    while (!(x86::inb(PIT_GATE) & 0x20)) {
    }
    uint64_t elapsed = x86::rdtsc() - start;
    return elapsed * PIT_HZ / ticks;
}

uint8_t cmos(uint8_t reg) {
    x86::outb(0x70, reg);
    return x86::inb(0x71);
}

int64_t read_rtc_seconds() {
    while (cmos(0x0a) & 0x80) {  // update in progress
    }
    uint8_t sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04), day = cmos(0x07), mon = cmos(0x08),
            year = cmos(0x09), century = cmos(0x32), status_b = cmos(0x0b);
    auto bcd = [&](uint8_t v) -> int { return (status_b & 0x04) ? v : (v & 0x0f) + (v >> 4) * 10; };
    int full_year = (century ? bcd(century) : 20) * 100 + bcd(year);
    // Days from civil (Howard Hinnant's algorithm).
    int y = full_year - (bcd(mon) <= 2);
    int era = y / 400;
    int yoe = y - era * 400;
    int m = bcd(mon);
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + bcd(day) - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = int64_t(era) * 146097 + doe - 719468;
    return days * 86400 + bcd(hour & 0x7f) * 3600 + bcd(min) * 60 + bcd(sec);
}

void calibrate() {
    if (g_calibrated.load(std::memory_order_acquire)) return;
    uint64_t hz = calibrate_tsc_hz();
    g_ns_per_tsc_q32 = (uint64_t(1000000000) << 32) / hz;
    int64_t rtc = read_rtc_seconds();
    uint64_t since_boot = uint64_t((unsigned __int128)(x86::rdtsc() - g_boot_tsc) * g_ns_per_tsc_q32 >> 32);
    g_realtime_at_boot_ns = rtc * 1000000000 - int64_t(since_boot);
    g_calibrated.store(true, std::memory_order_release);
}

}  // namespace

void init_clock() { g_boot_tsc = x86::rdtsc(); }

}  // namespace xos::kvm

namespace xos::platform {

uint64_t monotonic_ns() {
    kvm::calibrate();
    uint64_t ticks = x86::rdtsc() - kvm::g_boot_tsc;
    return uint64_t((unsigned __int128)ticks * kvm::g_ns_per_tsc_q32 >> 32);
}

int64_t realtime_ns() {
    uint64_t mono = monotonic_ns();
    return kvm::g_realtime_at_boot_ns + int64_t(mono);
}

}  // namespace xos::platform
