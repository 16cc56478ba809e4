// System V IPC: shared memory segments, semaphore sets and message queues, one namespace per
// image (as one IPC namespace per container). Keys (ftok's or IPC_PRIVATE) name objects; ids are
// Linux-shaped (sequence << 15 | slot) so a stale id is EINVAL/EIDRM rather than another object.
// Everything runs as root, so permissions are recorded (IPC_STAT/IPC_SET) and not checked.
//
// Shared memory: a segment is an unlinked ramfs file; shmat maps it MAP_SHARED (so fork shares
// it like any shared mapping, and exit/exec detach it with the address space); shm_nattch is
// counted from the mappings that exist. IPC_RMID frees the key at once and the segment when the
// last attachment goes (the mappings hold the file; the id is dropped at the next IPC call that
// finds it unattached).
// Semaphores: all-or-nothing semop with blocking, IPC_NOWAIT and semtimedop, SEM_UNDO
// adjustments applied when the process exits. Message queues: typed messages with Linux's
// selection rules (type 0, > 0, < 0, MSG_EXCEPT), MSG_NOERROR, IPC_NOWAIT and msg_qbytes.
// Waiters of a removed object get EIDRM. Libos is not preempted (one CPU), so no locks.
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cstring>

#include "base/no_destroy.h"
#include "fs/ramfs/ramfs.h"
#include "mm/heap.h"
#include "mm/memory.h"
#include "mm/vm.h"
#include "sched/process.h"
#include "sched/thread.h"
#include "sched/wait_queue.h"
#include "sys/handlers.h"
#include "sys/sysv_ipc.h"
#include "vfs/file.h"
#include "xos/platform.h"

namespace xos::sys {

namespace {

constexpr int IPC_64_FLAG = 0x100;  // musl passes cmd | IPC_64
constexpr int MAX_OBJECTS = 1024;  // per kind (Linux: SHMMNI 4096, SEMMNI/MSGMNI 32000)
constexpr int SEQ_SHIFT = 15;
constexpr int SEMMSL = 32000;
constexpr int SEMVMX = 32767;
constexpr size_t SEMOPM = 500;
constexpr size_t MSGMAX = 8192;
constexpr size_t MSGMNB = 16384;
constexpr uint64_t SHMLBA_BYTES = 4096;

// The kernel's ipc64_perm and *id64_ds layouts (x86_64).
struct KernelPerm {
    int32_t key;
    uint32_t uid, gid, cuid, cgid;
    uint32_t mode;
    uint16_t seq, pad2;
    unsigned long unused1, unused2;
};
struct KernelShmid {
    KernelPerm perm;
    size_t segsz;
    long atime, dtime, ctime;
    int32_t cpid, lpid;
    unsigned long nattch, unused4, unused5;
};
struct KernelSemid {
    KernelPerm perm;
    long otime;
    unsigned long unused1;
    long ctime;
    unsigned long unused2;
    unsigned long nsems, unused3, unused4;
};
struct KernelMsqid {
    KernelPerm perm;
    long stime, rtime, ctime;
    unsigned long cbytes, qnum, qbytes;
    int32_t lspid, lrpid;
    unsigned long unused4, unused5;
};
struct KernelSembuf {
    uint16_t num;
    int16_t op;
    int16_t flags;
};

long now_seconds() { return long(platform::realtime_ns() / 1000000000); }
int current_pid() { return sched::current_process().pid; }

// What every IPC object has.
struct Object {
    int id = 0;
    key_t key = IPC_PRIVATE;
    uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0, mode = 0;
    uint16_t seq = 0;
    long ctime = 0;
    bool removed = false;
    int waiters = 0;  // threads blocked on it (it is freed once removed and they have left)
    sched::WaitQueue changed;

