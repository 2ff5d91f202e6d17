"""The local backend: sandboxes on this machine from Linux namespaces, an overlay root and cgroups.

How one sandbox is made (see docs/sandbox.md for the why of each step):

1. Host root mounts a size- and inode-capped tmpfs and an overlay (the image read-only below, the
   tmpfs above) under ``SANDBOX_ROOT/<id>``, ``nosuid,nodev``, and creates the sandbox's cgroups.
2. A process joins those cgroups, then util-linux ``unshare`` makes a user namespace whose root and
   learner map to the subordinate range (host uid ``SANDBOX_UID_BASE`` + inside uid), never to host
   root, and runs bubblewrap as that namespace's root. bwrap makes the pid, net (loopback only),
   mount, uts, ipc and cgroup namespaces, a new session, a fresh /proc and /dev, clears the
   environment, drops every capability, sets no_new_privs, loads the seccomp filter and runs
   ``sleep infinity`` under its own pid-1 reaper.
3. ``exec`` and ``open_pty`` start ``nsenter`` into that init's namespaces after joining the cgroups
   and loading the same seccomp filter; the script arrives on a pipe, never as a file.

The sandbox is deliberately not tied to the process that created it: a Celery task creates it, the
terminal gateway opens shells in it, a later task destroys it, so everything needed is in the
JSON handle. ``destroy`` (or the reconciler, through ``inventory``) is what ends it.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import json
import logging
import math
import os
import pathlib
import re
import secrets
import selectors
import shutil
import signal
import stat
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from xblocks.labs.sandbox import cgroups, images, seccomp
from xblocks.labs.sandbox.base import (
    BackendUnavailable,
    ExecResult,
    ImageNotFound,
    Limits,
    SandboxError,
    SandboxHandle,
    SandboxNotFound,
    SandboxSpec,
    User,
)

log = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
LEARNER_UID = 1000
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HANDLE_FILE = "handle.json"
# Ceiling for /dev/shm, which lives in memory like the writable layer but outside its size cap.
SHM_BYTES = 64 * 1024 * 1024
READY_TIMEOUT = 10.0
# How a run ends when a process hits RLIMIT_CPU: bash itself killed by SIGXCPU (nsenter re-raises
# it), or a child killed by SIGXCPU or, past the hard limit, SIGKILL (bash exits 128 + signal).
CPU_LIMIT_CODES = (-signal.SIGXCPU, 128 + signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGKILL)
PUT_FILE_SCRIPT = """set -e
umask 077
dir=$(dirname -- "$1")
mkdir -p -- "$dir"
tmp=$(mktemp -- "$dir/.kafaat-put.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
chmod "$2" -- "$tmp"
mv -fT -- "$tmp" "$1"
trap - EXIT
"""
SUDO_SETUP = """set -e
mount -o remount,bind,suid,nodev /
printf 'learner ALL=(ALL:ALL) NOPASSWD: ALL\\n' > /etc/sudoers.d/kafaat-learner
chmod 0440 /etc/sudoers.d/kafaat-learner
"""

MS_NOSUID, MS_NODEV = 0x2, 0x4
MNT_DETACH = 0x2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
CLONE_NEWUSER = 0x10000000
_libc.syscall.restype = ctypes.c_long
SYS_OPENAT2 = 437  # the same number on x86-64 and arm64
RESOLVE_NO_MAGICLINKS, RESOLVE_IN_ROOT = 0x02, 0x10
TIOCSPTLCK, TIOCGPTPEER = 0x40045431, 0x5441
TTY_GID = 5  # Debian's tty group


def _mount(source: str, target: pathlib.Path, fstype: str, flags: int, data: str) -> None:
    if _libc.mount(source.encode(), str(target).encode(), fstype.encode(), flags, data.encode()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {fstype} on {target}: {os.strerror(code)}")


def _umount(target: pathlib.Path) -> None:
    if _libc.umount2(str(target).encode(), 0) == 0:
        return
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOENT):  # not a mount point (any more)
        return
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise OSError(code, f"umount {target}: {os.strerror(code)}")


def _start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat, to tell a live sandbox from a recycled pid; None for gone or zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _mounted_under(prefix: pathlib.Path) -> list[pathlib.Path]:
    text = str(prefix).rstrip("/")
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            point = line.split()[4].replace("\\040", " ")
            if point == text or point.startswith(text + "/"):
                found.append(pathlib.Path(point))
    return sorted(found, key=lambda p: len(str(p)), reverse=True)


class _Entry:
    """What a child does between fork and exec, prepared in the parent.

    Join the sandbox's cgroups (as host root, who owns the cgroup files), take the controlling
    terminal, then enter the sandbox's user namespace and become its root there (host uid
    ``SANDBOX_UID_BASE``) *before* exec: nsenter then runs unprivileged on the host, so no process
    that ever joins the sandbox, not even the launcher for the moment between its fork and setuid,
    is host root. Last, no_new_privs and the seccomp filter, inherited by everything it starts.
    """

    def __init__(
        self,
        procs_files: Sequence[str],
        *,
        userns_of: int = 0,
        no_new_privs: bool = True,
        controlling_tty: bool = False,
        filtered: bool = True,
    ):
        self.procs_files = [path.encode() for path in procs_files]
        self.userns = f"/proc/{userns_of}/ns/user".encode() if userns_of else b""
        self.loader = seccomp.loader() if filtered else None
        self.no_new_privs = no_new_privs
        self.controlling_tty = controlling_tty

    def __call__(self) -> None:
        # Runs in the forked child: only raw syscalls, no imports, no allocation-heavy work.
        for path in self.procs_files:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)
        if self.controlling_tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if self.userns:
            fd = os.open(self.userns, os.O_RDONLY)
            if _libc.setns(fd, CLONE_NEWUSER) != 0:
                raise OSError(ctypes.get_errno(), "setns(user) failed")
            os.close(fd)
            os.setgroups([])
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        if self.loader is not None:
            self.loader.apply(no_new_privs=self.no_new_privs)


class LocalPty:
    """A login shell on a host pseudo-terminal whose slave side lives in the sandbox (see ``PtyProcess``)."""

    def __init__(self, process: subprocess.Popen, master: int):
        self._process = process
        self._master = master
        os.set_blocking(master, False)

    def fileno(self) -> int:
        return self._master

    def read(self, size: int = 65536) -> bytes:
        """Pending output, waiting for some when none is pending yet; ``b""`` only at end of stream."""
        while self._master >= 0:
            try:
                return os.read(self._master, size)
            except BlockingIOError:
                if not self.alive():
                    return b""
                with selectors.DefaultSelector() as selector:
                    selector.register(self._master, selectors.EVENT_READ)
                    selector.select(0.5)
            except OSError as error:
                if error.errno == errno.EIO:  # the shell side is closed: end of stream
                    return b""
                raise
        return b""

    def write(self, data: bytes) -> int:
        try:
            return os.write(self._master, data)
        except BlockingIOError:
            return 0

    def resize(self, cols: int, rows: int) -> None:
        fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", max(1, rows), max(1, cols), 0, 0))

    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        if self._master >= 0:
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = -1
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGHUP)
        try:
            self._process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()


class LocalBackend:
    """Sandboxes on this host; one instance per process (``instance()``), safe to use from many threads."""

    name = "local"
    _instance: LocalBackend | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        from xblocks.labs.conf import labs_settings  # pylint: disable=import-outside-toplevel

        self.settings = labs_settings
        self._children: dict[int, subprocess.Popen] = {}
        self._children_lock = threading.Lock()

    @classmethod
    def instance(cls) -> LocalBackend:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    # -----------------------------------------------------------------------------------------------
    # paths and settings

    @property
    def root(self) -> pathlib.Path:
        path = pathlib.Path(self.settings.SANDBOX_ROOT)
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
        info = path.stat()
        if info.st_gid != self.uid_base or stat.S_IMODE(info.st_mode) != 0o710:
            # bwrap runs as the sandbox range and must reach the overlay; host users must not
            os.chown(path, 0, self.uid_base)
            os.chmod(path, 0o710)  # noqa: S103  group = the sandbox range, which bwrap runs as
        return path

    @property
    def uid_base(self) -> int:
        return int(self.settings.SANDBOX_UID_BASE)

    def _cgroups(self) -> cgroups.CgroupDriver:
        return cgroups.driver(str(self.settings.SANDBOX_CGROUP_PARENT))

    def _folder(self, handle: SandboxHandle) -> pathlib.Path:
        if handle.backend != self.name or not ID_PATTERN.match(handle.id):
            raise SandboxNotFound(f"not a local sandbox handle: {handle.id!r} ({handle.backend})")
        return self.root / handle.id

    # -----------------------------------------------------------------------------------------------
    # create

    def create(self, spec: SandboxSpec) -> SandboxHandle:
        """Create and start a sandbox; it is ready for ``exec`` and ``open_pty`` when this returns."""
        from xblocks.labs.sandbox import selftest  # pylint: disable=import-outside-toplevel

        if self.settings.SANDBOX_REQUIRE_SELFTEST and selftest.failed():
            log.error(
                "refusing to create a sandbox: the last self-test of this process failed: %s", selftest.last_summary()
            )
            raise BackendUnavailable("sandbox self-test failed on this host; lab work refused until it passes")
        if os.geteuid() != 0:
            raise BackendUnavailable("the local sandbox backend needs root (mounts, cgroups, id mapping)")
        image = images.find(spec.image)
        if not image.built:
            if not self.settings.IMAGE_AUTO_BUILD:
                raise ImageNotFound(
                    f"image {spec.image!r} ({image.hash}) is not built; run: kafaat image build {spec.image}"
                )
            log.warning("image %s is not built; building it now (slow, once)", spec.image)
            image = images.ensure(spec.image)
        if spec.network:
            log.info("local backend: network=True gives loopback only (no egress path exists on this backend)")
        sandbox_id = secrets.token_hex(8)
        folder = self.root / sandbox_id
        folder.mkdir(mode=0o710)
        os.chown(folder, 0, self.uid_base)
        os.chmod(folder, 0o710)  # noqa: S103
        started = time.monotonic()
        try:
            handle = self._start(sandbox_id, folder, spec, image)
            if spec.learner_sudo:
                self._grant_sudo(handle)
        except BaseException:
            self._teardown(sandbox_id, folder, None)
            raise
        log.info(
            "sandbox %s (%s, image %s) ready in %.0f ms",
            sandbox_id,
            spec.label,
            spec.image,
            (time.monotonic() - started) * 1000,
        )
        return handle

    def _start(self, sandbox_id: str, folder: pathlib.Path, spec: SandboxSpec, image: images.Image) -> SandboxHandle:
        limits = spec.limits
        base = self.uid_base
        disk, merged = folder / "disk", folder / "root"
        disk.mkdir()
        merged.mkdir()
        flags = MS_NODEV | (0 if spec.learner_sudo else MS_NOSUID)
        _mount(
            "tmpfs",
            disk,
            "tmpfs",
            flags,
            f"size={max(limits.disk_bytes, 1 << 20)},nr_inodes={max(limits.inodes, 64)},mode=0700",
        )
        upper, work = disk / "upper", disk / "work"
        upper.mkdir(mode=0o755)
        work.mkdir(mode=0o700)
        os.chown(upper, base, base)  # the merged root's owner: the sandbox's root, not host root
        # Layers named through /proc/self/fd so the sandbox's /proc/self/mountinfo shows no host path.
        layers = [os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for path in (image.rootfs, upper, work)]
        try:
            lower_fd, upper_fd, work_fd = (f"/proc/self/fd/{fd}" for fd in layers)
            _mount("overlay", merged, "overlay", flags, f"lowerdir={lower_fd},upperdir={upper_fd},workdir={work_fd}")
        finally:
            for fd in layers:
                os.close(fd)
        driver = self._cgroups()
        driver.create(sandbox_id, limits)

        hostname = re.sub(r"[^a-z0-9-]", "", spec.hostname.lower())[:63] or "lab"
        shm = min(SHM_BYTES, limits.disk_bytes)
        # Arguments through a pipe (--args) so the sandbox's /proc/1/cmdline shows no host path.
        args_r, args_w = os.pipe()
        status_r, status_w = os.pipe()
        ready_r, ready_w = os.pipe()
        os.fchown(ready_w, base, base)  # reopened through /proc/self/fd by the sandbox's root
        filter_r, filter_w = os.pipe()
        bwrap_args = [
            "--bind",
            str(merged),
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--perms",
            "1777",
            "--size",
            str(shm),
            "--tmpfs",
            "/dev/shm",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-ipc",
            "--unshare-cgroup",
            "--hostname",
            hostname,
            "--new-session",
            "--clearenv",
            "--setenv",
            "PATH",
            PATH,
            "--cap-drop",
            "ALL",
            "--seccomp",
            str(filter_r),
            "--json-status-fd",
            str(status_w),
            "--chdir",
            "/",
        ]
        try:
            os.write(args_w, b"\0".join(a.encode() for a in bwrap_args) + b"\0")
            os.write(filter_w, seccomp.program())
            os.close(args_w)
            os.close(filter_w)
            args_w = filter_w = -1
            process = subprocess.Popen(
                [
                    "unshare",
                    "--user",
                    f"--map-users={base},0,{self.settings.SANDBOX_UID_COUNT}",
                    f"--map-groups={base},0,{self.settings.SANDBOX_UID_COUNT}",
                    "--setuid",
                    "0",
                    "--setgid",
                    "0",
                    "--",
                    "bwrap",
                    "--args",
                    str(args_r),
                    "--",
                    # bwrap reports its pid before the mounts; this byte says the root is in place and running
                    "/bin/sh",
                    "-c",
                    f"echo >/proc/self/fd/{ready_w}; exec /bin/sleep infinity",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                close_fds=True,
                pass_fds=(status_w, ready_w, filter_r, args_r),
                start_new_session=True,
                # bwrap loads the filter itself, after making the namespaces the filter forbids
                preexec_fn=_Entry(driver.procs_files(sandbox_id), filtered=False),
            )
        finally:
            for fd in (args_w, filter_w, status_w, ready_w, filter_r, args_r):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        with self._children_lock:
            self._children[process.pid] = process
        try:
            init_pid = self._await_ready(status_r, ready_r, process)
        except BaseException:
            if process.stderr and not process.stderr.closed:
                process.stderr.close()
            raise
        finally:
            os.close(status_r)
            os.close(ready_r)
        data: dict[str, Any] = {
            "pid": init_pid,
            "start": _start_time(init_pid),
            "monitor": process.pid,
            "image": image.name,
            "image_hash": image.hash,
            "uid_base": base,
            "sudo": bool(spec.learner_sudo),
            "env": dict(spec.env),
            "limits": {
                "memory_bytes": limits.memory_bytes,
                "pids": limits.pids,
                "cpus": limits.cpus,
                "disk_bytes": limits.disk_bytes,
                "inodes": limits.inodes,
            },
            "cgroup": driver.version,
            "created": time.time(),
        }
        handle = SandboxHandle(
            id=sandbox_id, backend=self.name, host=str(self.settings.LAB_HOST), label=spec.label, data=data
        )
        (folder / HANDLE_FILE).write_text(json.dumps(handle.as_json()))
        return handle

    def _grant_sudo(self, handle: SandboxHandle) -> None:
        """Let the learner use sudo: setuid back on for this sandbox's root (bwrap binds everything nosuid)
        and a sudoers entry, both made by the sandbox's own root from inside."""
        result = self.exec(handle, SUDO_SETUP, user=User.ROOT, timeout=10)
        if not result.ok:
            raise SandboxError(f"could not enable sudo in sandbox {handle.id}: {result.stderr.strip()[-500:]}")

    def _await_ready(self, status_fd: int, ready_fd: int, process: subprocess.Popen) -> int:
        """The sandbox init's host pid (bwrap's first JSON status document), once the init runs."""
        status = b""
        ready = False
        deadline = time.monotonic() + READY_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(status_fd, selectors.EVENT_READ)
            selector.register(ready_fd, selectors.EVENT_READ)
            while not (ready and b"}" in status):
                remaining = deadline - time.monotonic()
                events = selector.select(remaining) if remaining > 0 else []
                if not events:
                    raise SandboxError("sandbox did not become ready in time")
                for key, _ in events:
                    chunk = os.read(key.fd, 4096)
                    if key.fd == status_fd:
                        status += chunk
                        if not chunk:
                            selector.unregister(status_fd)
                    elif chunk:
                        ready = True
                        selector.unregister(ready_fd)
                    else:
                        stderr = ""
                        if process.stderr:
                            stderr = process.stderr.read().decode(errors="replace")
                            process.stderr.close()
                        process.wait()
                        raise SandboxError(
                            f"sandbox failed to start (exit {process.returncode}): {stderr.strip()[-2000:]}"
                        )
        if process.stderr:
            process.stderr.close()  # later writes by bwrap get EPIPE; nothing reads them
        return int(json.loads(status.split(b"}", 1)[0] + b"}")["child-pid"])

    # -----------------------------------------------------------------------------------------------
    # entering a sandbox

    def _live(self, handle: SandboxHandle) -> tuple[int, pathlib.Path]:
        folder = self._folder(handle)
        pid = int(handle.data.get("pid", 0))
        if not pid or _start_time(pid) != handle.data.get("start") or not (folder / HANDLE_FILE).is_file():
            raise SandboxNotFound(f"sandbox {handle.id} is not running")
        return pid, folder

    def _env(
        self, handle: SandboxHandle, user: str, extra: Mapping[str, str] | None, term: str | None = None
    ) -> dict[str, str]:
        home = "/root" if user == User.ROOT else "/home/learner"
        env = {"PATH": PATH, "HOME": home, "USER": user, "LOGNAME": user, "SHELL": "/bin/bash", "LANG": "C.UTF-8"}
        env.update({str(k): str(v) for k, v in (handle.data.get("env") or {}).items()})
        env.update({str(k): str(v) for k, v in (extra or {}).items()})
        if term:
            env["TERM"] = term
        return env

    @staticmethod
    def _uid(user: str) -> int:
        if user not in (User.ROOT, User.LEARNER):
            raise ValueError(f"unknown sandbox user {user!r}")
        return 0 if user == User.ROOT else LEARNER_UID

    def _nsenter(self, pid: int, user: str) -> list[str]:
        uid = self._uid(user)
        # the user namespace is entered before exec (see _Entry); the others by nsenter
        return [
            "nsenter",
            "-t",
            str(pid),
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "-C",
            "-r",
            "-w",
            "-S",
            str(uid),
            "-G",
            str(uid),
            "--",
        ]

    def exec(
        self,
        handle: SandboxHandle,
        script: str,
        *,
        user: User | str = User.LEARNER,
        timeout: float = 30.0,
        stdin: bytes = b"",
        output_limit: int = 64 * 1024,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        cpu_seconds: float | None = None,
    ) -> ExecResult:
        """Run ``script`` with bash inside the sandbox, as ``user``, from a pipe (never a file).

        ``args`` become ``$1``...; the wall ``timeout`` kills the whole process group; output past
        ``output_limit`` bytes (stdout and stderr together) is dropped and ``truncated`` set.
        ``cpu_seconds`` sets RLIMIT_CPU with the soft limit below the hard one (as codejail does), so
        a process over it gets SIGXCPU and the run is reported as ``cpu_exceeded``, not as a timeout.
        """
        pid, _folder = self._live(handle)
        user = User(user)
        sudo = bool(handle.data.get("sudo"))
        script_r, script_w = os.pipe()
        # bash opens /dev/fd/N afresh, which checks the pipe's owner: make it the running user's
        os.fchown(script_r, self.uid_base + self._uid(user), self.uid_base + self._uid(user))
        command = [
            *self._nsenter(pid, user),
            "/bin/bash",
            "--noprofile",
            "--norc",
            "-c",
            f'{_cpu_limit(cpu_seconds)}cd "$HOME" 2>/dev/null || cd /; . /dev/fd/{script_r}',
            "bash",
            *args,
        ]
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env(handle, user, env),
                close_fds=True,
                pass_fds=(script_r,),
                start_new_session=True,
                preexec_fn=_Entry(
                    self._cgroups().procs_files(handle.id),
                    userns_of=pid,
                    no_new_privs=not (sudo and user == User.LEARNER),
                ),
            )
        finally:
            os.close(script_r)
        result = _collect(process, script_w, script.encode(), stdin, timeout, output_limit, started)
        if cpu_seconds is not None and not result.timed_out and process.returncode in CPU_LIMIT_CODES:
            result = dataclasses.replace(result, cpu_exceeded=True)
        return result

    def put_file(
        self, handle: SandboxHandle, path: str, content: bytes, *, user: User | str = User.LEARNER, mode: int = 0o644
    ) -> None:
        """Write a file inside the sandbox as ``user`` (who then owns it), from inside the sandbox.

        The content goes to a new temporary name in the target folder, then replaces the path with
        ``mv -T``: a link the learner planted at the path is replaced, never followed.
        """
        result = self.exec(
            handle,
            PUT_FILE_SCRIPT,
            user=user,
            stdin=content,
            args=(path, f"{mode:o}"),
            timeout=30.0,
        )
        if not result.ok:
            raise SandboxError(f"could not write {path} in sandbox {handle.id}: {result.stderr.strip()[:500]}")

    def read_file(
        self, handle: SandboxHandle, path: str, *, user: User | str = User.LEARNER, limit: int = 1024 * 1024
    ) -> ExecResult:
        """A file's content as the sandbox's ``user`` sees it (a planted link cannot point out of the sandbox)."""
        return self.exec(handle, 'cat -- "$1"', user=user, args=(path,), output_limit=limit, timeout=30.0)

    def open_pty(
        self, handle: SandboxHandle, *, cols: int = 80, rows: int = 24, user: User | str = User.LEARNER
    ) -> LocalPty:
        """A login shell in the sandbox on a new pseudo-terminal; closing it leaves the sandbox running."""
        pid, _folder = self._live(handle)
        user = User(user)
        sudo = bool(handle.data.get("sudo"))
        master, slave = _sandbox_pty(pid, self.uid_base + self._uid(user), self.uid_base + TTY_GID)
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", max(1, rows), max(1, cols), 0, 0))
            process = subprocess.Popen(
                [*self._nsenter(pid, user), "/bin/bash", "-c", 'cd "$HOME" 2>/dev/null; exec -a -bash /bin/bash'],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=self._env(handle, user, None, term="xterm-256color"),
                close_fds=True,
                start_new_session=True,
                preexec_fn=_Entry(
                    self._cgroups().procs_files(handle.id),
                    userns_of=pid,
                    no_new_privs=not (sudo and user == User.LEARNER),
                    controlling_tty=True,
                ),
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        return LocalPty(process, master)

    # -----------------------------------------------------------------------------------------------
    # observing and ending

    def alive(self, handle: SandboxHandle) -> bool:
        try:
            self._live(handle)
        except SandboxNotFound:
            return False
        return True

    def usage(self, handle: SandboxHandle) -> cgroups.Usage:
        """Memory, OOM kills, processes and CPU throttling of a sandbox, from its cgroup."""
        self._folder(handle)
        return self._cgroups().usage(handle.id)

    def inventory(self) -> list[SandboxHandle]:
        """Every sandbox folder on this host (live or half-torn-down), for the reconciler."""
        found = []
        if not pathlib.Path(self.settings.SANDBOX_ROOT).is_dir():
            return found
        for folder in sorted(self.root.iterdir()):
            if not ID_PATTERN.match(folder.name):
                continue
            try:
                found.append(SandboxHandle.from_json(json.loads((folder / HANDLE_FILE).read_text())))
            except (OSError, ValueError, KeyError):
                # a sandbox that died while being created: still reported, so it gets destroyed
                found.append(SandboxHandle(id=folder.name, backend=self.name, host=str(self.settings.LAB_HOST)))
        return found

    def destroy(self, handle: SandboxHandle) -> None:
        """Kill every process, unmount, remove the cgroups and the folder. Idempotent."""
        folder = self._folder(handle)
        pid = int(handle.data.get("pid") or 0)
        self._teardown(handle.id, folder, (pid, handle.data.get("start"), handle.data.get("monitor")) if pid else None)

    def _teardown(self, sandbox_id: str, folder: pathlib.Path, init: tuple[int, Any] | None) -> None:
        driver = self._cgroups()
        # Killing the pid-1 init makes the kernel kill the whole pid namespace; the cgroup sweep then
        # catches what lives outside it (bwrap's monitor, nsenter parents).
        if init and _start_time(init[0]) == init[1]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(init[0], signal.SIGKILL)
            # let bwrap's monitor collect its child before the sweep kills it, or the init would
            # be left to the host's pid 1 as a zombie
            self._await_monitor(int(init[2] or 0))
        if driver.exists(sandbox_id) and not driver.kill(sandbox_id):
            log.error("sandbox %s: processes survive SIGKILL; left for the reconciler", sandbox_id)
        if init:
            self._await_monitor(int(init[2] or 0), timeout=2.0)
        self._reap()
        for point in _mounted_under(folder):
            _umount(point)
        driver.remove(sandbox_id)
        if folder.exists():
            for leftover in _mounted_under(folder):
                raise SandboxError(f"sandbox {sandbox_id}: {leftover} is still mounted; not removing the folder")
            shutil.rmtree(folder, ignore_errors=True)  # a concurrent destroy may be removing it too

    def _await_monitor(self, pid: int, timeout: float = 1.0) -> None:
        with self._children_lock:
            process = self._children.get(pid)
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
            return
        end = time.monotonic() + timeout
        while pid and _start_time(pid) is not None and time.monotonic() < end:
            time.sleep(0.002)

    def _reap(self) -> None:
        """Collect exited sandbox monitors this process started, so none lingers as a zombie."""
        with self._children_lock:
            for pid, process in list(self._children.items()):
                if process.poll() is not None:
                    del self._children[pid]


def _openat2_in_root(root_fd: int, path: bytes, flags: int) -> int:
    """openat2(2) with RESOLVE_IN_ROOT: every link, absolute or not, resolves inside ``root_fd``."""
    how = struct.pack("QQQ", flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    fd = _libc.syscall(SYS_OPENAT2, root_fd, path, how, len(how))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


def _sandbox_pty(pid: int, uid: int, gid: int) -> tuple[int, int]:
    """A pseudo-terminal from the sandbox's own devpts, so ``tty`` and ttyname() work inside.

    The master is opened from the host through the sandbox's root with RESOLVE_IN_ROOT, so whatever
    the sandbox's root put at /dev/pts cannot send the open anywhere on the host; anything that is
    not a real devpts master there (the ioctls fail) falls back to a host pseudo-terminal.
    """
    try:
        root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            master = _openat2_in_root(root, b"dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        finally:
            os.close(root)
        try:
            fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
            slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
            os.fchown(slave, uid, gid)  # the learner owns its terminal, as after a login
            os.fchmod(slave, 0o620)
        except OSError:
            os.close(master)
            raise
        return master, slave
    except OSError as error:
        log.warning("sandbox pty from its devpts failed (%s); using a host pseudo-terminal", error)
        return os.openpty()


def _cpu_limit(seconds: float | None) -> str:
    if seconds is None:
        return ""
    soft = max(1, math.ceil(seconds))
    return f"ulimit -S -t {soft} && ulimit -H -t {soft + 1} || exit 125; "


def _collect(
    process: subprocess.Popen,
    script_fd: int,
    script: bytes,
    stdin: bytes,
    timeout: float,
    output_limit: int,
    started: float,
) -> ExecResult:
    """Feed the script and stdin, gather capped output, enforce the wall timeout on the process group."""
    out: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    kept = 0
    truncated = timed_out = False
    deadline = started + max(0.1, timeout)
    pending = {script_fd: memoryview(script), process.stdin.fileno(): memoryview(stdin)}
    writers = {script_fd: None, process.stdin.fileno(): process.stdin}
    for fd in pending:
        os.set_blocking(fd, False)
    names = {process.stdout.fileno(): "stdout", process.stderr.fileno(): "stderr"}
    selector = selectors.DefaultSelector()
    for fd in pending:
        selector.register(fd, selectors.EVENT_WRITE)
    for fd in names:
        selector.register(fd, selectors.EVENT_READ)
    exited_at: float | None = None
    try:
        while selector.get_map():
            now = time.monotonic()
            if exited_at is None and process.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > 0.05:
                break  # a background process still holds the pipes; the script itself is done
            if now >= deadline:
                timed_out = True
                break
            for key, _ in selector.select(min(0.05, deadline - now)):
                fd = key.fd
                if fd in pending:
                    try:
                        written = os.write(fd, pending[fd][:65536]) if pending[fd] else 0
                    except (BrokenPipeError, BlockingIOError, OSError):
                        written = -1
                    if written >= 0:
                        pending[fd] = pending[fd][written:]
                    if written < 0 or not pending[fd]:
                        selector.unregister(fd)
                        if writers[fd] is None:
                            os.close(fd)
                        else:
                            writers[fd].close()
                        del pending[fd]
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(fd)
                    continue
                room = max(0, output_limit - kept)
                if len(chunk) > room:
                    truncated = True
                out[names[fd]] += chunk[:room]
                kept += min(room, len(chunk))
    finally:
        selector.close()
        for fd in list(pending):
            with contextlib.suppress(OSError):
                if writers[fd] is None:
                    os.close(fd)
                else:
                    writers[fd].close()
        if not timed_out and process.poll() is None:
            # output closed before the script ended: wait for it, within the wall limit
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
        process.stderr.close()
    code = None if timed_out or process.returncode < 0 else process.returncode
    return ExecResult(
        exit_code=code,
        stdout=out["stdout"].decode("utf-8", "replace"),
        stderr=out["stderr"].decode("utf-8", "replace"),
        duration=time.monotonic() - started,
        timed_out=timed_out,
        truncated=truncated,
    )


__all__ = ["LocalBackend", "LocalPty", "Limits"]
