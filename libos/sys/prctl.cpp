// prctl(2): the options that runtimes use at start-up and for naming threads (Redis names its
// threads with PR_SET_NAME). One process running as root, without capabilities to drop or a
// parent to outlive, so most options are accepted and answered as Linux would for such a
// process; the others fail with EINVAL, as Linux does for an option it does not know.
#include <sys/prctl.h>

#include <cstring>

#include "sched/thread.h"
#include "sys/handlers.h"

namespace xos::sys {

namespace {

constexpr unsigned long PR_SET_VMA_OPTION = 0x53564d41;  // Linux 5.17; glibc 2.36 names its mappings
constexpr unsigned long CAP_LAST_CAP_NUMBER = 40;  // CAP_CHECKPOINT_RESTORE (Linux 6.1)
constexpr unsigned long DEFAULT_TIMER_SLACK_NS = 50000;

}  // namespace

// Implements prctl(2).
ErrorOr<long> sys_prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long, unsigned long) {
    sched::Thread& thread = sched::current();
    switch (option) {
    case PR_SET_NAME: {
        char name[sizeof thread.name] = {};
        // Linux copies up to 15 bytes and stops at the first NUL; a longer name is cut.
        for (size_t i = 0; i + 1 < sizeof name; ++i) {
            char c = TRY(read_user(UserPtr<const char>(arg2 + i)));
            if (!c) break;
            name[i] = c;
        }
        memcpy(thread.name, name, sizeof name);
        return 0;
    }
    case PR_GET_NAME: TRY(copy_to_user(UserPtr<void>(arg2), thread.name, sizeof thread.name)); return 0;
    case PR_SET_PDEATHSIG:  // the image has no parent process to outlive
        if (arg2 > 64) return error(EINVAL);
        return 0;
    case PR_GET_PDEATHSIG: TRY(write_user(UserPtr<int>(arg2), 0)); return 0;
    case PR_GET_DUMPABLE: return 1;
    case PR_SET_DUMPABLE:
        if (arg2 > 1) return error(EINVAL);
        return 0;
    case PR_GET_KEEPCAPS: return 0;
    case PR_SET_KEEPCAPS:
        if (arg2 > 1) return error(EINVAL);
        return 0;
    case PR_CAPBSET_READ:  // root with every capability in its bounding set
        if (arg2 > CAP_LAST_CAP_NUMBER) return error(EINVAL);
        return 1;
    case PR_GET_NO_NEW_PRIVS: return 0;
    case PR_SET_NO_NEW_PRIVS:  // nothing gains privileges here (no setuid execs): accepted
        if (arg2 != 1 || arg3 != 0) return error(EINVAL);
        return 0;
    case PR_GET_TIMERSLACK: return long(DEFAULT_TIMER_SLACK_NS);
    case PR_SET_TIMERSLACK: return 0;
    case PR_GET_THP_DISABLE: return 0;
    case PR_SET_THP_DISABLE: return 0;
    case PR_SET_VMA_OPTION:  // names for anonymous mappings (shown in /proc/self/maps on Linux)
        return 0;
    default: return error(EINVAL);
    }
}

}  // namespace xos::sys
