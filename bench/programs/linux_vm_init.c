// bench/programs/linux_vm_init.c: linked into a benchmark only when it becomes the /init of
// the Linux microVM. The program's main() runs unchanged; when it returns or calls exit(),
// this handler flushes stdio and turns the machine off, since PID 1 must not exit (the kernel
// would panic). How the VM is left is chosen on the kernel command line by the harness:
// `xos_bench_exit=poweroff` (ACPI) or `xos_bench_exit=reboot` (with `reboot=t` and QEMU's
// -no-reboot: a triple fault ends QEMU). See bench/README.md for which is used and why.
//
// Networking, for the HTTP benchmark only (bench/http/run.py): with `xos_bench_net=ADDR/PREFIX`
// (optionally `,GATEWAY`) on the kernel command line, /init first loads the kernel modules listed
// one path a line in /lib/modules/load (Debian builds virtio, virtio_mmio and virtio_net as
// modules; the harness puts them into the initramfs in dependency order), then configures the
// network card with plain ioctls (no busybox, no netlink): lo up, ADDR/PREFIX on eth0, eth0 up, and
// a default route through GATEWAY if one is given. Without that parameter nothing changes.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static void leave_vm(void) {
    fflush(NULL);
    const char* how = getenv("xos_bench_exit");  // unknown key=value kernel parameters reach init's environment
    if (how && strcmp(how, "reboot") == 0) reboot(RB_AUTOBOOT);
    reboot(RB_POWER_OFF);
}

static void load_modules(void) {
    FILE* list = fopen("/lib/modules/load", "r");
    if (!list) return;  // a kernel with the drivers built in needs no modules
    char path[256];
    while (fgets(path, sizeof path, list)) {
        path[strcspn(path, "\n")] = 0;
        if (!path[0]) continue;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0)
            if (errno != EEXIST) fprintf(stderr, "linux_vm_init: loading %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
    }
    fclose(list);
}

static int set_flags_up(int s, const char* name) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(s, SIOCSIFFLAGS, &ifr);
}

static int set_ipv4(int s, const char* name, unsigned long request, in_addr_t addr) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = addr;
    memcpy(&ifr.ifr_addr, &sin, sizeof sin);
    return ioctl(s, request, &ifr);
}

static void setup_network(const char* spec) {
    char buf[64];
    strncpy(buf, spec, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    char* gateway = strchr(buf, ',');
    if (gateway) *gateway++ = 0;
    char* slash = strchr(buf, '/');
    int prefix = 24;
    if (slash) {
        *slash = 0;
        prefix = atoi(slash + 1);
    }
    struct in_addr addr, gw;
    if (inet_pton(AF_INET, buf, &addr) != 1 || prefix < 0 || prefix > 32 ||
        (gateway && inet_pton(AF_INET, gateway, &gw) != 1)) {
        fprintf(stderr, "linux_vm_init: bad xos_bench_net=%s (want ADDR/PREFIX[,GATEWAY])\n", spec);
        return;
    }
    load_modules();
    const char* name = "eth0";
    for (int i = 0; i < 500 && !if_nametoindex(name); i++) {  // up to 5 s for the device to appear
        struct timespec ms10 = {0, 10 * 1000 * 1000};
        nanosleep(&ms10, NULL);
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        fprintf(stderr, "linux_vm_init: socket: %s\n", strerror(errno));
        return;
    }
    if (set_flags_up(s, "lo") != 0) fprintf(stderr, "linux_vm_init: lo up: %s\n", strerror(errno));
    in_addr_t mask = prefix ? htonl(0xffffffffu << (32 - prefix)) : 0;
    if (!if_nametoindex(name))
        fprintf(stderr, "linux_vm_init: no %s (is virtio_net loaded?)\n", name);
    else if (set_ipv4(s, name, SIOCSIFADDR, addr.s_addr) != 0 || set_ipv4(s, name, SIOCSIFNETMASK, mask) != 0 ||
             set_flags_up(s, name) != 0)
        fprintf(stderr, "linux_vm_init: configuring %s: %s\n", name, strerror(errno));
    else if (gateway) {
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        struct sockaddr_in *dst = (struct sockaddr_in*)&rt.rt_dst, *gwa = (struct sockaddr_in*)&rt.rt_gateway,
                           *msk = (struct sockaddr_in*)&rt.rt_genmask;
        dst->sin_family = gwa->sin_family = msk->sin_family = AF_INET;
        gwa->sin_addr = gw;
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        if (ioctl(s, SIOCADDRT, &rt) != 0)
            fprintf(stderr, "linux_vm_init: default route via %s: %s\n", gateway, strerror(errno));
    }
    close(s);
}

__attribute__((constructor)) static void install(void) {
    if (getpid() == 1) {
        atexit(leave_vm);
        const char* net = getenv("xos_bench_net");
        if (net) setup_network(net);
    }
}
