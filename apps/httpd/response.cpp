#include "response.h"

#include <cstdio>

namespace httpd {

std::string_view reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

std::string http_date(std::time_t when) {
    std::tm tm{};
    gmtime_r(&when, &tm);
    char buffer[64];
    std::size_t n = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return std::string(buffer, n);
}

void append_head(std::string& out, const ResponseHead& head) {
    out += head.version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
    out += std::to_string(head.status);
    out += ' ';
    out += reason_phrase(head.status);
    out += "\r\nServer: xos-httpd\r\n";
    if (!head.date.empty()) {
        out += "Date: ";
        out += head.date;
        out += "\r\n";
    }
    if (!head.content_type.empty()) {
        out += "Content-Type: ";
        out += head.content_type;
        out += "\r\n";
    }
    out += "Content-Length: ";
    out += std::to_string(head.content_length);
    out += "\r\n";
    if (!head.last_modified.empty()) {
        out += "Last-Modified: ";
        out += head.last_modified;
        out += "\r\n";
    }
    if (!head.location.empty()) {
        out += "Location: ";
        out += head.location;
        out += "\r\n";
    }
    if (head.allow) out += "Allow: GET, HEAD\r\n";
    if (!head.keep_alive)
        out += "Connection: close\r\n";
    else if (head.version_minor == 0)
        out += "Connection: keep-alive\r\n";
    out += "\r\n";
}

void append_error(std::string& out, int status, int version_minor, bool keep_alive, bool head_only,
                  std::string_view date) {
    std::string body = "<!DOCTYPE html>\n<html><head><title>";
    body += std::to_string(status);
    body += ' ';
    body += reason_phrase(status);
    body += "</title></head>\n<body><h1>";
    body += std::to_string(status);
    body += ' ';
    body += reason_phrase(status);
    body += "</h1></body></html>\n";
    ResponseHead head;
    head.status = status;
    head.version_minor = version_minor;
    head.keep_alive = keep_alive;
    head.content_type = "text/html; charset=utf-8";
    head.content_length = body.size();
    head.date = date;
    head.allow = status == 405;
    append_head(out, head);
    if (!head_only) out += body;
}

}  // namespace httpd
