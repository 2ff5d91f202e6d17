"""``kafaat sandbox ...`` end to end, as an operator runs it (a real process, no Django settings)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from xblocks.cli import build_parser

pytestmark = pytest.mark.sandbox
ROOT = pathlib.Path(__file__).resolve().parents[3]


def kafaat(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-m", "xblocks.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=str(ROOT),
        check=False,
    )


def test_the_image_and_sandbox_groups_have_their_subcommands():
    parser = build_parser()
    assert parser.parse_args(["image", "build", "--all"]).all
    args = parser.parse_args(
        ["sandbox", "exec", "--image", "web", "--memory", "256M", "--pids", "64", "--timeout", "5", "--", "echo", "x"]
    )
    assert (args.image, args.memory, args.pids, args.timeout, args.cmd) == (
        "web",
        256 * 1024 * 1024,
        64,
        5.0,
        ["--", "echo", "x"],
    )


def test_sandbox_exec_prints_output_and_exits_with_the_commands_code(local_backend):
    result = kafaat(
        "sandbox",
        "exec",
        "--image",
        "base",
        "--memory",
        "128M",
        "--pids",
        "32",
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2; id -un; exit 3",
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout == "out\nlearner\n" and result.stderr == "err\n"


def test_sandbox_exec_passes_stdin_and_reports_a_timeout(local_backend):
    assert kafaat("sandbox", "exec", "--", "tr", "a-z", "A-Z", stdin="abc\n").stdout == "ABC\n"
    timed = kafaat("sandbox", "exec", "--timeout", "0.5", "--", "sleep", "10")
    assert timed.returncode == 124 and "timed out" in timed.stderr


def test_sandbox_shell_runs_an_interactive_shell_and_destroys_the_sandbox_on_exit(local_backend):
    result = kafaat("sandbox", "shell", "--image", "base", stdin="echo inside-$((40+2)); hostname; exit\n", timeout=30)
    assert result.returncode == 0, result.stderr
    assert "inside-42" in result.stdout and "lab" in result.stdout
    assert "cli" not in {h.label for h in local_backend.inventory()}  # other tests' sandboxes may come and go


def test_sandbox_selftest_prints_each_case_and_passes(local_backend):
    result = kafaat("sandbox", "selftest", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    from xblocks.labs.sandbox import redteam

    assert sum(line.startswith("ok ") for line in lines) == sum(attack.selftest for attack in redteam.CORPUS)
    assert "self-test passed" in lines[-1]


# What ``kafaat sandbox exec`` imports, beyond what the interpreter had before ``xblocks.cli``: the
# command's start-up is most of its cost (docs/benchmarks.md, "cli"), so a new import on this path
# is a decision, made by changing this list (decision 88), never a side effect.
EXEC_PATH_MODULES = {
    "xblocks",
    "xblocks.cli",
    "xblocks.core",
    "xblocks.core.conf",
    "xblocks.labs",
    "xblocks.labs.sandbox",
    "xblocks.labs.sandbox.base",
    "xblocks.labs.sandbox.cgroups",
    "xblocks.labs.sandbox.cli",
    "xblocks.labs.sandbox.conf",
    "xblocks.labs.sandbox.helper",
    "xblocks.labs.sandbox.images",
    "xblocks.labs.sandbox.local",
    "xblocks.labs.sandbox.local.backend",
    "xblocks.labs.sandbox.local.checks",
    "xblocks.labs.sandbox.local.entering",
    "xblocks.labs.sandbox.local.kernel",
    "xblocks.labs.sandbox.local.layout",
    "xblocks.labs.sandbox.local.making",
    "xblocks.labs.sandbox.local.ports",
    "xblocks.labs.sandbox.local.pty",
    "xblocks.labs.sandbox.local.running",
    "xblocks.labs.sandbox.ranges",
    "xblocks.labs.sandbox.seccomp",
    "xblocks.labs.sandbox.selftest",
    "xblocks.labs.sandbox.spawner",
}
# Standard-library modules that cost milliseconds and that the path has no use for (entry-point
# scans, a thread pool for labs of several machines, the host-requirement checks of a self-test run).
NOT_ON_EXEC_PATH = {
    "asyncio",
    "concurrent.futures",
    "email",
    "http",
    "importlib.metadata",
    "pkg_resources",
    "platform",
    "secrets",
    "sqlite3",
    "tempfile",
    "uuid",
    "xml",
    "zipfile",
}

EXEC_PROBE = """
import sys
before = set(sys.modules)
from xblocks import cli
code = cli.main(["sandbox", "exec", "--image", "base", "--", "true"])
third_party = sorted(
    name for name, module in sys.modules.items()
    if name not in before and not name.startswith("xblocks")
    and any(part in (getattr(module, "__file__", None) or "") for part in ("site-packages", "dist-packages"))
)
print(code)
print(*sorted(set(sys.modules) - before))
print(*third_party)
"""


def test_sandbox_exec_imports_only_the_standard_library_and_the_sandbox_engine(local_backend):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", EXEC_PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(ROOT),
        timeout=60,
        check=True,
    )
    code, imported, third_party = done.stdout.split("\n")[-4:-1]
    assert code == "0", done.stderr
    modules = set(imported.split())
    assert {name for name in modules if name.split(".")[0] == "xblocks"} == EXEC_PATH_MODULES
    assert third_party.split() == []  # no Django, jinja, cryptography...: nothing from site-packages
    assert {name for name in NOT_ON_EXEC_PATH if any(m == name or m.startswith(f"{name}.") for m in modules)} == set()
