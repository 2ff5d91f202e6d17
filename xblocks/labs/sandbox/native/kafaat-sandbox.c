/*
 * kafaat-sandbox: the lab host's helper that makes sandboxes and enters them.
 *
 * The Python backend (xblocks/labs/sandbox/local/) runs this program as host root, without a
 * preexec function, and passes it only what it opened and checked itself: a pidfd of the sandbox's
 * init, an O_PATH descriptor of that init's root, cgroup files, the seccomp program. The one rule
 * it exists for: no process inside a sandbox's user namespace ever executes a file, or resolves a
 * path, in the host's mount namespace (docs/sandbox.md has the argument).
 *
 *   create  join the sandbox's cgroups; with --private-mounts, move into a mount namespace of the
 *           sandbox's own (a private copy of the host's), where every mount below is made, so the
 *           host's mount table does not grow with each sandbox and the mounts go with its last
 *           process; fork a map writer that stays host root; become the
 *           sandbox's own host uid (its slot in the subordinate range) and unshare a user
 *           namespace, so that namespace is owned by that uid and per-user kernel accounting
 *           (inotify, pipes, processes, message queues) is per sandbox; the map writer writes the
 *           id maps and mounts the overlay with the shared image idmapped through the new
 *           namespace; then set the namespace's own inotify limits and execute bubblewrap. The
 *           namespace is new and empty at that moment: nothing of a learner's can be in it.
 *           With --userns (a machine of a lab) it joins the lab's user namespace instead of
 *           unsharing one; the maps are the lab's, written once by `lab`.
 *   lab     make the namespaces a lab of several machines shares (a user namespace of the lab's
 *           slot and the network namespace of its switch) and bind them on two files of the lab's
 *           folder; then exit. The backend wires the network (decision 0064).
 *   enter   join the cgroups, enter every namespace of the sandbox's init in one setns() on its
 *           pidfd, chroot to its root, become the sandbox's root and fork, so the child is in the
 *           sandbox's pid namespace. The child (still this program) then takes its uid, limits,
 *           Landlock domain, no_new_privs and seccomp filter and executes its target, which is
 *           resolved inside the sandbox. The parent relays signals and exits with the child's status.
 *           With --spawner the child does not execute anything: it becomes the sandbox's spawner
 *           (below), detached to the sandbox's own init.
 *   spawner inside the sandbox, in the learner's Landlock domain: starts every learner-side
 *           process (terminal shells, setup scripts, solves, file placement) on requests from the
 *           host over a unix socket that only host root can reach, so that all of them share one
 *           domain (a learner can manage, signal and trace what they started) while nothing in that
 *           domain can reach a check, which `enter` starts outside it.
 *
 * Built statically by the backend on first use (helper.py), from this file only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef KAFAAT_SOURCE_HASH
#define KAFAAT_SOURCE_HASH "unknown"
#endif
#define PROTOCOL 1

/* Kernel interfaces newer than some C libraries: numbers and layouts from the kernel's uapi. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#define KS_OPEN_TREE_CLONE 1
#define KS_AT_EMPTY_PATH 0x1000
#define KS_AT_RECURSIVE 0x8000
#define KS_MOUNT_ATTR_RDONLY 0x1
#define KS_MOUNT_ATTR_NOSUID 0x2
#define KS_MOUNT_ATTR_NODEV 0x4
#define KS_MOUNT_ATTR_NOEXEC 0x8
#define KS_MOUNT_ATTR_IDMAP 0x00100000
#define KS_FSOPEN_CLOEXEC 1
#define KS_FSCONFIG_SET_STRING 1
#define KS_FSCONFIG_CMD_CREATE 6
#define KS_FSMOUNT_CLOEXEC 1
#define KS_MOVE_MOUNT_F_EMPTY_PATH 4
#define KS_LANDLOCK_CREATE_RULESET_VERSION 1
#define KS_LANDLOCK_ACCESS_FS_EXECUTE 1
#define KS_LANDLOCK_RULE_PATH_BENEATH 1
#define KS_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET 1
#define KS_LANDLOCK_SCOPE_SIGNAL 2
#ifndef PR_SET_NO_NEW_PRIVS
#define PR_SET_NO_NEW_PRIVS 38
#endif
#define KS_SECCOMP_SET_MODE_FILTER 1 /* seccomp(2) operation */
#define KS_ALL_NAMESPACES                                                                                      \
    (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)

struct ks_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};
struct ks_landlock_ruleset_attr {
    uint64_t handled_access_fs, handled_access_net, scoped;
};
struct ks_landlock_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));
struct ks_sock_filter {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};
struct ks_sock_fprog {
    unsigned short len;
    struct ks_sock_filter *filter;
};

/* Where failures before the target runs are reported (a close-on-exec pipe the caller reads). */
static int error_fd = 2;
static int saved_argc;
static char **saved_argv;

/* What `ps` and /proc/<pid>/cmdline show for the spawner: its name, not the host paths it was given. */
static void hide_arguments(const char *name) {
    if (saved_argc < 1)
        return;
    char *start = saved_argv[0];
    char *end = saved_argv[saved_argc - 1] + strlen(saved_argv[saved_argc - 1]);
    memset(start, 0, (size_t)(end - start));
    strncpy(start, name, (size_t)(end - start));
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

static void report(const char *what, int code) {
    char line[600];
    int length = snprintf(line, sizeof line, "kafaat-sandbox: %s%s%s\n", what, code ? ": " : "",
                          code ? strerror(code) : "");
    if (length > 0)
        (void)!write(error_fd, line, (size_t)(length < (int)sizeof line ? length : (int)sizeof line - 1));
}

static void fail(const char *what) __attribute__((noreturn));
static void fail(const char *what) {
    report(what, errno);
    _exit(125);
}

static void failx(const char *what) __attribute__((noreturn));
static void failx(const char *what) {
    report(what, 0);
    _exit(125);
}

static long number(const char *text, const char *what) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || !end || *end || end == text)
        failx(what);
    return value;
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fail(path);
    size_t length = strlen(text);
    if (write(fd, text, length) != (ssize_t)length)
        fail(path);
    close(fd);
}

