// Time on the kvm platform: the TSC, calibrated once against the PIT (channel 0 counter read
// back with the latch command, 10 ms) the first time anybody asks for the time, and the CMOS
// RTC for the wall clock. (microvm has the i8254 but not the port-0x61 gate of channel 2.)
// The local APIC timer (timer.cpp) is programmed in TSC values (tsc_at) or calibrated against
// monotonic_ns(); the PIT is stopped once this calibration is done.
// TODO(threads issue): kvmclock (pvclock) when the host offers it.
#include <atomic>
#include <ctime>

#include "xos/log.h"
#include "x86_64/cpu.h"
#include "xos/platform.h"

namespace xos::kvm {

uint16_t pit_reload();  // timer.cpp

namespace {

constexpr uint64_t PIT_HZ = 1193182;
constexpr uint16_t PIT_CH0 = 0x40, PIT_CMD = 0x43;

uint64_t g_boot_tsc;
std::atomic<bool> g_calibrated;
uint64_t g_ns_per_tsc_q32;  // nanoseconds per TSC tick, 32.32 fixed point
uint64_t g_tsc_hz;
int64_t g_realtime_at_boot_ns;

uint16_t read_pit_counter() {
    x86::outb(PIT_CMD, 0x00);  // latch channel 0
    uint8_t low = x86::inb(PIT_CH0);
    uint8_t high = x86::inb(PIT_CH0);
    return uint16_t(low | (high << 8));
}

// One reading of the PIT counter and the TSC at the same moment: the counter read is
// bracketed by two TSC reads and the midpoint taken. False if the bracket is too wide to say
// when the counter was read (the host descheduled the vCPU in between; under TCG a port read
// can also wait for QEMU's global lock): such a reading would pair the counter with a TSC
// value from much later and bias the rate.
struct Sample {
    uint32_t counter;
    uint64_t tsc;
};
bool take_sample(Sample& out) {
    // 200,000 TSC ticks: 40 us at 5 GHz, 400 us at 500 MHz; a port read takes a few us, a
    // host time slice milliseconds.
    constexpr uint64_t max_bracket = 200000;
    uint64_t before = x86::rdtsc();
    uint16_t counter = read_pit_counter();
    uint64_t after = x86::rdtsc();
    if (after - before > max_bracket) return false;
    out = {counter, before + (after - before) / 2};
    return true;
}

// Measures TSC ticks against 10 ms of PIT ticks, summed over steps between consecutive good
// samples. A step may also hide a counter wrap when it lasted half a counter period (the vCPU
// descheduled between two samples): such steps are left out, PIT ticks and TSC ticks alike.
// Returns 0 if too few steps could be used.
uint64_t measure_tsc_hz(uint32_t reload) {
    constexpr uint32_t wanted_ticks = PIT_HZ / 100;  // 10 ms of counted time
    // Half a counter period in TSC ticks is least for the slowest TSC we could be on (say
    // 500 MHz); steps are normally microseconds long.
    const uint64_t max_gap = 500000000ull * (reload / 2) / PIT_HZ;
    Sample previous;
    uint64_t spins = 0;
    while (!take_sample(previous))
        if (++spins > 1000) return 0;
    uint64_t counted_tsc = 0, counted_ticks = 0;
    for (; counted_ticks < wanted_ticks && spins < 20000000; ++spins) {
        Sample now;
        if (!take_sample(now)) continue;  // keep `previous`: the next good sample closes the step
        if (now.tsc - previous.tsc <= max_gap) {
            counted_tsc += now.tsc - previous.tsc;
            counted_ticks += (previous.counter + reload - now.counter) % reload;
        }
        previous = now;
    }
    if (counted_ticks < wanted_ticks / 10) return 0;
    return counted_tsc * PIT_HZ / counted_ticks;
}

uint64_t calibrate_tsc_hz() {
    // Channel 0 counts down from its reload value (the scheduler's tick rate once the timer
    // runs; otherwise we start it at 65536) and wraps.
    uint32_t reload = pit_reload();
    if (!reload) {
        reload = 0x10000;
        x86::outb(PIT_CMD, 0x34);  // channel 0, lo/hi byte, mode 2 (rate generator)
        x86::outb(PIT_CH0, 0x00);
        x86::outb(PIT_CH0, 0x00);  // 0 means 65536
    }
    platform::InterruptGuard no_interrupts;
    for (int attempt = 0; attempt < 5; ++attempt)
        if (uint64_t hz = measure_tsc_hz(reload)) return hz;
    return 0;
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
    if (hz < 1000000) {
        // No usable PIT: keep time anyway with a guess rather than stop the app.
        klog("xos: warning: cannot calibrate the TSC against the PIT; assuming 2 GHz, clocks may drift");
        hz = 2000000000;
    }
    g_ns_per_tsc_q32 = (uint64_t(1000000000) << 32) / hz;
    g_tsc_hz = hz;
    int64_t rtc = read_rtc_seconds();
    uint64_t since_boot = uint64_t((unsigned __int128)(x86::rdtsc() - g_boot_tsc) * g_ns_per_tsc_q32 >> 32);
    g_realtime_at_boot_ns = rtc * 1000000000 - int64_t(since_boot);
    g_calibrated.store(true, std::memory_order_release);
}

}  // namespace

void init_clock() { g_boot_tsc = x86::rdtsc(); }

uint64_t monotonic_ns() {
    calibrate();
    uint64_t ticks = x86::rdtsc() - g_boot_tsc;
    return uint64_t((unsigned __int128)ticks * g_ns_per_tsc_q32 >> 32);
}

uint64_t tsc_at(uint64_t monotonic) {
    calibrate();
    return g_boot_tsc + uint64_t((unsigned __int128)monotonic * g_tsc_hz / 1000000000u);
}

int64_t realtime_ns() {
    uint64_t mono = monotonic_ns();
    return g_realtime_at_boot_ns + int64_t(mono);
}

int64_t realtime_coarse_ns() {
    // Calibrating the TSC takes 10 ms; boot-time users (file timestamps) should not pay for it.
    if (!g_calibrated.load(std::memory_order_acquire)) {
        static int64_t rtc_at_first_use = read_rtc_seconds();
        return rtc_at_first_use * 1000000000;
    }
    return realtime_ns();
}

}  // namespace xos::kvm
