// xos-oci's messages: errors and notes on stderr and, with --log FILE, in that file as runc
// writes it (--log-format text: "time level msg" lines; json: {"level","msg","time"} objects,
// which conmon and containerd-shim read back to report a failed create).
#pragma once

#include <string>

namespace xos::oci {

enum class LogFormat { Text, Json };

void log_open(const std::string& path, LogFormat format, bool debug);
// An error: stderr ("xos-oci: error: ...") and the log.
void log_error(const std::string& message);
// A note: the log only (stderr too with --debug).
void log_info(const std::string& message);
// Only with --debug: the log and stderr.
void log_debug(const std::string& message);

}  // namespace xos::oci
