#include "boot/initial_stack.h"

#include <cstring>

namespace xos::boot {

namespace {

size_t string_bytes(std::span<const char* const> strings) {
    size_t sum = 0;
    for (const char* s : strings) sum += strlen(s) + 1;
    return sum;
}

}  // namespace

ErrorOr<uintptr_t> build_initial_stack(uintptr_t low, uintptr_t high, const InitialStackSpec& spec) {
    const char* execfn = spec.execfn ? spec.execfn : spec.argv.empty() ? "" : spec.argv[0];
    size_t strings = strlen(execfn) + 1 + strlen(spec.platform) + 1 + string_bytes(spec.argv) + string_bytes(spec.envp);
    constexpr size_t extra_aux = 4;  // AT_RANDOM, AT_PLATFORM, AT_EXECFN, AT_NULL
    size_t words = 1 + spec.argv.size() + 1 + spec.envp.size() + 1 + 2 * (spec.auxv.size() + extra_aux);
    size_t needed = strings + 16 + words * sizeof(uint64_t) + 64;  // + alignment slack
    uintptr_t top = high & ~uintptr_t(15);
    if (top < low || top - low < needed) return error(E2BIG);

    // Highest: the strings, then the 16 random bytes (16-aligned), then the vectors, laid out
    // upward from the final stack pointer: argc, argv..., NULL, envp..., NULL, auxv..., AT_NULL.
    char* string_cursor = reinterpret_cast<char*>(top - strings);
    auto place = [&](const char* s) {
        size_t n = strlen(s) + 1;
        memcpy(string_cursor, s, n);
        uintptr_t at = reinterpret_cast<uintptr_t>(string_cursor);
        string_cursor += n;
        return at;
    };
    uintptr_t random = (top - strings - 16) & ~uintptr_t(15);
    memcpy(reinterpret_cast<void*>(random), *spec.random, 16);
    uintptr_t sp = (random - words * sizeof(uint64_t)) & ~uintptr_t(15);

    auto* out = reinterpret_cast<uint64_t*>(sp);
    *out++ = spec.argv.size();
    for (const char* arg : spec.argv) *out++ = place(arg);
    *out++ = 0;
    for (const char* env : spec.envp) *out++ = place(env);
    *out++ = 0;
    for (const AuxEntry& aux : spec.auxv) {
        *out++ = aux.tag;
        *out++ = aux.value;
    }
    const AuxEntry ours[extra_aux] = {
        {AT_RANDOM, random}, {AT_PLATFORM, place(spec.platform)}, {AT_EXECFN, place(execfn)}, {AT_NULL, 0}};
    for (const AuxEntry& aux : ours) {
        *out++ = aux.tag;
        *out++ = aux.value;
    }
    return sp;
}

}  // namespace xos::boot
