"""The local backend: sandboxes on this machine from Linux namespaces, an overlay root and cgroups.

How one sandbox is made and entered (docs/sandbox.md has the why of each step and the threat model):

1. It takes its own slot of the subordinate id range (``ranges``), a folder under ``SANDBOX_ROOT``
   with a size- and inode-capped tmpfs for its writable layer, and its cgroups.
2. The helper (``helper.py``, ``native/kafaat-sandbox.c``) joins the cgroups, makes a user namespace
   *owned by the slot's host uid* (so per-user kernel limits are per sandbox), has host root write
   its id maps and mount the overlay over the shared image (idmapped through that namespace), and
   runs bubblewrap as the namespace's root. bwrap makes the pid, net (loopback only), mount, uts,
   ipc and cgroup namespaces, a new session, a fresh /proc and /dev, clears the environment, drops
   every capability, loads the seccomp filter and runs ``sleep infinity`` under its pid-1 reaper.
3. The helper enters that sandbox (one ``setns`` on the init's pidfd, then chroot and fork) and
   leaves in it the *spawner*: in the learner's Landlock domain, it starts every learner-side
   process (terminals, setup scripts, solves, file placement) on request over a unix socket only
   host root can reach.
4. Checks (``exec(..., check=True)``, ``read_file``) are started by the helper directly, outside
   that domain, in a cgroup of their own that is killed when they end: nothing the learner started
   can read their script, descriptors or memory, signal or trace them, and nothing they start
   outlives them. ``exec_outside`` runs a script in a fresh sandbox of the same pristine image with
   the learner's files read-only at ``/lab``, for labs where the learner is root.

No process inside a sandbox's user namespace ever executes a file or resolves a path in the host's
mount namespace. The sandbox is deliberately not tied to the process that created it: a Celery task
creates it, the terminal gateway opens shells in it, a later task destroys it, so everything needed
is in the JSON handle. ``destroy`` (or the reconciler, through ``inventory``) is what ends it.
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
import socket
import stat
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from xblocks.labs.sandbox import cgroups, helper, images, ranges, seccomp, spawner
from xblocks.labs.sandbox.base import (
    BackendUnavailable,
    ExecResult,
    ImageNotFound,
    Limits,
    MiB,
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
SPAWNER_SOCKET = "spawner.sock"
OUTSIDE_NOTES = "outside"  # in a sandbox's folder: the throwaway sandboxes its outside checks use
HANDLE_VERSION = 2
# Ceiling for /dev/shm, which lives in memory like the writable layer but outside its size cap.
SHM_BYTES = 64 * 1024 * 1024
READY_TIMEOUT = 10.0
# How a run ends when a process hits RLIMIT_CPU: bash itself killed by SIGXCPU (the helper re-raises
# it), or a child killed by SIGXCPU or, past the hard limit, SIGKILL (bash exits 128 + signal).
CPU_LIMIT_CODES = (-signal.SIGXCPU, 128 + signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGKILL)
# The throwaway sandbox an outside check runs in: the platform's own script, nothing of the learner's.
OUTSIDE_LIMITS = Limits(memory_bytes=256 * MiB, pids=128, cpus=1.0, disk_bytes=64 * MiB, inodes=20_000)
LAB_MOUNT = "/lab"
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
# The remount that lets setuid binaries work again happens in the spawner, before its filter
# forbids mounts; this adds the rule that gives the learner sudo.
SUDO_SETUP = """set -e
printf 'learner ALL=(ALL:ALL) NOPASSWD: ALL\\n' > /etc/sudoers.d/kafaat-learner
chmod 0440 /etc/sudoers.d/kafaat-learner
"""

MS_NOSUID, MS_NODEV = 0x2, 0x4
MNT_DETACH = 0x2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
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


class _Launched:
    """A helper process started with subprocess, with the calls ``_collect`` makes on a spawned one."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        # the helper leads its own session; the check it started is in its process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        pass


class LocalPty:
    """A login shell on a pseudo-terminal of the sandbox's devpts, started by its spawner (see ``PtyProcess``)."""

    def __init__(self, process: spawner.SpawnedProcess, master: int):
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
        self._process.send_signal(signal.SIGHUP)
        try:
            self._process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=2.0)
        self._process.close()


