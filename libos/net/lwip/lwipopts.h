/* lwIP options for xos (lwIP 2.1.3). See libos/net/README.md for the concurrency model.
 *
 * - NO_SYS=0: lwIP's tcpip thread is a libos kernel thread (sys_arch.cpp); everything else
 *   calls lwIP under the core lock (LWIP_TCPIP_CORE_LOCKING), never through messages.
 * - Sockets use the raw API: no netconn, no lwIP sockets (libos/sys/net*.cpp own the BSD API).
 * - Memory comes from the kernel heap (kmalloc): MEM_LIBC_MALLOC and MEMP_MEM_MALLOC, so pools
 *   grow with load (hundreds of connections) and cost nothing in images that do not use them.
 * - Checksums: computed and checked in software, except where the NIC offers offload
 *   (virtio-net CSUM / GUEST_CSUM: LWIP_CHECKSUM_CTRL_PER_NETIF, see netif_glue.cpp).
 */
#ifndef XOS_LWIPOPTS_H
#define XOS_LWIPOPTS_H

#define NO_SYS 0
#define SYS_LIGHTWEIGHT_PROT 1
#define LWIP_TCPIP_CORE_LOCKING 1
#define LWIP_TCPIP_CORE_LOCKING_INPUT 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_NETIF_API 0

#define TCPIP_THREAD_NAME "lwip-tcpip"
#define TCPIP_THREAD_STACKSIZE (64 * 1024)
#define TCPIP_THREAD_PRIO 1
#define TCPIP_MBOX_SIZE 256
#define DEFAULT_THREAD_STACKSIZE (64 * 1024)

/* Memory: the kernel heap. */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define mem_clib_malloc xos_lwip_malloc
#define mem_clib_free xos_lwip_free
#define mem_clib_calloc xos_lwip_calloc
#ifdef __cplusplus
extern "C" {
#endif
#include <stddef.h>
void* xos_lwip_malloc(size_t size);
void xos_lwip_free(void* pointer);
void* xos_lwip_calloc(size_t count, size_t size);
void xos_lwip_assert_core_locked(void);
struct pbuf;
struct netif;
int xos_lwip_ip4_input_hook(struct pbuf* p, struct netif* input_netif);
int xos_lwip_ip6_input_hook(struct pbuf* p, struct netif* input_netif);
struct ip_addr;
unsigned int xos_lwip_tcp_isn(const struct ip_addr* local_ip, unsigned short local_port,
                              const struct ip_addr* remote_ip, unsigned short remote_port);
#ifdef __cplusplus
}
#endif

/* Nominal pool sizes (with MEMP_MEM_MALLOC they document intent; lwIP does not reserve them). */
#define MEMP_NUM_TCP_PCB 1024
#define MEMP_NUM_TCP_PCB_LISTEN 64
#define MEMP_NUM_UDP_PCB 256
#define MEMP_NUM_RAW_PCB 16
#define MEMP_NUM_TCP_SEG 8192
#define MEMP_NUM_REASSDATA 64
#define MEMP_NUM_FRAG_PBUF 64
#define MEMP_NUM_ARP_QUEUE 64
#define MEMP_NUM_ND6_QUEUE 64
#define MEMP_NUM_PBUF 1024
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 8)
#define PBUF_POOL_SIZE 1024
#define PBUF_POOL_BUFSIZE LWIP_MEM_ALIGN_SIZE(TCP_MSS + 40 + PBUF_LINK_ENCAPSULATION_HLEN + PBUF_LINK_HLEN)

