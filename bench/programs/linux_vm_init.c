// bench/programs/linux_vm_init.c: linked into a benchmark only when it becomes the /init of
// the Linux microVM. The program's main() runs unchanged; when it returns or calls exit(),
// this handler flushes stdio and turns the machine off, since PID 1 must not exit (the kernel
// would panic). How the VM is left is chosen on the kernel command line by the harness:
// `xos_bench_exit=poweroff` (ACPI) or `xos_bench_exit=reboot` (with `reboot=t` and QEMU's
// -no-reboot: a triple fault ends QEMU). See bench/README.md for which is used and why.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/reboot.h>

static void leave_vm(void)
{
    fflush(NULL);
    const char *how = getenv("xos_bench_exit");  // unknown key=value kernel parameters reach init's environment
    if (how && strcmp(how, "reboot") == 0)
        reboot(RB_AUTOBOOT);
    reboot(RB_POWER_OFF);
}

__attribute__((constructor)) static void install(void)
{
    if (getpid() == 1)
        atexit(leave_vm);
}
