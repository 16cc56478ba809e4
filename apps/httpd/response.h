// Response heads and the small generated bodies (errors, redirects). Portable, no I/O.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace httpd {

std::string_view reason_phrase(int status);

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for a Date or Last-Modified field.
std::string http_date(std::time_t when);

struct ResponseHead {
    int status = 200;
    int version_minor = 1;  // answer in the request's version (HTTP/1.0 or HTTP/1.1)
    bool keep_alive = true;  // false: "Connection: close"
    std::string_view content_type;
    std::uint64_t content_length = 0;
    std::string_view date;  // preformatted Date value; omitted if empty
    std::string_view last_modified;
    std::string_view location;  // for redirects
    bool allow = false;  // "Allow: GET, HEAD" (405)
};

// Appends the status line and header fields, through the empty line, to `out`.
void append_head(std::string& out, const ResponseHead& head);

// A complete response with a short HTML body explaining `status`; the body is omitted for HEAD
// (Content-Length still describes it).
void append_error(std::string& out, int status, int version_minor, bool keep_alive, bool head_only,
                  std::string_view date);

}  // namespace httpd
