/* xos-cc's fix-up of musl 1.2.3's <math.h> (docs/toolchain.md): the same header, with the
 * classification macros' expressions marked __extension__. musl's use unsigned long long
 * constants (-1ULL, 0x7ffULL), and clang reports -Wlong-long at the macro's expansion in a C89
 * program's code, so a `-std=c89 -pedantic -Werror` build (cJSON) stopped on musl's header. */
#include_next <math.h>

#undef isinf
#define isinf(x)                                                                                                       \
    (__extension__(sizeof(x) == sizeof(float)        ? (__FLOAT_BITS(x) & 0x7fffffff) == 0x7f800000                    \
                       : sizeof(x) == sizeof(double) ? (__DOUBLE_BITS(x) & -1ULL >> 1) == 0x7ffULL << 52               \
                                                     : __fpclassifyl(x) == FP_INFINITE))

#undef isnan
#define isnan(x)                                                                                                       \
    (__extension__(sizeof(x) == sizeof(float)        ? (__FLOAT_BITS(x) & 0x7fffffff) > 0x7f800000                     \
                       : sizeof(x) == sizeof(double) ? (__DOUBLE_BITS(x) & -1ULL >> 1) > 0x7ffULL << 52                \
                                                     : __fpclassifyl(x) == FP_NAN))

#undef isnormal
#define isnormal(x)                                                                                                    \
    (__extension__(sizeof(x) == sizeof(float)        ? ((__FLOAT_BITS(x) + 0x00800000) & 0x7fffffff) >= 0x01000000     \
                       : sizeof(x) == sizeof(double) ? ((__DOUBLE_BITS(x) + (1ULL << 52)) & -1ULL >> 1) >= 1ULL << 53  \
                                                     : __fpclassifyl(x) == FP_NORMAL))

#undef isfinite
#define isfinite(x)                                                                                                    \
    (__extension__(sizeof(x) == sizeof(float)        ? (__FLOAT_BITS(x) & 0x7fffffff) < 0x7f800000                     \
                       : sizeof(x) == sizeof(double) ? (__DOUBLE_BITS(x) & -1ULL >> 1) < 0x7ffULL << 52                \
                                                     : __fpclassifyl(x) > FP_INFINITE))