    KernelPerm perm() const {
        KernelPerm p{};
        p.key = key, p.uid = uid, p.gid = gid, p.cuid = cuid, p.cgid = cgid, p.mode = mode, p.seq = seq;
        return p;
    }
    void set_perm(const KernelPerm& p) {
        uid = p.uid, gid = p.gid;
        mode = (mode & ~0777u) | (p.mode & 0777u);
        ctime = now_seconds();
    }
};

struct Segment : Object {
    RefPtr<vfs::Vnode> file;
    size_t size = 0;
    long atime = 0, dtime = 0;
    int cpid = 0, lpid = 0;
};

struct Semaphore {
    int value = 0;
    int pid = 0;  // the last to change it (GETPID)
    int waiting_increase = 0, waiting_zero = 0;  // GETNCNT, GETZCNT
};
struct SemaphoreSet : Object {
    int count = 0;
    Semaphore* semaphores = nullptr;
    long otime = 0;
};

struct Message {
    Message* next;
    long type;
    size_t size;
    std::byte text[];
};
struct Queue : Object {
    Message* first = nullptr;
    Message* last = nullptr;
    size_t bytes = 0, count = 0, max_bytes = MSGMNB;
    long stime = 0, rtime = 0;
    int lspid = 0, lrpid = 0;
};

// One kind's objects: a slot table; the id carries the slot's sequence number.
template <typename T>
class Table {
public:
    ErrorOr<T*> create(key_t key, int mode) {
        for (int slot = 0; slot < MAX_OBJECTS; ++slot) {
            if (m_slots[slot]) continue;
            T* object = mm::kcreate<T>();
            if (!object) return error(ENOMEM);
            object->seq = ++m_seq[slot];
            object->id = (int(object->seq & 0xffff) << SEQ_SHIFT) | slot;
            object->key = key;
            object->mode = uint32_t(mode & 0777);
            auto& credentials = sched::current_process().credentials;
            object->uid = object->cuid = credentials.euid;
            object->gid = object->cgid = credentials.egid;
            object->ctime = now_seconds();
            m_slots[slot] = object;
            return object;
        }
        return error(ENOSPC);
    }
    T* by_key(key_t key) {
        for (T* object : m_slots)
            if (object && !object->removed && object->key == key) return object;
        return nullptr;
    }
    // EINVAL for an id that names nothing (any more).
    ErrorOr<T*> by_id(int id) {
        if (id < 0) return error(EINVAL);
        int slot = id & ((1 << SEQ_SHIFT) - 1);
        if (slot >= MAX_OBJECTS || !m_slots[slot] || m_slots[slot]->id != id) return error(EINVAL);
        return m_slots[slot];
    }
    // Takes `object` out of the table (its id and key are free); it is destroyed by `destroy`
    // now or, while threads wait on it, by the last of them to leave.
    void remove(T* object, void (*destroy)(T*)) {
        m_slots[object->id & ((1 << SEQ_SHIFT) - 1)] = nullptr;
        object->removed = true;
        object->key = IPC_PRIVATE;
        platform::InterruptGuard guard;
        sched::wake_all(object->changed);
        if (object->waiters == 0) destroy(object);
    }
    template <typename Fn>
    void for_each(Fn&& fn) {
        for (T* object : m_slots)
            if (object) fn(*object);
    }

private:
    T* m_slots[MAX_OBJECTS] = {};
    uint16_t m_seq[MAX_OBJECTS] = {};
};

// A key lookup shared by shmget/semget/msgget: the existing object, EEXIST/ENOENT, or null
// when one is to be made.
template <typename T>
ErrorOr<T*> find_for_get(Table<T>& table, key_t key, int flags) {
    if (key == IPC_PRIVATE) return nullptr;
    T* existing = table.by_key(key);
    if (existing && (flags & IPC_CREAT) && (flags & IPC_EXCL)) return error(EEXIST);
    if (!existing && !(flags & IPC_CREAT)) return error(ENOENT);
    return existing;
}

constinit NoDestroy<Table<Segment>> g_segments;
constinit NoDestroy<Table<SemaphoreSet>> g_semaphore_sets;
constinit NoDestroy<Table<Queue>> g_queues;
constinit NoDestroy<fs::RamFs> g_shm_fs;
bool g_shm_fs_ready;

Table<Segment>& segments() { return g_segments.get(); }
Table<SemaphoreSet>& semaphore_sets() { return g_semaphore_sets.get(); }
Table<Queue>& queues() { return g_queues.get(); }

// Blocks the current thread on `object` until `ready()` (then OK), its removal (EIDRM), the
// deadline (EAGAIN, as semtimedop) or a signal (EINTR).
template <typename Predicate>
ErrorOr<void> wait_on(Object& object, Predicate&& ready, sched::Deadline deadline, int timeout_error) {
    ++object.waiters;
    auto result = sched::wait_event(object.changed, [&] { return object.removed || ready(); }, deadline);
    --object.waiters;
    if (!result) return std::unexpected(result.error().code == ETIMEDOUT ? Error{timeout_error} : result.error());
    if (object.removed) return error(EIDRM);
    return {};
}

// --- Shared memory ---------------------------------------------------------------------------

void destroy_segment(Segment* segment) { mm::kdestroy(segment); }

// Attachments: mappings of the segment's file that start at its beginning, in every address space.
unsigned long attachments(const Segment& segment) {
    unsigned long count = 0;
    mm::VirtualMemory::for_each_memory([&](mm::VirtualMemory& memory) {
        memory.for_each([&](const mm::Vma& vma) {
            if (vma.file == segment.file.get() && vma.offset == 0) ++count;
        });
    });
    return count;
}

// A removed segment's id lives while it is attached (IPC_STAT shows SHM_DEST); this drops the
// ids of those no longer attached.
void drop_detached_segments() {
    segments().for_each([](Segment& segment) {
        if ((segment.mode & SHM_DEST) && attachments(segment) == 0) segments().remove(&segment, destroy_segment);
    });
}

ErrorOr<Segment*> segment_by_id(int id) {
    drop_detached_segments();
    return segments().by_id(id);
}

// The segment mapped at exactly `address` in the current address space, if any.
Segment* segment_at(uintptr_t address) {
    std::optional<mm::Vma> vma = mm::app_memory().vma_at(address);
    if (!vma || vma->start != address || vma->offset != 0 || !vma->file) return nullptr;
    Segment* found = nullptr;
    segments().for_each([&](Segment& segment) {
        if (segment.file.get() == vma->file) found = &segment;
    });
    return found;
}

ErrorOr<RefPtr<vfs::Vnode>> new_segment_file(size_t size) {
    fs::RamFs& fs = g_shm_fs.get("tmpfs", 0x01021994);
    if (!g_shm_fs_ready) {
        TRY(fs.initialize(01777));
        g_shm_fs_ready = true;
    }
    RefPtr<vfs::Vnode> file = TRY(fs.create_unlinked_file(0600));
    TRY(file->truncate(size));
    return file;
}

// --- Semaphores --------------------------------------------------------------------------------

// SEM_UNDO adjustments: per process (by pid) and semaphore; applied at exit.
struct Undo {
    Undo* next;
    int pid, set_id, number, adjustment;
};
Undo* g_undo;

void destroy_semaphore_set(SemaphoreSet* set) {
    mm::kfree(set->semaphores);
    mm::kdestroy(set);
}

void forget_undo(int set_id, int number) {  // number -1: the whole set
    for (Undo** link = &g_undo; *link;) {
        Undo* undo = *link;
        if (undo->set_id == set_id && (number < 0 || undo->number == number)) {
            *link = undo->next;
            mm::kfree(undo);
        } else {
            link = &undo->next;
        }
    }
}

ErrorOr<void> record_undo(int pid, int set_id, int number, int adjustment) {
    for (Undo* undo = g_undo; undo; undo = undo->next) {
        if (undo->pid == pid && undo->set_id == set_id && undo->number == number) {
            undo->adjustment += adjustment;
            return {};
        }
    }
    auto* undo = static_cast<Undo*>(mm::kmalloc(sizeof(Undo)));
    if (!undo) return error(ENOMEM);
    *undo = Undo{g_undo, pid, set_id, number, adjustment};
    g_undo = undo;
    return {};
}

// Tries the operations all at once. Returns true if they were applied, false if one would
// block (`blocker` says which), or an error (ERANGE past SEMVMX).
ErrorOr<bool> try_semop(SemaphoreSet& set, const KernelSembuf* ops, size_t count, const KernelSembuf** blocker) {
    int values[64];
    bool small = size_t(set.count) <= sizeof values / sizeof *values;
    int* scratch = small ? values : static_cast<int*>(mm::kmalloc(sizeof(int) * size_t(set.count)));
    if (!scratch) return error(ENOMEM);
    for (int i = 0; i < set.count; ++i) scratch[i] = set.semaphores[i].value;
    ErrorOr<bool> result = true;
    for (size_t i = 0; i < count; ++i) {
        int& value = scratch[ops[i].num];
        if (ops[i].op > 0) {
            if (value + ops[i].op > SEMVMX) {
                result = error(ERANGE);
                break;
            }
            value += ops[i].op;
        } else if (ops[i].op == 0) {
            if (value != 0) {
                *blocker = &ops[i];
                result = false;
                break;
            }
        } else {
            if (value < -ops[i].op) {
                *blocker = &ops[i];
                result = false;
                break;
            }
            value += ops[i].op;
        }
    }
    if (result && *result) {
        int pid = current_pid();
        for (size_t i = 0; i < count; ++i) set.semaphores[ops[i].num].pid = pid;
        for (int i = 0; i < set.count; ++i) set.semaphores[i].value = scratch[i];
        set.otime = now_seconds();
    }
    if (!small) mm::kfree(scratch);
    return result;
}

ErrorOr<long> do_semop(int id, UserPtr<const void> user_ops, size_t count, UserPtr<const struct timespec> timeout) {
    if (count < 1) return error(EINVAL);
    if (count > SEMOPM) return error(E2BIG);
    if (id < 0) return error(EINVAL);
    KernelSembuf ops[SEMOPM];
    TRY(copy_from_user(ops, user_ops, count * sizeof(KernelSembuf)));
    sched::Deadline deadline = sched::Deadline::never();
    if (!timeout.is_null()) {
        timespec t = TRY(read_user(timeout));
        if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= 1000000000) return error(EINVAL);
        deadline = sched::Deadline::after_ns(uint64_t(t.tv_sec) * 1000000000 + uint64_t(t.tv_nsec));
    }
    SemaphoreSet* set = TRY(semaphore_sets().by_id(id));
    bool undo = false;
    for (size_t i = 0; i < count; ++i) {
        if (ops[i].num >= set->count) return error(EFBIG);
        if (ops[i].flags & SEM_UNDO) undo = true;
    }
    (void)undo;
    int pid = current_pid();
    for (;;) {
        const KernelSembuf* blocker = nullptr;
        if (TRY(try_semop(*set, ops, count, &blocker))) break;
        if (blocker->flags & IPC_NOWAIT) return error(EAGAIN);
        Semaphore& waited = set->semaphores[blocker->num];
        int& counter = blocker->op == 0 ? waited.waiting_zero : waited.waiting_increase;
        ++counter;
        int16_t op = blocker->op;
        auto result =
            wait_on(*set, [&] { return op == 0 ? waited.value == 0 : waited.value >= -op; }, deadline, EAGAIN);
        if (set->removed) {
            if (set->waiters == 0) destroy_semaphore_set(set);
            return error(EIDRM);
        }
        --counter;
        TRY(result);
    }
    for (size_t i = 0; i < count; ++i)
        if (ops[i].flags & SEM_UNDO) TRY(record_undo(pid, set->id, ops[i].num, -ops[i].op));
    platform::InterruptGuard guard;
    sched::wake_all(set->changed);
    return 0;
}

// --- Message queues ----------------------------------------------------------------------------

void destroy_queue(Queue* queue) {
    for (Message* message = queue->first; message;) {
        Message* next = message->next;
        mm::kfree(message);
        message = next;
    }
    mm::kdestroy(queue);
}

// Linux's choice of message: type 0 the first, > 0 the first of that type (MSG_EXCEPT: of
// another type), < 0 the first of the lowest type at most -type.
Message* select_message(Queue& queue, long type, int flags, Message** before) {
    Message* best = nullptr;
    Message* best_before = nullptr;
    Message* previous = nullptr;
    for (Message* m = queue.first; m; previous = m, m = m->next) {
        bool matches = type == 0               ? true
            : type > 0 && (flags & MSG_EXCEPT) ? m->type != type
            : type > 0                         ? m->type == type
                                               : m->type <= -type && (!best || m->type < best->type);
        if (!matches) continue;
        best = m;
        best_before = previous;
        if (type >= 0) break;
    }
    *before = best_before;
    return best;
}

}  // namespace