/* Close every descriptor from 3 up except those in keep (nothing of the host's stays open). */
static void close_all_but(int *keep, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned int from = 3;
    for (int i = 0; i < n; i++) {
        if (keep[i] < 3)
            continue;
        if ((unsigned int)keep[i] > from)
            syscall(SYS_close_range, from, (unsigned int)keep[i] - 1, 0);
        from = (unsigned int)keep[i] + 1;
    }
    syscall(SYS_close_range, from, ~0U, 0);
}

static void set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
        fail("fcntl(FD_CLOEXEC)");
}

/* ---------------------------------------------------------------------------------------------- */
/* Options shared by the modes                                                                      */

#define MAX_CGROUPS 8

struct options {
    const char *cgroups[MAX_CGROUPS];
    int ncgroups;
    /* create */
    long uid_base, uid_count;
    const char *lower, *upper, *work, *merged;
    const char *lab_upper, *lab; /* an outside check: another sandbox's writable layer, read-only */
    uint64_t overlay_attr;
    long inotify_instances, inotify_watches;
    const char *userns; /* a machine of a lab: join the lab's user namespace (bound at this path) */
    int private_mounts; /* the sandbox's mounts in a mount namespace of its own, not the host's */
    int mounts_of;      /* an outside check: a copy of the learner sandbox's mount namespace (fd) */
    /* enter */
    int pidfd, rootfd, seccomp_fd;
    long uid, gid;
    int landlock_min; /* -1: no Landlock domain */
    int nnp, ctty, oom_protect, remount_suid;
    long cpu_soft, cpu_hard;
    int spawner_fd, ready_fd;
    char **target;
};

static void parse(int argc, char **argv, int start, struct options *o) {
    memset(o, 0, sizeof *o);
    o->pidfd = o->rootfd = o->seccomp_fd = o->spawner_fd = o->ready_fd = -1;
    o->uid = o->gid = -1;
    o->landlock_min = -1;
    o->cpu_soft = o->cpu_hard = -1;
    o->inotify_instances = o->inotify_watches = -1;
    o->mounts_of = -1;
    int i = start;
    for (; i < argc; i++) {
        const char *a = argv[i];
#define NEXT() (i + 1 < argc ? argv[++i] : (failx("missing value after an option"), (char *)0))
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (!strcmp(a, "--error-fd")) {
            error_fd = (int)number(NEXT(), "--error-fd");
            set_cloexec(error_fd);
        } else if (!strcmp(a, "--cgroup")) {
            if (o->ncgroups >= MAX_CGROUPS)
                failx("too many --cgroup");
            o->cgroups[o->ncgroups++] = NEXT();
        } else if (!strcmp(a, "--uid-base")) {
            o->uid_base = number(NEXT(), "--uid-base");
        } else if (!strcmp(a, "--uid-count")) {
            o->uid_count = number(NEXT(), "--uid-count");
        } else if (!strcmp(a, "--overlay")) {
            o->lower = NEXT();
            o->upper = NEXT();
            o->work = NEXT();
            o->merged = NEXT();
        } else if (!strcmp(a, "--lab")) {
            o->lab_upper = NEXT();
            o->lab = NEXT();
        } else if (!strcmp(a, "--userns")) {
            o->userns = NEXT();
        } else if (!strcmp(a, "--private-mounts")) {
            o->private_mounts = 1;
        } else if (!strcmp(a, "--mounts-of")) {
            o->mounts_of = (int)number(NEXT(), "--mounts-of");
            set_cloexec(o->mounts_of);
        } else if (!strcmp(a, "--nosuid")) {
            o->overlay_attr |= KS_MOUNT_ATTR_NOSUID;
        } else if (!strcmp(a, "--nodev")) {
            o->overlay_attr |= KS_MOUNT_ATTR_NODEV;
        } else if (!strcmp(a, "--inotify")) {
            o->inotify_instances = number(NEXT(), "--inotify instances");
            o->inotify_watches = number(NEXT(), "--inotify watches");
        } else if (!strcmp(a, "--pidfd")) {
            o->pidfd = (int)number(NEXT(), "--pidfd");
        } else if (!strcmp(a, "--root")) {
            o->rootfd = (int)number(NEXT(), "--root");
        } else if (!strcmp(a, "--seccomp")) {
            o->seccomp_fd = (int)number(NEXT(), "--seccomp");
        } else if (!strcmp(a, "--uid")) {
            o->uid = number(NEXT(), "--uid");
        } else if (!strcmp(a, "--gid")) {
            o->gid = number(NEXT(), "--gid");
        } else if (!strcmp(a, "--landlock")) {
            o->landlock_min = (int)number(NEXT(), "--landlock");
        } else if (!strcmp(a, "--nnp")) {
            o->nnp = 1;
        } else if (!strcmp(a, "--ctty")) {
            o->ctty = 1;
        } else if (!strcmp(a, "--oom-protect")) {
            o->oom_protect = 1;
        } else if (!strcmp(a, "--remount-suid")) {
            o->remount_suid = 1;
        } else if (!strcmp(a, "--cpu")) {
            o->cpu_soft = number(NEXT(), "--cpu soft");
            o->cpu_hard = number(NEXT(), "--cpu hard");
        } else if (!strcmp(a, "--spawner")) {
            o->spawner_fd = (int)number(NEXT(), "--spawner");
            o->ready_fd = (int)number(NEXT(), "--spawner ready");
        } else {
            failx("unknown option");
        }
#undef NEXT
    }
    o->target = i < argc ? argv + i : NULL;
}

