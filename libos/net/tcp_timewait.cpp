// A new connection may reuse the four-tuple of one still in TIME_WAIT (RFC 1122 4.2.2.13,
// RFC 6191), as Linux allows: lwIP 2.1.3 does not. Its tcp_timewait_input answers such a SYN
// with an ACK of the old connection (or a RST when the SYN falls inside the old window), so
// the peer's connect() stalls until the TIME_WAIT entry expires (2 MSL). This bites servers
// whose clients pick ports at random: the host side of QEMU's user networking reuses
// ephemeral ports within seconds once a few thousand connections have been made, and every
// connection the server closed first sits in TIME_WAIT.
//
// The fix runs in lwIP's IP input hooks (LWIP_HOOK_IP4_INPUT / LWIP_HOOK_IP6_INPUT), before
// TCP demultiplexes the segment: a pure SYN (no ACK, no RST) whose four-tuple matches a
// TIME_WAIT pcb and whose sequence number lies after everything the old connection received
// (RFC 6191's criterion without timestamps, Linux's tcp_timewait_state_process) ends the old
// pcb; lwIP then hands the SYN to the listener as a new connection. Anything else is left to
// lwIP unchanged.
extern "C" {
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/prot/tcp.h"
#include "lwip/tcp.h"
}

#include <cstring>

namespace {

constexpr uint8_t PROTOCOL_TCP = 6;

struct SynInfo {
    uint16_t source_port;
    uint16_t destination_port;
    uint32_t sequence;
};

// The TCP header at `offset` of the packet if it is a pure SYN.
bool parse_syn(const struct pbuf* p, uint16_t offset, SynInfo& out) {
    uint8_t tcp[TCP_HLEN];
    if (pbuf_copy_partial(p, tcp, TCP_HLEN, offset) != TCP_HLEN) return false;
    uint8_t flags = tcp[13];
    if ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN) return false;
    out.source_port = uint16_t(tcp[0] << 8 | tcp[1]);
    out.destination_port = uint16_t(tcp[2] << 8 | tcp[3]);
    out.sequence = uint32_t(tcp[4]) << 24 | uint32_t(tcp[5]) << 16 | uint32_t(tcp[6]) << 8 | tcp[7];
    return true;
}

// Ends the TIME_WAIT pcb that the SYN may reuse, if any. same_addresses(pcb) compares the
// pcb's remote and local addresses with the packet's source and destination.
template <typename SameAddresses>
void reuse_time_wait(const SynInfo& syn, SameAddresses&& same_addresses) {
    for (struct tcp_pcb* pcb = tcp_tw_pcbs; pcb; pcb = pcb->next) {
        if (pcb->remote_port != syn.source_port || pcb->local_port != syn.destination_port) continue;
        if (!same_addresses(pcb)) continue;
        // Only pcbs no socket holds any more (inet.cpp lets go of them on entering TIME_WAIT;
        // one that entered it unnoticed still has its socket as arg and is left alone).
        if (!pcb->callback_arg && TCP_SEQ_GT(syn.sequence, pcb->rcv_nxt)) tcp_abort(pcb);  // freed, no RST
        return;
    }
}

}  // namespace

extern "C" int xos_lwip_ip4_input_hook(struct pbuf* p, struct netif*) {
    if (!tcp_tw_pcbs) return 0;
    uint8_t header[IP_HLEN];
    if (pbuf_copy_partial(p, header, IP_HLEN, 0) != IP_HLEN) return 0;
    uint16_t header_length = uint16_t((header[0] & 0x0f) * 4);
    uint16_t fragment = uint16_t((header[6] << 8 | header[7]) & (IP_MF | IP_OFFMASK));
    if (header_length < IP_HLEN || header[9] != PROTOCOL_TCP || fragment) return 0;
    SynInfo syn;
    if (!parse_syn(p, header_length, syn)) return 0;
    ip4_addr_t source, destination;
    memcpy(&source.addr, header + 12, 4);
    memcpy(&destination.addr, header + 16, 4);
    reuse_time_wait(syn, [&](const struct tcp_pcb* pcb) {
        return IP_IS_V4(&pcb->remote_ip) && ip4_addr_cmp(ip_2_ip4(&pcb->remote_ip), &source) &&
            ip4_addr_cmp(ip_2_ip4(&pcb->local_ip), &destination);
    });
    return 0;  // never eaten: lwIP goes on as usual
}

extern "C" int xos_lwip_ip6_input_hook(struct pbuf* p, struct netif*) {
    if (!tcp_tw_pcbs) return 0;
    uint8_t header[IP6_HLEN];
    if (pbuf_copy_partial(p, header, IP6_HLEN, 0) != IP6_HLEN) return 0;
    if (header[6] != PROTOCOL_TCP) return 0;  // extension headers: left to lwIP
    SynInfo syn;
    if (!parse_syn(p, IP6_HLEN, syn)) return 0;
    ip6_addr_t source{}, destination{};
    memcpy(source.addr, header + 8, 16);
    memcpy(destination.addr, header + 24, 16);
    // lwIP keeps a zone for link-local addresses in pcbs; compare without it.
    reuse_time_wait(syn, [&](const struct tcp_pcb* pcb) {
        return IP_IS_V6(&pcb->remote_ip) && ip6_addr_cmp_zoneless(ip_2_ip6(&pcb->remote_ip), &source) &&
            ip6_addr_cmp_zoneless(ip_2_ip6(&pcb->local_ip), &destination);
    });
    return 0;
}
