// xenbus device discovery and the state machine's waits (xenbus.h).
#include "xen/xenbus.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "xos/log.h"
#include "x86_64/console_tokens.h"
#include "xen/xen.h"
#include "xen/xenstore.h"

namespace xos::xen::xenbus {

uint64_t connect_timeout_ns() {
    constexpr uint64_t DEFAULT_NS = 30'000'000'000;
    size_t length = 0;
    const char* value = x86::command_line_token("xos.xenbus_timeout=", length);
    if (!value) return DEFAULT_NS;
    uint64_t seconds = 0;
    for (size_t i = 0; i < length && seconds <= 3600; ++i) {
        if (value[i] < '0' || value[i] > '9') return DEFAULT_NS;
        seconds = seconds * 10 + uint64_t(value[i] - '0');
    }
    return seconds >= 1 && seconds <= 3600 ? seconds * 1'000'000'000 : DEFAULT_NS;
}

long discover(const char* kind, void (*found)(const Device& device, void* context), void* context, size_t limit) {
    char directory_path[64];
    snprintf(directory_path, sizeof directory_path, "device/%s", kind);
    static char names[1024];
    long length = xenstore::directory(directory_path, names, sizeof names);
    if (length == -ENOENT) return 0;
    if (length < 0) return length;
    size_t count = 0;
    for (long at = 0; at < length && count < limit; at += strlen(names + at) + 1) {
        const char* name = names + at;
        Device device{};
        snprintf(device.frontend, sizeof device.frontend, "device/%s/%s", kind, name);
        device.id = 0;
        for (const char* c = name; *c >= '0' && *c <= '9'; ++c) device.id = device.id * 10 + uint32_t(*c - '0');
        char key[PATH_MAX_LENGTH + 16];
        snprintf(key, sizeof key, "%s/backend", device.frontend);
        if (xenstore::read(key, device.backend, sizeof device.backend) < 0) {
            klog("xen: %s: no backend path in xenstore; device ignored", device.frontend);
            continue;
        }
        snprintf(key, sizeof key, "%s/backend-id", device.frontend);
        long backend_id = xenstore::read_integer(key);
        if (backend_id < 0) {
            klog("xen: %s: no backend-id in xenstore; device ignored", device.frontend);
            continue;
        }
        device.backend_id = domid_t(backend_id);
        found(device, context);
        ++count;
    }
    return long(count);
}

long set_state(const Device& device, XenbusState state) {
    char key[PATH_MAX_LENGTH + 16], value[4];
    snprintf(key, sizeof key, "%s/state", device.frontend);
    snprintf(value, sizeof value, "%d", int(state));
    return xenstore::write(key, value);
}

long wait_backend_state(const Device& device, XenbusState wanted, uint64_t timeout_ns, const char* what) {
    char key[PATH_MAX_LENGTH + 16], token[PATH_MAX_LENGTH + 16];
    snprintf(key, sizeof key, "%s/state", device.backend);
    snprintf(token, sizeof token, "state:%s", device.frontend);
    bool watching = xenstore::watch(key, token) == 0;
    uint64_t deadline = system_time_ns() + timeout_ns;
    long state = -ENOENT;
    for (;;) {
        state = xenstore::read_integer(key);
        if (state >= wanted) break;
        uint64_t now = system_time_ns();
        if (now >= deadline) {
            klog("xen: %s: the backend %s did not reach state %d in %llu s (it is in state %ld)", what, device.backend,
                 int(wanted), (unsigned long long)(timeout_ns / 1000000000), state);
            state = -ETIMEDOUT;
            break;
        }
        if (watching)
            xenstore::wait_watch(token, deadline - now < 1'000'000'000 ? deadline - now : 1'000'000'000);
        else
            relax();
    }
    if (watching) xenstore::unwatch(key, token);
    return state;
}

long backend_integer(const Device& device, const char* key) {
    char path[PATH_MAX_LENGTH + 32];
    snprintf(path, sizeof path, "%s/%s", device.backend, key);
    return xenstore::read_integer(path);
}

}  // namespace xos::xen::xenbus
