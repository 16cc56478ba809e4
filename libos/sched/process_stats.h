// Where fork, exec and exit spend their time (bench/fork, docs/processes.md "Speed"): counters
// and nanoseconds kept by libos/sys (clone, exec, exit), libos/sched (address spaces) and
// libos/mm (copy on write), shown by /proc/xos/processes. One CPU, libos not preempted: plain
// counters.
#pragma once

#include <cstdint>

namespace xos::sched {

struct ProcessStats {
    uint64_t forks = 0;  // processes made by fork/vfork/clone
    uint64_t fork_ns = 0;  // clone's whole work in the parent (before a vfork wait)
    uint64_t fork_memory_ns = 0;  // of which the copy-on-write copy of the address space
    uint64_t fork_files_ns = 0;  // of which the descriptor table and the process
    uint64_t fork_thread_ns = 0;  // of which the child's thread (kernel stack, FPU area)
    uint64_t fork_pages_shared = 0;  // frames mapped copy on write into children
    uint64_t execs = 0;  // execs that reached the point of no return
    uint64_t exec_ns = 0;  // from execve's entry to the point of no return
    uint64_t exec_prepare_ns = 0;  // of which copying the arguments, scripts, other threads
    uint64_t exec_create_ns = 0;  // of which the fresh address space
    uint64_t exec_load_ns = 0;  // of which exec::execute's mapping and stack until the point of no return
    uint64_t exec_old_memory_ns = 0;  // of which freeing the old address space
    uint64_t memory_destroyed = 0;  // address spaces freed (exit, exec)
    uint64_t memory_destroy_ns = 0;
    uint64_t cow_copies = 0;  // write faults that copied a shared frame
    uint64_t cow_reclaims = 0;  // write faults on a frame no longer shared (made writable in place)
};

inline constinit ProcessStats g_process_stats;

}  // namespace xos::sched
