// The network stack: lwIP 2.1.3 with its tcpip thread, the NIC (virtio-net) and its address
// configuration. Usage rules for code that calls lwIP (the socket layer): libos/net/README.md.
#pragma once

#include "base/error.h"
#include "sched/mutex.h"
#include "sched/wait_queue.h"

namespace xos::boot {
struct CommandLine;
}

namespace xos::net {

// Called once at boot (after sched::init): brings lwIP and the NIC up if the machine has a
// virtio-net device (or xos.echo= asks for the diagnostic service), configures the address
// (static from xos.ip/xos.gw/xos.dns, else DHCP in the background) and returns without waiting.
void start(const boot::CommandLine& command_line);

// Starts lwIP (loopback only) if start() did not. Call before the first lwIP call.
ErrorOr<void> ensure_started();

// Waits until the NIC has an IPv4 address (at most until `deadline`). False if there is no NIC
// or the deadline passed first.
bool wait_configured(sched::Deadline deadline);

// Before the image exits: waits (at most a few tens of milliseconds, spinning, without running
// other threads) until the NIC has taken every frame already sent, so that a reply written
// just before exit() is not lost with the VM. Data lwIP has not transmitted yet is not waited
// for (as when any machine powers off).
void drain_before_exit();

// lwIP's core lock itself (a sched::Mutex, lwip/sys_arch.cpp), for condition waits under it
// (Mutex::wait: the socket layer's waits, net/inet.cpp). Exists once ensure_started() has run.
sched::Mutex& core_mutex();

// lwIP's core lock (LOCK_TCPIP_CORE) for a scope. Not recursive.
class CoreLock {
public:
    CoreLock();
    ~CoreLock();
    CoreLock(const CoreLock&) = delete;
    CoreLock& operator=(const CoreLock&) = delete;
};

}  // namespace xos::net