static void join_cgroups(const struct options *o) {
    /* As host root, who owns the cgroup files: nothing in a sandbox may write them. */
    for (int i = 0; i < o->ncgroups; i++)
        write_file(o->cgroups[i], "0");
}

static void set_limits(long cpu_soft, long cpu_hard) {
    /* No core files: a crash inside a sandbox leaves nothing on any disk (see docs/sandbox.md). */
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) < 0)
        fail("setrlimit(RLIMIT_CORE)");
    if (cpu_soft >= 0) {
        struct rlimit cpu = {(rlim_t)cpu_soft, (rlim_t)cpu_hard};
        if (setrlimit(RLIMIT_CPU, &cpu) < 0)
            fail("setrlimit(RLIMIT_CPU)");
    }
}

/* The Landlock domain learner-side processes live in. Scoped signals and abstract unix sockets
 * where the kernel has them (ABI >= 6); every Landlock domain also restricts ptrace and everything
 * that goes through ptrace_may_access (/proc/<pid>/{fd,mem,environ}, process_vm_*, pidfd_getfd) to
 * the same domain or domains nested in it. Refuses to continue below min_abi. */
static void landlock(int min_abi) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, KS_LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1)
        failx("Landlock is not available (kernel without CONFIG_SECURITY_LANDLOCK, or not in lsm=)");
    if (abi < min_abi) {
        char message[160];
        snprintf(message, sizeof message, "Landlock ABI %ld is below the required %d (signal scoping needs ABI 6, Linux 6.12)",
                 abi, min_abi);
        failx(message);
    }
    struct ks_landlock_ruleset_attr attr = {0, 0, 0};
    long ruleset;
    if (abi >= 6) {
        attr.scoped = KS_LANDLOCK_SCOPE_SIGNAL | KS_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
        ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    } else {
        /* A domain needs one handled right: execution, allowed everywhere beneath the root. */
        attr.handled_access_fs = KS_LANDLOCK_ACCESS_FS_EXECUTE;
        ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr.handled_access_fs, 0);
        if (ruleset >= 0) {
            struct ks_landlock_path_beneath_attr rule = {KS_LANDLOCK_ACCESS_FS_EXECUTE,
                                                         open("/", O_PATH | O_CLOEXEC)};
            if (rule.parent_fd < 0 ||
                syscall(SYS_landlock_add_rule, (int)ruleset, KS_LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
                fail("landlock_add_rule");
            close(rule.parent_fd);
        }
    }
    if (ruleset < 0)
        fail("landlock_create_ruleset");
    if (syscall(SYS_landlock_restrict_self, (int)ruleset, 0) < 0)
        fail("landlock_restrict_self");
    close((int)ruleset);
}

static struct ks_sock_fprog read_filter(int fd) {
    static struct ks_sock_filter program[4096];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, (char *)program + got, sizeof program - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("reading the seccomp program");
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == sizeof program)
            failx("seccomp program too long");
    }
    close(fd);
    if (got == 0 || got % sizeof program[0])
        failx("seccomp program is empty or not whole instructions");
    struct ks_sock_fprog prog = {(unsigned short)(got / sizeof program[0]), program};
    return prog;
}

