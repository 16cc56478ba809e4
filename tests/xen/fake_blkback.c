// A misbehaving block backend in dom0, for blkfront's error paths (cases.py's bad-ring-index and
// error-response): it serves a vbd that run_xen.py's prestart script wrote for a guest, goes
// through xenbus's states like blkback (InitWait, then Connected once the frontend published its
// ring), maps the guest's ring page (/dev/xen/gntdev) and binds its event channel
// (/dev/xen/evtchn), and answers the first request wrongly:
//   bad-index     the response producer index jumps to 1000 (the ring holds 32)
//   error         a response with BLKIF_RSP_ERROR for the request's id
// Built statically on the host (dom0's initramfs has no compiler; its glibc is Debian's too).
//
// usage: fake_blkback MODE FRONTEND BACKEND     (xenstore paths; exits 0 once it has answered)
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
typedef uint16_t domid_t;  // the uapi headers below expect Xen's own types
typedef uint32_t grant_ref_t;
#include <xen/evtchn.h>
#include <xen/gntdev.h>

// io/ring.h's shared ring header and io/blkif.h's entries (x86_64 layout).
struct sring_header {
    uint32_t req_prod, req_event, rsp_prod, rsp_event;
    uint8_t pad[48];
};
struct blkif_request {
    uint8_t operation, nr_segments;
    uint16_t handle;
    uint64_t id, sector_number;
    uint8_t segments[88];
};
struct blkif_response {
    uint64_t id;
    uint8_t operation;
    int16_t status;
};
union entry {
    struct blkif_request req;
    struct blkif_response rsp;
};

static void fail(const char* what) {
    fprintf(stderr, "fake_blkback: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void xs_write(const char* dir, const char* key, const char* value) {
    char command[512];
    snprintf(command, sizeof command, "xenstore-write '%s/%s' '%s'", dir, key, value);
    if (system(command) != 0) {
        fprintf(stderr, "fake_blkback: %s failed\n", command);
        exit(1);
    }
}

// The value of dir/key as a number, or -1.
static long xs_read(const char* dir, const char* key) {
    char command[512], value[64] = "";
    snprintf(command, sizeof command, "xenstore-read '%s/%s' 2>/dev/null", dir, key);
    FILE* pipe = popen(command, "r");
    if (!pipe) return -1;
    if (!fgets(value, sizeof value, pipe)) value[0] = 0;
    pclose(pipe);
    char* end;
    long number = strtol(value, &end, 10);
    return end == value ? -1 : number;
}

static void sleep_ms(long ms) {
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&pause, NULL);
}

int main(int argc, char** argv) {
    if (argc != 4 || (strcmp(argv[1], "bad-index") && strcmp(argv[1], "error"))) {
        fprintf(stderr, "usage: fake_blkback bad-index|error FRONTEND BACKEND\n");
        return 2;
    }
    const char *mode = argv[1], *frontend = argv[2], *backend = argv[3];
    long domid = -1;  // FRONTEND is /local/domain/<domid>/device/vbd/<id>
    if (strncmp(frontend, "/local/domain/", 14) == 0) domid = strtol(frontend + 14, NULL, 10);
    if (domid <= 0) {
        fprintf(stderr, "fake_blkback: no domain id in %s\n", frontend);
        return 1;
    }

    xs_write(backend, "state", "2");  // InitWait
    long ring_ref = -1, port = -1;
    for (int i = 0; i < 1200; ++i) {  // up to 2 minutes
        if (xs_read(frontend, "state") >= 3) {
            ring_ref = xs_read(frontend, "ring-ref");
            port = xs_read(frontend, "event-channel");
            break;
        }
        sleep_ms(100);
    }
    if (ring_ref < 0 || port < 0) {
        fprintf(stderr, "fake_blkback: the frontend never published its ring\n");
        return 1;
    }

    int gntdev = open("/dev/xen/gntdev", O_RDWR);
    if (gntdev < 0) fail("/dev/xen/gntdev");
    struct ioctl_gntdev_map_grant_ref map = {.count = 1};
    map.refs[0].domid = (uint32_t)domid;
    map.refs[0].ref = (uint32_t)ring_ref;
    if (ioctl(gntdev, IOCTL_GNTDEV_MAP_GRANT_REF, &map) != 0) fail("IOCTL_GNTDEV_MAP_GRANT_REF");
    void* page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, gntdev, (off_t)map.index);
    if (page == MAP_FAILED) fail("mmap of the ring");
    struct sring_header* header = page;
    union entry* ring = (union entry*)((char*)page + sizeof *header);

    int evtchn = open("/dev/xen/evtchn", O_RDWR);
    if (evtchn < 0) fail("/dev/xen/evtchn");
    struct ioctl_evtchn_bind_interdomain bind = {.remote_domain = (uint32_t)domid, .remote_port = (uint32_t)port};
    int local_port = ioctl(evtchn, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bind);
    if (local_port < 0) fail("IOCTL_EVTCHN_BIND_INTERDOMAIN");

    // One xenstore-write for all (each program started in dom0 under a nested TCG Xen is slow).
    char command[1024];
    snprintf(command, sizeof command,
             "xenstore-write '%s/sectors' 2048 '%s/sector-size' 512 '%s/info' 0 '%s/state' 4",  // 4: Connected
             backend, backend, backend, backend);
    if (system(command) != 0) {
        fprintf(stderr, "fake_blkback: %s failed\n", command);
        return 1;
    }

    for (int i = 0; i < 1200 && __atomic_load_n(&header->req_prod, __ATOMIC_ACQUIRE) == 0; ++i) sleep_ms(100);
    if (header->req_prod == 0) {
        fprintf(stderr, "fake_blkback: the frontend sent no request\n");
        return 1;
    }
    struct ioctl_evtchn_notify notify = {.port = (unsigned)local_port};
    if (strcmp(mode, "bad-index") == 0) {
        __atomic_store_n(&header->rsp_prod, 1000, __ATOMIC_RELEASE);
        if (ioctl(evtchn, IOCTL_EVTCHN_NOTIFY, &notify) != 0) fail("IOCTL_EVTCHN_NOTIFY");
        printf("fake_blkback: answered request %llu with %s\n", (unsigned long long)ring[0].req.id, mode);
        fflush(stdout);
        sleep_ms(3000);  // the guest reads the answer before the mapping goes
        return 0;
    }
    // error: every request for the next 20 s gets BLKIF_RSP_ERROR.
    uint32_t consumer = 0;
    for (int i = 0; i < 200; ++i, sleep_ms(100)) {
        uint32_t producer = __atomic_load_n(&header->req_prod, __ATOMIC_ACQUIRE);
        if (producer == consumer) continue;
        for (; consumer != producer; ++consumer) {
            union entry* slot = &ring[consumer % 32];
            struct blkif_response response = {.id = slot->req.id, .operation = slot->req.operation, .status = -1};
            printf("fake_blkback: answered request %llu with %s\n", (unsigned long long)slot->req.id, mode);
            slot->rsp = response;
        }
        __atomic_store_n(&header->rsp_prod, consumer, __ATOMIC_RELEASE);
        if (ioctl(evtchn, IOCTL_EVTCHN_NOTIFY, &notify) != 0) fail("IOCTL_EVTCHN_NOTIFY");
        fflush(stdout);
    }
    return 0;
}
