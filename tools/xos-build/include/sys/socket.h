/* xos-cc's fix-up of musl 1.2.3's <sys/socket.h> (docs/toolchain.md): the same header, with
 * CMSG_NXTHDR comparing two unsigned values. musl's version compares size_t with ptrdiff_t, and
 * clang reports -Wsign-compare at the macro's expansion in the program's code, so a -Werror
 * build (nginx) stopped on musl's header. The cast is the one later musl releases make. */
#include_next <sys/socket.h>

#ifdef CMSG_NXTHDR
#undef CMSG_NXTHDR
#define CMSG_NXTHDR(mhdr, cmsg)                                                                                        \
    ((cmsg)->cmsg_len < sizeof(struct cmsghdr) ||                                                                      \
             __CMSG_LEN(cmsg) + sizeof(struct cmsghdr) >= (size_t)(__MHDR_END(mhdr) - (unsigned char*)(cmsg))          \
         ? 0                                                                                                           \
         : (struct cmsghdr*)__CMSG_NEXT(cmsg))
#endif