// Implements shmget(2).
ErrorOr<long> sys_shmget(key_t key, size_t size, int flags) {
    drop_detached_segments();
    Segment* existing = TRY(find_for_get(segments(), key, flags));
    if (existing) {
        if (size > existing->size) return error(EINVAL);
        return existing->id;
    }
    if (size < 1 || size > (size_t(1) << 40)) return error(EINVAL);
    RefPtr<vfs::Vnode> file = TRY(new_segment_file(size));
    Segment* segment = TRY(segments().create(key, flags));
    segment->file = static_cast<RefPtr<vfs::Vnode>&&>(file);
    segment->size = size;
    segment->cpid = current_pid();
    return segment->id;
}

// Implements shmat(2).
ErrorOr<long> sys_shmat(int id, uintptr_t address, int flags) {
    Segment* segment = TRY(segment_by_id(id));
    if (address & (SHMLBA_BYTES - 1)) {
        if (!(flags & SHM_RND)) return error(EINVAL);
        address &= ~(SHMLBA_BYTES - 1);
    }
    int prot = (flags & SHM_RDONLY) ? PROT_READ : PROT_READ | PROT_WRITE;
    if (flags & SHM_EXEC) prot |= PROT_EXEC;
    mm::Placement placement = !address ? mm::Placement::Anywhere
        : (flags & SHM_REMAP)          ? mm::Placement::Fixed
                                       : mm::Placement::FixedNoReplace;
    vfs::File* view =
        mm::kcreate<vfs::File>(RefPtr<vfs::Vnode>(segment->file), (flags & SHM_RDONLY) ? O_RDONLY : O_RDWR);
    if (!view) return error(ENOMEM);
    RefPtr<vfs::File> file(view);
    auto mapped = mm::app_memory().map_file(address, segment->size, prot, placement, *file, 0, true);
    if (!mapped) return error(mapped.error().code == EEXIST ? EINVAL : mapped.error().code);
    segment->atime = now_seconds();
    segment->lpid = current_pid();
    return long(*mapped);
}

