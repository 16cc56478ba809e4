// Turns what the guest and QEMU reported into xos-run's exit status.
#pragma once

#include <optional>
#include <string>

// One line the guest writes to the status port before leaving the VM.
struct StatusRecord {
    enum class Kind { Exit, Crash } kind;
    int status;  // 0..255
    std::string reason;  // crash only
};

// The last well-formed record in the status file's contents ("exit N" or "crash N reason",
// newline-terminated); nullopt if there is none.
std::optional<StatusRecord> parse_status_records(const std::string& contents);

// How the QEMU process ended.
struct QemuEnd {
    bool exited = false;  // else killed by a signal
    int code = 0;  // exit code, or signal number
};

enum class StopCause { GuestDone, Timeout, Signal };

struct Verdict {
    int exit_status;
    std::string message;  // printed on stderr when non-empty
    bool verbose_only = false;
};

// stop_signal: the signal xos-run received when cause == Signal.
Verdict decide_verdict(const std::optional<StatusRecord>& record, const QemuEnd& qemu, StopCause cause, int stop_signal,
                       const std::string& timeout_text);
