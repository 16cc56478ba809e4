#include "fs/erofs/lz4.h"

#include <cstdint>
#include <cstring>

namespace xos::erofs {

namespace {

// A length continued in 255-valued bytes after a nibble of 15.
bool read_length(const std::byte*& in, const std::byte* end, size_t& length) {
    if (length != 15) return true;
    for (;;) {
        if (in >= end) return false;
        uint8_t byte = uint8_t(*in++);
        length += byte;
        if (byte != 255) return true;
        if (length > (size_t(1) << 40)) return false;  // no real block is this long
    }
}

}  // namespace

std::optional<size_t> lz4_decompress_partial(std::span<const std::byte> input, std::span<std::byte> output) {
    const std::byte* in = input.data();
    const std::byte* const in_end = in + input.size();
    std::byte* const out_begin = output.data();
    std::byte* out = out_begin;
    std::byte* const out_end = out_begin + output.size();
    while (in < in_end && out < out_end) {
        uint8_t token = uint8_t(*in++);
        size_t literals = token >> 4;
        if (!read_length(in, in_end, literals)) return std::nullopt;
        if (literals > size_t(in_end - in)) return std::nullopt;
        size_t room = size_t(out_end - out);
        size_t copy = literals < room ? literals : room;
        memcpy(out, in, copy);
        out += copy;
        in += literals;
        if (out == out_end || in == in_end) break;  // full, or the last sequence (literals only)
        if (in_end - in < 2) return std::nullopt;
        size_t offset = uint8_t(in[0]) | size_t(uint8_t(in[1])) << 8;
        in += 2;
        if (offset == 0 || offset > size_t(out - out_begin)) return std::nullopt;
        size_t match = token & 15;
        if (!read_length(in, in_end, match)) return std::nullopt;
        match += 4;
        room = size_t(out_end - out);
        if (match > room) match = room;
        const std::byte* from = out - offset;
        for (size_t i = 0; i < match; ++i) out[i] = from[i];  // may overlap: byte by byte
        out += match;
    }
    return size_t(out - out_begin);
}

}  // namespace xos::erofs
