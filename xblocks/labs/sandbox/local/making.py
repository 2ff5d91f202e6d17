"""Making a sandbox: its folder, writable layer and cgroups, then the helper and bubblewrap until its init runs."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import selectors
import shutil
import subprocess
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xblocks.labs.sandbox import helper, images, ranges, seccomp
from xblocks.labs.sandbox.base import (
    BackendUnavailable,
    SandboxError,
    SandboxHandle,
    SandboxSpec,
)
from xblocks.labs.sandbox.local.entering import cgroup_options
from xblocks.labs.sandbox.local.kernel import MS_NODEV, MS_NOSUID, mount, start_time, umount
from xblocks.labs.sandbox.local.layout import HANDLE_FILE, HANDLE_VERSION, LAB_MOUNT, PATH, READY_TIMEOUT, SHM_BYTES

if TYPE_CHECKING:
    from xblocks.labs.sandbox.local.backend import LocalBackend


def start(
    backend: LocalBackend,
    sandbox_id: str,
    folder: pathlib.Path,
    spec: SandboxSpec,
    image: images.Image,
    slot: ranges.Slot,
    *,
    lab_upper: pathlib.Path | None = None,
    lab_mounts: int | None = None,
    shared_slot: bool = False,
    lab: tuple[str, pathlib.Path] | None = None,
    seed: Mapping[str, bytes] | None = None,
) -> SandboxHandle:
    """Start a sandbox's init. ``lab`` (a machine of a lab of several): the lab's id and the file its
    user namespace is bound on, which the machine joins instead of making its own. ``seed``: files
    (relative path: content) put in the writable layer before anything runs (see ``seed_layer``).
    ``lab_upper`` (an outside check): the learner's writable layer, and ``lab_mounts`` a descriptor
    of the learner sandbox's mount namespace, where that layer is mounted (decision 0089)."""
    limits = spec.limits
    base = slot.base
    os.chown(folder, 0, base)
    os.chmod(folder, 0o710)  # noqa: S103  group = this sandbox's slot, which its bwrap runs as
    disk, merged = folder / "disk", folder / "root"
    disk.mkdir()
    merged.mkdir()
    lab_mount = folder / "lab" if lab_upper else None
    if lab_mount:
        lab_mount.mkdir()
    mount(
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
    if seed:
        seed_layer(upper, image.rootfs, base, seed)
    driver = backend._cgroups()
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
        *(["--ro-bind", str(lab_mount), LAB_MOUNT] if lab_mount else []),
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
        *cgroup_options(driver.procs_files(sandbox_id)),
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
        "--private-mounts",
        *(["--mounts-of", str(lab_mounts)] if lab_mounts is not None else []),
        *(["--lab", str(lab_upper), str(lab_mount)] if lab_upper else []),
        *(["--userns", str(lab[1])] if lab else []),
        "--inotify",
        str(int(backend.settings.SANDBOX_INOTIFY_INSTANCES)),
        str(int(backend.settings.SANDBOX_INOTIFY_WATCHES)),
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
            pass_fds=(status_w, ready_w, filter_r, args_r, error_w, *([lab_mounts] if lab_mounts is not None else [])),
            start_new_session=True,
        )
    finally:
        for fd in (args_w, filter_w, status_w, ready_w, filter_r, args_r, error_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
    with backend._children_lock:
        backend._children[process.pid] = process
    try:
        init_pid = await_ready(status_r, ready_r, error_r, process)
    except BaseException:
        if process.stderr and not process.stderr.closed:
            process.stderr.close()
        raise
    finally:
        for fd in (status_r, ready_r, error_r):
            os.close(fd)
    # The writable layer's tmpfs was mounted here so the layer could be seeded from the host; the
    # sandbox's own mount namespace (--private-mounts) holds its copy now, and the host's goes.
    umount(disk)
    data: dict[str, Any] = {
        "version": HANDLE_VERSION,
        "pid": init_pid,
        "start": start_time(init_pid),
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
    if lab:
        data["lab"] = lab[0]
        data["machine"] = spec.hostname
    handle = SandboxHandle(
        id=sandbox_id, backend=backend.name, host=str(backend.settings.LAB_HOST), label=spec.label, data=data
    )
    (folder / HANDLE_FILE).write_text(json.dumps(handle.as_json()))
    return handle


def seed_layer(upper: pathlib.Path, lower: pathlib.Path, base: int, files: Mapping[str, bytes]) -> None:
    """Write platform files (a lab's /etc/hosts, its sudo rule) into a new, empty writable layer.

    Done from the host on the tmpfs this module just made, before the overlay is mounted and before
    any process of the sandbox exists: nothing there can be a link of anyone's, and no process spends
    a round trip through the spawner for it. Folders and files belong to the sandbox's root; a folder
    keeps the mode it has in the image (an upper folder's attributes are the merged folder's)."""
    for relative, content in files.items():
        parts = pathlib.PurePosixPath(relative).parts
        if not parts or parts[0] == "/" or ".." in parts:
            raise ValueError(f"not a relative path inside the sandbox: {relative!r}")
        folder = upper
        for part in parts[:-1]:
            folder = folder / part
            if not folder.exists():
                image_folder = lower.joinpath(*folder.relative_to(upper).parts)
                folder.mkdir()
                os.chmod(folder, image_folder.stat().st_mode & 0o7777 if image_folder.is_dir() else 0o755)
                os.chown(folder, base, base)
        target = folder / parts[-1]
        mode = 0o440 if parts[:2] == ("etc", "sudoers.d") else 0o644
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
        try:
            os.write(fd, content)
            os.fchown(fd, base, base)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)


def await_ready(status_fd: int, ready_fd: int, error_fd: int, process: subprocess.Popen) -> int:
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
