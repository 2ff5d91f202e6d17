"""The corpus: every attack as data (what it tries, the containment expected, what a pass proves)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xblocks.labs.sandbox.redteam.budget import check_own_budget, check_rlimits, spawner_with_sudo, stopped_spawner
from xblocks.labs.sandbox.redteam.forged import check_leftovers, check_tree_ptrace, verdict_channel
from xblocks.labs.sandbox.redteam.hangs import inside_fifo_hang, learner_config_in_checks, output_flood_verdict
from xblocks.labs.sandbox.redteam.host_exec import binfmt_mount, spawner_out_of_reach
from xblocks.labs.sandbox.redteam.host_view import image_integrity, proc_leaks
from xblocks.labs.sandbox.redteam.kernel_limits import id_ranges, inotify_per_sandbox, pipes_per_sandbox
from xblocks.labs.sandbox.redteam.lab_network import deny_rules, machines_apart, network_admin, no_net_admin, reach
from xblocks.labs.sandbox.redteam.outside import outside_special_files
from xblocks.labs.sandbox.redteam.rows import CASES
from xblocks.labs.sandbox.redteam.surface import kernel_surface
from xblocks.labs.sandbox.selftest import Context


@dataclass(frozen=True)
class Attack:
    name: str
    ref: str  # where it comes from: an abuse row, the issue section, the kernel survey
    attack: str
    containment: str
    proves: str
    run: Callable[[Context], str]
    selftest: bool = True  # in-sandbox and fast: also run by the worker's start-up self-test


# ---------------------------------------------------------------------------------------------------


def _row(name: str) -> Callable[[Context], str]:
    return next(function for case, _row, function in CASES if case == name)


ROWS = {
    "fork_bomb": ("Fork bomb under a 64-process limit", "EAGAIN at pids.max; neighbour answers"),
    "memory_hog": ("Allocate 160 MiB under 64 MiB", "only the hog is OOM-killed"),
    "cpu_quota": ("Busy loops, a check over its CPU time", "throttled; reported as cpu_exceeded"),
    "wall_timeout": ("sleep 30 under a 0.3 s limit", "killed, recorded as a timeout"),
    "daemons": ("setsid, nohup and double-forked daemons", "none survives destroy"),
    "big_file": ("64 MiB into a 16 MiB layer", "ENOSPC; host disk untouched"),
    "many_files": ("5000 files under a 2000-inode cap", "ENOSPC"),
    "egress": ("Metadata, private ranges, host ports, the internet", "nothing reachable"),
    "other_homes": ("Read a neighbour's home through host paths and /proc", "ENOENT/EACCES"),
    "host_secrets": ("Search for host secrets, settings, SECRET_KEY, resolvers", "none inside"),
    "link_tricks": ("Links planted where the engine writes and reads", "host files unchanged"),
    "proc_view": ("Read /proc for host paths and other processes", "only the sandbox's own"),
    "setuid_binaries": ("setuid-root and cap_net_raw binaries", "no privilege gained"),
    "ptrace_neighbour": ("strace the worker, a neighbour, the init", "refused"),
    "tiocsti": ("TIOCSTI plain and with high bits", "EPERM"),
    "covert_channels": ("keyrings, io_uring, vsock, image-file locks", "refused or not shared"),
    "nested_userns": ("unshare -Ur as learner and root", "refused"),
    "output_flood": ("20 MB of output", "capped at 64 KiB, flagged"),
}

CORPUS: tuple[Attack, ...] = (
    *(
        Attack(name, f"abuse row {row}", ROWS[name][0], ROWS[name][1], "the abuse row's defence holds", _row(name))
        for name, row, _function in CASES
    ),
    Attack(
        "binfmt_mount",
        "issue 9 §1",
        "A learner with sudo mounts binfmt_misc and registers a handler matching every program",
        "mount and registration refused (the whole mount family is denied after setup)",
        "the hook that ran a learner's program in the host's namespaces cannot be set from a sandbox",
        binfmt_mount,
    ),
    Attack(
        "kernel_surface",
        "issue 9 §5",
        "As the sandbox's root, reach each kernel facility a namespaced root may: mounts, nested "
        "namespaces, netlink families, socket families, keyrings, io_uring, bpf, fanotify, kcmp, "
        "pidfd_getfd, personality, line disciplines, /proc/sys, devices, core dumps",
        "each refused (or, for what labs need: routes, ss, unix/IP sockets, gdb's personality, allowed)",
        "the seccomp filter and the read-only /proc/sys are in effect on this host",
        kernel_surface,
    ),
    Attack(
        "verdict_channel",
        "issue 9 §2",
        "A learner process started before a check waits for it, then drains its descriptors, reads its "
        "environment and memory, takes its descriptors, signals it, sets its resource limits (prlimit), has "
        "the kernel send its child SIGKILL (F_SETOWN and F_SETSIG on a socket), kills its child and ptraces "
        "it to rewrite its exit status",
        "every attempt refused (Landlock: the learner's domain cannot reach the check, signal scoping covers "
        "SIGIO; the filter refuses prlimit on another process); the check fails as written and its script "
        "never reaches the learner",
        "the checker's identity holds: learner processes cannot read or forge a check",
        verdict_channel,
    ),
    Attack(
        "check_tree_ptrace",
        "issue 9 §2",
        "A program a check runs (as a check may run learner code) ptraces the check or reads it with process_vm_readv",
        "EPERM from the check's seccomp filter",
        "the check's own tree cannot trace the check",
        check_tree_ptrace,
    ),
    Attack(
        "check_leftovers",
        "issue 9 §2",
        "A check starts daemons (setsid, nohup, double fork), as learner code a check runs could, to "
        "wait outside the learner's domain for a later check",
        "every process of the check is killed with its cgroup when it returns",
        "nothing outside the learner's domain outlives the check that started it",
        check_leftovers,
    ),
    Attack(
        "spawner_out_of_reach",
        "issue 9 §2",
        "The learner looks for the spawner's socket and any root process's descriptors",
        "nothing found",
        "the channel that starts learner-side processes is the host's alone",
        spawner_out_of_reach,
    ),
    Attack(
        "id_ranges",
        "issue 9 §3",
        "Two learners' sandboxes side by side",
        "each maps to its own host id range and its user namespace is owned by that range, not root",
        "per-user kernel accounting is per sandbox on this host",
        id_ranges,
    ),
    Attack(
        "inotify_per_sandbox",
        "issue 9 §3",
        "A learner opens inotify instances until refused",
        "the neighbour's tail -f and inotify, and host root's, still work",
        "inotify instances are charged to the sandbox's own range",
        inotify_per_sandbox,
    ),
    Attack(
        "check_rlimits",
        "red team",
        "A learner process started before a check sets the check's RLIMIT_NOFILE to 4 with prlimit(2) as soon as "
        "it runs as the learner (same uid, all prlimit asks; Landlock does not cover it): the command "
        'substitution in [ -z "$(find ...)" ] gets no pipe and the check passed 2 times in 10 before',
        "prlimit64 on another process with a new limit is refused by the seccomp filter (reading and one's own "
        "limits stay allowed); the check fails as written",
        "a learner cannot choose the resource limits a check runs with",
        check_rlimits,
    ),
    Attack(
        "check_own_budget",
        "red team",
        "In a 96 MiB, 40-process sandbox the learner fills the writable layer to 56 MiB, holds every process slot "
        "left, raises the oom_score_adj of the check's child to 1000 (theirs to raise: same uid) and fills the "
        "rest of the memory: before, the OOM killer took the check's child and a check that fails unless its "
        "child is killed passed; with no slot left the check could not even start",
        "a check runs in a cgroup beside the sandbox's, with the lab's limits as a budget of its own: the OOM "
        "kill happens in the sandbox, the check's child runs to its end, the check fails as written",
        "nothing the learner does to the sandbox's memory, processes or CPU decides which of a check's commands fail",
        check_own_budget,
    ),
    Attack(
        "spawner_with_sudo",
        "red team",
        "As the sandbox's root (a learner with sudo), reach the spawner: ptrace it, list its descriptors, read its "
        "memory, environment and executable, set its limits, take a descriptor with pidfd_getfd",
        "each refused: the spawner is not dumpable (its /proc entries are host root's), prlimit and pidfd_getfd "
        "are filtered",
        "the channel that starts learner-side processes cannot be taken over from inside, even by the sandbox's root",
        spawner_with_sudo,
    ),
    Attack(
        "stopped_spawner",
        "red team",
        "A learner with sudo stops the spawner with SIGSTOP: every later terminal, exec and file placement waited "
        "the full 10 s and failed, holding a gateway thread each time (six of them stop every terminal of the host)",
        "while the spawner does not answer, the host looks at it every 0.2 s; a stopped one (told apart by its "
        "executable, the helper, which nothing in a sandbox can be) is killed and replaced",
        "a learner can stop only their own spawner, and only for a moment",
        stopped_spawner,
        selftest=False,
    ),
    Attack(
        "outside_special_files",
        "red team",
        "A learner with sudo leaves a FIFO fed by a loop, a unix socket with a server, a 1 TiB sparse file and a "
        "setuid-root program in their home, then an outside check reads, connects to, hashes and runs them: "
        "before, /lab was a bind of the learner's live mount and the checker read the learner program's "
        "answers from both the FIFO and the socket",
        "/lab is an overlay of its own over the learner's writable layer: its FIFO has no writer (the read times "
        "out), its socket no listener (refused); the sparse file only times out; nosuid and noexec hold",
        "what an outside check reads under /lab is the learner's files, never a learner program's answer",
        outside_special_files,
    ),
    Attack(
        "proc_leaks",
        "red team",
        "Read what /proc tells about the host: its kernel command line (paths and ports of the machine's own "
        "agents here), kernel configuration and symbols, ACPI tables, pid levels; and a check's cgroup and mounts",
        "masked (empty) or relative: nothing names a host path, the host's cgroup tree or a host pid",
        "a sandbox learns nothing of the host beyond the kernel version and shared counters (load, memory, PSI)",
        proc_leaks,
    ),
    Attack(
        "image_integrity",
        "red team",
        "As the sandbox's root, write to the shared image through the overlay: append to a program, write "
        "through a hard link and a shared mmap, chmod, chown and touch, setcap, set overlay xattrs",
        "every change lands in the sandbox's own writable layer (copy-up); the image's files on the host keep "
        "their content, mode, owner, times and xattrs",
        "one learner cannot change the image every other sandbox is made from",
        image_integrity,
    ),
    Attack(
        "inside_fifo_hang",
        "red team",
        "The learner replaces a file an inside check reads with a FIFO, so the check hangs",
        "the wall timeout ends it; a timed-out check never passes and counts as an attempt",
        "making a check hang cannot turn it into a pass",
        inside_fifo_hang,
        selftest=False,
    ),
    Attack(
        "output_flood_verdict",
        "red team",
        "A check prints a 1 MB learner file before its FAIL line, to push the FAIL out of the captured output",
        "the output is cut at the cap and flagged; the verdict is the exit status, which output cannot change",
        "flooding a check's output changes its feedback, never its verdict",
        output_flood_verdict,
        selftest=False,
    ),
    Attack(
        "learner_config_in_checks",
        "red team",
        "A learner writes 'exit 0' into ~/.bashrc, ~/.profile and kin, plants a .pth file in their user "
        "site-packages and a json.py in their home, and a git core.fsmonitor command in ~/.gitconfig; then "
        "checks run bash, python3 (as the learner, and as root from the learner's folder) and git status",
        "the shell reads none of the start-up files (--noprofile --norc, no BASH_ENV: the environment is the "
        "platform's); python3 and git run the learner's code, the documented limit of a check that runs, as "
        "the learner, a program the learner configures; python3 -I and git -c core.fsmonitor=false do not",
        "what a check runs by itself is the platform's, and the authoring guide's ways out hold",
        learner_config_in_checks,
        selftest=False,
    ),
    Attack(
        "pipes_per_sandbox",
        "issue 9 §3",
        "A learner holds 1,200 pipes (past pipe-user-pages-soft)",
        "a neighbour's new pipe still gets 64 KiB",
        "pipe buffers are charged to the sandbox's own host uid",
        pipes_per_sandbox,
    ),
    Attack(
        "no_net_admin",
        "issue 13 §1",
        "As sudo root, as the sandbox's root and in a check, read the capability bounding set",
        "CAP_NET_ADMIN is not in it: no process that enters a sandbox can hold it, through sudo, a "
        "setuid or a file-capability program",
        "no learner can change a network's links, addresses, routes or reach nf_tables (checked at start-up)",
        no_net_admin,
    ),
    Attack(
        "lab_network_reach",
        "issue 13 §1",
        "From a machine of a three-machine lab, connect to its own lab's db by name, to another lab's db "
        "(which has the same address), to a real service on the host's loopback and on every host address, "
        "and to the cloud metadata address",
        "only the own lab's db answers; the rest is refused or unreachable (no route leaves the lab's subnet)",
        "a lab's network holds its own machines and nothing else",
        reach,
        selftest=False,
    ),
    Attack(
        "lab_network_admin",
        "issue 13 §1",
        "As sudo root and as the machine's root: take eth0 down, change its MAC, add an address, a default "
        "route, a dummy or veth link, a static neighbour, list nftables, unshare a network namespace, "
        "turn on forwarding",
        "every one refused: CAP_NET_ADMIN is out of the bounding set of every process that enters a "
        "sandbox, and the switch, where the bridge and the rules are, has no process of the lab in it",
        "no learner ever holds network-admin capability over a lab's network (nf_tables from a user "
        "namespace is a known way to host root)",
        network_admin,
        selftest=False,
    ),
    Attack(
        "lab_deny_rules",
        "issue 13 §1",
        'With <deny from="attacker" to="db"/>, the attacker connects to db by name and by address and pings it',
        "nothing reaches db from the attacker (the switch's bridge drops the frames between the two ports); "
        "portal still reaches db",
        "the platform's rules between machines hold, out of the learner's reach",
        deny_rules,
        selftest=False,
    ),
    Attack(
        "lab_machines_apart",
        "issue 13 §1",
        "The machines of a lab share one user namespace and host ids: as sudo root on portal, look for "
        "db's processes, read its /tmp, connect to an abstract unix socket db listens on",
        "nothing of db is visible: each machine has its own pid, mount, network and ipc namespaces",
        "sharing a user namespace (needed for the network) does not join the machines",
        machines_apart,
        selftest=False,
    ),
)


def by_name(name: str) -> Attack:
    return next(attack for attack in CORPUS if attack.name == name)
