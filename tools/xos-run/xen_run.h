// xos-run --hypervisor xen: runs the image as a Xen PVH guest of the dom0 xos-run runs on
// (docs/xen.md). xos-run writes an xl config (memory, vCPUs, the command line with argv and the
// environment, disks, a vif on a bridge), `xl create`s the domain with on_poweroff/on_crash
// "preserve", shows its console (`xl console`) until the domain has shut down, reads the exit
// status the guest left in xenstore (data/xos-status: "exit N" / "crash N reason", the records
// of the KVM status port) and destroys the domain.
#pragma once

#include <string>

#include "options.h"

// The xl configuration for `opts` as domain `name`.
std::string xen_config(const Options& opts, const std::string& name);

// Runs the guest; returns the app's exit status (124 on timeout, 125 if xl failed).
int run_xen(const Options& opts);
