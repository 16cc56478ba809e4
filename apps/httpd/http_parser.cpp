// HTTP/1.x request head parsing (RFC 9112), strict where leniency would be ambiguous: single
// spaces in the request line, no whitespace before a header's colon, no obsolete line folding,
// no control characters, one consistent Content-Length, not both Content-Length and
// Transfer-Encoding, and a Host header in HTTP/1.1.
#include "http_parser.h"

#include <algorithm>

namespace httpd {
namespace {

constexpr int kMaxLeadingEmptyLines = 4;

bool is_tchar(unsigned char c) {
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
    }
}

bool is_token(std::string_view s) {
    return !s.empty() &&
        std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// field-value characters: VCHAR, obs-text, SP and HTAB.
bool is_field_char(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

ParseResult error(int status, const char* reason) {
    ParseResult result;
    result.status = ParseStatus::Error;
    result.error_status = status;
    result.error = reason;
    return result;
}

// Extracts the line starting at `pos` (without its CRLF or LF); `next` is the offset after it.
// Returns false when no LF has arrived yet. A CR anywhere but just before the LF is reported
// through `bad_cr`.
bool next_line(std::string_view buffer, std::size_t pos, std::string_view& line, std::size_t& next, bool& bad_cr) {
    std::size_t lf = buffer.find('\n', pos);
    if (lf == std::string_view::npos) return false;
    std::size_t end = lf;
    if (end > pos && buffer[end - 1] == '\r') --end;
    line = buffer.substr(pos, end - pos);
    next = lf + 1;
    bad_cr = line.find('\r') != std::string_view::npos;
    return true;
}

bool parse_decimal(std::string_view s, std::uint64_t& value) {
    if (s.empty() || s.size() > 18) return false;  // 18 digits cannot overflow 64 bits
    value = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

ParseResult parse_request_line(std::string_view line, Request& request) {
    std::size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return error(400, "request line has no spaces");
    std::size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return error(400, "request line has no version");
    request.method = line.substr(0, sp1);
    request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(request.method)) return error(400, "bad method");
    if (request.target.empty()) return error(400, "empty request target");
    for (char c : request.target) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) return error(400, "bad character in request target");
    }
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' || version[5] < '0' ||
        version[5] > '9' || version[7] < '0' || version[7] > '9')
        return error(400, "bad HTTP version");
    if (version[5] != '1') return error(505, "unsupported HTTP major version");
    request.version_minor = version[7] == '0' ? 0 : 1;  // 1.x with x > 1 is answered as 1.1
    ParseResult ok;
    ok.status = ParseStatus::Complete;
    return ok;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

const Header* Request::find(std::string_view name) const {
    for (const Header& header : headers)
        if (iequals(header.name, name)) return &header;
    return nullptr;
}

ParseResult parse_request(std::string_view buffer, Request& request, const Limits& limits) {
    request = Request{};
    std::size_t pos = 0;
    std::string_view line;
    std::size_t next = 0;
    bool bad_cr = false;

    // Request line, after at most a few empty lines.
    for (int empty = 0;; ++empty) {
        if (!next_line(buffer, pos, line, next, bad_cr)) {
            if (buffer.size() - pos > limits.max_request_line) return error(414, "request line too long");
            return ParseResult{};
        }
        if (!line.empty()) break;
        if (empty >= kMaxLeadingEmptyLines) return error(400, "too many empty lines");
        pos = next;
    }
    if (line.size() > limits.max_request_line) return error(414, "request line too long");
    if (bad_cr) return error(400, "stray CR in request line");
    if (ParseResult r = parse_request_line(line, request); r.status == ParseStatus::Error) return r;
    std::size_t head_start = pos;
    pos = next;

    // Header fields up to the empty line.
    bool connection_close = false, connection_keep_alive = false, seen_host = false;
    for (;;) {
        if (!next_line(buffer, pos, line, next, bad_cr)) {
            if (buffer.size() - pos > limits.max_header_line || buffer.size() - head_start > limits.max_head_size)
                return error(431, "header fields too large");
            return ParseResult{};
        }
        if (line.size() > limits.max_header_line || next - head_start > limits.max_head_size)
            return error(431, "header fields too large");
        if (bad_cr) return error(400, "stray CR in header field");
        pos = next;
        if (line.empty()) break;
        if (line.front() == ' ' || line.front() == '\t') return error(400, "obsolete line folding");
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return error(400, "header field without colon");
        Header header{line.substr(0, colon), trim_ows(line.substr(colon + 1))};
        if (!is_token(header.name)) return error(400, "bad header field name");
        for (char c : header.value)
            if (!is_field_char(static_cast<unsigned char>(c))) return error(400, "bad character in header field");
        if (request.headers.size() >= limits.max_headers) return error(431, "too many header fields");
        request.headers.push_back(header);

        if (iequals(header.name, "content-length")) {
            std::uint64_t length = 0;
            if (!parse_decimal(header.value, length)) return error(400, "bad Content-Length");
            if (request.has_content_length && length != request.content_length)
                return error(400, "conflicting Content-Length");
            request.content_length = length;
            request.has_content_length = true;
        } else if (iequals(header.name, "transfer-encoding")) {
            request.chunked = true;
        } else if (iequals(header.name, "host")) {
            if (seen_host) return error(400, "several Host fields");
            seen_host = true;
            request.host = header.value;
        } else if (iequals(header.name, "connection")) {
            std::string_view rest = header.value;
            while (!rest.empty()) {
                std::size_t comma = rest.find(',');
                std::string_view token = trim_ows(rest.substr(0, comma));
                if (iequals(token, "close")) connection_close = true;
                if (iequals(token, "keep-alive")) connection_keep_alive = true;
                if (comma == std::string_view::npos) break;
                rest.remove_prefix(comma + 1);
            }
        }
    }
    if (request.chunked && request.has_content_length) return error(400, "both Content-Length and Transfer-Encoding");
    if (request.version_minor == 1 && !seen_host) return error(400, "HTTP/1.1 request without Host");
    request.keep_alive = request.version_minor == 1 ? !connection_close : (connection_keep_alive && !connection_close);

    ParseResult result;
    result.status = ParseStatus::Complete;
    result.consumed = pos;
    return result;
}

bool percent_decode(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return false;
            int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            c = static_cast<char>(hi * 16 + lo);
            if (c == '\0') return false;
            i += 2;
        }
        out.push_back(c);
    }
    return true;
}

PathStatus resolve_target(std::string_view target, std::string& relative, bool& trailing_slash) {
    relative.clear();
    trailing_slash = false;
    // absolute-form: http://host[:port]/path
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
            std::size_t slash = target.find('/', scheme.size());
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
            break;
        }
    }
    if (target.empty() || target.front() != '/') return PathStatus::BadRequest;
    target = target.substr(0, target.find_first_of("?#"));

    std::string decoded;
    if (!percent_decode(target, decoded)) return PathStatus::BadRequest;

    std::string_view rest = decoded;
    std::string_view last;
    while (!rest.empty()) {
        std::size_t slash = rest.find('/');
        std::string_view segment = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        last = segment;
        if (segment.empty() || segment == ".") continue;
        if (segment == "..") return PathStatus::Forbidden;
        if (!relative.empty()) relative.push_back('/');
        relative.append(segment);
    }
    trailing_slash = relative.empty() || decoded.back() == '/' || last == ".";
    return PathStatus::Ok;
}

}  // namespace httpd
