#include "image_config.h"

#include "image_error.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace xos::image {

namespace {

using nlohmann::json;

std::vector<std::string> string_list(const json& object, const char* key, const std::string& what) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return {};
    if (!it->is_array()) throw ImageError(what + ": " + key + " is not a list of strings");
    std::vector<std::string> out;
    for (const auto& item : *it) {
        if (!item.is_string()) throw ImageError(what + ": " + key + " is not a list of strings");
        out.push_back(item.get<std::string>());
    }
    return out;
}

std::string string_field(const json& object, const char* key, const std::string& what) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return {};
    if (!it->is_string()) throw ImageError(what + ": " + key + " is not a string");
    return it->get<std::string>();
}

// ExposedPorts and Volumes are objects whose keys are the values ({"80/tcp": {}}).
std::vector<std::string> key_set(const json& object, const char* key, const std::string& what) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return {};
    if (!it->is_object()) throw ImageError(what + ": " + key + " is not an object");
    std::vector<std::string> out;
    for (const auto& [name, value] : it->items()) out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
}

std::string env_key(const std::string& entry) { return entry.substr(0, entry.find('=')); }

}  // namespace

ImageConfig parse_image_config(const std::string& text, const std::string& what) {
    json document = json::parse(text, nullptr, false);
    if (document.is_discarded() || !document.is_object()) throw ImageError(what + ": not a JSON object");
    ImageConfig config;
    config.os = string_field(document, "os", what);
    config.architecture = string_field(document, "architecture", what);
    config.created = string_field(document, "created", what);
    if (auto it = document.find("config"); it != document.end() && !it->is_null()) {
        if (!it->is_object()) throw ImageError(what + ": config is not an object");
        const json& c = *it;
        config.entrypoint = string_list(c, "Entrypoint", what);
        config.cmd = string_list(c, "Cmd", what);
        config.env = string_list(c, "Env", what);
        config.working_dir = string_field(c, "WorkingDir", what);
        config.user = string_field(c, "User", what);
        config.exposed_ports = key_set(c, "ExposedPorts", what);
        config.stop_signal = string_field(c, "StopSignal", what);
        config.volumes = key_set(c, "Volumes", what);
    }
    if (auto it = document.find("rootfs"); it != document.end() && it->is_object())
        config.diff_ids = string_list(*it, "diff_ids", what);
    return config;
}

json config_to_json(const ImageConfig& config) {
    return json{
        {"Entrypoint", config.entrypoint},     {"Cmd", config.cmd},         {"Env", config.env},
        {"WorkingDir", config.working_dir},    {"User", config.user},       {"ExposedPorts", config.exposed_ports},
        {"StopSignal", config.stop_signal},    {"Volumes", config.volumes}, {"os", config.os},
        {"architecture", config.architecture}, {"created", config.created}};
}

ImageConfig config_from_json(const json& j) {
    const std::string what = "image description";
    ImageConfig config;
    config.entrypoint = string_list(j, "Entrypoint", what);
    config.cmd = string_list(j, "Cmd", what);
    config.env = string_list(j, "Env", what);
    config.working_dir = string_field(j, "WorkingDir", what);
    config.user = string_field(j, "User", what);
    config.exposed_ports = string_list(j, "ExposedPorts", what);
    config.stop_signal = string_field(j, "StopSignal", what);
    config.volumes = string_list(j, "Volumes", what);
    config.os = string_field(j, "os", what);
    config.architecture = string_field(j, "architecture", what);
    config.created = string_field(j, "created", what);
    return config;
}

RunSpec resolve_run(const ImageConfig& config, const RunOverrides& overrides) {
    RunSpec spec;
    // docker run: --entrypoint replaces the Entrypoint and drops the image's Cmd; arguments
    // after the image replace Cmd.
    std::vector<std::string> entrypoint = config.entrypoint;
    std::vector<std::string> cmd = config.cmd;
    if (overrides.entrypoint) {
        entrypoint = overrides.entrypoint->empty() ? std::vector<std::string>{}
                                                   : std::vector<std::string>{*overrides.entrypoint};
        cmd.clear();
    }
    if (overrides.cmd) cmd = *overrides.cmd;
    spec.argv = entrypoint;
    spec.argv.insert(spec.argv.end(), cmd.begin(), cmd.end());
    if (spec.argv.empty())
        throw ImageError("the image has no Entrypoint or Cmd: name a program after `--` (or --entrypoint)");

    spec.env = config.env;
    for (const auto& entry : overrides.env) {
        auto key = env_key(entry);
        auto same = [&](const std::string& e) { return env_key(e) == key; };
        spec.env.erase(std::remove_if(spec.env.begin(), spec.env.end(), same), spec.env.end());
        spec.env.push_back(entry);
    }
    if (std::none_of(spec.env.begin(), spec.env.end(), [](const std::string& e) { return env_key(e) == "PATH"; }))
        spec.env.insert(spec.env.begin(), kDefaultPath);

    spec.working_dir = overrides.working_dir.value_or(config.working_dir);
    if (spec.working_dir.empty()) spec.working_dir = "/";
    if (spec.working_dir.front() != '/')
        throw ImageError("the working directory '" + spec.working_dir + "' is not an absolute path");
    spec.user = overrides.user.value_or(config.user);
    return spec;
}

}  // namespace xos::image
