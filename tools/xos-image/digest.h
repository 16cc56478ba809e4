// sha256 digests of blobs, as OCI descriptors name them ("sha256:<64 hex digits>").
#pragma once

#include <string>

namespace xos::image {

// The lower-case hex sha256 of the file's bytes. Throws ImageError if it cannot be read.
std::string sha256_file_hex(const std::string& path);

// The lower-case hex sha256 of `bytes`.
std::string sha256_hex(const std::string& bytes);

// "sha256:<hex>" -> "<hex>"; throws ImageError for another algorithm or a malformed digest.
std::string sha256_of_digest(const std::string& digest);

}  // namespace xos::image
