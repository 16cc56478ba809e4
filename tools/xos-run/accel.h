// Picks QEMU's accelerator and CPU model.
#pragma once

#include "options.h"

#include <string>

struct HostVirt {
    bool kvm_device_exists = false;  // /dev/kvm is there
    bool kvm_device_usable = false;  // ... and opens read-write
    bool hardware_assisted = false;  // /proc/cpuinfo lists vmx or svm
};

struct AccelDecision {
    std::string accel;  // value of -accel
    std::string cpu;  // value of -cpu
    std::string reason;  // for --verbose
    bool note_nested_kvm = false;  // /dev/kvm is there but not worth using
};

HostVirt probe_host_virt();

// On kvm_pvm-style nested KVM (/dev/kvm without vmx/svm), guest ring-0 code is emulated
// about 50x slower than TCG, so auto picks TCG there; --accel kvm still forces KVM.
AccelDecision decide_accel(AccelChoice choice, const HostVirt& host);
