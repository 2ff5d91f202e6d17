"""LocalBackend behaviour: lifecycle, exec semantics, files, PTY, handles across processes, concurrency, cleanup."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from xblocks.labs.sandbox import cgroups
from xblocks.labs.sandbox.base import Backend, MiB, SandboxHandle, SandboxNotFound, SandboxSpec, get_backend
from xblocks.labs.sandbox.local.kernel import start_time

pytestmark = pytest.mark.sandbox


def _traces(backend, handle: SandboxHandle) -> dict:
    """Everything of a sandbox the host could still hold."""
    folder = pathlib.Path(backend.settings.SANDBOX_ROOT) / handle.id
    mountinfo = pathlib.Path("/proc/self/mountinfo").read_text()
    driver = cgroups.driver(backend.settings.SANDBOX_CGROUP_PARENT)
    init_ns, mount_ns = handle.data.get("ns"), handle.data.get("mnt")
    in_ns, holding_mounts = [], []
    if init_ns:
        for entry in pathlib.Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if "State:\tZ" in (entry / "status").read_text():
                        continue
                    if os.readlink(entry / "ns/pid") == init_ns:
                        in_ns.append(int(entry.name))
                    # a namespace's number is reused once it is freed: only a process that started
                    # while the sandbox lived can hold *its* namespace (sandboxes come and go meanwhile)
                    if (
                        mount_ns
                        and os.readlink(entry / "ns/mnt") == mount_ns
                        and (start_time(int(entry.name)) or 0) <= handle.data["alive_at"]
                    ):
                        holding_mounts.append(int(entry.name))
                except OSError:
                    continue
    return {
        "folder": folder.exists(),
        # its mounts: in the host's table, or in its own mount namespace while a process holds it
        "mounts": str(folder) in mountinfo or bool(holding_mounts),
        "cgroups": [str(p) for p in driver.paths(handle.id) if p.exists()],
        "processes": in_ns,
    }


def test_the_backend_is_the_configured_per_process_singleton(local_backend):
    assert get_backend() is local_backend
    assert isinstance(local_backend, Backend)
    assert local_backend.name == "local"


def test_destroy_leaves_no_process_mount_cgroup_or_folder_and_is_idempotent(local_backend):
    handle = local_backend.create(SandboxSpec(label="cleanup"))
    ns = {
        "ns": os.readlink(f"/proc/{handle.data['pid']}/ns/pid"),
        "mnt": os.readlink(f"/proc/{handle.data['monitor']}/ns/mnt"),  # where its layer and root are mounted
    }
    handle = SandboxHandle.from_json({**handle.as_json(), "data": {**handle.data, **ns}})
    local_backend.exec(handle, "sleep infinity & setsid sleep 999 & (sleep 998 &) & echo x > ~/file")
    ticks = int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))
    handle = SandboxHandle.from_json({**handle.as_json(), "data": {**handle.data, "alive_at": ticks}})
    alive = _traces(local_backend, handle)
    assert alive["folder"] and alive["mounts"] and alive["cgroups"] and len(alive["processes"]) >= 5
    local_backend.destroy(handle)
    assert _traces(local_backend, handle) == {"folder": False, "mounts": False, "cgroups": [], "processes": []}
    local_backend.destroy(handle)  # again: nothing to do, no error
    assert not local_backend.alive(handle)
    assert handle.id not in {h.id for h in local_backend.inventory()}
    with pytest.raises(SandboxNotFound):
        local_backend.exec(handle, "true")


def test_an_idle_sandbox_adds_nothing_to_the_host_mount_table_and_holds_four_processes(local_backend):
    """Density (decision 0089): its writable layer and root are mounted in a mount namespace of its
    own, not the host's; idle, it is bwrap's monitor and init, the holder and the spawner."""
    handle = local_backend.create(SandboxSpec(label="density"))
    try:
        folder = pathlib.Path(local_backend.settings.SANDBOX_ROOT) / handle.id
        assert str(folder) not in pathlib.Path("/proc/self/mountinfo").read_text()
        monitor = handle.data["monitor"]
        own = [line.split()[4] for line in pathlib.Path(f"/proc/{monitor}/mountinfo").read_text().splitlines()]
        assert str(folder / "disk") in own and str(folder / "root") in own
        assert os.readlink(f"/proc/{monitor}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        driver = cgroups.driver(local_backend.settings.SANDBOX_CGROUP_PARENT)
        assert len(driver.pids(handle.id)) == 4
        assert local_backend.exec(handle, "echo kept > ~/f && cat ~/f").stdout == "kept\n"
        assert local_backend.exec_outside(handle, "cat /lab/home/learner/f").stdout == "kept\n"
    finally:
        local_backend.destroy(handle)


def test_exec_reports_exit_code_output_arguments_stdin_and_runs_in_home(sandbox, local_backend):
    result = local_backend.exec(
        sandbox, 'echo "$#:$1:$2"; cat; pwd; echo err >&2; exit 7', args=["a b", "c"], stdin=b"in\n"
    )
    assert result.exit_code == 7 and not result.ok
    assert result.stdout == "2:a b:c\nin\n/home/learner\n"
    assert result.stderr == "err\n"
    assert not result.timed_out and not result.truncated


def test_exec_runs_as_learner_or_root_with_a_cleared_environment(make_sandbox, local_backend, monkeypatch):
    monkeypatch.setenv("KAFAAT_LEAK_PROBE", "host-only")
    handle = make_sandbox(env={"LAB_PARAM": "42"})
    learner = local_backend.exec(
        handle, 'id -u; echo "$HOME $LAB_PARAM ${KAFAAT_LEAK_PROBE:-absent} $EXTRA"', env={"EXTRA": "x"}
    )
    root = local_backend.exec(handle, "id -u; echo $HOME", user="root")
    assert learner.stdout == "1000\n/home/learner 42 absent x\n"
    assert root.stdout == "0\n/root\n"


def test_a_wall_timeout_kills_the_script_and_is_not_a_pass(sandbox, local_backend):
    result = local_backend.exec(sandbox, "echo started; sleep 20; echo never", timeout=0.5)
    assert result.timed_out and result.exit_code is None and not result.ok
    assert result.stdout == "started\n"
    assert result.duration < 2


def test_background_daemons_started_by_a_script_keep_running(sandbox, local_backend):
    result = local_backend.exec(sandbox, "sleep 60 & echo started", timeout=5)
    assert result.ok and result.duration < 2  # the daemon holding the output pipe does not hold up the caller
    assert local_backend.exec(sandbox, "pgrep -x sleep | wc -l").stdout.strip() == "2"  # with the init's


def test_output_past_the_cap_is_dropped_and_flagged(sandbox, local_backend):
    result = local_backend.exec(sandbox, "head -c 100000 /dev/zero | tr '\\0' a", output_limit=1000)
    assert result.truncated and result.stdout == "a" * 1000 and result.ok


def test_files_are_placed_from_inside_and_owned_by_the_user_who_placed_them(sandbox, local_backend):
    local_backend.put_file(sandbox, "/home/learner/lab/notes.txt", b"hello\n", mode=0o600)
    local_backend.put_file(sandbox, "/opt/lab/check.sh", b"exit 0\n", user="root", mode=0o700)
    listing = local_backend.exec(
        sandbox, "stat -c '%U %a %s' /home/learner/lab/notes.txt; cat /opt/lab/check.sh", user="root"
    )
    assert listing.stdout == "learner 600 6\nexit 0\n"
    assert local_backend.read_file(sandbox, "/home/learner/lab/notes.txt").stdout == "hello\n"
    assert local_backend.read_file(sandbox, "/opt/lab/check.sh").exit_code != 0  # root's 0700 file: learner cannot


def test_the_learner_can_write_home_and_tmp_but_not_the_image(sandbox, local_backend):
    result = local_backend.exec(sandbox, "touch ~/a /tmp/b && echo ok; touch /usr/bin/x 2>/dev/null || echo denied")
    assert result.stdout == "ok\ndenied\n"


def test_sudo_works_only_in_sandboxes_that_allow_it(make_sandbox, local_backend):
    plain = make_sandbox()
    with_sudo = make_sandbox(learner_sudo=True)
    # even with a sudoers entry, a plain sandbox's learner cannot use setuid sudo (nosuid, no_new_privs)
    local_backend.exec(
        plain, "echo 'learner ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/x && chmod 440 /etc/sudoers.d/x", user="root"
    )
    assert local_backend.exec(with_sudo, "sudo -n id -u").stdout == "0\n"
    denied = local_backend.exec(plain, "sudo -n id -u")
    assert denied.exit_code != 0 and denied.stdout == ""


def test_limits_are_written_to_the_sandbox_cgroup(make_sandbox, local_backend):
    handle = make_sandbox(memory_bytes=96 * MiB, pids=77, cpus=0.5)
    driver = cgroups.driver(local_backend.settings.SANDBOX_CGROUP_PARENT)
    files = {p.name: p for p in driver.paths(handle.id)}
    text = "".join(
        path.joinpath(name).read_text()
        for path in driver.paths(handle.id)
        for name in ("memory.limit_in_bytes", "pids.max", "cpu.cfs_quota_us", "memory.max", "cpu.max")
        if path.joinpath(name).exists()
    )
    assert str(96 * MiB) in text and "77" in text and "50000" in text
    assert files  # at least one cgroup folder


def test_a_pty_runs_a_login_shell_as_the_learner_and_closing_it_keeps_the_sandbox(sandbox, local_backend):
    pty = local_backend.open_pty(sandbox, cols=100, rows=30)
    try:
        pty.write(b"stty size; id -un; stat -c 'tty-owner=%U' $(tty); echo END$((6*7))\n")
        output = _read_until(pty, b"END42")
        assert b"30 100" in output and b"learner" in output and b"tty-owner=learner" in output
        pty.resize(120, 40)
        pty.write(b"stty size\n")
        assert b"40 120" in _read_until(pty, b"40 120")
        assert pty.alive()
    finally:
        pty.close()
    assert not pty.alive()
    assert local_backend.alive(sandbox)
    assert local_backend.exec(sandbox, "echo still").stdout == "still\n"


def test_a_pty_reads_end_of_stream_when_the_shell_exits(sandbox, local_backend):
    pty = local_backend.open_pty(sandbox)
    try:
        pty.write(b"exit\n")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and pty.read():
            pass
        assert pty.read() == b""
    finally:
        pty.close()


def _read_until(pty, marker: bytes, timeout: float = 5.0) -> bytes:
    import select

    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([pty.fileno()], [], [], 0.2)
        if ready:
            seen += pty.read()
    return seen


def test_a_handle_stored_as_json_works_from_another_process(local_backend):
    handle = local_backend.create(SandboxSpec(label="cross-process"))
    try:
        stored = json.dumps(handle.as_json())
        code = (
            "import json, sys\n"
            "from xblocks.labs.sandbox.base import SandboxHandle, get_backend\n"
            "handle = SandboxHandle.from_json(json.loads(sys.argv[1]))\n"
            "backend = get_backend()\n"
            "print(backend.exec(handle, 'echo from-another-process').stdout.strip(), backend.alive(handle))\n"
            "backend.destroy(handle)\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        output = subprocess.run(
            [sys.executable, "-c", code, stored],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=str(pathlib.Path(__file__).resolve().parents[3]),
            check=True,
        ).stdout
        assert output.strip() == "from-another-process True"
        assert not local_backend.alive(handle)
    finally:
        local_backend.destroy(handle)


def test_the_sandbox_outlives_the_process_that_created_it(local_backend):
    code = (
        "import json\n"
        "from xblocks.labs.sandbox.base import SandboxSpec, get_backend\n"
        "print(json.dumps(get_backend().create(SandboxSpec(label='orphan')).as_json()))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=str(pathlib.Path(__file__).resolve().parents[3]),
    ).stdout
    handle = SandboxHandle.from_json(json.loads(output))
    try:
        assert local_backend.alive(handle)
        assert handle.id in {h.id for h in local_backend.inventory()}
        assert local_backend.exec(handle, "echo survived").stdout == "survived\n"
    finally:
        local_backend.destroy(handle)
    assert not local_backend.alive(handle)


def test_many_sandboxes_created_at_once_from_threads_are_all_distinct_and_working(local_backend):
    with ThreadPoolExecutor(max_workers=8) as pool:
        handles = list(pool.map(lambda i: local_backend.create(SandboxSpec(label=f"thread-{i}")), range(12)))
    try:
        assert len({h.id for h in handles}) == 12
        with ThreadPoolExecutor(max_workers=8) as pool:
            outputs = list(pool.map(lambda h: local_backend.exec(h, "echo $RANDOM > ~/mine; hostname").stdout, handles))
        assert outputs == ["lab\n"] * 12
    finally:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(local_backend.destroy, handles))
    assert not {h.id for h in handles} & {h.id for h in local_backend.inventory()}


def test_sandboxes_created_from_several_processes_at_once_work(local_backend):
    code = (
        "from xblocks.labs.sandbox.base import SandboxSpec, get_backend\n"
        "b = get_backend(); h = b.create(SandboxSpec(label='proc'))\n"
        "r = b.exec(h, 'echo ok'); b.destroy(h); print(r.stdout.strip())\n"
    )
    root = str(pathlib.Path(__file__).resolve().parents[3])
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=root) for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in processes]
    assert outputs == ["ok"] * 4


def test_inventory_reports_live_sandboxes_with_their_labels(make_sandbox, local_backend):
    handle = make_sandbox(label="labsession-4242")
    found = {h.id: h for h in local_backend.inventory()}
    assert found[handle.id].label == "labsession-4242"
    assert found[handle.id].data["pid"] == handle.data["pid"]


def test_a_recycled_pid_is_not_mistaken_for_the_sandbox(sandbox, local_backend):
    forged = SandboxHandle.from_json({**sandbox.as_json(), "data": {**sandbox.data, "start": 1}})
    assert not local_backend.alive(forged)
    with pytest.raises(SandboxNotFound):
        local_backend.exec(forged, "true")


@pytest.mark.parametrize("bad_id", ["../../etc", "abc", "/tmp/x", "0123456789abcdeg"])
def test_handles_with_forged_ids_are_refused_before_touching_the_host(local_backend, bad_id):
    handle = SandboxHandle(id=bad_id, backend="local", host="h", data={"pid": 1, "start": 0})
    with pytest.raises(SandboxNotFound):
        local_backend.destroy(handle)
    assert not local_backend.alive(handle)


def test_the_disk_cap_counts_toward_nothing_on_the_host_disk(make_sandbox, local_backend):
    handle = make_sandbox(disk_bytes=32 * MiB)
    free = os.statvfs(local_backend.settings.SANDBOX_ROOT).f_bavail
    result = local_backend.exec(handle, "dd if=/dev/zero of=~/f bs=1M count=20 2>/dev/null; df -m / | tail -1")
    assert result.ok
    assert abs(os.statvfs(local_backend.settings.SANDBOX_ROOT).f_bavail - free) * os.statvfs("/").f_frsize < 8 * MiB


@pytest.mark.parametrize(
    "burner",
    ["while :; do :; done", "python3 -c 'while True: pass'"],
    ids=["the-shell-itself", "a-child-process"],
)
def test_a_run_over_its_cpu_time_limit_is_reported_as_such_not_as_a_timeout(sandbox, local_backend, burner):
    result = local_backend.exec(sandbox, burner, cpu_seconds=1, timeout=15)
    assert result.cpu_exceeded and not result.timed_out and not result.ok
    assert result.duration < 10


def test_a_run_within_its_cpu_time_limit_is_not_flagged(sandbox, local_backend):
    result = local_backend.exec(sandbox, "sleep 0.2; echo done", cpu_seconds=1, timeout=15)
    assert result.ok and not result.cpu_exceeded and result.stdout == "done\n"


def test_the_web_image_runs_nginx_in_front_of_a_python_app_on_loopback(make_sandbox, local_backend):
    from xblocks.labs.sandbox import images

    images.ensure("web")
    handle = make_sandbox(image="web")
    site = "server { listen 8080; location / { proxy_pass http://127.0.0.1:5000; } }\n"
    local_backend.put_file(handle, "/etc/nginx/conf.d/app.conf", site.encode(), user="root")
    assert local_backend.exec(handle, "nginx && echo started", user="root").stdout == "started\n"
    result = local_backend.exec(
        handle,
        "cd /tmp && echo hello-from-app > index.html && (python3 -m http.server 5000 >/dev/null 2>&1 &); "
        "for i in $(seq 50); do curl -sf http://127.0.0.1:8080/index.html && break; sleep 0.1; done",
        timeout=15,
    )
    assert result.stdout == "hello-from-app\n"
    workers = local_backend.exec(handle, "ps -o user= -C nginx | sort | uniq -c").stdout
    assert "learner" in workers and "root" in workers  # master as the sandbox's root, workers as the learner


def test_an_unknown_image_is_refused_before_anything_is_made(local_backend):
    from xblocks.labs.sandbox.base import ImageNotFound

    before = {h.id for h in local_backend.inventory()}
    with pytest.raises(ImageNotFound):
        local_backend.create(SandboxSpec(image="no-such-image", label="missing-image"))
    assert "missing-image" not in {h.label for h in local_backend.inventory() if h.id not in before}


def test_a_sandbox_that_fails_to_start_leaves_nothing_behind(local_backend, monkeypatch, tmp_path):
    from xblocks.labs.sandbox import images
    from xblocks.labs.sandbox.base import SandboxError

    (tmp_path / "empty" / "rootfs").mkdir(parents=True)  # no /bin/sh: bwrap cannot start the init
    empty = images.Image(name="empty", hash="0" * 12, path=tmp_path / "empty", built=True)
    monkeypatch.setattr(images, "find", lambda name: empty)
    before = {h.id for h in local_backend.inventory()}
    with pytest.raises(SandboxError, match="failed to start"):
        local_backend.create(SandboxSpec(label="fails"))
    new = {h.id for h in local_backend.inventory()} - before
    assert not [h for h in local_backend.inventory() if h.id in new and h.label == "fails"]
    mountinfo = pathlib.Path("/proc/self/mountinfo").read_text()
    assert str(tmp_path / "empty") not in mountinfo


SPAWN_PROBE = """
import threading, time
from xblocks.labs.sandbox.local import LocalBackend
from xblocks.labs.sandbox.base import SandboxSpec
threading.Thread(target=time.sleep, args=(30,), daemon=True).start()  # threaded, as a web server or worker is
backend = LocalBackend.instance()
handle = backend.create(SandboxSpec(image="base", label="spawn-probe"))
try:
    backend.exec(handle, "true")
    backend.exec(handle, "true", check=True)
    pty = backend.open_pty(handle, cols=80, rows=24)
    time.sleep(0.3)
    pty.close()
finally:
    backend.destroy(handle)
"""


@pytest.mark.skipif(not shutil.which("strace"), reason="needs strace to see how the host process spawns")
def test_sandbox_entries_vfork_the_host_process_and_never_copy_it(tmp_path, local_backend):  # noqa: ARG001
    """No preexec_fn (or uid/gid change) anywhere on the way in: CPython then vforks instead of copying the
    whole (web or worker) process for every create, exec, check and terminal; the helper does the rest."""
    trace = tmp_path / "spawns.txt"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=clone,clone3,vfork,fork",
            "-o",
            str(trace),
            sys.executable,
            "-c",
            SPAWN_PROBE,
        ],
        check=True,
        env=env,
        timeout=120,
    )
    lines = trace.read_text().splitlines()
    parent = lines[0].split()[0]
    spawns = [line for line in lines if line.startswith(parent + " ") and ("fork(" in line or "clone" in line)]
    copies = [line for line in spawns if "CLONE_THREAD" not in line and "vfork(" not in line]
    assert copies == [], "\n".join(copies)
    assert sum("vfork(" in line for line in spawns) >= 3  # create, exec and check went through the fast path
