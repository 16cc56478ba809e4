// Corrupts a producer index of a guest's xenstore or console ring from dom0, for the guest's
// error paths (cases.py's bad-index cases): it maps the ring page through the grant the
// toolstack made for dom0 (grant reference 0: the console page, 1: the xenstore page; Xen's
// GNTTAB_RESERVED_CONSOLE and GNTTAB_RESERVED_XENSTORE) with /dev/xen/gntdev, and puts the
// producer index that dom0's side owns 5000 bytes ahead of the guest's consumer index (the rings
// hold 1024 bytes):
//   xenstore   the response producer (xenstored's), io/xs_wire.h's rsp_prod
//   console    the input producer (xenconsoled's), io/console.h's in_prod
// run_xen.py's prestart script runs it while the new domain is still paused.
// Built statically on the host (dom0's initramfs has no compiler; its glibc is Debian's too).
//
// usage: fake_ring xenstore|console DOMID
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
typedef uint16_t domid_t;  // the uapi header below expects Xen's own types
typedef uint32_t grant_ref_t;
#include <xen/gntdev.h>

// The indices' offsets in the page: io/xs_wire.h (req[1024], rsp[1024], req_cons, req_prod,
// rsp_cons, rsp_prod) and io/console.h (in[1024], out[2048], in_cons, in_prod, out_cons, out_prod).
#define XENSTORE_RSP_CONS 2056
#define XENSTORE_RSP_PROD 2060
#define CONSOLE_IN_CONS 3072
#define CONSOLE_IN_PROD 3076

static void fail(const char* what) {
    fprintf(stderr, "fake_ring: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char** argv) {
    int xenstore = argc == 3 && strcmp(argv[1], "xenstore") == 0;
    if (argc != 3 || (!xenstore && strcmp(argv[1], "console"))) {
        fprintf(stderr, "usage: fake_ring xenstore|console DOMID\n");
        return 2;
    }
    long domid = strtol(argv[2], NULL, 10);
    if (domid <= 0) {
        fprintf(stderr, "fake_ring: bad domain id %s\n", argv[2]);
        return 2;
    }
    int gntdev = open("/dev/xen/gntdev", O_RDWR);
    if (gntdev < 0) fail("/dev/xen/gntdev");
    struct ioctl_gntdev_map_grant_ref map = {.count = 1};
    map.refs[0].domid = (uint32_t)domid;
    map.refs[0].ref = xenstore ? 1 : 0;
    if (ioctl(gntdev, IOCTL_GNTDEV_MAP_GRANT_REF, &map) != 0) fail("IOCTL_GNTDEV_MAP_GRANT_REF");
    unsigned char* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, gntdev, (off_t)map.index);
    if (page == MAP_FAILED) fail("mmap of the ring");
    uint32_t* consumer = (uint32_t*)(page + (xenstore ? XENSTORE_RSP_CONS : CONSOLE_IN_CONS));
    uint32_t* producer = (uint32_t*)(page + (xenstore ? XENSTORE_RSP_PROD : CONSOLE_IN_PROD));
    uint32_t bad = __atomic_load_n(consumer, __ATOMIC_ACQUIRE) + 5000;
    __atomic_store_n(producer, bad, __ATOMIC_RELEASE);
    printf("fake_ring: the %s ring's producer index of domain %ld is now %u (consumer %u)\n", argv[1], domid, bad,
           *consumer);
    munmap(page, 4096);
    return 0;
}
