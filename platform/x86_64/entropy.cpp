// Entropy: RDRAND when the CPU has it (QEMU's TCG `-cpu max` and all recent hardware), else a
// mix of TSC readings, which is weak and reported as such.
#include <cstring>

#include "cpu.h"
#include "xos/platform.h"

namespace xos::platform {

namespace {

bool rdrand64(uint64_t* out) {
    for (int attempt = 0; attempt < 10; ++attempt) {
        unsigned char ok;
        asm volatile("rdrand %0; setc %1" : "=r"(*out), "=qm"(ok));
        if (ok) return true;
    }
    return false;
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

}  // namespace

bool entropy(void* out, size_t count) {
    static uint64_t weak_state = x86::rdtsc();
    bool strong = x86::features().rdrand;
    auto* bytes = static_cast<unsigned char*>(out);
    while (count) {
        uint64_t word;
        if (!strong || !rdrand64(&word)) {
            strong = false;
            weak_state ^= x86::rdtsc();
            word = splitmix64(weak_state);
        }
        size_t n = count < sizeof word ? count : sizeof word;
        memcpy(bytes, &word, n);
        bytes += n;
        count -= n;
    }
    return strong;
}

}  // namespace xos::platform
