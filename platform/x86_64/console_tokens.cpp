#include "x86_64/console_tokens.h"

#include <cstdint>
#include <cstring>

namespace xos::x86 {

namespace {

platform::StdioKind kind_of(char letter) {
    switch (letter) {
    case 't': return platform::StdioKind::Terminal;
    case 'p': return platform::StdioKind::Pipe;
    case 'f': return platform::StdioKind::File;
    default: return platform::StdioKind::Other;
    }
}

uint16_t parse_number(const char*& at, const char* end) {
    uint32_t value = 0;
    while (at < end && *at >= '0' && *at <= '9' && value < 65535) value = value * 10 + uint32_t(*at++ - '0');
    return uint16_t(value > 65535 ? 65535 : value);
}

}  // namespace

const char* command_line_token(const char* key, size_t& length) {
    const char* line = platform::command_line();
    if (!line) return nullptr;
    size_t key_length = strlen(key);
    for (const char* at = line; *at;) {
        while (*at == ' ') ++at;
        const char* end = at;
        while (*end && *end != ' ') ++end;
        if (size_t(end - at) >= key_length && memcmp(at, key, key_length) == 0) {
            length = size_t(end - at) - key_length;
            return at + key_length;
        }
        at = end;
    }
    return nullptr;
}

ConsoleTokens console_tokens() {
    ConsoleTokens tokens;
    size_t length = 0;
    if (const char* kinds = command_line_token("xos.stdio=", length)) {
        tokens.framed = true;
        if (length == 3) tokens.kinds = {kind_of(kinds[0]), kind_of(kinds[1]), kind_of(kinds[2])};
    }
    if (const char* size = command_line_token("xos.winsize=", length)) {
        const char* end = size + length;
        tokens.size.rows = parse_number(size, end);
        if (size < end && *size == 'x') ++size;
        tokens.size.cols = parse_number(size, end);
    }
    return tokens;
}

ConsoleTokens& console_state() {
    static ConsoleTokens state;
    static bool parsed = false;
    if (!parsed) {
        parsed = true;
        state = console_tokens();
    }
    return state;
}

}  // namespace xos::x86
