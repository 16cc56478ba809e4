#include "boot/command_line.h"

namespace xos::boot {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes `value` into the storage arena; returns the NUL-terminated copy.
ErrorOr<const char*> decode(std::string_view value, CommandLine& out) {
    if (out.storage_used + value.size() + 1 > CommandLine::STORAGE) return error(E2BIG);
    char* start = out.storage + out.storage_used;
    char* dst = start;
    for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] != '%') {
            *dst++ = value[i];
            continue;
        }
        if (i + 2 >= value.size()) return error(EINVAL);  // truncated escape
        int high = hex_value(value[i + 1]), low = hex_value(value[i + 2]);
        if (high < 0 || low < 0) return error(EINVAL);
        *dst++ = char(high * 16 + low);
        i += 2;
    }
    *dst++ = '\0';
    out.storage_used += size_t(dst - start);
    return start;
}

// A decimal (or, with `base` 8, octal) number of at most 32 bits ending at ':' or the end;
// advances `text` past it and the ':'.
ErrorOr<uint32_t> parse_field(char*& text, unsigned base) {
    uint64_t value = 0;
    char* start = text;
    for (; *text >= '0' && *text < char('0' + (base == 8 ? 8 : 10)); ++text) {
        value = value * base + uint64_t(*text - '0');
        if (value > 0xffffffffu) return error(EINVAL);
    }
    if (text == start || *text != ':') return error(EINVAL);
    ++text;
    return uint32_t(value);
}

// xos.tmpfs=<size>:<mode>:<uid>:<gid>:[<flags>:]<absolute path>, decoded; <size> is bytes, "N%"
// or empty; <flags> decimal MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC bits.
ErrorOr<TmpfsMount> parse_tmpfs(char* value) {
    TmpfsMount mount{};
    char* colon = value;
    while (*colon && *colon != ':') ++colon;
    if (*colon != ':') return error(EINVAL);
    *colon = '\0';
    mount.size = value;
    char* rest = colon + 1;
    mount.mode = TRY(parse_field(rest, 8));
    if (mount.mode > 07777) return error(EINVAL);
    mount.uid = TRY(parse_field(rest, 10));
    mount.gid = TRY(parse_field(rest, 10));
    if (rest[0] != '/') mount.flags = TRY(parse_field(rest, 10));
    if (mount.flags & ~0xfu) return error(EINVAL);
    if (rest[0] != '/') return error(EINVAL);
    mount.path = rest;
    return mount;
}

// xos.file=<octal mode>:<absolute path>\n<content>, decoded.
ErrorOr<PlacedFile> parse_file(char* value) {
    PlacedFile file{};
    char* rest = value;
    file.mode = TRY(parse_field(rest, 8));
    if (file.mode > 07777 || rest[0] != '/') return error(EINVAL);
    char* newline = rest;
    while (*newline && *newline != '\n') ++newline;
    if (*newline != '\n') return error(EINVAL);
    *newline = '\0';
    file.path = rest;
    file.data = newline + 1;
    file.size = std::string_view(file.data).size();
    return file;
}

}  // namespace

ErrorOr<void> parse_command_line(std::string_view text, CommandLine& out) {
    const char* argv0 = "app";
    out.argc = 1;  // argv[0] filled at the end
    size_t pos = 0;
    while (pos < text.size()) {
        while (pos < text.size() && text[pos] == ' ') ++pos;
        size_t end = text.find(' ', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view token = text.substr(pos, end - pos);
        pos = end;
        if (token.empty()) continue;

        if (token.starts_with("xos.argv0=")) {
            argv0 = TRY(decode(token.substr(10), out));
        } else if (token.starts_with("xos.arg=")) {
            if (out.argc == CommandLine::MAX_ARGS) return error(E2BIG);
            out.argv[out.argc++] = TRY(decode(token.substr(8), out));
        } else if (token.starts_with("xos.env=")) {
            if (out.envc == CommandLine::MAX_ENV) return error(E2BIG);
            out.envp[out.envc++] = TRY(decode(token.substr(8), out));
        } else if (token.starts_with("xos.share=")) {
            // <tag>:[ro:]<absolute guest path>; the tag (xos-run makes it) has no ':'.
            if (out.share_count == CommandLine::MAX_SHARES) return error(E2BIG);
            char* value = const_cast<char*>(TRY(decode(token.substr(10), out)));
            char* colon = value;
            while (*colon && *colon != ':') ++colon;
            if (*colon != ':' || colon == value) return error(EINVAL);
            *colon = '\0';
            char* path = colon + 1;
            bool read_only = std::string_view(path).starts_with("ro:");
            if (read_only) path += 3;
            if (path[0] != '/') return error(EINVAL);
            out.shares[out.share_count++] = {value, path, read_only};
        } else if (token.starts_with("xos.tmpfs=")) {
            if (out.tmpfs_count == CommandLine::MAX_TMPFS) return error(E2BIG);
            char* value = const_cast<char*>(TRY(decode(token.substr(10), out)));
            out.tmpfs[out.tmpfs_count++] = TRY(parse_tmpfs(value));
        } else if (token.starts_with("xos.file=")) {
            if (out.file_count == CommandLine::MAX_FILES) return error(E2BIG);
            char* value = const_cast<char*>(TRY(decode(token.substr(9), out)));
            out.files[out.file_count++] = TRY(parse_file(value));
        } else if (token.starts_with("xos.hostname=")) {
            out.hostname = TRY(decode(token.substr(13), out));
        } else if (token.starts_with("xos.ip=")) {
            out.network.ip = TRY(decode(token.substr(7), out));
        } else if (token.starts_with("xos.gw=")) {
            out.network.gateway = TRY(decode(token.substr(7), out));
        } else if (token.starts_with("xos.dns=")) {
            out.network.dns = TRY(decode(token.substr(8), out));
        } else if (token.starts_with("xos.rootfs_size=")) {
            out.rootfs_size = TRY(decode(token.substr(16), out));
        } else if (token.starts_with("xos.root=")) {
            out.root = TRY(decode(token.substr(9), out));
        } else if (token.starts_with("xos.cwd=")) {
            out.cwd = TRY(decode(token.substr(8), out));
        } else if (token.starts_with("xos.echo=")) {
            std::string_view digits = token.substr(9);
            unsigned port = 0;
            for (char c : digits) {
                if (c < '0' || c > '9' || port > 65535) return error(EINVAL);
                port = port * 10 + unsigned(c - '0');
            }
            if (digits.empty() || port == 0 || port > 65535) return error(EINVAL);
            out.network.echo_port = uint16_t(port);
        } else if (token.starts_with("xos.stdio=") || token.starts_with("xos.winsize=") || token == "xos.signals" ||
                   token.starts_with("xos.xenbus_timeout=") || token == "xos.boot_tlb_flushes") {
            // The platform reads these itself (platform/kvm/console.cpp, platform/xen, x86_64/paging.cpp).
        } else if (token.starts_with("xos.")) {
            ++out.unknown_xos_tokens;
        } else {
            if (out.other_count == CommandLine::MAX_OTHER) return error(E2BIG);
            out.other[out.other_count++] = token;
        }
    }
    out.argv[0] = argv0;
    out.argv[out.argc] = nullptr;
    out.envp[out.envc] = nullptr;
    return {};
}

}  // namespace xos::boot
