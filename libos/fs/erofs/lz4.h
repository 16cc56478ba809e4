// An LZ4 block decoder (the LZ4 block format: sequences of a token, literals, a 2-byte offset
// and a match), for EROFS's compressed files. Partial: it stops once `out` is full, as Linux's
// LZ4_decompress_safe_partial, since EROFS asks for the data up to a logical cluster's end.
// Every read and write is bounds-checked: damaged input gives an error, never a stray access.
#pragma once

#include <cstddef>
#include <optional>
#include <span>

namespace xos::erofs {

// Decodes `in` into `out` until `out` is full or `in` ends: the number of bytes written, or
// nullopt for malformed input (a literal run or offset beyond the data, an offset of 0).
std::optional<size_t> lz4_decompress_partial(std::span<const std::byte> in, std::span<std::byte> out);

}  // namespace xos::erofs
