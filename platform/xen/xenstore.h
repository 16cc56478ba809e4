// A xenstore client over the domain's xenstore ring (HVM_PARAM_STORE_PFN/_EVTCHN). Requests are
// synchronous: the caller polls the response ring (yielding to Xen in between) with interrupts
// off, so it works at any point of boot and shutdown; a request that gets no answer within
// TIMEOUT_NS fails with -ETIMEDOUT and a log line. Errors from xenstored ("ENOENT", "EACCES"...)
// come back as -errno. Relative paths are relative to the domain's home, /local/domain/<domid>.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xos::xen::xenstore {

constexpr uint64_t TIMEOUT_NS = 10'000'000'000;

// Finds the ring; false (with a log line) if the domain has none.
bool init();
bool available();

// XS_READ: the value (not NUL-terminated in the store; NUL-terminated here) into `out`; its
// length, or -errno (-E2BIG if it does not fit).
long read(const char* path, char* out, size_t capacity, uint32_t transaction = 0);
// XS_WRITE.
long write(const char* path, const char* value, uint32_t transaction = 0);
// XS_RM.
long remove(const char* path, uint32_t transaction = 0);
// XS_DIRECTORY: the children's names, each NUL-terminated, one after the other; total length.
long directory(const char* path, char* out, size_t capacity, uint32_t transaction = 0);
// XS_TRANSACTION_START: the transaction id (> 0), or -errno. end(): commit or abort; -EAGAIN
// when a commit conflicted (start again).
long transaction_start();
long transaction_end(uint32_t transaction, bool commit);
// XS_WATCH / XS_UNWATCH: events for `path` (and below) arrive tagged with `token`; Xen sends one
// at once when the watch is set.
long watch(const char* path, const char* token);
long unwatch(const char* path, const char* token);
// Waits up to `timeout_ns` for a watch event with `token`: 0, -ETIMEDOUT, or -errno. The path
// that fired goes to `path_out` if given.
long wait_watch(const char* token, uint64_t timeout_ns, char* path_out = nullptr, size_t path_capacity = 0);

// Reads an integer value: the number, or -errno (-EINVAL if it is not a number).
long read_integer(const char* path);

}  // namespace xos::xen::xenstore