// Implements shmdt(2): unmaps the attachment that starts at `address`.
ErrorOr<long> sys_shmdt(uintptr_t address) {
    if (address & (SHMLBA_BYTES - 1)) return error(EINVAL);
    Segment* segment = segment_at(address);
    if (!segment) return error(EINVAL);
    TRY(mm::app_memory().unmap(address, segment->size));
    segment->dtime = now_seconds();
    segment->lpid = current_pid();
    drop_detached_segments();
    return 0;
}

// Implements shmctl(2): IPC_STAT, IPC_SET, IPC_RMID (SHM_LOCK/UNLOCK accepted).
ErrorOr<long> sys_shmctl(int id, int command, UserPtr<void> buffer) {
    command &= ~IPC_64_FLAG;
    Segment* segment = TRY(segment_by_id(id));
    switch (command) {
    case IPC_STAT: {
        KernelShmid out{};
        out.perm = segment->perm();
        out.segsz = segment->size;
        out.atime = segment->atime, out.dtime = segment->dtime, out.ctime = segment->ctime;
        out.cpid = segment->cpid, out.lpid = segment->lpid;
        out.nattch = attachments(*segment);
        TRY(copy_to_user(buffer, &out, sizeof out));
        return 0;
    }
    case IPC_SET: {
        KernelShmid in{};
        TRY(copy_from_user(&in, UserPtr<const void>(buffer.address()), sizeof in));
        segment->set_perm(in.perm);
        return 0;
    }
    case IPC_RMID:
        segment->mode |= SHM_DEST;
        segment->key = IPC_PRIVATE;
        drop_detached_segments();
        return 0;
    case SHM_LOCK:
    case SHM_UNLOCK: return 0;  // nothing is swapped
    default: return error(EINVAL);
    }
}

