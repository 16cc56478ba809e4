/* lwIP's compiler/platform abstraction for xos (x86_64, clang, musl headers, kernel side). */
#ifndef XOS_LWIP_ARCH_CC_H
#define XOS_LWIP_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_NO_INTTYPES_H 0
#define LWIP_RAND() ((u32_t)xos_lwip_rand())
#define LWIP_ERRNO_STDINCLUDE 1

#ifdef __cplusplus
extern "C" {
#endif
uint32_t xos_lwip_rand(void);
void xos_lwip_diag(const char* format, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void xos_lwip_assert_failed(const char* message, const char* file, int line);
#ifdef __cplusplus
}
#endif

/* LWIP_PLATFORM_DIAG((fmt, args...)): double parentheses. */
#define LWIP_PLATFORM_DIAG(x)                                                                                          \
    do {                                                                                                               \
        xos_lwip_diag x;                                                                                               \
    } while (0)
#define LWIP_PLATFORM_ASSERT(x) xos_lwip_assert_failed((x), __FILE__, __LINE__)

#endif /* XOS_LWIP_ARCH_CC_H */
