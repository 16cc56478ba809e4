#include "cmdline.h"

#include <cstdio>
#include <cstring>

bool xos_cmdline_byte_is_plain(unsigned char c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    // Not std::strchr: it would also match the terminating NUL.
    static constexpr char kPunctuation[] = "._~/:,+@=-";
    return std::memchr(kPunctuation, c, sizeof kPunctuation - 1) != nullptr;
}

std::string xos_encode_cmdline_value(const std::string& value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size());
    for (char ch : value) {
        auto c = static_cast<unsigned char>(ch);
        if (xos_cmdline_byte_is_plain(c)) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        }
    }
    return out;
}

std::string xos_encode_cmdline(const std::string& argv0, const std::vector<std::string>& args,
                               const std::vector<std::string>& env) {
    std::string line = "xos.argv0=" + xos_encode_cmdline_value(argv0);
    for (const auto& arg : args) line += " xos.arg=" + xos_encode_cmdline_value(arg);
    for (const auto& entry : env) line += " xos.env=" + xos_encode_cmdline_value(entry);
    return line;
}

std::string xos_encode_share_token(const std::string& tag, const std::string& guest_path, bool read_only) {
    return "xos.share=" + xos_encode_cmdline_value(tag + (read_only ? ":ro:" : ":") + guest_path);
}

std::string xos_encode_tmpfs_token(const std::string& size, unsigned mode, unsigned uid, unsigned gid, unsigned flags,
                                   const std::string& guest_path) {
    char octal[16];
    std::snprintf(octal, sizeof octal, "%o", mode);
    return "xos.tmpfs=" +
        xos_encode_cmdline_value(size + ":" + octal + ":" + std::to_string(uid) + ":" + std::to_string(gid) + ":" +
                                 (flags ? std::to_string(flags) + ":" : "") + guest_path);
}

std::string xos_encode_network_tokens(const std::string& ip, const std::string& gateway, const std::string& dns,
                                      unsigned echo_port) {
    std::string tokens;
    if (!ip.empty()) tokens += " xos.ip=" + xos_encode_cmdline_value(ip);
    if (!gateway.empty()) tokens += " xos.gw=" + xos_encode_cmdline_value(gateway);
    if (!dns.empty()) tokens += " xos.dns=" + xos_encode_cmdline_value(dns);
    if (echo_port != 0) tokens += " xos.echo=" + std::to_string(echo_port);
    return tokens;
}
