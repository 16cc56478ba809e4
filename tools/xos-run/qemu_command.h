// The QEMU command line for booting an xos image.
#pragma once

#include "accel.h"
#include "options.h"

#include <string>
#include <vector>

// I/O ports shared with the guest (platform/kvm writes them on exit).
inline constexpr unsigned kDebugExitPort = 0xf4;  // isa-debug-exit: QEMU exits (v << 1) | 1
inline constexpr unsigned kStatusPort = 0x4f0;  // isa-debugcon: "exit N\n" / "crash N why\n"
inline constexpr unsigned kStderrUartPort = 0x2f8;  // COM2: the guest's stderr and libos messages

// Full argv, argv[0] being the QEMU binary to run.
std::vector<std::string> build_qemu_command(const Options& opts, const AccelDecision& accel,
                                            const std::string& qemu_binary, const std::string& status_path,
                                            const std::string& guest_stderr_path);

// --qemu, else $XOS_QEMU, else qemu-system-x86_64 (found in PATH when run).
std::string qemu_binary_for(const Options& opts);

// Quotes a word for a POSIX shell; plain words stay as they are.
std::string shell_quote(const std::string& word);
std::string shell_join(const std::vector<std::string>& words);
