/*
 * xos: musl 1.2.3's clock_gettime with libxos's xos_clock_gettime in the role of the vDSO's
 * __vdso_clock_gettime: a plain function call that reads the clock without going through
 * xos_syscall's dispatch. It returns 0, or -ENOSYS for the clocks it leaves to the
 * clock_gettime syscall (CPU-time clocks, unknown ids: the syscall gives EINVAL for those).
 * Like Linux's vDSO, the fast path writes *ts directly: a bad pointer faults.
 */
#include <time.h>
#include <errno.h>
#include "syscall.h"

__attribute__((__visibility__("default")))
int xos_clock_gettime(clockid_t clk, struct timespec *ts);

int __clock_gettime(clockid_t clk, struct timespec *ts)
{
	int r = xos_clock_gettime(clk, ts);
	if (!r) return 0;
	return __syscall_ret(__syscall(SYS_clock_gettime, clk, ts));
}

weak_alias(__clock_gettime, clock_gettime);
