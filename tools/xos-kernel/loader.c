// The generic kernel image's application: it runs the Linux executable named by its first
// argument with the rest as that program's arguments and the image's environment (execve:
// libos/exec). xos-run --rootfs has libos make the host directory the root before this runs
// (xos.root=: an overlay with /dev, /proc and /tmp inside, libos/fs/boot.cpp). `--root DIR`
// still makes DIR the root first (chroot), for images that mount a root of their own.
// A container image (xos-build --from-image, docs/container-images.md) also passes
// `--workdir DIR` (chdir before the exec, as the image's WorkingDir) and `--user SPEC` (the
// image's User or xos-run --user: UID, NAME, UID:GID or NAME:GROUP, names looked up in the
// root's /etc/passwd and /etc/group; supplementary groups from /etc/group; HOME from the
// passwd entry, or /, when the environment has none), then `--` and the program.
// xos-oci also passes `--groups GID,...` (config.json's additionalGids: supplementary groups
// added to those /etc/group gives the user, as runc does) and `--rlimit N=SOFT:HARD` per
// process.rlimits entry (N the RLIMIT_* number; "unlimited" or a number; set before the
// identity changes, as runc does, so a hard limit may still be raised).
// An image made by `xos-build --exec PROGRAM` links this loader (as xos-loader.o) with the
// program's path baked in (xos_exec_program) and the program's files as its initrd: it runs
// that program with the image's arguments.
// When exec fails the loader does what a shell does: a message naming the file, 127 if it
// (or its interpreter) does not exist, 126 if it cannot be run.
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int usage(void) {
    fprintf(stderr,
            "xos-kernel: no program to run\n"
            "usage: xos-run --rootfs DIR -- /path/to/program [argument...]\n"
            "       (the image's arguments: [--root DIR] [--workdir DIR] [--user SPEC] [--groups GID,...]\n"
            "        [--rlimit N=SOFT:HARD]... [--] PROGRAM "
            "[ARGUMENT...])\n");
    return 127;
}

// Defined by the object xos-build --exec generates; absent (null) in the generic kernel.
extern const char* const xos_exec_program __attribute__((weak));

static int exec_failed(const char* program) {
    int failure = errno;
    fprintf(stderr, "xos-kernel: %s: %s\n", program, strerror(failure));
    return failure == ENOENT || failure == ENOTDIR ? 127 : 126;
}

// A decimal id, or -1.
static long parse_id(const char* text) {
    if (!*text) return -1;
    char* end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (*end || errno || value > 0xfffffffeul) return -1;
    return (long)value;
}

#define MAX_GROUPS 64

// --groups: the additional groups, given before --user is applied.
static gid_t g_extra_groups[MAX_GROUPS];
static int g_extra_count;

// "GID,GID,..." into g_extra_groups. 0 on success.
static int parse_groups(const char* list) {
    char copy[1024];
    if (strlen(list) >= sizeof copy) return fprintf(stderr, "xos-kernel: --groups: too long\n"), -1;
    strcpy(copy, list);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        long gid = parse_id(item);
        if (gid < 0 || g_extra_count == MAX_GROUPS)
            return fprintf(stderr, "xos-kernel: --groups: bad or too many group ids in '%s'\n", list), -1;
        g_extra_groups[g_extra_count++] = (gid_t)gid;
    }
    return 0;
}

// "unlimited" or a decimal number.
static int parse_limit(const char* text, rlim_t* out) {
    if (strcmp(text, "unlimited") == 0) return *out = RLIM_INFINITY, 0;
    if (!*text) return -1;
    char* end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (*end || errno) return -1;
    *out = (rlim_t)value;
    return 0;
}

// --rlimit N=SOFT:HARD. 0 on success.
static int apply_rlimit(const char* spec) {
    char copy[128];
    if (strlen(spec) >= sizeof copy) return fprintf(stderr, "xos-kernel: --rlimit: too long\n"), -1;
    strcpy(copy, spec);
    char* equals = strchr(copy, '=');
    char* colon = equals ? strchr(equals + 1, ':') : NULL;
    struct rlimit limit;
    long resource = -1;
    if (colon) {
        *equals = *colon = '\0';
        resource = parse_id(copy);
    }
    if (resource < 0 || resource >= RLIM_NLIMITS || parse_limit(equals + 1, &limit.rlim_cur) != 0 ||
        parse_limit(colon + 1, &limit.rlim_max) != 0)
        return fprintf(stderr, "xos-kernel: --rlimit: expected RESOURCE=SOFT:HARD, got '%s'\n", spec), -1;
    if (setrlimit((int)resource, &limit) != 0)
        return fprintf(stderr, "xos-kernel: cannot set resource limit %s: %s\n", spec, strerror(errno)), -1;
    return 0;
}

