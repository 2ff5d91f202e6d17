"""The backend contract: what every sandbox backend must do, run against each one that ships.

A new backend (a Kubernetes one, a remote lab host) joins ``BACKENDS`` below and must pass all of
it: the labs api, the runner and the terminal gateway rely on nothing else. The local backend's
cases need root and real sandboxes (marked ``sandbox``); the memory backend's run anywhere.
"""

from __future__ import annotations

import select
import time

import pytest

from xblocks.labs.sandbox.base import (
    Backend,
    BackendUnavailable,
    ImageNotFound,
    SandboxHandle,
    SandboxNotFound,
    SandboxSpec,
    get_backend,
)
from xblocks.labs.sandbox.memory import MemoryBackend
from xblocks.labs.terminal.streams import bridge

BACKENDS = [pytest.param("local", marks=pytest.mark.sandbox), "memory"]


@pytest.fixture(params=BACKENDS)
def engine(request):
    """``(backend, make)``: the backend under test and a maker of sandboxes destroyed after the test."""
    if request.param == "local":
        backend = request.getfixturevalue("local_backend")  # skips, saying why, without root and bwrap
    else:
        backend = MemoryBackend.instance()
    made = []

    def make(**spec):
        handle = backend.create(SandboxSpec(label="contract", **spec))
        made.append(handle)
        return handle

    yield backend, make
    for handle in made:
        backend.destroy(handle)


def test_it_is_a_backend_named_by_what_its_handles_carry(engine):
    backend, make = engine
    assert isinstance(backend, Backend)
    handle = make()
    assert handle.backend == backend.name and handle.label == "contract"
    assert get_backend(handle.backend) is backend  # what every caller holding a handle does
    assert "base" in backend.image_names()
    again = SandboxHandle.from_json(handle.as_json())  # as stored on a session row
    assert backend.alive(again) and handle.id in {h.id for h in backend.inventory()}


def test_exec_runs_scripts_with_arguments_stdin_users_and_exit_codes(engine):
    backend, make = engine
    handle = make()
    done = backend.exec(handle, 'echo "hello $1"; exit 3', args=["world"])
    assert (done.exit_code, done.stdout, done.ok, done.timed_out) == (3, "hello world\n", False, False)
    assert backend.exec(handle, "cat", stdin=b"from stdin\n").stdout == "from stdin\n"
    assert backend.exec(handle, "whoami").stdout == "learner\n"
    assert backend.exec(handle, "whoami", user="root").stdout == "root\n"
    assert backend.exec(handle, "whoami", check=True).ok


def test_files_written_as_the_learner_are_what_scripts_and_read_file_see(engine):
    backend, make = engine
    handle = make()
    backend.put_file(handle, "/home/learner/notes.txt", b"kafaat\n")
    assert backend.read_file(handle, "/home/learner/notes.txt").stdout == "kafaat\n"
    assert backend.exec(handle, "grep -c kafaat /home/learner/notes.txt").stdout == "1\n"
    assert backend.exec(handle, "test -f /home/learner/notes.txt && echo yes").stdout == "yes\n"
    assert not backend.read_file(handle, "/home/learner/missing.txt").ok
    backend.exec(handle, "echo made > /home/learner/made.txt")
    assert backend.read_file(handle, "/home/learner/made.txt").stdout == "made\n"


def test_an_outside_check_sees_the_learners_files_under_lab_and_leaves_nothing(engine):
    backend, make = engine
    handle = make()
    backend.put_file(handle, "/home/learner/answer.txt", b"42\n")
    outside = backend.exec_outside(handle, "cat /lab/home/learner/answer.txt; echo x > /root/outside.txt")
    assert outside.ok and outside.stdout == "42\n"
    assert not backend.exec(handle, "test -e /root/outside.txt", user="root").ok


def test_time_and_output_limits_end_a_script_and_say_so(engine):
    backend, make = engine
    handle = make()
    started = time.monotonic()
    slow = backend.exec(handle, "sleep 20", timeout=1)
    assert slow.timed_out and slow.exit_code is None and not slow.ok and time.monotonic() - started < 10
    loud = backend.exec(handle, "echo " + "x" * 5000, output_limit=100)
    assert loud.truncated and len(loud.stdout) <= 100


def test_a_terminal_runs_commands_and_closing_it_leaves_the_sandbox(engine):
    backend, make = engine
    handle = make()
    pty = bridge(backend.open_pty(handle, cols=100, rows=30))  # as the terminal gateway opens it
    try:
        pty.write(b"echo contract''-pty\r")
        seen, deadline = b"", time.monotonic() + 10
        while b"contract-pty\r\n" not in seen and time.monotonic() < deadline:
            if select.select([pty.fileno()], [], [], 0.2)[0]:
                try:
                    seen += pty.read(65536)
                except BlockingIOError:
                    continue
        assert b"contract-pty\r\n" in seen and pty.alive()
        pty.resize(120, 40)
    finally:
        pty.close()
    assert backend.alive(handle)


def test_destroy_ends_the_sandbox_for_good_and_is_idempotent(engine):
    backend, make = engine
    handle = make()
    backend.destroy(handle)
    assert not backend.alive(handle) and handle.id not in {h.id for h in backend.inventory()}
    with pytest.raises(SandboxNotFound):
        backend.exec(handle, "true")
    backend.destroy(handle)


def test_an_unknown_image_is_refused(engine):
    _backend, make = engine
    with pytest.raises(ImageNotFound):
        make(image="no-such-image")


def test_a_backend_is_chosen_by_short_name_or_dotted_path():
    assert get_backend("memory") is get_backend("xblocks.labs.sandbox.memory.MemoryBackend") is MemoryBackend.instance()
    for name in ("xblocks.labs.sandbox.memory.NoSuchBackend", "no.such.module.Backend", "nonsense"):
        with pytest.raises(BackendUnavailable):
            get_backend(name)
