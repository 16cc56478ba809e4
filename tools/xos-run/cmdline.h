// The kernel command line that carries argv and the environment into an xos image.
//
// Format (the guest-side decoder in libos relies on it):
//   xos.argv0=<enc> xos.arg=<enc>... xos.env=<enc>... xos.share=<enc>...
//   xos.ip=<enc> xos.gw=<enc> xos.dns=<enc> xos.echo=<port>   (network, when configured)
//   xos.tmpfs=<enc>... xos.hostname=<enc>   (--tmpfs, --hostname)
// Tokens are separated by single spaces. QEMU's microvm appends its own tokens
// (virtio_mmio.device=...) after ours, so the guest ignores tokens without an `xos.` prefix.
// <enc> is percent-encoding (%XX, uppercase hex) of every byte outside [A-Za-z0-9._~/:,+@=-];
// so an encoded value never contains a space, and an empty value encodes as "".
#pragma once

#include <string>
#include <vector>

// True for the bytes that xos_encode_cmdline copies unencoded.
bool xos_cmdline_byte_is_plain(unsigned char c);

// Percent-encodes one value.
std::string xos_encode_cmdline_value(const std::string& value);

// One host directory share: `xos.share=<enc>` where the decoded value is "<tag>:<guest path>"
// (the virtio-9p mount tag, which has no ':', and the absolute path to mount it on).
std::string xos_encode_share_token(const std::string& tag, const std::string& guest_path, bool read_only = false);

// A tmpfs mount: `xos.tmpfs=<enc>`, the decoded value "<size>:<octal mode>:<uid>:<gid>:<path>"
// (size: bytes, "N%" or empty for the default).
std::string xos_encode_tmpfs_token(const std::string& size, unsigned mode, unsigned uid, unsigned gid, unsigned flags,
                                   const std::string& guest_path);

// Network configuration: " xos.ip=<enc> xos.gw=<enc> xos.dns=<enc> xos.echo=<port>" for the
// values that are set (each token with a leading space; empty string if none).
std::string xos_encode_network_tokens(const std::string& ip, const std::string& gateway, const std::string& dns,
                                      unsigned echo_port);

// Builds the whole command line; env entries are "KEY=VALUE" strings.
std::string xos_encode_cmdline(const std::string& argv0, const std::vector<std::string>& args,
                               const std::vector<std::string>& env);
