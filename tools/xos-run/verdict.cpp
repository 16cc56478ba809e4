#include "verdict.h"

#include <charconv>
#include <csignal>

namespace {

std::optional<int> parse_status(std::string_view text) {
    int value = -1;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || value < 0 || value > 255)
        return std::nullopt;
    return value;
}

std::optional<StatusRecord> parse_line(std::string_view line) {
    if (line.starts_with("exit ")) {
        auto status = parse_status(line.substr(5));
        if (status) return StatusRecord{StatusRecord::Kind::Exit, *status, {}};
    } else if (line.starts_with("crash ")) {
        std::string_view rest = line.substr(6);
        auto space = rest.find(' ');
        auto status = parse_status(rest.substr(0, space));
        std::string reason = space == std::string_view::npos ? "" : std::string(rest.substr(space + 1));
        if (status) return StatusRecord{StatusRecord::Kind::Crash, *status, reason.empty() ? "unknown reason" : reason};
    }
    return std::nullopt;
}

}  // namespace

std::optional<StatusRecord> parse_status_records(const std::string& contents) {
    std::optional<StatusRecord> last;
    std::string_view rest = contents;
    // A line cut short (no newline) was interrupted mid-write: ignore it.
    for (auto nl = rest.find('\n'); nl != std::string_view::npos; nl = rest.find('\n')) {
        if (auto record = parse_line(rest.substr(0, nl))) last = record;
        rest.remove_prefix(nl + 1);
    }
    return last;
}

Verdict decide_verdict(const std::optional<StatusRecord>& record, const QemuEnd& qemu, StopCause cause, int stop_signal,
                       const std::string& timeout_text) {
    if (cause == StopCause::Timeout) return {124, "error: timed out after " + timeout_text + " s"};
    if (cause == StopCause::Signal) return {128 + stop_signal, ""};
    if (record && record->kind == StatusRecord::Kind::Exit) return {record->status, ""};
    if (record) return {record->status, "guest crashed: " + record->reason};
    if (!qemu.exited) return {125, "error: QEMU was killed by signal " + std::to_string(qemu.code)};
    // isa-debug-exit makes QEMU exit (v << 1) | 1; 1 itself is also QEMU's own failure code.
    if (qemu.code >= 3 && qemu.code % 2 == 1)
        return {qemu.code >> 1, "note: the guest left no status record; status from QEMU's exit code", true};
    if (qemu.code == 0) return {125, "error: guest stopped without reporting an exit status (triple fault?)"};
    return {125, "error: QEMU failed (exit status " + std::to_string(qemu.code) + ")"};
}