// Implements semget(2).
ErrorOr<long> sys_semget(key_t key, int count, int flags) {
    if (count < 0 || count > SEMMSL) return error(EINVAL);
    SemaphoreSet* existing = TRY(find_for_get(semaphore_sets(), key, flags));
    if (existing) {
        if (count > existing->count) return error(EINVAL);
        return existing->id;
    }
    if (count == 0) return error(EINVAL);
    auto* semaphores = static_cast<Semaphore*>(mm::kmalloc(sizeof(Semaphore) * size_t(count)));
    if (!semaphores) return error(ENOMEM);
    auto created = semaphore_sets().create(key, flags);
    if (!created) {
        mm::kfree(semaphores);
        return std::unexpected(created.error());
    }
    (*created)->semaphores = semaphores;  // kmalloc'd memory is zeroed
    (*created)->count = count;
    return (*created)->id;
}

// Implements semop(2).
ErrorOr<long> sys_semop(int id, UserPtr<const void> ops, size_t count) { return do_semop(id, ops, count, {}); }

// Implements semtimedop(2): EAGAIN when the timeout passes.
ErrorOr<long> sys_semtimedop(int id, UserPtr<const void> ops, size_t count, UserPtr<const struct timespec> timeout) {
    return do_semop(id, ops, count, timeout);
}

