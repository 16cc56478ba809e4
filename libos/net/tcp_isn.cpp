// TCP initial sequence numbers as RFC 6528 (and Linux) choose them: ISN = M + F(four-tuple,
// secret), M a clock ticking every 4 us, F a keyed pseudo-random function (SipHash-2-4 here)
// with a secret drawn once from the platform's entropy. lwIP's default (a counter) is
// predictable: consecutive connections soon after boot got the same ISN. The clock part also
// makes a new connection on a four-tuple start above the previous one, which is what a peer's
// TIME_WAIT needs to accept it (tcp_timewait.cpp's criterion, RFC 6191).
extern "C" {
#include "lwip/ip_addr.h"
}

#include <cstring>

#include "xos/platform.h"

namespace {

uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

void sip_round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
}

// SipHash-2-4 (Aumasson and Bernstein) of `length` bytes under a 128-bit key.
uint64_t siphash(const uint64_t key[2], const uint8_t* data, size_t length) {
    uint64_t v0 = 0x736f6d6570736575ull ^ key[0], v1 = 0x646f72616e646f6dull ^ key[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ key[0], v3 = 0x7465646279746573ull ^ key[1];
    size_t whole = length & ~size_t(7);
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m;
        memcpy(&m, data + i, 8);  // little-endian host
        v3 ^= m;
        sip_round(v0, v1, v2, v3);
        sip_round(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t last = uint64_t(length) << 56;
    for (size_t i = 0; i < (length & 7); ++i) last |= uint64_t(data[whole + i]) << (8 * i);
    v3 ^= last;
    sip_round(v0, v1, v2, v3);
    sip_round(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) sip_round(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t g_key[2];
bool g_have_key;

size_t put_address(uint8_t* out, const ip_addr_t* address) {
    if (IP_IS_V6(address)) {
        memcpy(out, ip_2_ip6(address)->addr, 16);
        return 16;
    }
    memcpy(out, &ip_2_ip4(address)->addr, 4);
    return 4;
}

}  // namespace

extern "C" uint32_t xos_lwip_tcp_isn(const ip_addr_t* local_ip, uint16_t local_port, const ip_addr_t* remote_ip,
                                     uint16_t remote_port) {
    if (!g_have_key) {  // under lwIP's core lock: no race
        xos::platform::entropy(g_key, sizeof g_key);
        g_have_key = true;
    }
    uint8_t tuple[16 + 16 + 4];
    size_t length = put_address(tuple, local_ip);
    length += put_address(tuple + length, remote_ip);
    memcpy(tuple + length, &local_port, 2);
    memcpy(tuple + length + 2, &remote_port, 2);
    length += 4;
    uint32_t clock = uint32_t(xos::platform::monotonic_ns() / 4000);  // RFC 6528's M: 4 us ticks
    return clock + uint32_t(siphash(g_key, tuple, length));
}
