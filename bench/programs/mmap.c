// bench/programs/mmap.c: map 1 MiB of anonymous memory, touch every page, unmap it.
#include <sys/mman.h>

#include "bench.h"

static void map_touch_unmap(long n) {
    const size_t size = 1 << 20;
    for (long i = 0; i < n; i++) {
        volatile char* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        for (size_t off = 0; off < size; off += 4096) p[off] = 1;
        munmap((void*)p, size);
    }
}

int main(void) {
    bench_timed_loop("mmap.1mib_touch_unmap", "ns/cycle", map_touch_unmap, 400e6);
    return 0;
}
