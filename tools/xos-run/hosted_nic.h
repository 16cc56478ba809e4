// The host side of a hosted image's network card (docs/hosted.md): for --net user (and -p), a
// passt process on one end of a socket pair; for --net tap:IFNAME, the existing tap device.
// The image gets the other fd through XOS_NIC_FD / XOS_NIC_FRAMING.
#pragma once

#include "options.h"
#include "unique_fd.h"

#include <sys/types.h>

#include <string>
#include <vector>

class HostedNic {
public:
    // Starts passt (waiting until it is ready) or opens the tap device. Throws UsageError (exit
    // 125) with the reason: passt missing or failing, the tap device not there.
    explicit HostedNic(const Options& opts);
    ~HostedNic();  // stops passt
    HostedNic(const HostedNic&) = delete;
    HostedNic& operator=(const HostedNic&) = delete;

    // The fd the image inherits, and its environment: XOS_NIC_FD, XOS_NIC_FRAMING and, for
    // --ip/--gw/--dns/--net-echo, XOS_BOOT_TOKENS.
    int image_fd() const { return m_image_end.get(); }
    std::vector<std::string> environment() const;
    // After the image has started: xos-run's copy of its fd (passt sees the image's exit as EOF).
    void close_image_fd() { m_image_end.reset(); }

    // The passt command line for `opts` with the peer socket at `fd` (also for --dry-run).
    static std::vector<std::string> passt_command(const Options& opts, int fd, const std::string& pid_file);

private:
    void start_passt(const Options& opts);
    void open_tap(const std::string& ifname);
    void stop_passt();
    void remove_dir();

    const Options& m_opts;
    UniqueFd m_image_end;
    bool m_tap = false;
    pid_t m_passt = -1;
    std::string m_dir;  // temporary directory: passt's pid file and log
};
