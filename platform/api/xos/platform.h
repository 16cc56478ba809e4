// The narrow interface libos calls into a platform: kvm (a PVH guest of QEMU/KVM, with
// platform/x86_64) and hosted (a sandboxed Linux process, docs/hosted.md). A platform library is
// built with platform/api as its only include directory from libos (platform/meson.build); it
// calls back into libos only through xos/libos.h and xos/log.h.
//
// It must be implementable by a VM with page tables and interrupts and by an ordinary Linux
// process alike, so it speaks in terms of memory ranges, bytes and nanoseconds, never of
// ports, MSRs or device registers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace xos::platform {

// A range of memory (physical or virtual, as the function returning it says).
struct MemoryRange {
    uintptr_t base;
    size_t size;
    uintptr_t end() const { return base + size; }
};

// Physical memory and the pointers that reach it. libos reaches all RAM through a direct map:
// on the VM the upper canonical half (docs/threads-and-memory.md, "The address-space layout"),
// on hosted the memfd mapping (identity: "physical" there is the address of the RAM mapping).
// Frames (mm/frames.h), page-table entries, the free ranges below and device (DMA) addresses
// are physical; every conversion to or from a pointer goes through these two.
void* phys_to_virt(uintptr_t phys);
uintptr_t virt_to_phys(const void* virt);

// RAM that libos may hand out (physical): usable memory minus the image, boot data and page
// tables. It is zero-filled.
std::span<const MemoryRange> free_memory();

// Every address an application may legitimately pass to a syscall lies in [lowest, highest).
MemoryRange addressable_memory();

// The parts of the image an application may name in a syscall, with the PAGE_* access they
// allow: its code and constants (read) and its own data and bss (read and write). libos's own
// data and bss, the memory below the image and RAM (heap, page tables, stacks, frames) are not
// among them. At most MAX_IMAGE_REGIONS regions.
struct ImageRegion {
    uintptr_t base;
    uintptr_t end;
    uint32_t access;
};
constexpr size_t MAX_IMAGE_REGIONS = 4;
std::span<const ImageRegion> app_image_regions();

// Copies `size` bytes where either side may be application memory. A fault on an address that
// demand paging cannot resolve (unmapped, PROT_NONE, read-only for a write) stops the copy
// instead of crashing the image: returns the number of bytes not copied (0: all were).
size_t copy_user(void* to, const void* from, size_t size);
// An atomic compare-and-exchange of a 32-bit word of application memory (`lock cmpxchg`), as
// fault-safe as copy_user: false if the word faulted. Otherwise *expected holds the word's old
// value, and the exchange happened if that equals what *expected held before. The futex
// operations that change a word app code also changes on other CPUs (PI futexes, robust
// lists, FUTEX_WAKE_OP) need it: a read and a later write would lose the other CPU's change.
bool cmpxchg_user32(uint32_t* word, uint32_t* expected, uint32_t desired);

// The image's own program headers (for AT_PHDR/AT_PHNUM) and entry point of the app (_start).
struct ImageInfo {
    const void* phdr;
    size_t phnum;
    size_t phent;
    void (*app_entry)();
};
ImageInfo image_info();

// The boot command line (NUL-terminated; lives for the whole run).
const char* command_line();

// Console: bytes to the operator. Two streams, like a process's stdout and stderr, so that the
// app's output stays separable from its errors and from libos's own messages (which go to
// Err). A platform with one channel sends both to it.
enum class ConsoleStream { Out, Err };
void console_write(ConsoleStream stream, const char* bytes, size_t count);

// Console input: the operator's standard input (xos-run's stdin: a terminal, a pipe, a file).
// The platform moves bytes; the line discipline, echo and signals are libos's
// (libos/fs/devfs/terminal.h). What each standard stream is on the host side, so that the app
// sees a terminal only where there is one (isatty, fstat):
enum class StdioKind : uint8_t {
    Terminal,  // a terminal: for stdin, the host terminal is in raw mode and libos does the rest
    Pipe,  // a pipe, a FIFO or a socket
    File,  // a regular file
    Other,  // /dev/null, another device, or unknown
};
struct StdioKinds {
    StdioKind in = StdioKind::Other, out = StdioKind::Other, err = StdioKind::Other;
};
StdioKinds console_stdio();
// The host terminal's size in characters ({0, 0}: unknown or no terminal).
struct ConsoleSize {
    uint16_t rows = 0, cols = 0;
};
ConsoleSize console_size();
// Takes up to `count` bytes of input that have arrived, without blocking. `ended`: the input
// has ended (the host's stdin reached end of file; no byte will follow). `resized`:
// console_size() changed since the previous call.
struct ConsoleInput {
    size_t bytes = 0;
    bool ended = false;
    bool resized = false;
};
ConsoleInput console_read(char* buffer, size_t count);
// Calls handler() in interrupt context (interrupts off) whenever console_read() may have
// something new. Call once, after timer_start(). False if the platform cannot interrupt: libos
// then polls.
bool console_set_input_handler(void (*handler)());

