#include "state.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace xos::oci {

const char* status_name(Status status) {
    switch (status) {
    case Status::Created: return "created";
    case Status::Running: return "running";
    case Status::Stopped: break;
    }
    return "stopped";
}

bool valid_container_id(const std::string& id) {
    if (id.empty() || id.size() > 1024 || id == "." || id == "..") return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
            c == '-' || c == '+';
        if (!ok) return false;
    }
    return true;
}

StateDir::StateDir(const std::string& root, const std::string& id) : m_path(root + "/" + id) {}

bool StateDir::exists() const {
    struct stat st;
    return ::stat(m_path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool StateDir::create() const {
    std::error_code error;
    std::filesystem::create_directories(std::filesystem::path(m_path).parent_path(), error);
    if (::mkdir(m_path.c_str(), 0711) == 0) return true;
    if (errno == EEXIST) return false;
    throw std::runtime_error("cannot create the state directory " + m_path + ": " + std::strerror(errno));
}

void StateDir::write_state(const ContainerState& state) const {
    nlohmann::json j = state_json(state, Status::Created);
    j.erase("status");
    j["pid"] = state.pid;
    j["pidStartTime"] = state.pid_start_time;
    // Written whole under another name, then renamed: a concurrent `state` sees old or new.
    std::string temporary = file("state.json.tmp");
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << j.dump() << "\n";
        if (!out) throw std::runtime_error("cannot write " + temporary);
    }
    if (::rename(temporary.c_str(), file("state.json").c_str()) != 0)
        throw std::runtime_error("cannot write " + file("state.json") + ": " + std::strerror(errno));
}

std::optional<ContainerState> StateDir::read_state() const {
    std::ifstream in(file("state.json"));
    if (!in) return std::nullopt;
    try {
        auto j = nlohmann::json::parse(in);
        ContainerState state;
        state.oci_version = j.value("ociVersion", "");
        state.id = j.value("id", "");
        state.pid = j.value("pid", 0);
        state.pid_start_time = j.value("pidStartTime", std::uint64_t(0));
        state.bundle = j.value("bundle", "");
        state.rootfs = j.value("rootfs", "");
        state.created = j.value("created", "");
        if (j.contains("annotations")) state.annotations = j["annotations"].get<std::map<std::string, std::string>>();
        return state;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

void StateDir::remove() const {
    std::error_code error;
    std::filesystem::remove_all(m_path, error);
}

std::optional<std::uint64_t> live_process_start_time(pid_t pid) {
    if (pid <= 0) return std::nullopt;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!in || !std::getline(in, text)) return std::nullopt;
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses; fields restart after the last ')'.
    auto close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(text.substr(close + 1));
    std::string field;
    std::uint64_t start_time = 0;
    for (int index = 3; fields >> field; ++index) {
        if (index == 3 && (field == "Z" || field == "X")) return std::nullopt;
        if (index == 22) {
            start_time = std::stoull(field);
            return start_time;
        }
    }
    return std::nullopt;
}

Status container_status(const StateDir& dir, const ContainerState& state) {
    auto start_time = live_process_start_time(state.pid);
    if (!start_time || *start_time != state.pid_start_time) return Status::Stopped;
    struct stat st;
    if (::lstat(dir.file("exec.fifo").c_str(), &st) == 0) return Status::Created;
    return Status::Running;
}

nlohmann::json state_json(const ContainerState& state, Status status) {
    nlohmann::json j{{"ociVersion", state.oci_version}, {"id", state.id},
                     {"status", status_name(status)},   {"pid", status == Status::Stopped ? 0 : state.pid},
                     {"bundle", state.bundle},          {"rootfs", state.rootfs},
                     {"created", state.created},        {"annotations", state.annotations}};
    return j;
}

}  // namespace xos::oci
