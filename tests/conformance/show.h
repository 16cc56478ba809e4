// Shared by the differential conformance tests: SHOW(label, expr) prints the result of a call,
// or -1 and the errno's name, in one fixed-width line, so that a run on Linux and a run on xos
// can be compared line by line.
#ifndef XOS_CONFORMANCE_SHOW_H
#define XOS_CONFORMANCE_SHOW_H

#include <errno.h>
#include <stdio.h>

static const char* errname(int e) {
    switch (e) {
    case EACCES: return "EACCES";
    case EADDRINUSE: return "EADDRINUSE";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EBUSY: return "EBUSY";
    case E2BIG: return "E2BIG";
    case EIDRM: return "EIDRM";
    case ENOMSG: return "ENOMSG";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EOWNERDEAD: return "EOWNERDEAD";
    case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
    case EDEADLK: return "EDEADLK";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EOVERFLOW: return "EOVERFLOW";
    case ECHILD: return "ECHILD";
    case EFBIG: return "EFBIG";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case EEXIST: return "EEXIST";
    case EFAULT: return "EFAULT";
    case EINTR: return "EINTR";
    case EINVAL: return "EINVAL";
    case EISCONN: return "EISCONN";
    case EISDIR: return "EISDIR";
    case ELOOP: return "ELOOP";
    case EMSGSIZE: return "EMSGSIZE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENODEV: return "ENODEV";
    case ENOENT: return "ENOENT";
    case ENOMEM: return "ENOMEM";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ENOSPC: return "ENOSPC";
    case ENOSYS: return "ENOSYS";
    case ENOTCONN: return "ENOTCONN";
    case ENOTDIR: return "ENOTDIR";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOTSOCK: return "ENOTSOCK";
    case ENXIO: return "ENXIO";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EPERM: return "EPERM";
    case EPIPE: return "EPIPE";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EPROTOTYPE: return "EPROTOTYPE";
    case ERANGE: return "ERANGE";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case ESPIPE: return "ESPIPE";
    case ESRCH: return "ESRCH";
    case EXDEV: return "EXDEV";
    default: return "other";
    }
}

#define SHOW(what, expr)                                                                                               \
    do {                                                                                                               \
        errno = 0;                                                                                                     \
        long r_ = (long)(expr);                                                                                        \
        if (r_ == -1)                                                                                                  \
            printf("%-48s -1 %s\n", what, errname(errno));                                                             \
        else                                                                                                           \
            printf("%-48s %ld\n", what, r_);                                                                           \
    } while (0)

#endif