// Time. monotonic_ns() starts near 0 at boot and never goes backwards; realtime_ns() is
// nanoseconds since the Unix epoch as known by the host at boot, advanced by the monotonic clock.
uint64_t monotonic_ns();
int64_t realtime_ns();
// The wall clock at coarse (tick) precision, as Linux uses for file timestamps. Cheap even before
// the precise clocks are calibrated (it then reads the host's clock at one-second precision).
int64_t realtime_coarse_ns();

// Fills `out` with bytes from the best entropy source the machine offers. Returns false if only
// a weak (timing-derived) source was available.
bool entropy(void* out, size_t count);

// Leaves the machine. `status` is the app's exit status (0..255) or, for a crash, 128+signal.
enum class ExitKind { Exit, Crash };
[[noreturn]] void shutdown(ExitKind kind, int status, const char* reason);

// AT_HWCAP for the auxiliary vector (x86_64: CPUID leaf 1 EDX).
uint64_t hwcap();

// Thread pointer of the current CPU context (what ARCH_SET_FS sets on x86_64).
void set_thread_pointer(uintptr_t value);
uintptr_t thread_pointer();

// Switches to `stack_pointer` and jumps to `entry` the way a Linux kernel starts a static ELF
// (registers cleared, %rsp = argc). Never returns.
[[noreturn]] void enter_app(void (*entry)(), uintptr_t stack_pointer);

// Starts a thread made by a `syscall`-instruction clone (glibc's): the registers `frame` holds
// (what the trap path passed to clone_from_syscall, declared in xos/libos.h), %rsp =
// `stack_pointer`, %rax = 0, at the instruction after the parent's syscall. Never returns.
[[noreturn]] void resume_cloned_thread(const uint64_t* frame, uintptr_t stack_pointer);

// --- Page tables for the app's virtual memory ------------------------------------------------
//
// RAM is reached through the direct map (phys_to_virt) by libos and the image (W^X by section).
// The app's memory lives in a separate virtual region, [app_region().base, end()): the lower
// canonical half but its first 64 KiB on the VM, the lower half below the image on hosted,
// mapped page by page on demand. `phys` arguments and results are physical frame addresses.
// Page-table pages come from xos::mm::allocate_page_table_page() and go back through
// xos::mm::free_page_table_page() (xos/libos.h, physical).
//
// Each process has its own app region: an AppSpace (on a VM, a page-table root whose entries
// outside the app region are the kernel's, so libos, the image and RAM are mapped the same in
// every space; on the hosted platform, a software page table whose pages are mapped at the app
// addresses while it is current). The functions below act on the space they are given, current
// or not; only the current space is what the CPU (or the host process) sees.

enum PageAccess : uint32_t { PAGE_READ = 1, PAGE_WRITE = 2, PAGE_EXEC = 4 };  // 0: no access

MemoryRange app_region();

// A linked image's per-process data (docs/processes.md, "Linked images"): the writable data and
// bss of the app, musl and libc++ ([base, bss) holds the image's initial contents, [bss, end)
// starts as zeroes), which the linker script keeps apart from libos's. Outside the app region,
// but the page-table functions below accept it like the app region: each space maps it with
// pages of its own (a space that maps nothing there has nothing there), so that fork copies it
// like any private memory. Empty (base == end) for an image without any.
struct ProcessDataRange {
    uintptr_t base, bss, end;
};
ProcessDataRange process_data_range();
// Once libos has copied [base, bss) of the range out of the image (mm::init_memory), before it
// maps the boot space's own pages there: the image's own mapping of the range is dropped, so
// that an access to a page nobody mapped yet faults (demand paging gives it zeroes).
void release_image_process_data();

struct AppSpace;  // opaque
// The space the image boots in (the first program's).
AppSpace* boot_app_space();
// A new app space with nothing mapped; nullptr when out of memory.
AppSpace* create_app_space();
// Frees the page-table pages of `space`, which must not be current and whose pages must all be
// unmapped already (the frames are libos's: unmap_range gives them back one by one).
void destroy_app_space(AppSpace* space);
// Makes `space` the one the CPU uses (VM: loads the root; hosted: replaces the host mappings of
// the app region with those of `space`).
void activate_app_space(AppSpace* space);
AppSpace* current_app_space();