/* Protocols. */
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_ARP 1
#define ARP_TABLE_SIZE 64
#define ARP_QUEUEING 1
#define ARP_QUEUE_LEN 64 /* a fragmented datagram to a new neighbour: 45 pbufs */
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_ICMP 1
#define LWIP_RAW 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 1
#define DHCP_DOES_ARP_CHECK 0
#define LWIP_AUTOIP 0
#define LWIP_DNS 0 /* musl's resolver does DNS over UDP sockets */
#define LWIP_IGMP 0
#define LWIP_IPV6_MLD 1
#define LWIP_IPV6_AUTOCONFIG 1
#define LWIP_IPV6_DHCP6 0
#define LWIP_ND6_RDNSS_MAX_DNS_SERVERS 0
#define LWIP_ICMP6 1
#define IP_REASSEMBLY 1
#define IP_REASS_MAX_PBUFS 64 /* a 65,507-byte UDP datagram is 45 fragments */
#define IP_FRAG 1
#define LWIP_IPV6_REASS 1
#define LWIP_IPV6_FRAG 1
#define IPV6_FRAG_COPYHEADER 1 /* 64-bit pointers do not fit in the fragment header */
#define LWIP_HAVE_LOOPIF 1
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_LOOPBACK_MAX_PBUFS 0
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 1
#define LWIP_NETIF_HOSTNAME 0
#define LWIP_SINGLE_NETIF 0
#define LWIP_BROADCAST_PING 0

/* TCP: sized for servers (hundreds of connections, LAN-speed windows). */
#define TCP_MSS 1460
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 3
#define TCP_WND (256 * 1024) /* with TCP_RCV_SCALE 3: up to 512 KiB */
#define TCP_SND_BUF (256 * 1024)
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
#define TCP_SNDLOWAT (0xffff - 4 * TCP_MSS - 1) /* lwIP keeps it in a u16_t */
#define TCP_QUEUE_OOSEQ 1
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 0xff
#define LWIP_TCP_KEEPALIVE 1
/* lwIP's TCP timers tick every 250 ms (delayed ACKs) and 500 ms (retransmission timeouts, in
 * whole ticks, never under 3): a lost segment cost at least 1.5 s, 2.5-3 s on a new connection.
 * At 100 ms: delayed ACKs within 100 ms (Linux: 40 ms or more), RTO ticks of 200 ms (600 ms at
 * least); inet.cpp starts each connection's RTO at 1 s (RFC 6298) instead of lwIP's 3 s. */
#define TCP_TMR_INTERVAL 100
#define TCP_MSL 30000UL /* TIME_WAIT = 2 MSL = 60 s, as Linux */
/* A SYN may reuse the four-tuple of a connection in TIME_WAIT, as on Linux (tcp_timewait.cpp). */
#define LWIP_HOOK_IP4_INPUT(p, netif) xos_lwip_ip4_input_hook(p, netif)
#define LWIP_HOOK_IP6_INPUT(p, netif) xos_lwip_ip6_input_hook(p, netif)
/* Initial sequence numbers as RFC 6528 (tcp_isn.cpp); lwIP's default is a counter. */
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port)                                                \
    xos_lwip_tcp_isn(local_ip, local_port, remote_ip, remote_port)
#define SO_REUSE 1
#define LWIP_TCP_TIMESTAMPS 0
#define TCP_OVERSIZE TCP_MSS
#define LWIP_TCP_SACK_OUT 0
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0

/* Checksums: software, both ways, unless the NIC offloads them (see above). */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_GEN_ICMP6 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1
#define CHECKSUM_CHECK_ICMP6 1
#define LWIP_CHECKSUM_ON_COPY 1
/* Per-netif control: a NIC with checksum offload turns off TCP checksum generation for its
 * netif, and received frames the device vouches for skip the TCP/UDP checks (netif_glue.cpp). */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1

/* Link layer: the virtio-net header is not part of the pbuf (the driver copies frames). */
#define PBUF_LINK_HLEN 14
#define PBUF_LINK_ENCAPSULATION_HLEN 0
#define ETH_PAD_SIZE 0

/* Diagnostics. */
#define LWIP_STATS 0
#define LWIP_DEBUG 0
#define LWIP_ASSERT_CORE_LOCKED() xos_lwip_assert_core_locked()

#endif /* XOS_LWIPOPTS_H */
