// HTTP/1.x request parsing: the request line and header fields, with limits. Portable code with
// no I/O (unit-tested on the host): the server hands it the bytes it has buffered and learns
// whether they hold a complete request head, need more bytes, or are malformed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace httpd {

struct Limits {
    std::size_t max_request_line = 8192;  // longer request line -> 414
    std::size_t max_header_line = 8192;  // longer header field line -> 431
    std::size_t max_head_size = 32768;  // request line + all header lines -> 431
    std::size_t max_headers = 100;  // more header fields -> 431
};

struct Header {
    std::string_view name;  // as sent (compare case-insensitively)
    std::string_view value;  // leading and trailing whitespace removed
};

// A parsed request head. The views point into the buffer given to parse_request and are valid
// as long as those bytes are.
struct Request {
    std::string_view method;
    std::string_view target;  // request-target as sent (origin-form, absolute-form or '*')
    int version_minor = 1;  // HTTP/1.<minor>
    std::vector<Header> headers;
    bool keep_alive = true;  // after Connection and the version's default
    std::uint64_t content_length = 0;
    bool has_content_length = false;
    bool chunked = false;  // Transfer-Encoding present (the server does not accept bodies)
    std::string_view host;

    // The first header named `name` (case-insensitive), or nullptr.
    const Header* find(std::string_view name) const;
};

enum class ParseStatus { Complete, Incomplete, Error };

struct ParseResult {
    ParseStatus status = ParseStatus::Incomplete;
    std::size_t consumed = 0;  // Complete: bytes of the head (request line through the blank line)
    int error_status = 0;  // Error: 400, 414, 431, 501 or 505
    const char* error = "";  // Error: a short reason (for logs)
};

// Parses one request head at the start of `buffer`. Up to a few empty lines before the request
// line are skipped (RFC 9112 2.2). Lines end with CRLF or a bare LF. Incomplete input is an
// error as soon as it is certain to exceed a limit, so the caller never needs to buffer more
// than limits.max_head_size bytes of an unfinished head.
ParseResult parse_request(std::string_view buffer, Request& request, const Limits& limits = {});

bool iequals(std::string_view a, std::string_view b);

// Percent-decodes a path. Returns false on a malformed escape ("%4", "%zz") or a decoded NUL.
bool percent_decode(std::string_view in, std::string& out);

enum class PathStatus { Ok, BadRequest, Forbidden };

// Turns a request-target into a clean relative path below the document root: strips the query
// and fragment and an absolute-form "http://host" prefix, percent-decodes, removes empty and "."
// segments and refuses ".." segments (Forbidden) and anything not starting with '/'
// (BadRequest). `relative` never starts with '/' and never contains "..". `trailing_slash` says
// whether the decoded path named a directory explicitly ("/" or "/docs/").
PathStatus resolve_target(std::string_view target, std::string& relative, bool& trailing_slash);

}  // namespace httpd
