#include "mime.h"

#include "http_parser.h"

namespace httpd {
namespace {

struct Entry {
    std::string_view extension;
    std::string_view type;
};

constexpr Entry kTypes[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"svg", "image/svg+xml"},
    {"ico", "image/x-icon"},
    {"wasm", "application/wasm"},
};

}  // namespace

std::string_view mime_type(std::string_view path) {
    std::size_t slash = path.rfind('/');
    std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    std::size_t dot = name.rfind('.');
    if (dot != std::string_view::npos && dot + 1 < name.size()) {
        std::string_view extension = name.substr(dot + 1);
        for (const Entry& entry : kTypes)
            if (iequals(entry.extension, extension)) return entry.type;
    }
    return "application/octet-stream";
}

}  // namespace httpd
