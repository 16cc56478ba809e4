#include "log.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace xos::oci {

namespace {

int g_fd = -1;
LogFormat g_format = LogFormat::Text;
bool g_debug = false;

std::string now_rfc3339() {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    ::gmtime_r(&ts.tv_sec, &tm);
    char buffer[64];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
    char with_fraction[96];
    std::snprintf(with_fraction, sizeof with_fraction, "%s.%09ldZ", buffer, ts.tv_nsec);
    return with_fraction;
}

void write_log(const char* level, const std::string& message) {
    if (g_fd < 0) return;
    std::string line;
    if (g_format == LogFormat::Json) {
        line = nlohmann::json{{"level", level}, {"msg", message}, {"time", now_rfc3339()}}.dump() + "\n";
    } else {
        line = now_rfc3339() + " " + level + " " + message + "\n";
    }
    // One write per line (O_APPEND): lines of concurrent runtimes do not interleave.
    (void)!::write(g_fd, line.data(), line.size());
}

}  // namespace

void log_open(const std::string& path, LogFormat format, bool debug) {
    g_format = format;
    g_debug = debug;
    if (path.empty()) return;
    g_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (g_fd < 0) std::fprintf(stderr, "xos-oci: warning: cannot open the log %s\n", path.c_str());
}

void log_error(const std::string& message) {
    std::fprintf(stderr, "xos-oci: error: %s\n", message.c_str());
    write_log("error", message);
}

void log_info(const std::string& message) {
    if (g_debug) std::fprintf(stderr, "xos-oci: %s\n", message.c_str());
    write_log("info", message);
}

void log_debug(const std::string& message) {
    if (!g_debug) return;
    std::fprintf(stderr, "xos-oci: debug: %s\n", message.c_str());
    write_log("debug", message);
}

}  // namespace xos::oci