// Implements semctl(2). `argument` is union semun: an int for SETVAL, a pointer otherwise.
ErrorOr<long> sys_semctl(int id, int number, int command, unsigned long argument) {
    command &= ~IPC_64_FLAG;
    SemaphoreSet* set = TRY(semaphore_sets().by_id(id));
    auto check_number = [&]() -> ErrorOr<Semaphore*> {
        if (number < 0 || number >= set->count) return error(EINVAL);
        return &set->semaphores[number];
    };
    switch (command) {
    case IPC_STAT: {
        KernelSemid out{};
        out.perm = set->perm();
        out.otime = set->otime, out.ctime = set->ctime;
        out.nsems = unsigned(set->count);
        TRY(copy_to_user(UserPtr<void>(argument), &out, sizeof out));
        return 0;
    }
    case IPC_SET: {
        KernelSemid in{};
        TRY(copy_from_user(&in, UserPtr<const void>(argument), sizeof in));
        set->set_perm(in.perm);
        return 0;
    }
    case IPC_RMID:
        forget_undo(set->id, -1);
        semaphore_sets().remove(set, destroy_semaphore_set);
        return 0;
    case GETVAL: return TRY(check_number())->value;
    case GETPID: return TRY(check_number())->pid;
    case GETNCNT: return TRY(check_number())->waiting_increase;
    case GETZCNT: return TRY(check_number())->waiting_zero;
    case SETVAL: {
        Semaphore* semaphore = TRY(check_number());
        int value = int(argument);
        if (value < 0 || value > SEMVMX) return error(ERANGE);
        semaphore->value = value;
        semaphore->pid = current_pid();
        set->ctime = now_seconds();
        forget_undo(set->id, number);
        platform::InterruptGuard guard;
        sched::wake_all(set->changed);
        return 0;
    }
    case GETALL:
    case SETALL: {
        size_t bytes = sizeof(uint16_t) * size_t(set->count);
        auto* values = static_cast<uint16_t*>(mm::kmalloc(bytes));
        if (!values) return error(ENOMEM);
        ErrorOr<void> copied;
        if (command == GETALL) {
            for (int i = 0; i < set->count; ++i) values[i] = uint16_t(set->semaphores[i].value);
            copied = copy_to_user(UserPtr<void>(argument), values, bytes);
        } else {
            copied = copy_from_user(values, UserPtr<const void>(argument), bytes);
            for (int i = 0; copied && i < set->count; ++i)
                if (values[i] > SEMVMX) copied = error(ERANGE);
            if (copied) {
                int pid = current_pid();
                for (int i = 0; i < set->count; ++i)
                    set->semaphores[i] = {values[i], pid, set->semaphores[i].waiting_increase,
                                          set->semaphores[i].waiting_zero};
                set->ctime = now_seconds();
                forget_undo(set->id, -1);
                platform::InterruptGuard guard;
                sched::wake_all(set->changed);
            }
        }
        mm::kfree(values);
        TRY(copied);
        return 0;
    }
    default: return error(EINVAL);
    }
}

// Implements msgget(2).
ErrorOr<long> sys_msgget(key_t key, int flags) {
    Queue* existing = TRY(find_for_get(queues(), key, flags));
    if (existing) return existing->id;
    return TRY(queues().create(key, flags))->id;
}

// Implements msgsnd(2).
ErrorOr<long> sys_msgsnd(int id, UserPtr<const void> message, size_t size, int flags) {
    long type = TRY(read_user(UserPtr<const long>(message.address())));
    if (size > MSGMAX || long(size) < 0 || id < 0) return error(EINVAL);
    if (type < 1) return error(EINVAL);
    Queue* queue = TRY(queues().by_id(id));
    auto* copy = static_cast<Message*>(mm::kmalloc(sizeof(Message) + size));
    if (!copy) return error(ENOMEM);
    auto copied = copy_from_user(copy->text, UserPtr<const void>(message.address() + sizeof(long)), size);
    if (!copied) {
        mm::kfree(copy);
        return std::unexpected(copied.error());
    }
    copy->type = type;
    copy->size = size;
    auto fits = [&] { return queue->bytes + size <= queue->max_bytes && queue->count + 1 <= queue->max_bytes; };
    if (!fits()) {
        auto waited = (flags & IPC_NOWAIT) ? ErrorOr<void>(error(EAGAIN))
                                           : wait_on(*queue, fits, sched::Deadline::never(), EAGAIN);
        if (!waited) {
            mm::kfree(copy);
            if (queue->removed && queue->waiters == 0) destroy_queue(queue);
            return std::unexpected(waited.error());
        }
    }
    (queue->last ? queue->last->next : queue->first) = copy;
    queue->last = copy;
    queue->bytes += size;
    ++queue->count;
    queue->stime = now_seconds();
    queue->lspid = current_pid();
    platform::InterruptGuard guard;
    sched::wake_all(queue->changed);
    return 0;
}