// Takes on the identity SPEC names, as docker run --user does. 0 on success.
static int switch_user(const char* spec) {
    char user[256];
    if (strlen(spec) >= sizeof user) return fprintf(stderr, "xos-kernel: --user: too long\n"), -1;
    strcpy(user, spec);
    char* group = strchr(user, ':');
    if (group) *group++ = '\0';

    long uid = parse_id(user);
    struct passwd* pw = uid >= 0 ? getpwuid((uid_t)uid) : getpwnam(user);
    if (uid < 0) {
        if (!pw)
            return fprintf(stderr, "xos-kernel: unable to find user %s: no matching entries in passwd file\n", user),
                   -1;
        uid = (long)pw->pw_uid;
    }
    long gid = pw ? (long)pw->pw_gid : 0;
    if (group) {
        gid = parse_id(group);
        if (gid < 0) {
            struct group* gr = getgrnam(group);
            if (!gr)
                return fprintf(stderr, "xos-kernel: unable to find group %s: no matching entries in group file\n",
                               group),
                       -1;
            gid = (long)gr->gr_gid;
        }
    }
    gid_t groups[MAX_GROUPS];
    int count = 1;
    groups[0] = (gid_t)gid;
    if (pw) {
        count = MAX_GROUPS;
        if (getgrouplist(pw->pw_name, (gid_t)gid, groups, &count) < 0) count = MAX_GROUPS;
    }
    for (int i = 0; i < g_extra_count; ++i) {
        int known = 0;
        for (int j = 0; j < count; ++j) known |= groups[j] == g_extra_groups[i];
        if (!known && count < MAX_GROUPS) groups[count++] = g_extra_groups[i];
    }
    if (!getenv("HOME")) setenv("HOME", pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/", 1);
    if (setgroups((size_t)count, groups) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0)
        return fprintf(stderr, "xos-kernel: cannot become user %s: %s\n", spec, strerror(errno)), -1;
    return 0;
}

// execvp, without trying the directories of PATH that lack the program: libos says so on the
// console for each exec of a missing file (libos/exec), which a container's stderr would show for
// every PATH entry before the right one. A name with a '/' is exec'd as it is.
static void exec_in_path(const char* name, char* const argv[]) {
    if (strchr(name, '/')) {
        execv(name, argv);
        return;
    }
    const char* path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/bin:/usr/bin";  // musl's execvp default
    char candidate[4096];
    for (const char* dir = path;; ++dir) {
        const char* end = strchr(dir, ':');
        size_t length = end ? (size_t)(end - dir) : strlen(dir);
        if (snprintf(candidate, sizeof candidate, "%.*s/%s", (int)(length ? length : 1), length ? dir : ".", name) <
                (int)sizeof candidate &&
            access(candidate, X_OK) == 0) {
            execv(candidate, argv);
            return;
        }
        if (!end) break;
        dir = end;
    }
    errno = ENOENT;
}

int main(int argc, char** argv) {
    if (&xos_exec_program && xos_exec_program) {
        // argv[0] (the image's name) becomes the program's path, as a shell would pass it.
        argv[0] = (char*)xos_exec_program;
        execv(xos_exec_program, argv);
        return exec_failed(xos_exec_program);
    }
    int first = 1;
    const char* workdir = NULL;
    const char* user = NULL;
    for (;;) {
        if (first + 1 < argc && strcmp(argv[first], "--root") == 0) {
            if (chroot(argv[first + 1]) != 0 || chdir("/") != 0) {
                fprintf(stderr, "xos-kernel: cannot use %s as the root: %s\n", argv[first + 1], strerror(errno));
                return 126;
            }
        } else if (first + 1 < argc && strcmp(argv[first], "--workdir") == 0) {
            workdir = argv[first + 1];
        } else if (first + 1 < argc && strcmp(argv[first], "--user") == 0) {
            user = argv[first + 1];
        } else if (first + 1 < argc && strcmp(argv[first], "--groups") == 0) {
            if (parse_groups(argv[first + 1]) != 0) return 126;
        } else if (first + 1 < argc && strcmp(argv[first], "--rlimit") == 0) {
            if (apply_rlimit(argv[first + 1]) != 0) return 126;
        } else {
            break;
        }
        first += 2;
    }
    if (first < argc && strcmp(argv[first], "--") == 0) ++first;
    if (first >= argc) return usage();
    if (workdir && chdir(workdir) != 0) {
        // docker creates a missing WorkingDir; the root's writable layer allows the same.
        char path[4096];
        size_t length = strlen(workdir);
        int made = length < sizeof path;
        if (made) {
            strcpy(path, workdir);
            for (char* p = path + 1; *p && made; ++p) {
                if (*p != '/') continue;
                *p = '\0';
                if (mkdir(path, 0755) != 0 && errno != EEXIST) made = 0;
                *p = '/';
            }
            made = made && (mkdir(path, 0755) == 0 || errno == EEXIST) && chdir(workdir) == 0;
        }
        if (!made) {
            fprintf(stderr, "xos-kernel: cannot use %s as the working directory: %s\n", workdir, strerror(errno));
            return 126;
        }
    }
    if (user && switch_user(user) != 0) return 126;
    if (!user && g_extra_count && setgroups((size_t)g_extra_count, g_extra_groups) != 0)
        return fprintf(stderr, "xos-kernel: cannot set the groups: %s\n", strerror(errno)), 126;
    exec_in_path(argv[first], argv + first);
    return exec_failed(argv[first]);
}
