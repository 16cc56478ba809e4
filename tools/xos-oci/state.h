// A container's state on the host: the directory ROOT/ID (--root, default /run/xos-oci) with
//   state.json  what `state` reports (ociVersion, id, pid, bundle, annotations) and the owner
//               process's start time (so a recycled pid is not taken for the container);
//   exec.fifo   present from create until start: the owner process blocks opening it for
//               writing, `start` opens it for reading (runc's pattern);
//   network.json the tap device and veth the runtime set up in the network namespace, for
//               delete to remove.
// The status is derived, never stored: the owner alive (not a zombie) with exec.fifo is
// "created", alive without it "running", else "stopped".
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>

namespace xos::oci {

struct ContainerState {
    std::string oci_version;
    std::string id;
    pid_t pid = 0;
    std::uint64_t pid_start_time = 0;  // /proc/PID/stat field 22
    std::string bundle;
    std::string rootfs;
    std::string created;  // RFC 3339
    std::map<std::string, std::string> annotations;
};

enum class Status { Created, Running, Stopped };
const char* status_name(Status status);

// Valid ids: 1-1024 of [A-Za-z0-9_.+-], not "." or "..".
bool valid_container_id(const std::string& id);

class StateDir {
public:
    StateDir(const std::string& root, const std::string& id);
    const std::string& path() const { return m_path; }
    std::string file(const char* name) const { return m_path + "/" + name; }
    bool exists() const;
    // Makes ROOT and ROOT/ID; false if ROOT/ID exists already.
    bool create() const;
    void write_state(const ContainerState& state) const;
    // nullopt if there is no such container.
    std::optional<ContainerState> read_state() const;
    void remove() const;

private:
    std::string m_path;
};

// The start time of PID (clock ticks since boot), nullopt if there is no such process or it is a
// zombie (an exited owner its parent has not reaped yet: the container is stopped).
std::optional<std::uint64_t> live_process_start_time(pid_t pid);

Status container_status(const StateDir& dir, const ContainerState& state);

nlohmann::json state_json(const ContainerState& state, Status status);

}  // namespace xos::oci
