// SysV IPC (issue 16 part 5): shared memory, semaphores and message queues, with IPC_PRIVATE
// and ftok keys, the errors (EEXIST, ENOENT, EIDRM, EINVAL, E2BIG, ENOMSG, EAGAIN), IPC_RMID
// semantics, SEM_UNDO at exit, and all three across fork. Run natively and on xos: the same
// output. Objects are made with IPC_PRIVATE or with keys from ftok on a file this test makes,
// and removed at the end (natively they live in the host's IPC namespace).
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../conformance/show.h"

union semun {
    int val;
    struct semid_ds* buf;
    unsigned short* array;
};

static int wait_child(pid_t child) {
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls /proc/PID/stat until the process is in an interruptible sleep (at most about 10 s).
static void wait_until_sleeping(pid_t pid) {
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    for (int i = 0; i < 1000; ++i) {
        int fd = open(path, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
        if (fd >= 0) close(fd);
        text[n > 0 ? n : 0] = 0;
        char* state = strrchr(text, ')');
        if (state && state[1] == ' ' && state[2] == 'S') break;
        usleep(10000);
    }
    usleep(20000);
}

static void test_ftok(const char* path) {
    key_t a = ftok(path, 'x'), b = ftok(path, 'x'), c = ftok(path, 'y');
    printf("ftok: valid %d, stable %d, differs by id %d\n", a != -1, a == b, a != c);
    struct stat st;
    stat(path, &st);
    printf("ftok layout (id<<24 | dev<<16 | ino): %d\n",
           a == (key_t)(('x' & 0xff) << 24 | (st.st_dev & 0xff) << 16 | (st.st_ino & 0xffff)));
    SHOW("ftok(missing file)", ftok("/nonexistent/part5", 'x'));
}

static void test_shm(const char* path) {
    key_t key = ftok(path, 's');
    SHOW("shmget(key, no IPC_CREAT) before it exists", shmget(key, 4096, 0600));
    int id = shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600);
    printf("shmget(key, IPC_CREAT|IPC_EXCL): %s\n", id >= 0 ? "ok" : errname(errno));
    SHOW("shmget(key, IPC_CREAT|IPC_EXCL) again", shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600));
    printf("shmget(key) finds it: %d\n", shmget(key, 0, 0600) == id);
    SHOW("shmget(key, larger size)", shmget(key, 20000, 0600));
    SHOW("shmget(IPC_PRIVATE, 0)", shmget(IPC_PRIVATE, 0, 0600));
    struct shmid_ds ds;
    SHOW("shmctl(IPC_STAT)", shmctl(id, IPC_STAT, &ds));
    printf("segsz %zu, nattch %lu, mode %o, cpid is me %d\n", ds.shm_segsz, (unsigned long)ds.shm_nattch,
           ds.shm_perm.mode & 0777, ds.shm_cpid == getpid());
    char* p = shmat(id, NULL, 0);
    printf("shmat: %s, zeroed %d\n", p == (void*)-1 ? errname(errno) : "ok",
           p != (void*)-1 && p[0] == 0 && p[9999] == 0);
    shmctl(id, IPC_STAT, &ds);
    printf("nattch after shmat %lu, lpid is me %d\n", (unsigned long)ds.shm_nattch, ds.shm_lpid == getpid());
    strcpy(p, "from the parent");
    // Shared across fork: the child sees the parent's bytes and its writes come back.
    pid_t child = fork();
    if (child == 0) {
        struct shmid_ds mine;
        shmctl(id, IPC_STAT, &mine);
        int ok = strcmp(p, "from the parent") == 0 && mine.shm_nattch == 2;
        strcpy(p + 100, "from the child");
        shmdt(p);
        _exit(ok ? 0 : 1);
    }
    printf("child saw the segment: %d\n", wait_child(child) == 0);
    printf("parent sees the child's write: %s\n", p + 100);
    shmctl(id, IPC_STAT, &ds);
    printf("nattch after the child detached %lu\n", (unsigned long)ds.shm_nattch);
    // A second attachment at another address, read-only.
    char* q = shmat(id, NULL, SHM_RDONLY);
    printf("second shmat read-only sees the bytes: %d\n", q != (void*)-1 && strcmp(q, "from the parent") == 0);
    SHOW("shmdt(second)", shmdt(q));
    SHOW("shmdt(not attached)", shmdt(q));
    SHOW("shmdt(unaligned)", shmdt(p + 1));
    // IPC_RMID while attached: the key is free at once, the segment lives until the last detach.
    SHOW("shmctl(IPC_RMID) while attached", shmctl(id, IPC_RMID, NULL));
    SHOW("shmget(key) after IPC_RMID", shmget(key, 0, 0600));
    shmctl(id, IPC_STAT, &ds);
    printf("marked for destruction: %d, still readable: %s\n", (ds.shm_perm.mode & SHM_DEST) != 0, p);
    SHOW("shmdt(last)", shmdt(p));
    SHOW("shmctl(IPC_STAT) once gone", shmctl(id, IPC_STAT, &ds));
    SHOW("shmat(gone)", (long)shmat(id, NULL, 0));
    SHOW("shmctl(bad command)", shmctl(shmget(IPC_PRIVATE, 4096, 0600), 1234, &ds));
    // IPC_PRIVATE always makes a new one; IPC_SET changes the mode.
    int a = shmget(IPC_PRIVATE, 4096, 0600), b = shmget(IPC_PRIVATE, 4096, 0600);
    printf("IPC_PRIVATE twice: different %d\n", a >= 0 && b >= 0 && a != b);
    shmctl(a, IPC_STAT, &ds);
    ds.shm_perm.mode = 0640;
    SHOW("shmctl(IPC_SET)", shmctl(a, IPC_SET, &ds));
    shmctl(a, IPC_STAT, &ds);
    printf("mode now %o\n", ds.shm_perm.mode & 0777);
    // Attached at a given address with SHM_RND, and a segment that outlives no attachment.
    char* free_area = mmap(NULL, 65536, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(free_area, 65536);
    char* fixed = shmat(a, free_area + 0x1234, SHM_RND);
    printf("shmat(SHM_RND): %s\n",
           fixed == free_area + 0x1000 ? "rounded down to SHMLBA"
               : fixed == (void*)-1    ? errname(errno)
                                       : "elsewhere");
    if (fixed != (void*)-1) shmdt(fixed);
    SHOW("shmat(unaligned without SHM_RND)", (long)shmat(a, free_area + 0x1234, 0));
    fixed = shmat(a, free_area, 0);
    printf("shmat(given address): %s\n",
           fixed == free_area       ? "there"
               : fixed == (void*)-1 ? errname(errno)
                                    : "elsewhere");
    if (fixed != (void*)-1) shmdt(fixed);
    shmctl(a, IPC_RMID, NULL);
    shmctl(b, IPC_RMID, NULL);
    // Attachments are inherited by fork and dropped at exit: IPC_RMID'd segment vanishes after.
    int c = shmget(IPC_PRIVATE, 4096, 0600);
    char* cp = shmat(c, NULL, 0);
    shmctl(c, IPC_RMID, NULL);
    child = fork();
    if (child == 0) {
        cp[0] = 42;
        _exit(0);  // detaches at exit
    }
    wait_child(child);
    printf("write through the inherited attachment: %d\n", cp[0]);
    shmdt(cp);
    SHOW("gone after the last detach", shmctl(c, IPC_STAT, &ds));
}

static void test_sem(const char* path) {
    key_t key = ftok(path, 'm');
    SHOW("semget(key, no IPC_CREAT)", semget(key, 2, 0600));
    int id = semget(key, 3, IPC_CREAT | IPC_EXCL | 0600);
    printf("semget(key, 3, IPC_CREAT|IPC_EXCL): %s\n", id >= 0 ? "ok" : errname(errno));
    SHOW("semget(key, IPC_EXCL) again", semget(key, 3, IPC_CREAT | IPC_EXCL | 0600));
    SHOW("semget(key, 5) more than it has", semget(key, 5, 0600));
    printf("semget(key, 0) finds it: %d\n", semget(key, 0, 0600) == id);
    SHOW("semget(IPC_PRIVATE, 0)", semget(IPC_PRIVATE, 0, 0600));
    SHOW("GETVAL 0 (new sets are zero)", semctl(id, 0, GETVAL));
    SHOW("SETVAL 0 = 2", semctl(id, 0, SETVAL, (union semun){.val = 2}));
    SHOW("SETVAL -1", semctl(id, 0, SETVAL, (union semun){.val = -1}));
    SHOW("SETVAL 40000 (> SEMVMX)", semctl(id, 0, SETVAL, (union semun){.val = 40000}));
    unsigned short values[3] = {5, 6, 7};
    SHOW("SETALL", semctl(id, 0, SETALL, (union semun){.array = values}));
    unsigned short got[3] = {0};
    SHOW("GETALL", semctl(id, 0, GETALL, (union semun){.array = got}));
    printf("values %d %d %d\n", got[0], got[1], got[2]);
    SHOW("GETVAL 3 (out of range)", semctl(id, 3, GETVAL));
    struct semid_ds ds;
    SHOW("IPC_STAT", semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}));
    printf("nsems %lu, mode %o\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
    struct sembuf ops[2] = {{0, -2, 0}, {1, -6, 0}};
    SHOW("semop(two at once)", semop(id, ops, 2));
    SHOW("GETPID is me", semctl(id, 0, GETPID) == getpid());
    semctl(id, 0, GETALL, (union semun){.array = got});
    printf("values %d %d %d\n", got[0], got[1], got[2]);
    struct sembuf take = {1, -1, IPC_NOWAIT};
    SHOW("semop(IPC_NOWAIT on 0)", semop(id, &take, 1));
    // All or nothing: the second op would block, so neither applies.
    struct sembuf pair[2] = {{0, -1, IPC_NOWAIT}, {1, -1, IPC_NOWAIT}};
    SHOW("semop(pair, second blocks)", semop(id, pair, 2));
    SHOW("GETVAL 0 unchanged", semctl(id, 0, GETVAL));
    struct sembuf wait_zero = {2, 0, IPC_NOWAIT};
    SHOW("semop(wait for zero, IPC_NOWAIT)", semop(id, &wait_zero, 1));
    struct sembuf bad = {7, 1, 0};
    SHOW("semop(sem_num out of range)", semop(id, &bad, 1));
    SHOW("semop(no ops)", semop(id, &bad, 0));
    struct timespec short_wait = {0, 50000000};
    SHOW("semtimedop(times out)", semtimedop(id, &take, 1, &short_wait));
    take.sem_flg = 0;
    SHOW("semtimedop(times out, blocking)", semtimedop(id, &take, 1, &short_wait));
    struct timespec bad_time = {0, 2000000000};
    SHOW("semtimedop(bad timeout)", semtimedop(id, &take, 1, &bad_time));
    // A child blocks on semaphore 1; the parent's V wakes it.
    pid_t child = fork();
    if (child == 0) {
        struct sembuf p = {1, -1, 0};
        _exit(semop(id, &p, 1) == 0 ? 0 : 1);
    }
    while (semctl(id, 1, GETNCNT) != 1) usleep(10000);
    SHOW("GETNCNT with the child waiting", semctl(id, 1, GETNCNT));
    struct sembuf v = {1, 1, 0};
    SHOW("semop(V)", semop(id, &v, 1));
    printf("child's P completed: %d\n", wait_child(child) == 0);
    SHOW("GETVAL 1 after", semctl(id, 1, GETVAL));
    // SEM_UNDO: a child's adjustments are undone when it exits.
    child = fork();
    if (child == 0) {
        struct sembuf up = {2, 3, SEM_UNDO};
        semop(id, &up, 1);
        _exit(semctl(id, 2, GETVAL) == 10 ? 0 : 1);
    }
    printf("child saw its SEM_UNDO op: %d\n", wait_child(child) == 0);
    SHOW("GETVAL 2 after the child exited (undone)", semctl(id, 2, GETVAL));
    // A waiter on a removed set gets EIDRM.
    child = fork();
    if (child == 0) {
        struct sembuf p = {1, -5, 0};
        _exit(semop(id, &p, 1) == -1 && errno == EIDRM ? 0 : 1);
    }
    while (semctl(id, 1, GETNCNT) != 1) usleep(10000);
    SHOW("IPC_RMID", semctl(id, 0, IPC_RMID));
    printf("the waiter got EIDRM: %d\n", wait_child(child) == 0);
    SHOW("GETVAL after IPC_RMID", semctl(id, 0, GETVAL));
    SHOW("semop after IPC_RMID", semop(id, &v, 1));
    SHOW("semget(key) after IPC_RMID", semget(key, 0, 0600));
    int priv = semget(IPC_PRIVATE, 1, 0600);
    SHOW("semctl(bad command)", semctl(priv, 0, 1234));
    semctl(priv, 0, IPC_RMID);
}

