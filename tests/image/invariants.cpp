// Checked invariants and the deadlock check, from inside an image. Each mode breaks one rule on
// purpose; the image must end with status 134 and a report (run_image.py checks both), never
// print "survived".
//   leave-kernel  calls libos's leave_kernel() from app code, with no enter_kernel() to pair
//                 (a VERIFY in libos/sched/scheduler.cpp)
//   on-interrupt  calls the scheduler's interrupt entry with interrupts enabled (an ASSERT;
//                 the test exists only when assertions are built in)
//   deadlock      main joins a thread that reads a pipe nobody writes: every thread blocked,
//                 no timeout, no device wait pending (the scheduler's deadlock report)
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// libos internals (statically linked into every image), declared here as libos declares them.
namespace xos::sched {
enum class InterruptKind { Timer, Yield, Device };
void leave_kernel();
void* on_interrupt(InterruptKind kind);
}  // namespace xos::sched

namespace {

int g_pipe[2];

void* reader(void*) {
    char byte;
    ssize_t n = read(g_pipe[0], &byte, 1);  // nobody ever writes: blocks forever
    printf("survived: read returned %zd\n", n);
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return 99;
    printf("breaking: %s\n", argv[1]);
    fflush(stdout);
    if (strcmp(argv[1], "leave-kernel") == 0) {
        xos::sched::leave_kernel();
    } else if (strcmp(argv[1], "on-interrupt") == 0) {
        xos::sched::on_interrupt(xos::sched::InterruptKind::Yield);
    } else if (strcmp(argv[1], "deadlock") == 0) {
        if (pipe(g_pipe) != 0) return 98;
        pthread_t thread;
        if (pthread_create(&thread, nullptr, reader, nullptr) != 0) return 97;
        pthread_join(thread, nullptr);
    } else {
        return 99;
    }
    printf("survived\n");
    return 0;
}
