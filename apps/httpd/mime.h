// Content-Type by file name extension: a small fixed table.
#pragma once

#include <string_view>

namespace httpd {

// The media type for `path`'s extension (case-insensitive), application/octet-stream if unknown.
std::string_view mime_type(std::string_view path);

}  // namespace httpd