struct message {
    long type;
    char text[64];
};

static void test_msg(const char* path) {
    key_t key = ftok(path, 'q');
    SHOW("msgget(key, no IPC_CREAT)", msgget(key, 0600));
    int id = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    printf("msgget(key, IPC_CREAT|IPC_EXCL): %s\n", id >= 0 ? "ok" : errname(errno));
    SHOW("msgget(key, IPC_EXCL) again", msgget(key, IPC_CREAT | IPC_EXCL | 0600));
    printf("msgget(key) finds it: %d\n", msgget(key, 0600) == id);
    struct message m;
    for (int i = 1; i <= 5; ++i) {
        m.type = i % 3 + 1;  // types 2 3 1 2 3
        snprintf(m.text, sizeof m.text, "message %d", i);
        SHOW("msgsnd", msgsnd(id, &m, strlen(m.text) + 1, 0));
    }
    struct msqid_ds ds;
    SHOW("IPC_STAT", msgctl(id, IPC_STAT, &ds));
    printf("qnum %lu, cbytes %lu, lspid is me %d\n", (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
           ds.msg_lspid == getpid());
    SHOW("msgsnd(type 0)", (m.type = 0, msgsnd(id, &m, 4, 0)));
    SHOW("msgsnd(negative size)", (m.type = 1, msgsnd(id, &m, (size_t)-1, 0)));
    long n = msgrcv(id, &m, sizeof m.text, 3, 0);
    printf("msgrcv(type 3): %ld %s (type %ld)\n", n, m.text, m.type);
    n = msgrcv(id, &m, sizeof m.text, -2, 0);
    printf("msgrcv(type -2, lowest <= 2): %ld %s (type %ld)\n", n, m.text, m.type);
    n = msgrcv(id, &m, sizeof m.text, 3, MSG_EXCEPT);
    printf("msgrcv(MSG_EXCEPT 3): %ld %s (type %ld)\n", n, m.text, m.type);
    n = msgrcv(id, &m, sizeof m.text, 0, 0);
    printf("msgrcv(type 0, first): %ld %s (type %ld)\n", n, m.text, m.type);
    SHOW("msgrcv(too small)", msgrcv(id, &m, 3, 0, IPC_NOWAIT));
    n = msgrcv(id, &m, 3, 0, MSG_NOERROR);
    printf("msgrcv(MSG_NOERROR, 3 bytes): %ld %.3s\n", n, m.text);
    SHOW("msgrcv(empty, IPC_NOWAIT)", msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT));
    SHOW("msgrcv(type 9, IPC_NOWAIT)", msgrcv(id, &m, sizeof m.text, 9, IPC_NOWAIT));
    // A full queue: IPC_NOWAIT is EAGAIN.
    msgctl(id, IPC_STAT, &ds);
    ds.msg_qbytes = 100;
    SHOW("IPC_SET qbytes 100", msgctl(id, IPC_SET, &ds));
    static struct {
        long type;
        char text[8192];
    } big = {1, {0}};
    SHOW("msgsnd(60)", msgsnd(id, &big, 60, IPC_NOWAIT));
    SHOW("msgsnd(60) into a full queue, IPC_NOWAIT", msgsnd(id, &big, 60, IPC_NOWAIT));
    SHOW("msgsnd(9000 > MSGMAX)", msgsnd(id, &big, 9000, IPC_NOWAIT));
    SHOW("msgrcv(drain)", msgrcv(id, &big, sizeof big.text, 0, IPC_NOWAIT));
    // Across fork: a child blocks in msgrcv for type 7; the parent sends it.
    pid_t child = fork();
    if (child == 0) {
        struct message got;
        long r = msgrcv(id, &got, sizeof got.text, 7, 0);
        _exit(r > 0 && strcmp(got.text, "hello child") == 0 ? 0 : 1);
    }
    usleep(100000);
    m.type = 7;
    strcpy(m.text, "hello child");
    SHOW("msgsnd(type 7)", msgsnd(id, &m, strlen(m.text) + 1, 0));
    printf("child received it: %d\n", wait_child(child) == 0);
    // A blocked receiver sees EIDRM when the queue is removed. The child says when it is about
    // to receive; the parent waits until it sleeps (in msgrcv: nothing else sleeps after that).
    int about_to[2];
    pipe(about_to);
    child = fork();
    if (child == 0) {
        struct message got;
        write(about_to[1], "x", 1);
        _exit(msgrcv(id, &got, sizeof got.text, 0, 0) == -1 && errno == EIDRM ? 0 : 1);
    }
    char c;
    read(about_to[0], &c, 1);
    wait_until_sleeping(child);
    SHOW("IPC_RMID", msgctl(id, IPC_RMID, NULL));
    printf("the receiver got EIDRM: %d\n", wait_child(child) == 0);
    SHOW("msgsnd after IPC_RMID", msgsnd(id, &m, 4, 0));
    SHOW("msgget(key) after IPC_RMID", msgget(key, 0600));
    int priv = msgget(IPC_PRIVATE, 0600);
    SHOW("msgctl(bad command)", msgctl(priv, 1234, &ds));
    msgctl(priv, IPC_RMID, NULL);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    // A file of our own for ftok: a key nobody else on the host uses (natively the objects live in
    // the host's namespace), then removed.
    char path[64];
    snprintf(path, sizeof path, "/tmp/part5-ipc-%d", getpid());
    int fd = open(path, O_CREAT | O_RDWR, 0600);
    close(fd);
    test_ftok(path);
    test_shm(path);
    test_sem(path);
    test_msg(path);
    unlink(path);
    puts("done");
    return 0;
}
