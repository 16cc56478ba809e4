// prctl(2): the options that runtimes use at start-up and for naming threads (Redis names its
// threads with PR_SET_NAME), the parent-death signal, child subreapers and the dumpable flag
// (per process, sched::Process); processes run as root without capabilities to drop, so the
// capability options are answered as Linux would for such a process; the others fail with
// EINVAL, as Linux does for an option it does not know. Also personality(2).
#include <sys/prctl.h>

#include <cstring>

#include "sched/process.h"
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
    case PR_SET_PDEATHSIG:  // sent when the parent exits (sys/process.cpp, become_zombie)
        if (arg2 > 64) return error(EINVAL);
        sched::current_process().parent_death_signal = int(arg2);
        return 0;
    case PR_GET_PDEATHSIG: TRY(write_user(UserPtr<int>(arg2), sched::current_process().parent_death_signal)); return 0;
    case PR_SET_CHILD_SUBREAPER: sched::current_process().child_subreaper = arg2 != 0; return 0;
    case PR_GET_CHILD_SUBREAPER:
        TRY(write_user(UserPtr<int>(arg2), int(sched::current_process().child_subreaper)));
        return 0;
    case PR_GET_DUMPABLE: return sched::current_process().dumpable ? 1 : 0;
    case PR_SET_DUMPABLE:
        if (arg2 > 1) return error(EINVAL);
        sched::current_process().dumpable = arg2 == 1;
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

// Implements personality(2): the value is kept (and inherited by fork) and reported, as Linux
// does for any value. libos never randomizes addresses, so ADDR_NO_RANDOMIZE changes nothing;
// no flag changes behaviour (READ_IMPLIES_EXEC, ADDR_LIMIT_32BIT, ... are recorded only).
ErrorOr<long> sys_personality(unsigned persona) {
    sched::Process& process = sched::current_process();
    unsigned old = process.personality;
    if (persona != 0xffffffff) process.personality = persona;
    return long(old);
}

}  // namespace xos::sys
