// The container's network as engines set it up: a network namespace (linux.namespaces, type
// network, with a path) holding a veth with the container's address. The VM takes that address
// over: a tap device in the namespace whose traffic tc redirects to and from the veth (ingress
// qdisc and mirred redirect both ways, Kata Containers' "tcfilter" mode), and a guest NIC with
// the veth's MAC and IPv4 address and the namespace's default gateway. The namespace's own
// stack sees nothing any more: everything for the address reaches the guest.
#pragma once

#include "spec.h"

#include <optional>
#include <string>

namespace xos::oci {

struct NetworkError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Joins the network namespace at PATH (the calling process: xos-run and QEMU then run in it).
void enter_network_namespace(const std::string& path);

// In the current network namespace: the first Ethernet interface with an IPv4 address, wired
// to a new tap device. nullopt (with a log line) if there is none (e.g. --network none).
std::optional<GuestNetwork> connect_guest_network();

// The veth that connect_guest_network wired (recorded for cleanup), as JSON text and back.
std::string network_record(const GuestNetwork& network);

// Removes the tap device and the veth's ingress qdisc in the namespace at PATH (if it is still
// there), from the record network_record made. Errors are logged, not thrown.
void disconnect_guest_network(const std::string& netns_path, const std::string& record);

// Runs ARGV (argv[0] looked up in PATH) and returns its exit status (-1 if it could not run);
// its stdout goes to *output if given, else nowhere; stderr to ours with --debug.
int run_program(const std::vector<std::string>& argv, std::string* output = nullptr);

}  // namespace xos::oci
