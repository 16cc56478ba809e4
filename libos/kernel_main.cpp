// From a booted platform to the app's _start: memory, arguments, the initial stack.
#include <sys/mman.h>

#include <cstring>

#include "base/klog.h"
#include "boot/command_line.h"
#include "boot/initial_stack.h"
#include "fs/boot.h"
#include "fs/devfs/terminal.h"
#include "mm/memory.h"
#include "net/stack.h"
#include "rewrite/rewrite.h"
#include "sched/thread.h"
#include "sys/signal.h"
#include "sys/uts.h"
#include "xos/libos.h"
#include "xos/platform.h"

namespace xos {

namespace {

constexpr size_t MAIN_STACK_SIZE = 8 << 20;  // Linux's default RLIMIT_STACK
constexpr size_t STACK_GUARD = 64 << 10;
boot::CommandLine g_command_line;  // large: keep it off the boot stack

}  // namespace

void kernel_main() {
    mm::init_memory();

    if (auto parsed = boot::parse_command_line(platform::command_line(), g_command_line); !parsed)
        panic("cannot parse the kernel command line (errno %d)",
              parsed.error().code);  // no strerror: musl needs TLS for it
    if (g_command_line.unknown_xos_tokens)
        klog("xos: warning: %zu unknown xos.* option(s) on the command line ignored",
             g_command_line.unknown_xos_tokens);

    if (g_command_line.hostname && !sys::set_hostname(g_command_line.hostname))
        klog("xos: warning: xos.hostname=%s is longer than 64 bytes; the host name stays xos", g_command_line.hostname);
    rewrite::configure({g_command_line.envp, g_command_line.envc});  // XOS_REWRITE=0
    fs::init_filesystems(g_command_line);
    fs::mount_shares(g_command_line);

    // The main thread's stack: committed on first touch, with a guard page below it.
    auto mapping = mm::app_memory().map(0, MAIN_STACK_SIZE + STACK_GUARD, PROT_READ | PROT_WRITE,
                                        mm::Placement::Anywhere, mm::VmaKind::Stack);
    if (!mapping || !mm::app_memory().protect(*mapping, STACK_GUARD, PROT_NONE))
        panic("no memory for the main thread's stack (%zu KiB)", MAIN_STACK_SIZE / 1024);
    auto stack = ErrorOr<uintptr_t>(*mapping + STACK_GUARD);

    platform::ImageInfo image = platform::image_info();
    const boot::AuxEntry auxv[] = {
        {boot::AT_PHDR, reinterpret_cast<uintptr_t>(image.phdr)},
        {boot::AT_PHENT, image.phent},
        {boot::AT_PHNUM, image.phnum},
        {boot::AT_PAGESZ, mm::PAGE_SIZE},
        {boot::AT_BASE, 0},
        {boot::AT_FLAGS, 0},
        {boot::AT_ENTRY, reinterpret_cast<uintptr_t>(image.app_entry)},
        {boot::AT_UID, 0},
        {boot::AT_EUID, 0},
        {boot::AT_GID, 0},
        {boot::AT_EGID, 0},
        {boot::AT_SECURE, 0},
        {boot::AT_HWCAP, platform::hwcap()},
        {boot::AT_HWCAP2, 0},
        {boot::AT_CLKTCK, 100},
        {boot::AT_MINSIGSTKSZ, 2048},
    };
    uint8_t random[16];
    platform::entropy(random, sizeof random);
    boot::InitialStackSpec spec{
        .argv = {g_command_line.argv, g_command_line.argc},
        .envp = {g_command_line.envp, g_command_line.envc},
        .auxv = auxv,
        .random = &random,
        .platform = "x86_64",
    };
    auto sp = boot::build_initial_stack(*stack, *stack + MAIN_STACK_SIZE, spec);
    if (!sp) panic("arguments and environment do not fit on the initial stack");
    sched::init();  // the boot flow becomes the main thread; the timer starts
    sys::install_signal_entry();  // signals for threads interrupted in app code
    net::start(g_command_line);  // only if there is a NIC; does not wait for DHCP
    fs::terminal::start_input();  // the console input thread (fs/devfs/terminal.h)
    platform::interrupts_enable();
    platform::enter_app(image.app_entry, *sp);
}

}  // namespace xos
