"""Hangs, floods and learner configuration around inside checks."""

from __future__ import annotations

from xblocks.labs.sandbox.selftest import Context, _expect

# ---------------------------------------------------------------------------------------------------
# Hangs, floods and learner configuration around inside checks


def inside_fifo_hang(ctx: Context) -> str:
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    ctx.run(ctx.a, "rm -f ~/answer.txt && mkfifo ~/answer.txt")
    try:
        outcome = runner.run_check(ctx.backend, ctx.a, Check("a", 1, 1, "learner", "grep -q 42 ~/answer.txt"))
    finally:
        ctx.run(ctx.a, "rm -f ~/answer.txt")
    _expect(outcome.timed_out and not outcome.passed, f"a check reading a FIFO ended as {outcome}")
    return f"a check reading a FIFO the learner planted timed out after {outcome.duration:.1f} s, as a failure"


def output_flood_verdict(ctx: Context) -> str:
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    ctx.run(ctx.a, "head -c 1000000 /dev/zero | tr '\\0' 'y' > ~/build.log")
    script = 'cat ~/build.log; echo "FAIL: the service is not configured"; exit 1'
    try:
        outcome = runner.run_check(ctx.backend, ctx.a, Check("o", 1, 10, "learner", script))
    finally:
        ctx.run(ctx.a, "rm -f ~/build.log")
    _expect(not outcome.passed and outcome.exit_code == 1, f"a flooded check ended as {outcome.exit_code}")
    _expect(outcome.truncated, "the flood was not flagged as truncated")
    return "1 MB of learner output before the check's FAIL line: output cut and flagged, the verdict is the exit status"


LEARNER_CONFIG = r"""
for f in .bashrc .profile .bash_profile .bash_login .bash_logout .inputrc; do echo 'exit 0' > ~/$f; done
site=$(python3 -c 'import site; print(site.getusersitepackages())')
mkdir -p "$site" && echo 'import os; os._exit(0)' > "$site/kafaat-redteam.pth"
printf 'import os\nos._exit(0)\n' > ~/json.py
mkdir -p ~/repo && cd ~/repo && git init -q && echo a > a && git add a
git config --global core.fsmonitor 'echo ran > /tmp/fsmonitor-ran; false'
"""


def learner_config_in_checks(ctx: Context) -> str:
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    def check(script: str, user: str = "learner") -> int | None:
        return runner.run_check(ctx.backend, ctx.a, Check("c", 1, 10, user, script)).exit_code

    ctx.run(ctx.a, LEARNER_CONFIG)
    try:
        shell = check("exit 3")
        plain = check("python3 -c 'import json; exit(7)'")
        as_root = check("cd /home/learner && python3 -c 'import json; exit(7)'", user="root")
        isolated = check("python3 -I -c 'import json; exit(7)'")
        git_plain = check("rm -f /tmp/fsmonitor-ran; cd ~/repo && git status -s >/dev/null; [ -e /tmp/fsmonitor-ran ]")
        git_safe = check(
            "rm -f /tmp/fsmonitor-ran; cd ~/repo && git -c core.fsmonitor=false status -s >/dev/null; "
            "[ ! -e /tmp/fsmonitor-ran ]"
        )
    finally:
        ctx.run(
            ctx.a,
            "rm -rf ~/.local ~/json.py ~/repo ~/.gitconfig ~/.bashrc ~/.profile ~/.bash_profile "
            "~/.bash_login ~/.bash_logout ~/.inputrc /tmp/fsmonitor-ran",
        )
    _expect(shell == 3, f"a check read the learner's shell start-up files: exit {shell}")
    _expect(isolated == 7, f"python3 -I in a check ran the learner's files: exit {isolated}")
    _expect(git_safe == 0, "git -c core.fsmonitor=false in a check ran the learner's fsmonitor command")
    ran = [name for name, code in (("python3", plain), ("root python3 in their folder", as_root)) if code == 0]
    ran += ["git status"] if git_plain == 0 else []
    return (
        "the learner's ~/.bashrc, ~/.profile and the like are not read by checks; "
        f"{', '.join(ran) or 'nothing'} ran learner code (the documented limit: the learner's environment); "
        "python3 -I and git -c core.fsmonitor=false did not"
    )