static void load_filter(const struct ks_sock_fprog *prog) {
    if (syscall(SYS_seccomp, KS_SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
        fail("seccomp(SECCOMP_SET_MODE_FILTER)");
}

/* CAP_NET_ADMIN out of the bounding set and out of this process's own sets, for good: nothing that
 * enters a sandbox (spawner, learner shells, sudo, checks) can hold it again, not even as the root of
 * its user namespace, so no learner can change a lab's links, addresses, routes or neighbours, nor
 * reach nf_tables through it (a classic way from a user namespace to host root; decision 0064). */
#define KS_CAP_NET_ADMIN 12
static void drop_net_admin(void) {
    if (prctl(PR_CAPBSET_DROP, KS_CAP_NET_ADMIN, 0, 0, 0) < 0)
        fail("PR_CAPBSET_DROP(CAP_NET_ADMIN)");
    struct {
        uint32_t version;
        int pid;
    } header = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
    struct {
        uint32_t effective, permitted, inheritable;
    } sets[2];
    if (syscall(SYS_capget, &header, sets) < 0)
        fail("capget");
    uint32_t bit = 1u << KS_CAP_NET_ADMIN;
    sets[0].effective &= ~bit;
    sets[0].permitted &= ~bit;
    sets[0].inheritable &= ~bit;
    if (syscall(SYS_capset, &header, sets) < 0)
        fail("capset(without CAP_NET_ADMIN)");
}

static void become(long uid, long gid) {
    if (setgroups(0, NULL) < 0)
        fail("setgroups");
    if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
        fail("setresgid");
    if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
        fail("setresuid");
}

/* ---------------------------------------------------------------------------------------------- */
/* create                                                                                           */

/* For an outside check: the learner's files at o->lab, read-only, nosuid, nodev and noexec, as an
 * overlay *of its own* over the learner's writable layer and this sandbox's idmapped image (the same
 * image, the same id slot). Not a bind of the learner's live mount: a bind shares its inodes, so a
 * FIFO, a unix socket or a file lease of the learner's would reach the checker, and a learner program
 * could feed it what it reads. A second overlay has inodes of its own: a FIFO there has no writer,
 * a socket no listener, a lease nobody to notify. (overlayfs warns, once per mount, that the layer is
 * another mount's upper layer: that is the point, and index=off keeps it a warning.) */
static void mount_lab(const struct options *o, int image_tree) {
    int upper_fd = open(o->lab_upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (upper_fd < 0)
        fail("opening the learner's writable layer");
    int fs = (int)syscall(SYS_fsopen, "overlay", KS_FSOPEN_CLOEXEC);
    if (fs < 0)
        fail("fsopen(overlay for /lab)");
    char lowers[64];
    snprintf(lowers, sizeof lowers, "/proc/self/fd/%d:/proc/self/fd/%d", upper_fd, image_tree);
    if (syscall(SYS_fsconfig, fs, KS_FSCONFIG_SET_STRING, "lowerdir", lowers, 0) < 0)
        fail("overlay lowerdir for /lab");
    if (syscall(SYS_fsconfig, fs, KS_FSCONFIG_SET_STRING, "index", "off", 0) < 0)
        fail("overlay index=off for /lab");
    if (syscall(SYS_fsconfig, fs, KS_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        char detail[400] = "overlay create for /lab: ";
        size_t used = strlen(detail);
        ssize_t n = read(fs, detail + used, sizeof detail - used - 1);
        if (n > 0)
            detail[used + (size_t)n] = 0;
        fail(detail);
    }
    int mount = (int)syscall(SYS_fsmount, fs, KS_FSMOUNT_CLOEXEC,
                             KS_MOUNT_ATTR_RDONLY | KS_MOUNT_ATTR_NOSUID | KS_MOUNT_ATTR_NODEV | KS_MOUNT_ATTR_NOEXEC);
    if (mount < 0)
        fail("fsmount(overlay for /lab)");
    if (syscall(SYS_move_mount, mount, "", AT_FDCWD, o->lab, KS_MOVE_MOUNT_F_EMPTY_PATH) < 0)
        fail("move_mount(/lab)");
}

static void map_writer(pid_t child, const struct options *o, int wait_fd) {
    char byte, path[64], map[96];
    if (read(wait_fd, &byte, 1) != 1)
        failx("the sandbox's first process died before unsharing its user namespace");
    if (!o->userns) { /* a lab's machine joins a namespace whose maps are written already */
        snprintf(map, sizeof map, "0 %ld %ld\n", o->uid_base, o->uid_count);
        snprintf(path, sizeof path, "/proc/%d/uid_map", (int)child);
        write_file(path, map);
        snprintf(path, sizeof path, "/proc/%d/gid_map", (int)child);
        write_file(path, map);
    }
    if (!o->lower)
        _exit(0);
    /* The image, shared read-only by every sandbox, seen through this sandbox's id map: its
     * owners on disk (0 root, 1000 learner) become this sandbox's host ids. */
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)child);
    int userns = open(path, O_RDONLY | O_CLOEXEC);
    if (userns < 0)
        fail(path);
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, o->lower, KS_OPEN_TREE_CLONE | O_CLOEXEC);
    if (tree < 0)
        fail("open_tree(image)");
    struct ks_mount_attr attr = {KS_MOUNT_ATTR_IDMAP | KS_MOUNT_ATTR_RDONLY, 0, 0,
                                 (uint64_t)userns};
    if (syscall(SYS_mount_setattr, tree, "", KS_AT_EMPTY_PATH, &attr, sizeof attr) < 0)
        fail("mount_setattr(MOUNT_ATTR_IDMAP)");
    int fs = (int)syscall(SYS_fsopen, "overlay", KS_FSOPEN_CLOEXEC);
    if (fs < 0)
        fail("fsopen(overlay)");
    /* The detached idmapped tree named through /proc/self/fd: overlayfs takes it as a layer (idmapped
     * layers since Linux 5.19), and the sandbox's mountinfo shows that name, not the image's path. */
    char lower[64];
    snprintf(lower, sizeof lower, "/proc/self/fd/%d", tree);
    if (syscall(SYS_fsconfig, fs, KS_FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0)
        fail("overlay lowerdir (an idmapped layer needs Linux >= 5.19)");
    /* The writable layers named through /proc/self/fd: the options the sandbox reads back in its
     * /proc/self/mountinfo then show no host path. */
    char upper[64], work[64];
    int upper_fd = open(o->upper, O_PATH | O_DIRECTORY | O_CLOEXEC), work_fd = open(o->work, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (upper_fd < 0 || work_fd < 0)
        fail("opening the writable layer");
    snprintf(upper, sizeof upper, "/proc/self/fd/%d", upper_fd);
    snprintf(work, sizeof work, "/proc/self/fd/%d", work_fd);
    if (syscall(SYS_fsconfig, fs, KS_FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0)
        fail("overlay upperdir");
    if (syscall(SYS_fsconfig, fs, KS_FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
        fail("overlay workdir");
    if (syscall(SYS_fsconfig, fs, KS_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
        char detail[400] = "overlay create: ";
        ssize_t n = read(fs, detail + 16, sizeof detail - 17);
        if (n > 0)
            detail[16 + n] = 0;
        fail(detail);
    }
    int mount = (int)syscall(SYS_fsmount, fs, KS_FSMOUNT_CLOEXEC, o->overlay_attr);
    if (mount < 0)
        fail("fsmount(overlay)");
    if (syscall(SYS_move_mount, mount, "", AT_FDCWD, o->merged, KS_MOVE_MOUNT_F_EMPTY_PATH) < 0)
        fail("move_mount(overlay)");
    if (o->lab_upper)
        mount_lab(o, tree);
    _exit(0);
}

static int do_create(struct options *o) {
    if (!o->target || o->uid_base <= 0 || o->uid_count <= 0)
        failx("create needs --uid-base, --uid-count and a command");
    if (o->lab_upper && !o->lower)
        failx("--lab needs --overlay (the image the learner's layer lies over)");
    if (o->mounts_of >= 0 && !o->private_mounts)
        failx("--mounts-of needs --private-mounts");
    join_cgroups(o);
    int lab_userns = -1;
    if (o->userns) {
        /* Opened as host root, before this process takes the slot's uid (the folder is root's). */
        lab_userns = open(o->userns, O_RDONLY | O_CLOEXEC);
        if (lab_userns < 0)
            fail("opening the lab's user namespace");
    }
    if (o->private_mounts) {
        /* As host root, in the host's user namespace: a mount namespace of this sandbox's own, a
         * copy of the host's made private (nothing propagates in or out), where the map writer
         * forked below mounts the overlay and /lab, and in which bubblewrap then makes the
         * sandbox's. The host's table gains nothing per sandbox, and the sandbox's writable layer
         * and overlay are unmounted by the kernel when its last process (bubblewrap's monitor) is
         * gone. Paths named on the command line were resolved by the caller in the host's
         * namespace; the copy has them all. An outside check copies the learner sandbox's own
         * namespace instead (--mounts-of), where the learner's writable layer is mounted: overlayfs
         * takes a layer only from a mount of the caller's namespace. */
        int disk = -1;
        char disk_path[PATH_MAX];
        if (o->mounts_of >= 0) {
            /* The check's own writable layer (the tmpfs that holds upper and work, which the caller
             * mounted in the host's namespace) goes along as a detached copy, moved into place. */
            if (!o->upper || strlen(o->upper) >= sizeof disk_path)
                failx("--mounts-of needs --overlay");
            strcpy(disk_path, o->upper);
            char *slash = strrchr(disk_path, '/');
            if (!slash || slash == disk_path)
                failx("--overlay's upper layer must be a folder of the writable layer's mount");
            *slash = 0;
            disk = (int)syscall(SYS_open_tree, AT_FDCWD, disk_path, KS_OPEN_TREE_CLONE | O_CLOEXEC);
            if (disk < 0)
                fail("open_tree(the check's writable layer)");
            if (setns(o->mounts_of, CLONE_NEWNS) < 0)
                fail("setns(the learner sandbox's mount namespace)");
            close(o->mounts_of);
        }
        if (unshare(CLONE_NEWNS) < 0)
            fail("unshare(CLONE_NEWNS)");
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            fail("making the sandbox's mount namespace private");
        if (disk >= 0) {
            if (syscall(SYS_move_mount, disk, "", AT_FDCWD, disk_path, KS_MOVE_MOUNT_F_EMPTY_PATH) < 0)
                fail("move_mount(the check's writable layer)");
            close(disk);
        }
    }
    int go[2];
    if (pipe2(go, O_CLOEXEC) < 0)
        fail("pipe");
    pid_t self = getpid();
    pid_t writer = fork();
    if (writer < 0)
        fail("fork");
    if (writer == 0) {
        close(go[1]);
        map_writer(self, o, go[0]);
    }
    close(go[0]);
    /* Become the slot's host uid before making the namespace: the namespace's owner is then that
     * uid, and everything its processes are charged for per user is charged to it, not to root. */
    become(o->uid_base, o->uid_base);
    if (lab_userns >= 0) {
        /* A machine of a lab: the lab's namespace, owned by this same uid (so this uid may join it
         * without any host capability), where the lab's switch network lives too. */
        if (setns(lab_userns, CLONE_NEWUSER) < 0)
            fail("setns(the lab's user namespace)");
        close(lab_userns);
    } else if (unshare(CLONE_NEWUSER) < 0)
        fail("unshare(CLONE_NEWUSER)");
    if (write(go[1], "u", 1) != 1)
        fail("signalling the map writer");
    close(go[1]);
    int status = 0;
    while (waitpid(writer, &status, 0) < 0)
        if (errno != EINTR)
            fail("waitpid(map writer)");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        _exit(125); /* the writer reported why on the error pipe */
    become(0, 0);
    if (o->inotify_instances >= 0) {
        /* The namespace's own limits (user.max_inotify_*, read by the kernel per user namespace):
         * one learner cannot take the host's. */
        char value[32];
        snprintf(value, sizeof value, "%ld", o->inotify_instances);
        write_file("/proc/sys/user/max_inotify_instances", value);
        snprintf(value, sizeof value, "%ld", o->inotify_watches);
        write_file("/proc/sys/user/max_inotify_watches", value);
    }
    execv(o->target[0], o->target);
    fail(o->target[0]);
}

/* ---------------------------------------------------------------------------------------------- */
/* lab                                                                                              */

/* The namespaces a lab of several machines shares: a user namespace owned by the lab's slot uid and
 * mapped to its slot (every machine of the lab joins it: `create --userns`), and in it the network
 * namespace of the lab's switch, where the backend then puts a bridge and one veth per machine. Both
 * are kept alive by bind mounts the host-root writer makes on two files of the lab's folder, not by
 * a process: nothing runs in the lab's namespaces until its machines start, and unmounting the two
 * files (destroy) frees them once the machines are gone. No object in the lab belongs to host root:
 * the switch's network namespace is owned by the lab's user namespace, like the machines' own. */
static int do_lab(struct options *o) {
    if (!o->target || !o->target[0] || !o->target[1] || o->uid_base <= 0 || o->uid_count <= 0)
        failx("lab needs --uid-base, --uid-count and two files: -- USERNS_FILE NETNS_FILE");
    int go[2], done[2];
    if (pipe2(go, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0)
        fail("pipe");
    pid_t self = getpid();
    pid_t writer = fork();
    if (writer < 0)
        fail("fork");
    if (writer == 0) {
        close(go[1]);
        close(done[0]);
        char byte, path[64], map[96];
        if (read(go[0], &byte, 1) != 1)
            failx("the lab's first process died before unsharing its user namespace");
        snprintf(map, sizeof map, "0 %ld %ld\n", o->uid_base, o->uid_count);
        snprintf(path, sizeof path, "/proc/%d/uid_map", (int)self);
        write_file(path, map);
        snprintf(path, sizeof path, "/proc/%d/gid_map", (int)self);
        write_file(path, map);
        if (write(done[1], "m", 1) != 1)
            fail("signalling the lab's process");
        if (read(go[0], &byte, 1) != 1)
            failx("the lab's first process died before unsharing its network namespace");
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)self);
        if (mount(path, o->target[0], NULL, MS_BIND, NULL) < 0)
            fail("binding the lab's user namespace");
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int)self);
        if (mount(path, o->target[1], NULL, MS_BIND, NULL) < 0)
            fail("binding the lab's network namespace");
        _exit(0);
    }
    close(go[0]);
    close(done[1]);
    become(o->uid_base, o->uid_base);
    if (unshare(CLONE_NEWUSER) < 0)
        fail("unshare(CLONE_NEWUSER)");
    char byte;
    if (write(go[1], "u", 1) != 1 || read(done[0], &byte, 1) != 1)
        failx("the map writer failed");
    become(0, 0);
    if (o->inotify_instances >= 0) {
        char value[32];
        snprintf(value, sizeof value, "%ld", o->inotify_instances);
        write_file("/proc/sys/user/max_inotify_instances", value);
        snprintf(value, sizeof value, "%ld", o->inotify_watches);
        write_file("/proc/sys/user/max_inotify_watches", value);
    }
    if (unshare(CLONE_NEWNET) < 0)
        fail("unshare(CLONE_NEWNET)");
    if (write(go[1], "n", 1) != 1)
        fail("signalling the map writer");
    close(go[1]);
    int status = 0;
    while (waitpid(writer, &status, 0) < 0)
        if (errno != EINTR)
            fail("waitpid(map writer)");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}

/* Read-only /proc/sys, /proc/sysrq-trigger, /proc/irq and /proc/bus, as bwrap means to make them:
 * bwrap skips them when, as here, it runs as the root of a user namespace that does not own procfs's
 * inodes (it takes the EACCES of its probe for "already read-only"), which left the sandbox's root
 * its network namespace's sysctls and its user namespace's own limits (user.max_inotify_*). */
static void cover_proc(void) {
    /* Each step is skipped when already done: a spawner that a learner with sudo kills is started
     * again in the same mount namespace, and every restart would otherwise stack more mounts. */
    static const char *covered[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"};
    struct ks_mount_attr read_only = {KS_MOUNT_ATTR_RDONLY, 0, 0, 0};
    for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++) {
        struct stat info;
        struct statvfs mounted;
        if (stat(covered[i], &info) < 0)
            continue;
        if (statvfs(covered[i], &mounted) == 0 && (mounted.f_flag & ST_RDONLY))
            continue;
        if (mount(covered[i], covered[i], NULL, MS_BIND | MS_REC, NULL) < 0)
            fail(covered[i]);
        if (syscall(SYS_mount_setattr, AT_FDCWD, covered[i], KS_AT_RECURSIVE, &read_only, sizeof read_only) < 0)
            fail(covered[i]);
    }
    /* What describes the host and no lab needs, masked as Docker masks /proc: the host's boot
     * parameters (paths and ports of the machine's own agents), its kernel's build configuration and
     * symbol list (addresses are hidden already; names and options still guide a kernel exploit). */
    static const char *masked[] = {"/proc/cmdline", "/proc/config.gz", "/proc/kallsyms", "/proc/acpi"};
    for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++) {
        struct stat info;
        struct statfs filesystem;
        if (stat(masked[i], &info) < 0 || S_ISCHR(info.st_mode)) /* absent, or /dev/null already */
            continue;
        if (S_ISDIR(info.st_mode) && statfs(masked[i], &filesystem) == 0 && filesystem.f_type == 0x01021994)
            continue; /* an empty tmpfs already (TMPFS_MAGIC) */
        if (S_ISDIR(info.st_mode)) {
            if (mount("none", masked[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,nr_inodes=1,mode=0555") < 0)
                fail(masked[i]);
        } else {
            if (mount("/dev/null", masked[i], NULL, MS_BIND, NULL) < 0 ||
                syscall(SYS_mount_setattr, AT_FDCWD, masked[i], 0, &read_only, sizeof read_only) < 0)
                fail(masked[i]);
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* the spawner                                                                                      */

#define SPAWN_MAGIC 0x4b465350u /* "KFSP" */
#define SPAWN_NNP 1u
#define SPAWN_CTTY 2u
#define SPAWN_ONE_FD 4u /* one descriptor (a terminal) for 0, 1 and 2 */
#define REPLY_STARTED 1u
#define REPLY_EXITED 2u
#define REPLY_ERROR 3u
#define CONTROL_SIGNAL 1u
#define MAX_REQUEST 65536
#define MAX_CONNECTIONS 256
#define MAX_STRINGS 4096

struct spawn_request {
    uint32_t magic, version, uid, gid, flags;
    int32_t cpu_soft, cpu_hard;
    uint32_t argc, envc, strings_length;
};
struct spawn_reply {
    uint32_t type;
    int32_t value;
};
struct spawn_control {
    uint32_t type;
    int32_t value;
};

struct connection {
    int fd;
    pid_t pid; /* 0: waiting for its request */
};

static struct connection connections[MAX_CONNECTIONS];
static int nconnections;

static void send_reply(int fd, uint32_t type, int32_t value) {
    struct spawn_reply reply = {type, value};
    (void)!send(fd, &reply, sizeof reply, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void drop(int index) {
    close(connections[index].fd);
    connections[index] = connections[--nconnections];
}

/* In the spawner's child: place the received descriptors on 0, 1, 2 (and 3), take the user and
 * limits of the request, and execute its target, resolved inside the sandbox. */
static void spawn_child(const struct spawn_request *request, int *fds, int nfds, char **argv, char **envp) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    /* Above every descriptor we may receive, then down to their places. */
    int high[4];
    for (int i = 0; i < nfds; i++) {
        high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64);
        if (high[i] < 0)
            _exit(126);
    }
    for (int i = 0; i < 3; i++) {
        int source = (request->flags & SPAWN_ONE_FD) ? high[0] : high[i];
        if (dup2(source, i) < 0)
            _exit(126);
    }
    if (!(request->flags & SPAWN_ONE_FD) && nfds == 4 && dup2(high[3], 3) < 0)
        _exit(126);
    syscall(SYS_close_range, (request->flags & SPAWN_ONE_FD) || nfds < 4 ? 3 : 4, ~0U, 0);
    error_fd = 2;
    if (setsid() < 0)
        fail("setsid");
    if ((request->flags & SPAWN_CTTY) && ioctl(0, TIOCSCTTY, 0) < 0)
        fail("TIOCSCTTY");
    int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj >= 0) {
        (void)!write(adj, "0", 1); /* the spawner is protected from the OOM killer; its children are not */
        close(adj);
    }
    set_limits(request->cpu_soft, request->cpu_hard);
    if ((request->flags & SPAWN_NNP) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        fail("PR_SET_NO_NEW_PRIVS");
    become(request->uid, request->gid);
    execve(argv[0], argv, envp);
    fail(argv[0]);
}

static int accept_request(int index) {
    static char buffer[MAX_REQUEST];
    union {
        char space[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } control;
    struct iovec vector = {buffer, sizeof buffer};
    struct msghdr message = {0};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    int fd = connections[index].fd;
    ssize_t got = recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (got < 0)
        return -1; /* nothing was received: the control buffer holds no descriptors to read */
    int fds[4], nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < count; i++) {
                int received;
                memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (nfds < 4)
                    fds[nfds++] = received;
                else
                    close(received);
            }
        }
    }
    struct spawn_request request;
    int valid = got >= (ssize_t)sizeof request && !(message.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
    if (valid) {
        memcpy(&request, buffer, sizeof request);
        /* each count on its own first: argc + envc in 32 bits wraps (0xffffffff + 2 == 1) */
        valid = request.magic == SPAWN_MAGIC && request.version == PROTOCOL && request.argc >= 1 &&
                request.argc < MAX_STRINGS && request.envc < MAX_STRINGS && request.argc + request.envc < MAX_STRINGS &&
                request.strings_length == (uint32_t)(got - (ssize_t)sizeof request) &&
                nfds >= ((request.flags & SPAWN_ONE_FD) ? 1 : 3) && request.uid < 65536 && request.gid < 65536;
    }
    static char *strings[MAX_STRINGS + 2];
    if (valid) {
        char *cursor = buffer + sizeof request, *end = buffer + got;
        uint32_t wanted = request.argc + request.envc;
        for (uint32_t i = 0; i < wanted && valid; i++) {
            char *nul = memchr(cursor, 0, (size_t)(end - cursor));
            if (!nul) {
                valid = 0;
                break;
            }
            strings[i + (i >= request.argc ? 1 : 0)] = cursor;
            cursor = nul + 1;
        }
        strings[request.argc] = NULL;
        strings[request.argc + 1 + request.envc] = NULL;
        /* every byte accounted for: a NUL inside a string would shift the rest (an argument turned
         * into an environment variable); the host refuses those, and so does this side */
        valid = valid && cursor == end && strings[0][0] == '/';
    }
    if (!valid) {
        send_reply(fd, REPLY_ERROR, EINVAL);
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        spawn_child(&request, fds, nfds, strings, strings + request.argc + 1);
    }
    int saved = errno;
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (pid < 0) {
        send_reply(fd, REPLY_ERROR, saved);
        return -1;
    }
    connections[index].pid = pid;
    send_reply(fd, REPLY_STARTED, pid);
    return 0;
}

static void spawner(int listen_fd) __attribute__((noreturn));
static void spawner(int listen_fd) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int children = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (children < 0)
        fail("signalfd");
    set_cloexec(listen_fd);
    struct pollfd polled[MAX_CONNECTIONS + 2];
    for (;;) {
        polled[0].fd = listen_fd;
        polled[0].events = nconnections < MAX_CONNECTIONS ? POLLIN : 0;
        polled[1].fd = children;
        polled[1].events = POLLIN;
        for (int i = 0; i < nconnections; i++) {
            polled[2 + i].fd = connections[i].fd;
            polled[2 + i].events = POLLIN;
        }
        int count = nconnections;
        if (poll(polled, (nfds_t)(2 + count), -1) < 0) {
            if (errno == EINTR)
                continue;
            fail("poll");
        }
        if (polled[1].revents) {
            struct signalfd_siginfo info;
            while (read(children, &info, sizeof info) == sizeof info) {
            }
            int status;
            pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                for (int i = 0; i < nconnections; i++) {
                    if (connections[i].pid == pid) {
                        send_reply(connections[i].fd, REPLY_EXITED, status);
                        drop(i);
                        break;
                    }
                }
            }
        }
        /* connections, from the last so drop() (which moves the last into the gap) is safe */
        for (int i = count - 1; i >= 0; i--) {
            if (i >= nconnections || polled[2 + i].fd != connections[i].fd || !polled[2 + i].revents)
                continue;
            if (connections[i].pid == 0) {
                if (accept_request(i) < 0)
                    drop(i);
                continue;
            }
            struct spawn_control control;
            ssize_t got = recv(connections[i].fd, &control, sizeof control, MSG_DONTWAIT);
            if (got == (ssize_t)sizeof control && control.type == CONTROL_SIGNAL && control.value > 0 &&
                control.value < NSIG) {
                kill(-connections[i].pid, control.value);
            } else if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                /* The host side went away while the process runs: end its process group. */
                kill(-connections[i].pid, SIGKILL);
                drop(i);
            }
        }
        if (polled[0].revents & POLLIN) {
            int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd >= 0) {
                connections[nconnections].fd = fd;
                connections[nconnections].pid = 0;
                nconnections++;
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* enter                                                                                            */

static volatile pid_t relay_to = 0;

static void relay(int sig) {
    if (relay_to > 0)
        kill(relay_to, sig);
}

static int do_enter(struct options *o) {
    if (o->pidfd < 0 || o->rootfd < 0 || o->seccomp_fd < 0 || o->uid < 0 || o->gid < 0)
        failx("enter needs --pidfd, --root, --seccomp, --uid and --gid");
    if (o->spawner_fd < 0 && (!o->target || o->target[0][0] != '/'))
        failx("enter needs an absolute target path after --");
    struct ks_sock_fprog filter = read_filter(o->seccomp_fd);
    if (o->oom_protect) {
        /* Best effort: lowering it needs CAP_SYS_RESOURCE, which some hosts withhold even from root.
         * Without it the OOM killer may take the spawner; the backend then starts a new one. */
        int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (adj >= 0) {
            (void)!write(adj, "-1000", 5);
            close(adj);
        }
    }
    join_cgroups(o);
    /* Every namespace of the sandbox's init at once, from its pidfd: the kernel switches them
     * together, so no step runs with some namespaces of the host and some of the sandbox. */
    if (setns(o->pidfd, KS_ALL_NAMESPACES) < 0)
        fail("setns(pidfd, every namespace)");
    if (fchdir(o->rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
        fail("chroot to the sandbox's root");
    close(o->rootfd);
    close(o->pidfd);
    become(0, 0); /* the sandbox's root: the slot's host uid, never host root */
    drop_net_admin();
    pid_t child = fork();
    if (child < 0)
        fail("fork");
    if (child == 0) {
        /* in the sandbox's pid namespace from here */
        if (o->spawner_fd >= 0) {
            pid_t spawner_pid = fork(); /* detach: the sandbox's init reaps the spawner */
            if (spawner_pid < 0)
                fail("fork(spawner)");
            if (spawner_pid > 0)
                _exit(0);
            if (setsid() < 0)
                fail("setsid");
            hide_arguments("kafaat-spawner");
            if (o->remount_suid) {
                /* learner_sudo: setuid binaries work again on this sandbox's root, before the
                 * filter below forbids every mount call for good. */
                struct ks_mount_attr attr = {0, KS_MOUNT_ATTR_NOSUID, 0, 0};
                if (syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof attr) < 0)
                    fail("mount_setattr(/, clear nosuid)");
            }
            cover_proc();
            set_limits(-1, -1);
            if (o->landlock_min < 0)
                failx("the spawner needs a Landlock domain (--landlock)");
            landlock(o->landlock_min);
            load_filter(&filter);
            for (int fd = 0; fd < 3; fd++) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0 && null != fd) {
                    dup2(null, fd);
                    close(null);
                }
            }
            int keep[3] = {o->spawner_fd, o->ready_fd, error_fd};
            close_all_but(keep, 3);
            if (write(o->ready_fd, "R", 1) != 1)
                fail("signalling ready");
            close(o->ready_fd);
            close(error_fd);
            error_fd = 2;
            spawner(o->spawner_fd);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (o->ctty) {
            if (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0)
                fail("controlling terminal");
        }
        set_limits(o->cpu_soft, o->cpu_hard);
        /* Filters first, while this process still has its capabilities in the sandbox's user
         * namespace, so they load with or without no_new_privs; then the target's ids. */
        if (o->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            fail("PR_SET_NO_NEW_PRIVS");
        if (o->landlock_min >= 0)
            landlock(o->landlock_min);
        load_filter(&filter);
        become(o->uid, o->gid);
        extern char **environ;
        execve(o->target[0], o->target, environ);
        fail(o->target[0]);
    }
    /* The parent: outside the sandbox's pid namespace, which no sandbox process can name. */
    if (error_fd != 2)
        close(error_fd);
    relay_to = child;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = relay;
    sigemptyset(&action.sa_mask);
    int relayed[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};
    for (size_t i = 0; i < sizeof relayed / sizeof relayed[0]; i++)
        sigaction(relayed[i], &action, NULL);
    int status = 0;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
            return 125;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        signal(sig, SIG_DFL);
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, sig);
        sigprocmask(SIG_UNBLOCK, &only, NULL);
        kill(getpid(), sig);
        return 128 + sig;
    }
    return 125;
}

/* ---------------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    saved_argc = argc;
    saved_argv = argv;
    if (argc >= 2 && !strcmp(argv[1], "version")) {
        printf("kafaat-sandbox %d %s\n", PROTOCOL, KAFAAT_SOURCE_HASH);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "probe")) {
        long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, KS_LANDLOCK_CREATE_RULESET_VERSION);
        printf("landlock %ld\n", abi < 0 ? 0 : abi);
        return 0;
    }
    struct options o;
    if (argc >= 2 && !strcmp(argv[1], "create")) {
        parse(argc, argv, 2, &o);
        return do_create(&o);
    }
    if (argc >= 2 && !strcmp(argv[1], "lab")) {
        parse(argc, argv, 2, &o);
        return do_lab(&o);
    }
    if (argc >= 2 && !strcmp(argv[1], "enter")) {
        parse(argc, argv, 2, &o);
        return do_enter(&o);
    }
    fprintf(stderr, "usage: kafaat-sandbox version | probe | lab OPTIONS -- USERNS NETNS | create OPTIONS -- BWRAP ARGS | enter OPTIONS -- TARGET ARGS\n");
    return 2;
}
