// Leaving the VM. The verdict goes out twice: as one line on the status port (an isa-debugcon
// that xos-run reads: `exit N` or `crash N reason`, the full 0..255 range) and as the byte N to
// QEMU's isa-debug-exit, which makes QEMU exit with (N << 1) | 1. Without those devices
// (another VMM) the CPU halts with interrupts off.
#include <cstdio>

#include "x86_64/cpu.h"
#include "x86_64/machine.h"
#include "xos/platform.h"

namespace xos::kvm {

namespace {
constexpr uint16_t STATUS_PORT = 0x4f0;
constexpr uint16_t DEBUG_EXIT_PORT = 0xf4;
}  // namespace

void shutdown(platform::ExitKind kind, int status, const char* reason) {
    char record[256];
    int n = kind == platform::ExitKind::Exit
        ? snprintf(record, sizeof record, "exit %d\n", status & 0xff)
        : snprintf(record, sizeof record, "crash %d %s\n", status & 0xff, reason ? reason : "unknown");
    if (n < 0) n = 0;
    if (n >= int(sizeof record)) {
        n = sizeof record;
        record[n - 1] = '\n';
    }
    for (int i = 0; i < n; ++i) x86::outb(STATUS_PORT, uint8_t(record[i]));
    x86::outb(DEBUG_EXIT_PORT, uint8_t(status));
    x86::halt_forever();
}

}  // namespace xos::kvm
