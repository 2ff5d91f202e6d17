"""The local backend's public face: create, exec, files, terminals, inventory and destroy."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pathlib
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

from xblocks.labs.sandbox import cgroups, helper, images, ranges
from xblocks.labs.sandbox.base import (
    MAX_MACHINES,
    BackendUnavailable,
    Capability,
    ExecResult,
    ImageNotFound,
    Limits,
    MachineSpec,
    SandboxError,
    SandboxHandle,
    SandboxNotFound,
    SandboxSpec,
    User,
)
from xblocks.labs.sandbox.local import checks, entering, making, ports
from xblocks.labs.sandbox.local.kernel import TTY_GID, mounted_under, parent_pid, sandbox_pty, start_time, umount
from xblocks.labs.sandbox.local.layout import (
    HANDLE_FILE,
    HANDLE_VERSION,
    ID_PATTERN,
    LEARNER_UID,
    OUTSIDE_LIMITS,
    OUTSIDE_NOTES,
    PATH,
    new_id,
)
from xblocks.labs.sandbox.local.pty import LocalPty
from xblocks.labs.sandbox.local.running import collect, cpu_limit, cpu_verdict

log = logging.getLogger(__name__)

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
# A machine of a lab gets this rule in its writable layer before it starts (no exec needed).
SUDO_RULE_PATH = "etc/sudoers.d/kafaat-learner"
SUDO_RULE = b"learner ALL=(ALL:ALL) NOPASSWD: ALL\n"
NAMESPACE_FILES = ("userns", "netns")  # in a lab's folder: the bind mounts that keep its namespaces


class LocalBackend:
    """Sandboxes on this host; one instance per process (``instance()``), safe to use from many threads."""

    name = "local"
    capabilities = frozenset({Capability.USAGE, Capability.BUILD_IMAGES, Capability.CONNECT})
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

    def _start(self, *args: Any, **kwargs: Any) -> SandboxHandle:
        """Start a sandbox's init in a prepared folder (``making.start``; outside checks start theirs so)."""
        return making.start(self, *args, **kwargs)

    def _stopped_spawners(self, handle: SandboxHandle) -> list[int]:
        return entering.stopped_spawners(self, handle)

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
        if spec.machines:
            return self._create_lab(spec)
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
        sandbox_id = new_id()
        folder = self.root / sandbox_id
        folder.mkdir(mode=0o710)
        started = time.monotonic()
        slot = None
        try:
            slot = ranges.allocate(sandbox_id, folder)
            handle = making.start(self, sandbox_id, folder, spec, image, slot)
            entering.start_spawner(self, handle)
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

    def _image(self, name: str) -> images.Image:
        image = images.find(name)
        if not image.built:
            if not self.settings.IMAGE_AUTO_BUILD:
                raise ImageNotFound(f"image {name!r} ({image.hash}) is not built; run: kafaat image build {name}")
            log.warning("image %s is not built; building it now (slow, once)", name)
            image = images.ensure(name)
        return image

    def _create_lab(self, spec: SandboxSpec) -> SandboxHandle:
        """A lab of several machines on a private network (decision 0064).

        One id slot and one user namespace for the lab (its machines are one learner's, and a
        network between namespaces needs a user namespace that owns them all); per machine, its own
        folder, writable layer, cgroups, mount, pid, ipc, uts and network namespaces, as any sandbox.
        """
        # only labs of several machines need these: a single sandbox (``kafaat sandbox exec``) imports neither
        import concurrent.futures  # pylint: disable=import-outside-toplevel

        from xblocks.labs.sandbox.local import network  # pylint: disable=import-outside-toplevel

        names = [machine.name for machine in spec.machines]
        if len(set(names)) != len(names) or not all(network.valid_name(name) for name in names):
            raise SandboxError(f"machine names must be distinct lowercase hostnames: {names}")
        if len(names) > MAX_MACHINES:
            raise SandboxError(f"a lab has at most {MAX_MACHINES} machines")
        built = {machine.image: self._image(machine.image) for machine in spec.machines}
        helper.path()
        lab_id = new_id()
        folder = self.root / lab_id
        folder.mkdir(mode=0o710)
        started = time.monotonic()
        slot = None
        made: list[tuple[str, SandboxHandle]] = []
        bridge = None
        try:
            slot = ranges.allocate(lab_id, folder)
            self._lab_namespaces(folder, slot, len(names))
            # recorded now, so a crash from here on leaves something inventory() reports and destroy() ends
            (folder / HANDLE_FILE).write_text(json.dumps(self._lab_handle(lab_id, spec, slot, []).as_json()))
            bridge = network.start_switch(folder / "netns")  # while the machines start
            hosts = network.hosts_file(names).encode()
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(names), 4)) as pool:
                futures = [
                    pool.submit(self._create_machine, lab_id, folder, machine, spec, built[machine.image], slot, hosts)
                    for machine in spec.machines
                ]
                errors = []
                for machine, future in zip(spec.machines, futures, strict=True):
                    try:
                        made.append((machine.name, future.result()))
                    except BaseException as error:  # noqa: BLE001  every machine is waited for, then the first error raised
                        errors.append(error)
                if errors:
                    raise errors[0]
            ports = [network.Port(name, int(h.data["pid"]), h.data.get("start")) for name, h in made]
            addresses = network.wire(folder / "netns", ports, spec.deny, bridge)
            handle = self._lab_handle(lab_id, spec, slot, made, addresses)
            (folder / HANDLE_FILE).write_text(json.dumps(handle.as_json()))
        except BaseException:
            if bridge is not None and bridge.returncode is None:
                with contextlib.suppress(OSError):
                    bridge.kill()
                bridge.communicate()
            for _name, machine_handle in made:
                with contextlib.suppress(SandboxError):
                    self.destroy(machine_handle)
            self._destroy_lab_machines(lab_id)
            self._teardown(lab_id, folder, None, slot.index if slot else None)
            raise
        log.info(
            "lab %s (%s, %d machines, ids %s+) ready in %.0f ms",
            lab_id,
            spec.label,
            len(names),
            slot.base,
            (time.monotonic() - started) * 1000,
        )
        return handle

    def _lab_handle(
        self,
        lab_id: str,
        spec: SandboxSpec,
        slot: ranges.Slot,
        made: list[tuple[str, SandboxHandle]],
        addresses: Mapping[str, str] | None = None,
    ) -> SandboxHandle:
        data = {
            "version": HANDLE_VERSION,
            "kind": "lab",
            "slot": slot.index,
            "uid_base": slot.base,
            "machines": [[name, machine.as_json()] for name, machine in made],
            "addresses": dict(addresses or {}),
            "deny": [list(rule) for rule in spec.deny],
            "created": time.time(),
        }
        return SandboxHandle(
            id=lab_id, backend=self.name, host=str(self.settings.LAB_HOST), label=spec.label, data=data
        )

    def _lab_namespaces(self, folder: pathlib.Path, slot: ranges.Slot, machines: int) -> None:
        """The lab's user namespace and its switch's network namespace, bound on two files of its folder."""
        files = [folder / name for name in NAMESPACE_FILES]
        for path in files:
            path.touch(mode=0o600)
        error_r, error_w = os.pipe()
        try:
            process = subprocess.Popen(
                [
                    helper.path(),
                    "lab",
                    "--error-fd",
                    str(error_w),
                    "--uid-base",
                    str(slot.base),
                    "--uid-count",
                    str(slot.count),
                    "--inotify",
                    str(int(self.settings.SANDBOX_INOTIFY_INSTANCES) * machines),
                    str(int(self.settings.SANDBOX_INOTIFY_WATCHES) * machines),
                    "--",
                    *map(str, files),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={},
                close_fds=True,
                pass_fds=(error_w,),
            )
        finally:
            os.close(error_w)
        try:
            returncode = process.wait(timeout=10)
            errors = os.read(error_r, 4096).decode(errors="replace").strip()
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise SandboxError("the lab's namespaces were not made in time") from None
        finally:
            os.close(error_r)
        if returncode != 0:
            raise BackendUnavailable(f"the lab's namespaces could not be made (exit {returncode}): {errors}")

    def _create_machine(
        self,
        lab_id: str,
        lab_folder: pathlib.Path,
        machine: MachineSpec,
        spec: SandboxSpec,
        image: images.Image,
        slot: ranges.Slot,
        hosts: bytes,
    ) -> SandboxHandle:
        sandbox_id = new_id()
        folder = self.root / sandbox_id
        folder.mkdir(mode=0o710)
        machine_spec = SandboxSpec(
            image=machine.image,
            limits=machine.limits,
            learner_sudo=machine.learner_sudo,
            hostname=machine.name,
            env=spec.env,
            label=spec.label,
        )
        handle = None
        try:
            # /etc/hosts naming every machine, and the sudo rule, are in its layer before it starts
            seed = {"etc/hosts": hosts}
            if machine.learner_sudo:
                seed[SUDO_RULE_PATH] = SUDO_RULE
            handle = making.start(
                self,
                sandbox_id,
                folder,
                machine_spec,
                image,
                slot,
                shared_slot=True,
                lab=(lab_id, lab_folder / "userns"),
                seed=seed,
            )
            entering.start_spawner(self, handle)
        except BaseException:
            init = (int(handle.data["pid"]), handle.data["start"], handle.data["monitor"]) if handle else None
            self._teardown(sandbox_id, folder, init, None, shared=True)
            raise
        return handle

    def _destroy_lab_machines(self, lab_id: str) -> None:
        """Every machine folder that names ``lab_id`` (a crash may have left some the handle does not list)."""
        for folder in sorted(self.root.iterdir()):
            if not ID_PATTERN.match(folder.name) or folder.name == lab_id:
                continue
            try:
                found = SandboxHandle.from_json(json.loads((folder / HANDLE_FILE).read_text()))
            except (OSError, ValueError, KeyError):
                continue
            if found.data.get("lab") == lab_id:
                self.destroy(found)

    def _grant_sudo(self, handle: SandboxHandle) -> None:
        """Let the learner use sudo: the spawner already made setuid work on this sandbox's root; this
        adds the sudoers rule, written by the sandbox's own root from inside."""
        result = self.exec(handle, SUDO_SETUP, user=User.ROOT, timeout=10)
        if not result.ok:
            raise SandboxError(f"could not enable sudo in sandbox {handle.id}: {result.stderr.strip()[-500:]}")

    # -----------------------------------------------------------------------------------------------
    # entering a sandbox

    def _live(self, handle: SandboxHandle) -> tuple[int, pathlib.Path]:
        folder = self._folder(handle)
        pid = int(handle.data.get("pid", 0))
        if not pid or start_time(pid) != handle.data.get("start") or not (folder / HANDLE_FILE).is_file():
            raise SandboxNotFound(f"sandbox {handle.id} is not running")
        if handle.data.get("version") != HANDLE_VERSION:
            raise SandboxNotFound(f"sandbox {handle.id} was made by an earlier version of the backend; recreate it")
        return pid, folder

    def _mount_namespace(self, handle: SandboxHandle) -> int:
        """A descriptor of the sandbox's own mount namespace (decision 0089), where its writable layer
        is mounted: that of bubblewrap's monitor, the init's parent, checked against the handle's
        init before and after opening, so a recycled pid is never followed."""
        pid = int(handle.data.get("pid") or 0)
        monitor = int(handle.data.get("monitor") or 0)

        def checked() -> bool:
            return bool(monitor) and parent_pid(pid) == monitor and start_time(pid) == handle.data.get("start")

        if not checked():
            raise SandboxNotFound(f"sandbox {handle.id} is not running (its monitor is gone)")
        try:
            fd = os.open(f"/proc/{monitor}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise SandboxNotFound(f"sandbox {handle.id} is not running (its monitor is gone)") from error
        if not checked():
            os.close(fd)
            raise SandboxNotFound(f"sandbox {handle.id} is not running (its monitor is gone)")
        return fd

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
        handle = handle.machine()
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
            return checks.run_check(
                self,
                handle,
                user,
                uid,
                script_r,
                child_ends,
                ours,
                env,
                args,
                timeout,
                output_limit,
                cpu_seconds,
                started,
            )
        wrapper = f'{cpu_limit(cpu_seconds)}cd "$HOME" 2>/dev/null || cd /; . /dev/fd/3'
        try:
            process = entering.spawn(
                self,
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
            result = collect(process, ours["writes"], ours["reads"], timeout, output_limit, started)
        finally:
            process.close()
        return cpu_verdict(result, cpu_seconds, process.returncode)

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
        handle = handle.machine()
        _pid, learner_folder = self._live(handle)
        slot = ranges.slot(int(handle.data["slot"]))
        image = images.find_built(str(handle.data["image"]), str(handle.data["image_hash"]))
        sandbox_id = new_id()
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
            # /lab: the learner's writable layer over the same image, an overlay of its own (see the
            # helper), made in a copy of the learner sandbox's mount namespace, where that layer is
            learner_mounts = self._mount_namespace(handle)
            try:
                outside = making.start(
                    self,
                    sandbox_id,
                    folder,
                    spec,
                    image,
                    slot,
                    lab_upper=learner_folder / "disk" / "upper",
                    lab_mounts=learner_mounts,
                    shared_slot=True,
                )
            finally:
                os.close(learner_mounts)
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
        handle = handle.machine()
        pid, _folder = self._live(handle)
        user = User(user)
        uid = self._uid(user)
        base = int(handle.data["uid_base"])
        sudo = bool(handle.data.get("sudo"))
        master, slave = sandbox_pty(pid, base + uid, base + TTY_GID)
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", max(1, rows), max(1, cols), 0, 0))
            process = entering.spawn(
                self,
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

    def connect(self, handle: SandboxHandle, port: int, *, timeout: float = 5.0) -> socket.socket:
        """A TCP connection to ``127.0.0.1:port`` inside the sandbox (the service proxy's upstream).

        No host port and no process: a socket made in the sandbox's network namespace by the calling
        thread (``ports``). Blocking; call it from a worker thread. ``ConnectionRefusedError`` when
        nothing listens there; ``SandboxNotFound`` when the sandbox is gone.
        """
        self._live(handle)
        return ports.connect(handle, port, timeout=timeout)

    # -----------------------------------------------------------------------------------------------
    # observing and ending

    def alive(self, handle: SandboxHandle) -> bool:
        """The sandbox runs; for a lab of several machines, every one of them (and its network) does."""
        try:
            if handle.data.get("kind") == "lab":
                folder = self._folder(handle)
                if not handle.machines or len(mounted_under(folder)) < len(NAMESPACE_FILES):
                    return False
                for name in handle.machines:
                    self._live(handle.machine(name))
            else:
                self._live(handle)
        except SandboxNotFound:
            return False
        return True

    def image_names(self) -> list[str]:
        """Every image some recipe folder provides (built on first use, or by ``kafaat image build``)."""
        return images.recipe_names()

    def usage(self, handle: SandboxHandle) -> cgroups.Usage:
        """Memory, OOM kills, processes and CPU throttling of a sandbox, from its cgroup."""
        handle = handle.machine()
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
                handle = SandboxHandle.from_json(json.loads((folder / HANDLE_FILE).read_text()))
                lab = handle.data.get("lab")
                if lab and ID_PATTERN.match(str(lab)) and (self.root / str(lab)).is_dir():
                    continue  # a machine of a lab: the lab's handle stands for it (and destroying it ends it)
                found.append(handle)
            except (OSError, ValueError, KeyError):
                # a sandbox that died while being created: still reported, so it gets destroyed
                found.append(SandboxHandle(id=folder.name, backend=self.name, host=str(self.settings.LAB_HOST)))
        return found

    def destroy(self, handle: SandboxHandle) -> None:
        """Kill every process, unmount, remove the cgroups and the folder, free the id range. Idempotent.

        A lab of several machines: every machine, then the lab's namespaces (whose bind mounts keep
        the switch, its bridge and rules; the veths go with the machines' network namespaces)."""
        folder = self._folder(handle)
        if handle.data.get("kind") == "lab" or (folder / NAMESPACE_FILES[0]).exists():
            for name in handle.machines:
                self.destroy(handle.machine(name))
            self._destroy_lab_machines(handle.id)
            slot = handle.data.get("slot")
            self._teardown(handle.id, folder, None, int(slot) if slot is not None else None)
            return
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
        if init and start_time(init[0]) == init[1]:
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
        for point in mounted_under(folder):
            umount(point)
        driver.remove(sandbox_id)
        if folder.exists():
            for leftover in mounted_under(folder):
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
        while pid and start_time(pid) is not None and time.monotonic() < end:
            time.sleep(0.002)

    def _reap(self) -> None:
        """Collect exited sandbox monitors this process started, so none lingers as a zombie."""
        with self._children_lock:
            for pid, process in list(self._children.items()):
                if process.poll() is not None:
                    del self._children[pid]