class LocalBackend:
    """Sandboxes on this host; one instance per process (``instance()``), safe to use from many threads."""

    name = "local"
    _instance: LocalBackend | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

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
        if info.st_uid != 0 or info.st_gid != 0 or stat.S_IMODE(info.st_mode) != 0o711:
            # each sandbox's bwrap runs as its own slot's uid and must traverse this folder; its own
            # folder inside is 0710 with that slot's group, so no host user reaches another's
            os.chown(path, 0, 0)
            os.chmod(path, 0o711)  # noqa: S103  traversal only; sandbox folders are 0710
        return path

    @property
    def uid_base(self) -> int:
        """The start of the whole subordinate range (each sandbox's own base is in its handle)."""
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

        if self.settings.SANDBOX_REQUIRE_SELFTEST and not selftest.wait_until_settled():
            # a start that arrives while the worker's self-test runs waits for it, then goes on
            log.error("refusing to create a sandbox: the self-test has not finished after %ss", selftest.SETTLE_TIMEOUT)
            raise BackendUnavailable("sandbox self-test still running on this host; lab work refused until it passes")
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
        helper.path()  # no helper, no sandbox: BackendUnavailable names what to install
        if spec.network:
            log.info("local backend: network=True gives loopback only (no egress path exists on this backend)")
        sandbox_id = secrets.token_hex(8)
        folder = self.root / sandbox_id
        folder.mkdir(mode=0o710)
        started = time.monotonic()
        slot = None
        try:
            slot = ranges.allocate(sandbox_id, folder)
            handle = self._start(sandbox_id, folder, spec, image, slot)
            self._start_spawner(handle)
            if spec.learner_sudo:
                self._grant_sudo(handle)
        except BaseException:
            self._teardown(sandbox_id, folder, None, slot.index if slot else None)
            raise
        log.info(
            "sandbox %s (%s, image %s, ids %s+) ready in %.0f ms",
            sandbox_id,
            spec.label,
            spec.image,
            slot.base,
            (time.monotonic() - started) * 1000,
        )
        return handle

    def _start(
        self,
        sandbox_id: str,
        folder: pathlib.Path,
        spec: SandboxSpec,
        image: images.Image,
        slot: ranges.Slot,
        *,
        lab_upper: pathlib.Path | None = None,
        shared_slot: bool = False,
    ) -> SandboxHandle:
        limits = spec.limits
        base = slot.base
        os.chown(folder, 0, base)
        os.chmod(folder, 0o710)  # noqa: S103  group = this sandbox's slot, which its bwrap runs as
        disk, merged = folder / "disk", folder / "root"
        disk.mkdir()
        merged.mkdir()
        lab = folder / "lab" if lab_upper else None
        if lab:
            lab.mkdir()
        _mount(
            "tmpfs",
            disk,
            "tmpfs",
            MS_NODEV | (0 if spec.learner_sudo else MS_NOSUID),
            f"size={max(limits.disk_bytes, 1 << 20)},nr_inodes={max(limits.inodes, 64)},mode=0700",
        )
        upper, work = disk / "upper", disk / "work"
        upper.mkdir(mode=0o755)
        work.mkdir(mode=0o700)
        os.chown(upper, base, base)  # the merged root's owner: the sandbox's root, not host root
        driver = self._cgroups()
        driver.create(sandbox_id, limits)

        hostname = re.sub(r"[^a-z0-9-]", "", spec.hostname.lower())[:63] or "lab"
        shm = min(SHM_BYTES, limits.disk_bytes)
        bwrap = shutil.which("bwrap", path="/usr/bin:/bin:/usr/sbin:/sbin")
        if not bwrap:
            raise BackendUnavailable("bubblewrap (bwrap) is not installed (see scripts/system-deps.sh)")
        # Arguments through a pipe (--args) so the sandbox's /proc/1/cmdline shows no host path.
        args_r, args_w = os.pipe()
        status_r, status_w = os.pipe()
        ready_r, ready_w = os.pipe()
        os.fchown(ready_w, base, base)  # reopened through /proc/self/fd by the sandbox's root
        filter_r, filter_w = os.pipe()
        error_r, error_w = os.pipe()
        bwrap_args = [
            "--bind",
            str(merged),
            "/",
            *(["--ro-bind", str(lab), LAB_MOUNT] if lab else []),
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
        command = [
            helper.path(),
            "create",
            "--error-fd",
            str(error_w),
            *_cgroup_options(driver.procs_files(sandbox_id)),
            "--uid-base",
            str(base),
            "--uid-count",
            str(slot.count),
            "--overlay",
            str(image.rootfs),
            str(upper),
            str(work),
            str(merged),
            "--nodev",
            *([] if spec.learner_sudo else ["--nosuid"]),
            *(["--lab", str(lab_upper), str(lab)] if lab_upper else []),
            "--inotify",
            str(int(self.settings.SANDBOX_INOTIFY_INSTANCES)),
            str(int(self.settings.SANDBOX_INOTIFY_WATCHES)),
            "--",
            bwrap,
            "--args",
            str(args_r),
            "--",
            # bwrap reports its pid before the mounts; this byte says the root is in place and running
            "/bin/sh",
            "-c",
            f"echo >/proc/self/fd/{ready_w}; exec /bin/sleep infinity",
        ]
        try:
            os.write(args_w, b"\0".join(a.encode() for a in bwrap_args) + b"\0")
            os.write(filter_w, seccomp.program("sandbox"))
            os.close(args_w)
            os.close(filter_w)
            args_w = filter_w = -1
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                close_fds=True,
                pass_fds=(status_w, ready_w, filter_r, args_r, error_w),
                start_new_session=True,
            )
        finally:
            for fd in (args_w, filter_w, status_w, ready_w, filter_r, args_r, error_w):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        with self._children_lock:
            self._children[process.pid] = process
        try:
            init_pid = self._await_ready(status_r, ready_r, error_r, process)
        except BaseException:
            if process.stderr and not process.stderr.closed:
                process.stderr.close()
            raise
        finally:
            for fd in (status_r, ready_r, error_r):
                os.close(fd)
        data: dict[str, Any] = {
            "version": HANDLE_VERSION,
            "pid": init_pid,
            "start": _start_time(init_pid),
            "monitor": process.pid,
            "image": image.name,
            "image_hash": image.hash,
            "uid_base": base,
            "slot": slot.index,
            "shared_slot": shared_slot,
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
        """Let the learner use sudo: the spawner already made setuid work on this sandbox's root; this
        adds the sudoers rule, written by the sandbox's own root from inside."""
        result = self.exec(handle, SUDO_SETUP, user=User.ROOT, timeout=10)
        if not result.ok:
            raise SandboxError(f"could not enable sudo in sandbox {handle.id}: {result.stderr.strip()[-500:]}")

    def _await_ready(self, status_fd: int, ready_fd: int, error_fd: int, process: subprocess.Popen) -> int:
        """The sandbox init's host pid (bwrap's first JSON status document), once the init runs."""
        status = b""
        errors = b""
        ready = False
        deadline = time.monotonic() + READY_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(status_fd, selectors.EVENT_READ)
            selector.register(ready_fd, selectors.EVENT_READ)
            selector.register(error_fd, selectors.EVENT_READ)
            while not (ready and b"}" in status):
                remaining = deadline - time.monotonic()
                events = selector.select(remaining) if remaining > 0 else []
                if not events:
                    raise SandboxError("sandbox did not become ready in time")
                for key, _ in events:
                    chunk = os.read(key.fd, 4096)
                    if key.fd == error_fd:
                        errors += chunk
                        if not chunk:
                            selector.unregister(error_fd)
                    elif key.fd == status_fd:
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
                        with contextlib.suppress(OSError):
                            errors += os.read(error_fd, 4096)
                        detail = (errors.decode(errors="replace") + stderr).strip()[-2000:]
                        if b"kafaat-sandbox:" in errors:
                            raise BackendUnavailable(f"sandbox failed to start: {detail}")
                        raise SandboxError(f"sandbox failed to start (exit {process.returncode}): {detail}")
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
        if handle.data.get("version") != HANDLE_VERSION:
            raise SandboxNotFound(f"sandbox {handle.id} was made by an earlier version of the backend; recreate it")
        return pid, folder

    def _open_init(self, handle: SandboxHandle) -> tuple[int, int]:
        """A pidfd of the sandbox's init and an O_PATH descriptor of its root, checked against its start time.

        The pidfd pins the process: once its start time matches, the pid cannot be recycled under
        the descriptor, so the root opened after it is that sandbox's.
        """
        pid = int(handle.data["pid"])
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError as error:
            raise SandboxNotFound(f"sandbox {handle.id} is not running") from error
        try:
            if _start_time(pid) != handle.data.get("start"):
                raise SandboxNotFound(f"sandbox {handle.id} is not running")
            root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            if _start_time(pid) != handle.data.get("start"):
                os.close(root)
                raise SandboxNotFound(f"sandbox {handle.id} is not running")
        except BaseException:
            os.close(pidfd)
            raise
        return pidfd, root

    def _enter_command(
        self,
        handle: SandboxHandle,
        *,
        error_fd: int,
        pidfd: int,
        root: int,
        filter_fd: int,
        procs_files: Sequence[str],
        uid: int,
        options: Sequence[str] = (),
    ) -> list[str]:
        return [
            helper.path(),
            "enter",
            "--error-fd",
            str(error_fd),
            "--pidfd",
            str(pidfd),
            "--root",
            str(root),
            "--seccomp",
            str(filter_fd),
            *_cgroup_options(procs_files),
            "--uid",
            str(uid),
            "--gid",
            str(uid),
            *options,
        ]

    def _start_spawner(self, handle: SandboxHandle) -> None:
        """Leave the spawner in the sandbox: the helper enters it and, instead of executing anything,
        becomes the spawner in a new Landlock domain (with setuid re-enabled first for sudo labs)."""
        folder = self._folder(handle)
        with open(folder / "spawner.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = folder / SPAWNER_SOCKET
            if self._spawner_answers(path):
                return  # another process restarted it while this one waited
            path.unlink(missing_ok=True)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
            fds: list[int] = []
            try:
                listener.bind(str(path))
                os.chmod(path, 0o600)
                listener.listen(128)
                pidfd, root = self._open_init(handle)
                fds += [pidfd, root]
                filter_fd = _program_fd("sandbox")
                ready_r, ready_w = os.pipe()
                error_r, error_w = os.pipe()
                fds += [filter_fd, ready_w, error_w]
                options = [
                    "--landlock",
                    str(int(self.settings.SANDBOX_LANDLOCK_MIN_ABI)),
                    "--oom-protect",
                    *(["--remount-suid"] if handle.data.get("sudo") else []),
                    "--spawner",
                    str(listener.fileno()),
                    str(ready_w),
                ]
                command = self._enter_command(
                    handle,
                    error_fd=error_w,
                    pidfd=pidfd,
                    root=root,
                    filter_fd=filter_fd,
                    procs_files=self._cgroups().procs_files(handle.id),
                    uid=0,
                    options=options,
                )
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={},
                    close_fds=True,
                    pass_fds=(*fds, listener.fileno()),
                    start_new_session=True,
                )
            finally:
                listener.close()
                for fd in fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            try:
                self._await_spawner(ready_r, error_r, process)
            finally:
                os.close(ready_r)
                os.close(error_r)

    @staticmethod
    def _await_spawner(ready_fd: int, error_fd: int, process: subprocess.Popen) -> None:
        errors = b""
        deadline = time.monotonic() + READY_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(ready_fd, selectors.EVENT_READ)
            selector.register(error_fd, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                events = selector.select(remaining) if remaining > 0 else []
                if not events:
                    process.kill()
                    process.wait()
                    raise SandboxError("the sandbox's spawner did not start in time")
                for key, _ in events:
                    chunk = os.read(key.fd, 4096)
                    if key.fd == ready_fd:
                        if chunk:
                            process.wait()
                            return
                        selector.unregister(ready_fd)
                    else:
                        errors += chunk
                        if not chunk:
                            process.wait()
                            detail = errors.decode(errors="replace").strip() or f"exit {process.returncode}"
                            raise BackendUnavailable(f"the sandbox's spawner could not start: {detail}")

    @staticmethod
    def _spawner_answers(path: pathlib.Path) -> bool:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            probe.connect(str(path))
            return True
        except OSError:
            return False
        finally:
            probe.close()

    def _spawn(
        self,
        handle: SandboxHandle,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        uid: int,
        fds: Sequence[int],
        no_new_privs: bool,
        terminal: bool = False,
    ) -> spawner.SpawnedProcess:
        path = str(self._folder(handle) / SPAWNER_SOCKET)
        for attempt in (1, 2):
            try:
                return spawner.spawn(
                    path,
                    argv,
                    env,
                    uid=uid,
                    gid=uid,
                    fds=fds,
                    no_new_privs=no_new_privs,
                    terminal=terminal,
                    stalled=lambda: bool(self._stopped_spawners(handle)),
                )
            except spawner.SpawnerGone:
                if attempt == 2:
                    raise
                # the spawner died (a sudo learner killed it, the OOM killer) or was stopped (a sudo
                # learner's SIGSTOP, which would hold every later request): leave a new one
                self._live(handle)
                log.warning("sandbox %s: its spawner is gone or stopped; starting a new one", handle.id)
                self._end_stopped_spawners(handle)
                self._start_spawner(handle)
        raise AssertionError("unreachable")

    def _stopped_spawners(self, handle: SandboxHandle) -> list[int]:
        """Host pids of the sandbox's spawners that a signal stopped.

        A spawner is told apart by its executable, the helper, which nothing in a sandbox can run or
        name (a learner's process may call itself ``kafaat-spawner``, it cannot be that file).
        """
        binary = os.path.realpath(helper.path())
        stopped = []
        for pid in self._cgroups().pids(handle.id):
            try:
                if not os.readlink(f"/proc/{pid}/exe").startswith(binary):
                    continue
                with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as status:
                    state = status.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state in ("T", "t"):
                stopped.append(pid)
        return stopped

    def _end_stopped_spawners(self, handle: SandboxHandle) -> None:
        """SIGKILL stopped spawners and wait until they are gone, so their socket refuses and a new one starts."""
        stopped = self._stopped_spawners(handle)
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 2.0
        while any(_start_time(pid) is not None for pid in stopped) and time.monotonic() < end:
            time.sleep(0.005)

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
    def _limits(handle: SandboxHandle) -> Limits:
        recorded = handle.data.get("limits") or {}
        return Limits(**{key: value for key, value in recorded.items() if key in Limits.__dataclass_fields__})

    @staticmethod
    def _uid(user: str) -> int:
        if user not in (User.ROOT, User.LEARNER):
            raise ValueError(f"unknown sandbox user {user!r}")
        return 0 if user == User.ROOT else LEARNER_UID

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
        check: bool = False,
    ) -> ExecResult:
        """Run ``script`` with bash inside the sandbox, as ``user``, from a pipe (never a file).

        ``args`` become ``$1``...; the wall ``timeout`` kills the whole process group; output past
        ``output_limit`` bytes (stdout and stderr together) is dropped and ``truncated`` set.
        ``cpu_seconds`` sets RLIMIT_CPU with the soft limit below the hard one (as codejail does), so
        a process over it gets SIGXCPU and the run is reported as ``cpu_exceeded``, not as a timeout.

        By default the script is a learner-side process: the spawner starts it in the learner's
        Landlock domain, and daemons it starts keep running for the learner to use and manage.
        ``check=True`` runs it as a check: outside that domain, where nothing the learner started
        can read its script, descriptors or memory, trace it or signal it, with ptrace and
        process_vm_* denied to its own tree, in a cgroup of its own that is killed when it ends.
        """
        _pid, _folder = self._live(handle)
        user = User(user)
        uid = self._uid(user)
        host_uid = int(handle.data["uid_base"]) + uid
        sudo = bool(handle.data.get("sudo"))
        script_r, script_w = os.pipe()
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        # bash opens /dev/fd/N afresh, which checks the pipe's owner: make it the running user's
        os.fchown(script_r, host_uid, host_uid)
        child_ends = [stdin_r, out_w, err_w, script_r]
        ours = {"writes": [(script_w, script.encode()), (stdin_w, stdin)], "reads": {out_r: "stdout", err_r: "stderr"}}
        started = time.monotonic()
        if check:
            return self._exec_check(
                handle, user, uid, script_r, child_ends, ours, env, args, timeout, output_limit, cpu_seconds, started
            )
        wrapper = f'{_cpu_limit(cpu_seconds)}cd "$HOME" 2>/dev/null || cd /; . /dev/fd/3'
        try:
            process = self._spawn(
                handle,
                ["/bin/bash", "--noprofile", "--norc", "-c", wrapper, "bash", *args],
                self._env(handle, user, env),
                uid=uid,
                fds=child_ends,
                no_new_privs=not (sudo and user == User.LEARNER),
            )
        except BaseException:
            for fd in [script_w, stdin_w, out_r, err_r]:
                os.close(fd)
            raise
        finally:
            for fd in child_ends:
                os.close(fd)
        try:
            result = _collect(process, ours["writes"], ours["reads"], timeout, output_limit, started)
        finally:
            process.close()
        return _cpu_verdict(result, cpu_seconds, process.returncode)

    def _exec_check(
        self,
        handle: SandboxHandle,
        user: User,
        uid: int,
        script_fd: int,
        child_ends: list[int],
        ours: dict,
        env: Mapping[str, str] | None,
        args: Sequence[str],
        timeout: float,
        output_limit: int,
        cpu_seconds: float | None,
        started: float,
    ) -> ExecResult:
        driver = self._cgroups()
        group = None
        opened: list[int] = []
        try:
            # beside the sandbox's cgroup, with the lab's limits as its own budget: nothing the learner
            # does to the sandbox's memory, processes or CPU decides which of the check's commands fail
            group = driver.create_check(handle.id, f"check-{secrets.token_hex(6)}", self._limits(handle))
            pidfd, root = self._open_init(handle)
            opened += [pidfd, root]
            filter_fd = _program_fd("check")
            error_r, error_w = os.pipe()
            opened += [filter_fd, error_w]
            ours["reads"][error_r] = "helper"
            command = self._enter_command(
                handle,
                error_fd=error_w,
                pidfd=pidfd,
                root=root,
                filter_fd=filter_fd,
                procs_files=driver.procs_files(group),
                uid=uid,
                options=["--nnp", "--"],
            )
            wrapper = f'{_cpu_limit(cpu_seconds)}cd "$HOME" 2>/dev/null || cd /; . /dev/fd/{script_fd}'
            stdin_r, out_w, err_w, _script = child_ends
            process = subprocess.Popen(
                [*command, "/bin/bash", "--noprofile", "--norc", "-c", wrapper, "bash", *args],
                stdin=stdin_r,
                stdout=out_w,
                stderr=err_w,
                env=self._env(handle, user, env),
                close_fds=True,
                pass_fds=(*opened, script_fd),
                start_new_session=True,
            )
        except BaseException:
            for fd, _data in ours["writes"]:
                os.close(fd)
            for fd in ours["reads"]:
                os.close(fd)
            if group:
                driver.remove(group)
            raise
        finally:
            for fd in [*child_ends, *opened]:
                with contextlib.suppress(OSError):
                    os.close(fd)
        try:
            result, helper_errors = _collect(
                _Launched(process), ours["writes"], ours["reads"], timeout, output_limit, started, with_helper=True
            )
        finally:
            # nothing a check started outlives it: not a daemon, not a learner program it ran
            if not driver.kill(group, deadline=2.0):
                log.error("sandbox %s: processes of check cgroup %s survive SIGKILL", handle.id, group)
            driver.remove(group)
        if helper_errors:
            raise SandboxError(f"could not run a check in sandbox {handle.id}: {helper_errors.strip()[-1000:]}")
        return _cpu_verdict(result, cpu_seconds, process.returncode)

    def exec_outside(
        self,
        handle: SandboxHandle,
        script: str,
        *,
        timeout: float = 30.0,
        stdin: bytes = b"",
        output_limit: int = 64 * 1024,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        cpu_seconds: float | None = None,
    ) -> ExecResult:
        """Run ``script`` as root in a fresh throwaway sandbox of ``handle``'s pristine image, with the
        learner machine's files read-only, nosuid, nodev and noexec at ``/lab``: nothing of the
        learner's executes, so not even the sandbox's root (a learner with sudo) can forge what this
        script reports. ``/lab`` is an overlay of its own over the learner's writable layer and the
        same image (not the learner's mount namespace, nor a bind of their live mount, whose FIFOs,
        sockets and leases a learner program could use to answer the checker)."""
        _pid, learner_folder = self._live(handle)
        slot = ranges.slot(int(handle.data["slot"]))
        image = images.find_built(str(handle.data["image"]), str(handle.data["image_hash"]))
        sandbox_id = secrets.token_hex(8)
        folder = self.root / sandbox_id
        folder.mkdir(mode=0o710)
        # noted in the learner's folder: a crash mid-check leaves a throwaway that destroying the
        # learner's sandbox (whose id slot it uses) must end too
        note = learner_folder / OUTSIDE_NOTES / sandbox_id
        note.parent.mkdir(mode=0o700, exist_ok=True)
        note.touch()
        outside: SandboxHandle | None = None
        try:
            # the same ids as the learner's sandbox, so its files keep their owners as seen from /lab
            os.chown(folder, 0, slot.base)
            spec = SandboxSpec(
                image=image.name,
                limits=OUTSIDE_LIMITS,
                env=dict(handle.data.get("env") or {}),
                label=f"outside-{handle.id}",
            )
            # /lab: the learner's writable layer over the same image, an overlay of its own (see the helper)
            outside = self._start(
                sandbox_id, folder, spec, image, slot, lab_upper=learner_folder / "disk" / "upper", shared_slot=True
            )
            return self.exec(
                outside,
                script,
                user=User.ROOT,
                timeout=timeout,
                stdin=stdin,
                output_limit=output_limit,
                env=env,
                args=args,
                cpu_seconds=cpu_seconds,
                check=True,
            )
        finally:
            init = None
            if outside is not None:
                init = (int(outside.data["pid"]), outside.data["start"], outside.data["monitor"])
            self._teardown(sandbox_id, folder, init, None, shared=True)
            note.unlink(missing_ok=True)

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
        """A file's content as the sandbox's ``user`` sees it (a planted link cannot point out of the sandbox).

        Read like a check, outside the learner's domain: nothing the learner runs can change what it returns.
        """
        return self.exec(handle, 'cat -- "$1"', user=user, args=(path,), output_limit=limit, timeout=30.0, check=True)

    def open_pty(
        self, handle: SandboxHandle, *, cols: int = 80, rows: int = 24, user: User | str = User.LEARNER
    ) -> LocalPty:
        """A login shell in the sandbox on a new pseudo-terminal; closing it leaves the sandbox running."""
        pid, _folder = self._live(handle)
        user = User(user)
        uid = self._uid(user)
        base = int(handle.data["uid_base"])
        sudo = bool(handle.data.get("sudo"))
        master, slave = _sandbox_pty(pid, base + uid, base + TTY_GID)
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", max(1, rows), max(1, cols), 0, 0))
            process = self._spawn(
                handle,
                ["/bin/bash", "-c", 'cd "$HOME" 2>/dev/null; exec -a -bash /bin/bash'],
                self._env(handle, user, None, term="xterm-256color"),
                uid=uid,
                fds=[slave],
                no_new_privs=not (sudo and user == User.LEARNER),
                terminal=True,
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
        """Kill every process, unmount, remove the cgroups and the folder, free the id range. Idempotent."""
        folder = self._folder(handle)
        notes = folder / OUTSIDE_NOTES
        for note in sorted(notes.iterdir()) if notes.is_dir() else []:
            if ID_PATTERN.match(note.name):  # an outside check's sandbox a crash left behind
                try:
                    left = SandboxHandle.from_json(json.loads((self.root / note.name / HANDLE_FILE).read_text()))
                except (OSError, ValueError, KeyError):
                    left = SandboxHandle(id=note.name, backend=self.name, host=str(self.settings.LAB_HOST))
                self.destroy(left)
        pid = int(handle.data.get("pid") or 0)
        slot = handle.data.get("slot")
        self._teardown(
            handle.id,
            folder,
            (pid, handle.data.get("start"), handle.data.get("monitor")) if pid else None,
            int(slot) if slot is not None else None,
            shared=bool(handle.data.get("shared_slot")),
        )

    def _teardown(
        self,
        sandbox_id: str,
        folder: pathlib.Path,
        init: tuple[int, Any, Any] | None,
        slot: int | None,
        *,
        shared: bool = False,
    ) -> None:
        driver = self._cgroups()
        # Killing the pid-1 init makes the kernel kill the whole pid namespace; the cgroup sweep then
        # catches what lives outside it (bwrap's monitor, helper parents waiting for checks).
        if init and _start_time(init[0]) == init[1]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(init[0], signal.SIGKILL)
            # let bwrap's monitor collect its child before the sweep kills it, or the init would
            # be left to the host's pid 1 as a zombie
            self._await_monitor(int(init[2] or 0))
        if driver.exists(sandbox_id) and not driver.kill(sandbox_id):
            # Fail closed: its folder stays (so inventory() reports it and the reconciler tries again)
            # and so does its id slot, which a new sandbox must not get while these processes, with
            # those host ids, still run.
            log.error("sandbox %s: processes survive SIGKILL; folder and id slot kept for the reconciler", sandbox_id)
            raise SandboxError(f"sandbox {sandbox_id}: processes survive SIGKILL; left for the reconciler")
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
        if not shared:
            # only once nothing of the sandbox is left: the next sandbox with these ids starts clean
            if slot is not None:
                ranges.release(slot, sandbox_id)
            else:
                ranges.release_all(sandbox_id)

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


def _cgroup_options(procs_files: Sequence[str]) -> list[str]:
    options: list[str] = []
    for path in procs_files:
        options += ["--cgroup", path]
    return options


def _program_fd(variant: str) -> int:
    """A pipe holding the seccomp program, for the helper to read (small enough for the pipe's buffer)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, seccomp.program(variant))
    finally:
        os.close(write_end)
    return read_end


def _cpu_verdict(result: ExecResult, cpu_seconds: float | None, returncode: int | None) -> ExecResult:
    if cpu_seconds is not None and not result.timed_out and returncode in CPU_LIMIT_CODES:
        return dataclasses.replace(result, cpu_exceeded=True)
    return result


def _openat2_in_root(root_fd: int, path: bytes, flags: int) -> int:
    """openat2(2) with RESOLVE_IN_ROOT: every link, absolute or not, resolves inside ``root_fd``."""
    how = struct.pack("QQQ", flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    # every argument as a full register: a Python int is passed as a 32-bit C int whose upper half is garbage
    fd = _libc.syscall(ctypes.c_long(SYS_OPENAT2), ctypes.c_long(root_fd), path, how, ctypes.c_size_t(len(how)))
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


def _cpu_limit(seconds: float | None) -> str:
    if seconds is None:
        return ""
    soft = max(1, math.ceil(seconds))
    return f"ulimit -S -t {soft} && ulimit -H -t {soft + 1} || exit 125; "


def _collect(
    process: Any,
    writes: list[tuple[int, bytes]],
    reads: dict[int, str],
    timeout: float,
    output_limit: int,
    started: float,
    *,
    with_helper: bool = False,
) -> Any:
    """Feed the script and stdin, gather capped output, enforce the wall timeout on the process group.

    ``process`` is a spawned process or a helper (``poll``, ``wait``, ``kill``, ``returncode``). Every
    descriptor given is this side's end and is closed here. With ``with_helper`` the helper's error
    pipe (named ``helper`` in ``reads``) is read too and returned beside the result.
    """
    out: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray(), "helper": bytearray()}
    kept = 0
    truncated = timed_out = False
    deadline = started + max(0.1, timeout)
    pending = {fd: memoryview(data) for fd, data in writes}
    for fd in pending:
        os.set_blocking(fd, False)
    selector = selectors.DefaultSelector()
    for fd in pending:
        selector.register(fd, selectors.EVENT_WRITE)
    for fd in reads:
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
                    except OSError:
                        written = -1
                    if written >= 0:
                        pending[fd] = pending[fd][written:]
                    if written < 0 or not pending[fd]:
                        selector.unregister(fd)
                        os.close(fd)
                        del pending[fd]
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(fd)
                    continue
                if reads[fd] == "helper":
                    out["helper"] += chunk
                    continue
                room = max(0, output_limit - kept)
                if len(chunk) > room:
                    truncated = True
                out[reads[fd]] += chunk[:room]
                kept += min(room, len(chunk))
    finally:
        selector.close()
        for fd in list(pending):
            with contextlib.suppress(OSError):
                os.close(fd)
        if not timed_out and process.poll() is None:
            # output closed before the script ended: wait for it, within the wall limit
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10.0)
        for fd, name in reads.items():
            if name == "helper":
                out["helper"] += _drain(fd)
            os.close(fd)
    returncode = process.returncode
    code = None if timed_out or returncode is None or returncode < 0 else returncode
    result = ExecResult(
        exit_code=code,
        stdout=out["stdout"].decode("utf-8", "replace"),
        stderr=out["stderr"].decode("utf-8", "replace"),
        duration=time.monotonic() - started,
        timed_out=timed_out,
        truncated=truncated,
    )
    if with_helper:
        return result, out["helper"].decode("utf-8", "replace")
    return result


def _drain(fd: int) -> bytes:
    """What is left in a pipe whose writers are gone (or nothing, without waiting)."""
    data = b""
    os.set_blocking(fd, False)
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 4096):
            data += chunk
    return data


__all__ = ["LocalBackend", "LocalPty", "Limits"]