// Maps the 4 KiB page at `virt` to the physical page `phys`. False if a page table could not
// be allocated.
bool map_page(AppSpace* space, uintptr_t virt, uintptr_t phys, uint32_t access);
// Physical page behind `virt` (also for pages mapped with no access), or 0. `access`, if given,
// receives the page's PAGE_* bits.
uintptr_t mapped_page(AppSpace* space, uintptr_t virt, uint32_t* access = nullptr);
// Unmaps every page in [start, end), calling release(phys, context) for each.
void unmap_range(AppSpace* space, uintptr_t start, uintptr_t end, void (*release)(uintptr_t phys, void* context),
                 void* context);
// Changes the access of every mapped page in [start, end).
void protect_range(AppSpace* space, uintptr_t start, uintptr_t end, uint32_t access);
// Calls visit(virt, phys, context) for every mapped page in [start, end), in address order,
// skipping absent page tables wholesale.
void for_each_mapped(AppSpace* space, uintptr_t start, uintptr_t end,
                     void (*visit)(uintptr_t virt, uintptr_t phys, void* context), void* context);

// The same on the current space.
inline bool map_page(uintptr_t virt, uintptr_t phys, uint32_t access) {
    return map_page(current_app_space(), virt, phys, access);
}
inline uintptr_t mapped_page(uintptr_t virt) { return mapped_page(current_app_space(), virt); }
inline void unmap_range(uintptr_t start, uintptr_t end, void (*release)(uintptr_t phys, void* context), void* context) {
    unmap_range(current_app_space(), start, end, release, context);
}
inline void protect_range(uintptr_t start, uintptr_t end, uint32_t access) {
    protect_range(current_app_space(), start, end, access);
}

// --- Threads and interrupts -------------------------------------------------------------
//
// A thread's CPU state (registers, FPU/SIMD state, thread pointer) lives in a "CPU context"
// that libos allocates (cpu_context_size() bytes, 64-byte aligned) and the platform fills.
// Context switches happen only inside the platform's interrupt path: on a timer tick or when a
// thread calls yield(), the platform saves the running thread's state into its context, asks
// libos (xos::sched::on_interrupt, declared in xos/libos.h) which context to resume, and
// resumes it.

size_t cpu_context_size();
// Prepares `context` so that resuming it calls entry(arg0, arg1) on `stack_top` (16-byte
// aligned by the platform) with `thread_pointer` as TLS and interrupts enabled. entry must not
// return.
void cpu_context_init(void* context, void (*entry)(uintptr_t, uintptr_t), uintptr_t arg0, uintptr_t arg1,
                      uintptr_t stack_top, uintptr_t thread_pointer);
// Makes `context` the one the running flow saves into on its next interrupt (used once, to
// adopt the boot flow as the main thread).
void cpu_context_adopt_current(void* context);

// --- The app's register state, for signals (docs/processes.md, "Signal delivery") ----------
//
// libos keeps an app thread's registers, while it is in libos, as Linux's mcontext gregs
// (xos/libos.h, UserRegister) and its FPU/SIMD state in the format of Linux's signal frame
// (`fpstate`: an FXSAVE image whose software-reserved bytes carry FP_XSTATE_MAGIC1 and the
// sizes, then the XSAVE header and extended state, then FP_XSTATE_MAGIC2), 64-byte aligned.

// Bytes of that FPU state (512 without XSAVE).
size_t user_fpu_size();
// The live FPU state / the initial one (as a new thread or a signal handler starts with).
void save_user_fpu(uint8_t* out);
void init_user_fpu(uint8_t* out);
// Makes `state` (from an app's signal frame, user_fpu_size() bytes) safe to load: reserved
// bits cleared, features limited to the enabled ones; a state without the XSAVE magic is taken
// as a plain FXSAVE image.
void sanitize_user_fpu(uint8_t* state);
// True if the thread whose CPU context this is was interrupted in app code: not in libos's
// user-entry code (the syscall entry and return) and not on [stack_low, stack_high) (its
// kernel stack).
bool cpu_context_in_app(const void* context, uintptr_t stack_low, uintptr_t stack_high);
// Copies the registers (UserRegister order, USER_GREGS words) and FPU state of a thread's
// saved context out. Returns its thread pointer.
uintptr_t cpu_context_user_state(const void* context, uint64_t* gregs, uint8_t* fpu);
// Loads `regs` (xos/libos.h: the whole frame) and `fpu` (unless null) and continues in app
// code at regs' %rip. Never returns.
[[noreturn]] void return_to_user(uint64_t* regs, const uint8_t* fpu);

