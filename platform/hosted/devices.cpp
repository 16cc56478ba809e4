// The hosted platform's "devices": console on host fds 1 and 2, the host's clocks, getrandom
// for entropy, exit_group to leave, no virtio devices.
#include <cstdio>
#include <cstring>
#include <span>
#include <string_view>

#include "hosted/host.h"
#include "xos/platform.h"
#include "xos/virtio.h"

namespace xos::hosted::host {

bool write_all(int fd, const char* bytes, size_t count) {
    while (count) {
        long n = call(WRITE, fd, long(bytes), long(count));
        if (n == -EINTR || n == -EAGAIN) continue;
        if (n <= 0) return false;
        bytes += n;
        count -= size_t(n);
    }
    return true;
}

void exit_group(int status) {
    for (;;) call(EXIT_GROUP, status);
}

}  // namespace xos::hosted::host

namespace xos::hosted {
namespace {

struct Timespec {
    int64_t seconds, nanoseconds;
};

int64_t read_clock(int clock) {
    Timespec t{};
    clock_gettime(clock, &t);
    return t.seconds * 1000000000 + t.nanoseconds;
}

constexpr int CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_REALTIME_COARSE = 5;
int64_t g_boot_monotonic;

}  // namespace

void init_clock() { g_boot_monotonic = read_clock(CLOCK_MONOTONIC); }
}  // namespace xos::hosted

namespace xos::platform {

void console_write(ConsoleStream stream, const char* bytes, size_t count) {
    hosted::host::write_all(stream == ConsoleStream::Err ? 2 : 1, bytes, count);
}

uint64_t monotonic_ns() { return uint64_t(hosted::read_clock(hosted::CLOCK_MONOTONIC) - hosted::g_boot_monotonic); }
int64_t realtime_ns() { return hosted::read_clock(hosted::CLOCK_REALTIME); }
int64_t realtime_coarse_ns() { return hosted::read_clock(hosted::CLOCK_REALTIME_COARSE); }

bool entropy(void* out, size_t count) {
    auto* bytes = static_cast<char*>(out);
    while (count) {
        long n = hosted::host::call(hosted::host::GETRANDOM, long(bytes), long(count), 0);
        if (n == -hosted::host::EINTR) continue;
        if (n <= 0) {
            hosted::setup_failed("getrandom failed", n);
        }
        bytes += n;
        count -= size_t(n);
    }
    return true;
}

uint64_t hwcap() {
    uint32_t a = 1, b, c = 0, d;
    asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return d;
}

// Leaves the process with the app's status. A crash exits 128+signal (as a shell reports a
// process killed by that signal) rather than dying by the signal, so the status is the VM's.
void shutdown(ExitKind kind, int status, const char* reason) {
    hosted::restore_terminal();  // run directly on a terminal: as it was before (console.cpp)
    char record[256];
    int n = kind == ExitKind::Exit
        ? snprintf(record, sizeof record, "exit %d\n", status & 0xff)
        : snprintf(record, sizeof record, "crash %d %s\n", status & 0xff, reason ? reason : "unknown");
    if (n < 0) n = 0;
    if (n >= int(sizeof record)) {
        n = sizeof record;
        record[n - 1] = '\n';
    }
    if (hosted::g_status_fd >= 0) {
        hosted::host::write_all(hosted::g_status_fd, record, size_t(n));
    } else if (kind == ExitKind::Crash) {
        // Run directly (not under xos-run): say why, as xos-run would.
        hosted::host::write_all(2, "xos: crashed: ", 14);
        hosted::host::write_all(2, record + 6, size_t(n - 6));
    }
    hosted::host::exit_group(status & 0xff);
}

std::span<VirtioTransport* const> virtio_devices(std::span<const std::string_view>) { return {}; }

}  // namespace xos::platform
