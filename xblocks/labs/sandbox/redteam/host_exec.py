"""Host code execution (issue 9, section 1): the in-sandbox half."""

from __future__ import annotations

from xblocks.labs.sandbox.selftest import Context, _expect

# ---------------------------------------------------------------------------------------------------
# Host code execution (issue 9, section 1): the in-sandbox half (the test suite also registers a
# handler behind the filter's back and shows it never runs on the host)


def binfmt_mount(ctx: Context) -> str:
    handle = ctx.sudo_sandbox()
    result = ctx.run(
        handle,
        "sudo -n mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>&1; echo rc=$?; "
        "echo ':k:M::\\x7fELF::/bin/true:F' | sudo -n tee /proc/sys/fs/binfmt_misc/register 2>&1; echo rc=$?",
    )
    _expect(result.stdout.count("rc=0") == 0, f"a sandbox's root mounted or registered binfmt_misc: {result.stdout}")
    return "a learner with sudo can neither mount binfmt_misc nor register a handler"


def spawner_out_of_reach(ctx: Context) -> str:
    result = ctx.run(
        ctx.a,
        'for p in /proc/[0-9]*; do ls $p/fd >/dev/null 2>&1 && [ "$(stat -c %u $p)" = 0 ] && echo reach $p; done; '
        "find / -xdev -name 'spawner.sock' 2>/dev/null; true",
    )
    _expect(not result.stdout.strip(), f"the learner reaches a root process or the spawner's socket: {result.stdout}")
    return "the learner reaches no root process's descriptors and cannot find the spawner's socket"