// Implements msgrcv(2).
ErrorOr<long> sys_msgrcv(int id, UserPtr<void> buffer, size_t size, long type, int flags) {
    if (long(size) < 0 || id < 0) return error(EINVAL);
    Queue* queue = TRY(queues().by_id(id));
    Message* before = nullptr;
    Message* found = nullptr;
    auto find = [&] {
        found = select_message(*queue, type, flags, &before);
        return found != nullptr;
    };
    if (!find()) {
        auto waited = (flags & IPC_NOWAIT) ? ErrorOr<void>(error(ENOMSG))
                                           : wait_on(*queue, find, sched::Deadline::never(), ENOMSG);
        if (!waited) {
            if (queue->removed && queue->waiters == 0) destroy_queue(queue);
            return std::unexpected(waited.error());
        }
    }
    if (found->size > size && !(flags & MSG_NOERROR)) return error(E2BIG);
    size_t count = found->size < size ? found->size : size;
    TRY(write_user(UserPtr<long>(buffer.address()), found->type));
    TRY(copy_to_user(UserPtr<void>(buffer.address() + sizeof(long)), found->text, count));
    (before ? before->next : queue->first) = found->next;
    if (queue->last == found) queue->last = before;
    queue->bytes -= found->size;
    --queue->count;
    queue->rtime = now_seconds();
    queue->lrpid = current_pid();
    mm::kfree(found);
    platform::InterruptGuard guard;
    sched::wake_all(queue->changed);
    return long(count);
}

// Implements msgctl(2): IPC_STAT, IPC_SET (mode, owner, msg_qbytes), IPC_RMID.
ErrorOr<long> sys_msgctl(int id, int command, UserPtr<void> buffer) {
    command &= ~IPC_64_FLAG;
    Queue* queue = TRY(queues().by_id(id));
    switch (command) {
    case IPC_STAT: {
        KernelMsqid out{};
        out.perm = queue->perm();
        out.stime = queue->stime, out.rtime = queue->rtime, out.ctime = queue->ctime;
        out.cbytes = queue->bytes, out.qnum = queue->count, out.qbytes = queue->max_bytes;
        out.lspid = queue->lspid, out.lrpid = queue->lrpid;
        TRY(copy_to_user(buffer, &out, sizeof out));
        return 0;
    }
    case IPC_SET: {
        KernelMsqid in{};
        TRY(copy_from_user(&in, UserPtr<const void>(buffer.address()), sizeof in));
        queue->set_perm(in.perm);
        queue->max_bytes = in.qbytes;  // root may go past MSGMNB
        platform::InterruptGuard guard;
        sched::wake_all(queue->changed);
        return 0;
    }
    case IPC_RMID: queues().remove(queue, destroy_queue); return 0;
    default: return error(EINVAL);
    }
}

void ipc_process_exited(sched::Process& process) {
    // SEM_UNDO: each adjustment is applied, clamped to the semaphore's range, as Linux does.
    for (Undo** link = &g_undo; *link;) {
        Undo* undo = *link;
        if (undo->pid != process.pid) {
            link = &undo->next;
            continue;
        }
        if (auto set = semaphore_sets().by_id(undo->set_id); set && undo->number < (*set)->count) {
            Semaphore& semaphore = (*set)->semaphores[undo->number];
            int value = semaphore.value + undo->adjustment;
            semaphore.value = value < 0 ? 0 : value > SEMVMX ? SEMVMX : value;
            semaphore.pid = process.pid;
            platform::InterruptGuard guard;
            sched::wake_all((*set)->changed);
        }
        *link = undo->next;
        mm::kfree(undo);
    }
}

}  // namespace xos::sys
