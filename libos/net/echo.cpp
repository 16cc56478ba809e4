#include "net/echo.h"

extern "C" {
#include "lwip/tcp.h"
}

#include "base/klog.h"
#include "net/stack.h"

namespace xos::net {

namespace {

// Echoes what arrives. When the send buffer is too small for a pbuf, returning ERR_MEM makes
// lwIP keep it and offer it again later (refused data), so nothing is lost.
err_t on_receive(void*, struct tcp_pcb* pcb, struct pbuf* p, err_t error) {
    if (!p || error != ERR_OK) {  // the peer closed
        if (p) pbuf_free(p);
        tcp_arg(pcb, nullptr);
        tcp_recv(pcb, nullptr);
        if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
        return ERR_OK;
    }
    if (tcp_sndbuf(pcb) < p->tot_len) return ERR_MEM;
    for (struct pbuf* q = p; q; q = q->next)
        if (tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY) != ERR_OK) return ERR_MEM;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    tcp_output(pcb);
    return ERR_OK;
}

err_t on_accept(void*, struct tcp_pcb* pcb, err_t error) {
    if (error != ERR_OK || !pcb) return ERR_VAL;
    tcp_recv(pcb, on_receive);
    return ERR_OK;
}

}  // namespace

void start_echo_service(uint16_t port) {
    CoreLock lock;
    struct tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_ANY);
    if (!pcb || tcp_bind(pcb, IP_ANY_TYPE, port) != ERR_OK) {
        klog("xos: net: diagnostic echo service: cannot bind port %u", port);
        if (pcb) tcp_close(pcb);
        return;
    }
    struct tcp_pcb* listener = tcp_listen(pcb);
    if (!listener) {
        klog("xos: net: diagnostic echo service: cannot listen on port %u", port);
        tcp_close(pcb);
        return;
    }
    tcp_accept(listener, on_accept);
    klog("xos: net: diagnostic TCP echo service on port %u (xos.echo)", port);
}

}  // namespace xos::net
