#include "accel.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace {

bool cpuinfo_has_virt_flag() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream words(line.substr(line.find(':') + 1));
        std::string flag;
        while (words >> flag) {
            if (flag == "vmx" || flag == "svm") return true;
        }
        return false;  // every CPU lists the same flags
    }
    return false;
}

}  // namespace

HostVirt probe_host_virt() {
    HostVirt host;
    host.kvm_device_exists = ::access("/dev/kvm", F_OK) == 0;
    if (host.kvm_device_exists) {
        int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
        host.kvm_device_usable = fd >= 0;
        if (fd >= 0) ::close(fd);
    }
    host.hardware_assisted = cpuinfo_has_virt_flag();
    return host;
}

AccelDecision decide_accel(AccelChoice choice, const HostVirt& host) {
    switch (choice) {
    case AccelChoice::Tcg: return {"tcg", "max", "--accel tcg", false};
    case AccelChoice::Kvm:
        if (host.hardware_assisted) return {"kvm", "host", "--accel kvm", false};
        // kvm_pvm rejects QEMU's write of MSR 0x10a (IA32_ARCH_CAPABILITIES) and QEMU aborts.
        return {"kvm", "host,-arch-capabilities", "--accel kvm (no vmx/svm: nested KVM)", false};
    case AccelChoice::Auto: break;
    }
    if (host.kvm_device_usable && host.hardware_assisted)
        return {"kvm", "host", "auto: /dev/kvm with hardware virtualization", false};
    if (host.kvm_device_exists && !host.hardware_assisted)
        return {"tcg", "max", "auto: /dev/kvm is not hardware-assisted (nested/PVM)", true};
    if (host.kvm_device_exists) return {"tcg", "max", "auto: /dev/kvm cannot be opened read-write", false};
    return {"tcg", "max", "auto: no /dev/kvm", false};
}
