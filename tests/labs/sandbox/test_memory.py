"""The memory backend's small shell: what lab tests' scripts use works, anything else says so."""

from __future__ import annotations

import pytest

from xblocks.labs.sandbox.base import SandboxSpec
from xblocks.labs.sandbox.memory import MemoryBackend


@pytest.fixture
def run():
    backend = MemoryBackend.instance()
    handle = backend.create(SandboxSpec(label="memory-shell"))
    yield lambda script, **kwargs: backend.exec(handle, script, **kwargs)
    backend.reset()


@pytest.mark.parametrize(
    "script, code, out",
    [
        ("test -d ~/project || { echo missing; exit 1; }; echo after", 1, "missing\n"),
        ("mkdir -p ~/a/b && printf '%s=%s\\n' k v > ~/a/b/f && cat ~/a/b/f | grep -c k=v", 0, "1\n"),
        ("set -e\nfalse\necho never", 1, ""),
        ("echo one >> ~/log; echo two >> ~/log; wc -l < ~/log", 0, "2\n"),
        ("! test -e /nowhere && echo absent", 0, "absent\n"),
        ('[ "$1" = yes ] && echo "got $1"', 0, "got yes\n"),
        ("touch ~/x && chmod +x ~/x && test -x ~/x && rm ~/x && test -e ~/x", 1, ""),
    ],
)
def test_the_commands_lab_scripts_use(run, script, code, out):
    result = run(script, args=["yes"])
    assert (result.exit_code, result.stdout) == (code, out), result.stderr


def test_a_command_it_does_not_know_exits_127_naming_it(run):
    result = run("echo before; python3 -c 'print(1)'")
    assert result.exit_code == 127 and result.stdout == "before\n"
    assert "memory backend: cannot run 'python3'" in result.stderr
