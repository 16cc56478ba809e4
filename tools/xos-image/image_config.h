// The part of an OCI/docker image configuration a run needs (the image-spec's "config" object:
// Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts, StopSignal, Volumes), read from the
// config blob, and how `docker run`'s overrides combine with it (docs/container-images.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace xos::image {

struct ImageConfig {
    std::string os;  // "linux"
    std::string architecture;  // "amd64"
    std::string created;  // RFC 3339, may be empty
    std::vector<std::string> entrypoint;
    std::vector<std::string> cmd;
    std::vector<std::string> env;  // "KEY=VALUE", in the image's order
    std::string working_dir;  // empty: "/"
    std::string user;  // empty: root; "UID", "NAME", "UID:GID", "NAME:GROUP"
    std::vector<std::string> exposed_ports;  // "80/tcp", sorted
    std::string stop_signal;  // e.g. "SIGQUIT"; empty: SIGTERM
    std::vector<std::string> volumes;  // paths, sorted
    std::vector<std::string> diff_ids;  // rootfs.diff_ids: sha256 of each uncompressed layer
};

// Parses an image configuration document (the config blob). Throws ImageError when it is not
// JSON or a field has the wrong type.
ImageConfig parse_image_config(const std::string& text, const std::string& what);

// The run-time fields as JSON (for the xos image description) and back.
nlohmann::json config_to_json(const ImageConfig& config);
ImageConfig config_from_json(const nlohmann::json& json);

// What `docker run` would run: the overrides in, the program's argv, environment, working
// directory and user out.
struct RunOverrides {
    std::optional<std::string> entrypoint;  // --entrypoint (clears the image's Cmd as well)
    std::optional<std::vector<std::string>> cmd;  // the arguments after the image
    std::vector<std::string> env;  // --env KEY=VALUE, in order (later ones win)
    std::optional<std::string> working_dir;  // --workdir
    std::optional<std::string> user;  // --user
};

struct RunSpec {
    std::vector<std::string> argv;  // never empty
    std::vector<std::string> env;  // image Env with the overrides applied; PATH always set
    std::string working_dir;  // absolute
    std::string user;  // empty: root
};

// Throws ImageError when there is nothing to run (no Entrypoint, no Cmd, no arguments) or the
// working directory is not absolute.
RunSpec resolve_run(const ImageConfig& config, const RunOverrides& overrides);

// The default PATH docker sets when the image has none.
inline constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace xos::image