// Enters the scheduler from the current thread (it blocked or yields). Returns when the thread
// is resumed.
void yield();

// Starts the periodic timer interrupt (`hz` per second).
void timer_start(uint32_t hz);

// Interrupt flag of the current CPU.
bool interrupts_enabled();
void interrupts_disable();
void interrupts_enable();
// Waits for the next interrupt with interrupts enabled (the idle loop).
void wait_for_interrupt();

// Several CPUs (docs/locking.md). How many the machine has (ACPI's MADT on the VM; 1 on hosted
// and Xen for now), at most XOS_MAX_CPUS (xos/libos.h).
unsigned cpu_count();
// Starts CPU `index` (1 .. cpu_count() - 1) on the stack ending at `stack_top`: it calls
// entry(index) with interrupts off. Returns once the CPU runs (false if it did not come up).
bool start_cpu(unsigned index, uintptr_t stack_top, void (*entry)(unsigned index));
// Inter-processor interrupts: Reschedule (the scheduler runs on arrival: an idle CPU picks up
// work, a running thread is checked for signals), Tick (a timer tick for a CPU that runs a
// thread), TlbFlush (sent by tlb shootdowns, platform-internal).
enum class Ipi { Reschedule, Tick, TlbFlush };
void send_ipi(unsigned cpu, Ipi kind);
// Cross-modifying code (Intel SDM 8.1.3): returns once every other CPU has executed a
// serializing instruction since the call, so that code this CPU wrote as data is what they
// fetch from then on (the syscall rewriter's patch steps, libos/rewrite). VM: an IPI round as
// the TLB shootdown's (each CPU reloads CR3; answered in spin-waits too); hosted: the host's
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE); one CPU: nothing. Interrupts off.
void sync_cores();
// One round of a spin-wait on CPU `index` that does not hold the big lock: answers TLB
// shootdown requests meanwhile.
void cpu_relax(unsigned index);
// Waits on CPU `index` (interrupts off) until *word == value: a spinlock's turn (SpinLock, a
// ticket lock: value is the ticket). Spins a bounded time (cpu_relax: answering TLB shootdown
// requests), then gives its host CPU back until spin_wake(word, value) (VM: halts until an NMI;
// hosted: a host futex wait), answering shootdown requests meanwhile (docs/locking.md).
void spin_wait(unsigned index, const uint32_t* word, uint32_t value);
// Called after a sequentially consistent store of `value` to *word (the lock's release):
// wakes the CPU waiting in spin_wait for that value, if one gave its host CPU back.
void spin_wake(const uint32_t* word, uint32_t value);
// Waits until big-lock ticket `ticket` is served, on CPU `index`, interrupts off, not holding
// the lock: spins a bounded time, then (VM) halts until the CPU that passes the lock to that
// ticket kicks it; answers TLB shootdown requests meanwhile (docs/locking.md).
void big_lock_wait(unsigned index, uint32_t ticket);
// Called by the CPU that just advanced xos_big_lock_serving (interrupts off): wakes the CPU
// halted for the ticket now served, if there is one.
void big_lock_passed();
// The index of the CPU running the caller: "this CPU" for all of libos (docs/locking.md; RDPID
// or the local APIC ID on the VM, as the entry code's lookup; 0 with one CPU and on hosted).
// Stays right while the caller cannot move to another CPU (interrupts off, or libos code).
unsigned cpu_index_unlocked();
// Makes page tables with no app space in them current (a CPU going idle with several CPUs, so
// that the address space it ran in can be freed). No-op where there is none (hosted).
void activate_kernel_space();

// How a device's interrupt handler runs with several CPUs (docs/locking.md): BigLock takes the
// big lock around it (a handler that touches libos state without locks of its own); OwnLocks
// runs it without (a handler that takes only its device's own spinlock and wakes queues after
// letting it go: virtio-net, the host NIC).
enum class InterruptLocking { BigLock, OwnLocks };

// Disables interrupts for a scope, restoring the previous state.
class InterruptGuard {
public:
    InterruptGuard() : m_were_enabled(interrupts_enabled()) { interrupts_disable(); }
    ~InterruptGuard() {
        if (m_were_enabled) interrupts_enable();
    }
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

private:
    bool m_were_enabled;
};

// Walks the frame-pointer chain starting at the caller (or at `frame` if non-zero) and prints
// up to `max_frames` return addresses through the console.
void print_backtrace(uintptr_t frame = 0, int max_frames = 32);

}  // namespace xos::platform
