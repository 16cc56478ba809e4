/* lwIP's OS abstraction types for xos: semaphores, mutexes and mailboxes are libos objects
 * (WaitQueue-based, kmalloc'd; see sys_arch.cpp); lwIP holds pointers to them. */
#ifndef XOS_LWIP_ARCH_SYS_ARCH_H
#define XOS_LWIP_ARCH_SYS_ARCH_H

#ifdef __cplusplus
extern "C" {
#endif

struct xos_lwip_sem;
struct xos_lwip_mutex;
struct xos_lwip_mbox;

typedef struct xos_lwip_sem* sys_sem_t;
typedef struct xos_lwip_mutex* sys_mutex_t;
typedef struct xos_lwip_mbox* sys_mbox_t;
typedef void* sys_thread_t;
typedef unsigned long sys_prot_t;

#define sys_sem_valid(sem) (((sem) != NULL) && (*(sem) != NULL))
#define sys_sem_set_invalid(sem)                                                                                       \
    do {                                                                                                               \
        if ((sem) != NULL) {                                                                                           \
            *(sem) = NULL;                                                                                             \
        }                                                                                                              \
    } while (0)
#define sys_mutex_valid(mutex) (((mutex) != NULL) && (*(mutex) != NULL))
#define sys_mutex_set_invalid(mutex)                                                                                   \
    do {                                                                                                               \
        if ((mutex) != NULL) {                                                                                         \
            *(mutex) = NULL;                                                                                           \
        }                                                                                                              \
    } while (0)
#define sys_mbox_valid(mbox) (((mbox) != NULL) && (*(mbox) != NULL))
#define sys_mbox_set_invalid(mbox)                                                                                     \
    do {                                                                                                               \
        if ((mbox) != NULL) {                                                                                          \
            *(mbox) = NULL;                                                                                            \
        }                                                                                                              \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* XOS_LWIP_ARCH_SYS_ARCH_H */
