// The private temporary file QEMU writes the guest's status records to.
//
// It is unlinked as soon as it is created and QEMU opens it as /proc/self/fd/N through the
// descriptor it inherits, so nothing is left behind even when xos-run is SIGKILLed.
#pragma once

#include <string>

class StatusFile {
public:
    StatusFile();  // throws std::runtime_error
    ~StatusFile();
    StatusFile(const StatusFile&) = delete;
    StatusFile& operator=(const StatusFile&) = delete;

    // The path for QEMU's -chardev file,path=...; valid in a child that inherits the descriptor.
    std::string path_for_child() const;

    // The file's last 64 KiB: a guest that floods the port cannot make xos-run allocate more.
    std::string read_tail() const;

    // What --dry-run prints instead: a named file, so the printed command runs as it is.
    static std::string dry_run_path();

private:
    int m_fd = -1;
};
