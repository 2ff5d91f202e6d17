"""What /proc tells about the host, and the shared image."""

from __future__ import annotations

from xblocks.labs.sandbox.selftest import Context, _expect

# ---------------------------------------------------------------------------------------------------
# What /proc tells about the host, and the shared image


def proc_leaks(ctx: Context) -> str:
    result = ctx.run(
        ctx.a,
        'for f in cmdline kallsyms config.gz; do [ -e /proc/$f ] && echo "$f=$(wc -c < /proc/$f)"; done; '
        'echo "acpi=$(ls -A /proc/acpi 2>/dev/null | wc -l)"; '
        "echo \"nspid=$(awk '/^NSpid/ {print NF - 1}' /proc/self/status)\"",
    )
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    shown = {key: value for key, value in seen.items() if key != "nspid" and value.strip() != "0"}
    _expect(not shown, f"host detail readable in /proc: {shown}")
    _expect(seen.get("nspid") == "1", f"a process sees {seen.get('nspid')} levels of pids")
    check = ctx.backend.exec(ctx.a, "cat /proc/self/cgroup /proc/self/mountinfo", check=True, timeout=10)
    parent = str(ctx.backend.settings.SANDBOX_CGROUP_PARENT).strip("/")
    for leak in (parent + "/", str(getattr(ctx.backend, "root", "/var/lib/kafaat")), "/sys/fs/cgroup"):
        _expect(leak not in check.stdout, f"a check's /proc shows the host's {leak!r}")
    return "host boot parameters, kernel configuration and symbols masked; one pid level; a check's cgroup is relative"


IMAGE_FILES = ("usr/bin/tac", "usr/bin/nl", "usr/bin/expand", "usr/bin/unexpand", "usr/bin/fold")
IMAGE_WRITES = r"""
echo x >> /usr/bin/tac
ln /usr/bin/nl /root/nl-link && echo y >> /root/nl-link
python3 -c '
import mmap, os
fd = os.open("/usr/bin/expand", os.O_RDWR)
m = mmap.mmap(fd, 0)
m[0:4] = b"XXXX"
m.flush()'
chmod 4777 /usr/bin/unexpand; chown 1000:1000 /usr/bin/unexpand; touch -d 2001-01-01 /usr/bin/unexpand
setcap cap_sys_admin+ep /usr/bin/fold 2>/dev/null
python3 -c 'import os; os.setxattr("/usr/bin/fold", "trusted.overlay.redirect", b"/etc")' 2>/dev/null
true
"""


def _image_state(rootfs) -> list:
    import hashlib  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel

    state = []
    for relative in IMAGE_FILES:
        path = rootfs / relative
        info = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        state.append((relative, digest, info.st_mode, info.st_uid, info.st_mtime_ns, sorted(os.listxattr(path))))
    return state


def image_integrity(ctx: Context) -> str:
    from xblocks.labs.sandbox import images  # pylint: disable=import-outside-toplevel

    handle = ctx.sudo_sandbox()
    rootfs = images.find_built(str(handle.data["image"]), str(handle.data["image_hash"])).rootfs
    before = _image_state(rootfs)
    ctx.run(handle, 'sudo -n sh -c "$1"', args=[IMAGE_WRITES], timeout=15)
    changed = ctx.run(handle, "sudo -n stat -c %s /usr/bin/tac; head -c 4 /usr/bin/expand").stdout
    after = _image_state(rootfs)
    _expect("XXXX" in changed, f"the learner's writes did not happen in their sandbox: {changed}")
    _expect(before == after, f"the shared image changed: {[a for a, b in zip(before, after, strict=True) if a != b]}")
    return "appends, a hard link, a shared mmap, chmod, chown, touch, setcap and overlay xattrs: the image is intact"
