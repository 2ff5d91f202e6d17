"""Drives one rendered lab in a sandbox: provision it, run checks and solves, compare flags.

Used by the labs api (on a worker) and by ``kafaat lab test`` (on an author's machine); it talks
only to the backend protocol in ``sandbox.base``. Everything it places in a sandbox is written from
inside the sandbox, as the file's owner, through a rename that never follows a planted link: the
worker never creates, chowns or chmods a learner-writable path from the host (Judge0
CVE-2024-28185 and CVE-2024-28189 were exactly that). Check scripts are handed to the backend,
which delivers them without writing them where the learner can write and runs them out of the
learner's reach; setup scripts, files and solves run on the learner's side, where daemons they
start stay for the learner to manage.
"""

from __future__ import annotations

import hmac
import logging
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass

from xblocks.core.i18n import gettext as _
from xblocks.core.i18n import ngettext
from xblocks.labs import params as param_kinds
from xblocks.labs.definition import Check, CheckPlace, Flag, LabDefinition, LabFile, ServiceKind, Step
from xblocks.labs.sandbox.base import Backend, ExecResult, SandboxError, SandboxHandle, User

log = logging.getLogger(__name__)

FILE_TIMEOUT = 30.0
SETUP_TIMEOUT = 300.0
SOLVE_TIMEOUT = 300.0
# What the learner sees of a check's stdout; VPL caps results at 1 MB, a feedback box needs far less.
FEEDBACK_CHARS = 4000
CHECK_OUTPUT_BYTES = 16 * 1024
OPERATOR_TAIL_CHARS = 2000
# CSI/OSC escape sequences and C0 controls except tab and newline: feedback is plain text.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")

Phase = Callable[[str], None]


class ProvisionError(Exception):
    """A lab could not be prepared. ``learner_message`` is translated and safe; ``detail`` is for operators."""

    def __init__(self, learner_message: str, detail: str):
        super().__init__(detail)
        self.learner_message = learner_message
        self.detail = detail


@dataclass(frozen=True)
class CheckOutcome:
    """One check run: ``feedback`` is plain text for the learner (the page escapes it)."""

    id: str
    passed: bool
    points: float
    max_points: int
    feedback: str
    exit_code: int | None
    duration: float
    timed_out: bool
    truncated: bool


def _start_failed() -> str:
    """What a learner reads when a start fails: no internals, a next step."""
    return _("The lab could not be set up. Please try again; if it keeps failing, tell your instructor.")


def _tail(text: str) -> str:
    text = (text or "").strip()
    return text if len(text) <= OPERATOR_TAIL_CHARS else "…" + text[-OPERATOR_TAIL_CHARS:]


def place_file_script(lab_file: LabFile) -> str:
    """The bash that writes one lab file from stdin, run inside the sandbox as the file's owner.

    It refuses a directory reached through a symbolic link and replaces the final name by rename,
    so a link or hard link planted at the path is replaced, never written through.
    """
    path = shlex.quote(lab_file.path)
    return f"""set -eu
umask 022
target={path}
dir=$(dirname -- "$target")
mkdir -p -- "$dir"
if [ "$(cd -P -- "$dir" && pwd -P)" != "$dir" ]; then
  echo "kafaat: $dir is reached through a symbolic link; refusing to write $target" >&2
  exit 3
fi
if [ -d "$target" ] && [ ! -L "$target" ]; then
  echo "kafaat: $target is a directory" >&2
  exit 3
fi
tmp=$(mktemp -- "$dir/.kafaat-file.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
chmod {lab_file.mode:04o} -- "$tmp"
mv -fT -- "$tmp" "$target"
trap - EXIT
"""


def place_files(backend: Backend, handle: SandboxHandle, files: tuple[LabFile, ...] | list[LabFile]) -> None:
    """Write every lab file inside a live sandbox; raise ProvisionError on the first that fails."""
    for lab_file in files:
        result = backend.exec(
            handle.machine(lab_file.machine or None),
            place_file_script(lab_file),
            user=lab_file.owner,
            timeout=FILE_TIMEOUT,
            stdin=lab_file.content.encode("utf-8"),
        )
        if not result.ok:
            raise ProvisionError(
                _start_failed(),
                f"placing {lab_file.path} as {lab_file.owner} failed (exit {result.exit_code}, "
                f"timed out {result.timed_out}): {_tail(result.stderr)}",
            )


def run_step_setup(backend: Backend, handle: SandboxHandle, step) -> None:
    """Run a step's setup scripts in a live sandbox (the learner reached it); raise ProvisionError if one fails."""
    for index, setup in enumerate(step.setup, start=1):
        result = backend.exec(
            handle.machine(setup.machine or None), setup.script, user=setup.user, timeout=SETUP_TIMEOUT
        )
        if not result.ok:
            raise ProvisionError(
                _("This step could not be prepared. Please reset the lab, or tell your instructor."),
                f"setup script {index} of step {step.id} ({setup.user}) failed: exit {result.exit_code}, "
                f"timed out {result.timed_out}, {result.duration:.1f}s; "
                f"stderr: {_tail(result.stderr)}; stdout: {_tail(result.stdout)}",
            )


# Jupyter for a kind="notebook" service: as the learner, on the machine's loopback only (the proxy
# reaches it there; other machines of the lab do not), with no token or password of its own (the
# service proxy's token and cookie guard it), at the origin's root, framable (the proxy's own
# frame-ancestors policy, which browsers also enforce, names the LMS). It answers the service's own
# host name (allow_remote_access), and its XSRF cookie, which a browser does not send in a frame of
# another site, is replaced by the proxy's rule that every write comes from the service's own origin.
NOTEBOOK_SCRIPT = """set -e
command -v jupyter >/dev/null || { echo "this image has no Jupyter: use an image with it (ai)" >&2; exit 1; }
mkdir -p "$HOME/.kafaat"
log="$HOME/.kafaat/notebook-$1.log"
nohup jupyter notebook --no-browser --ip=127.0.0.1 --port="$1" --port-retries=0 --notebook-dir="$HOME" \
  --NotebookApp.token= --NotebookApp.password= --NotebookApp.base_url=/ \
  --NotebookApp.allow_remote_access=True --NotebookApp.disable_check_xsrf=True \
  --NotebookApp.tornado_settings="{'headers': {'Content-Security-Policy': 'frame-ancestors *'}}" \
  >"$log" 2>&1 </dev/null &
for i in $(seq 600); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && exit 0; sleep 0.05; done
echo "Jupyter did not start on port $1" >&2; tail -5 "$log" >&2; exit 1
"""
NOTEBOOK_TIMEOUT = 60.0


def start_notebooks(backend: Backend, handle: SandboxHandle, lab: LabDefinition) -> None:
    """Start Jupyter for each ``kind="notebook"`` service of the lab, on its machine, as the learner."""
    for service in lab.services:
        if service.kind != ServiceKind.NOTEBOOK:
            continue
        pick = getattr(handle, "machine", None)  # a lab of several machines: that machine's handle
        machine = pick(service.machine) if callable(pick) else handle
        result = backend.exec(
            machine, NOTEBOOK_SCRIPT, user=User.LEARNER, args=(str(service.port),), timeout=NOTEBOOK_TIMEOUT
        )
        if not result.ok:
            raise ProvisionError(
                _start_failed(),
                f"notebook {service.id} on port {service.port} did not start: exit {result.exit_code}, "
                f"timed out {result.timed_out}; stderr: {_tail(result.stderr)}",
            )


def provision(
    backend: Backend,
    lab: LabDefinition,
    *,
    label: str,
    on_phase: Phase | None = None,
    reached: tuple[str, ...] | list[str] = (),
) -> SandboxHandle:
    """Create a sandbox for a rendered lab, place its files and run its setup; destroy it on any failure.

    The setup scripts of the ``reached`` steps run after the lab's own, in step order.
    ``on_phase`` hears ``creating``, ``copying_files``, ``running_setup`` and ``ready`` in that order.
    """
    _refuse_unrendered(lab)
    report = on_phase or (lambda phase: None)
    report("creating")
    handle = backend.create(lab.sandbox_spec(label))
    try:
        report("copying_files")
        place_files(backend, handle, lab.files)
        report("running_setup")
        for index, setup in enumerate(lab.setup, start=1):
            result = backend.exec(
                handle.machine(setup.machine or None), setup.script, user=setup.user, timeout=SETUP_TIMEOUT
            )
            if not result.ok:
                raise ProvisionError(
                    _start_failed(),
                    f"setup script {index} ({setup.user}) failed: exit {result.exit_code}, "
                    f"timed out {result.timed_out}, {result.duration:.1f}s; "
                    f"stderr: {_tail(result.stderr)}; stdout: {_tail(result.stdout)}",
                )
        for step in lab.steps:
            if step.id in reached:
                try:
                    run_step_setup(backend, handle, step)
                except ProvisionError as error:
                    raise ProvisionError(_start_failed(), error.detail) from None
        start_notebooks(backend, handle, lab)
        report("ready")
    except BaseException as error:
        _destroy_quietly(backend, handle)
        if isinstance(error, ProvisionError):
            log.warning("provisioning %s failed: %s", label, error.detail)
        elif isinstance(error, SandboxError):
            log.warning("provisioning %s failed in the backend: %s", label, error)
        raise
    return handle


def _destroy_quietly(backend: Backend, handle: SandboxHandle) -> None:
    try:
        backend.destroy(handle)
    except Exception:  # the original failure matters more; the reaper retries
        log.exception("could not destroy sandbox %s after a failed start", handle.id)


def _refuse_unrendered(lab: LabDefinition) -> None:
    texts = [item.script for item in lab.setup] + [item.content for item in lab.files]
    texts += [item.script for step in lab.steps for item in step.setup]
    if param_kinds.names_used(texts):
        raise ProvisionError(
            _start_failed(),
            "the definition still holds {{ lab.param.* }} references: render it with its parameters first",
        )


def clean_feedback(text: str, truncated: bool = False) -> tuple[str, bool]:
    """Plain, bounded text from script output: no escape sequences or control characters."""
    text = _ESCAPES.sub("", (text or "").replace("\r\n", "\n")).strip()
    if len(text) > FEEDBACK_CHARS:
        text, truncated = text[:FEEDBACK_CHARS].rstrip(), True
    if truncated:
        text = (text + "\n" + _("[output truncated]")).strip()
    return text, truncated


def run_check(backend: Backend, handle: SandboxHandle, check: Check, *, stdin: bytes = b"") -> CheckOutcome:
    """Run one check as its user; exit 0 passes, stdout is the learner's feedback, a timeout never passes.

    An inside check runs in the learner's environment out of the learner's reach (``check=True``:
    nothing the learner started can read, trace or signal it); an outside check runs as root in a
    fresh copy of the lab's image, reading the learner's files at ``/lab``. ``stdin`` carries the
    learner's terminal command history for checks that look at what was typed.
    """
    machine = handle.machine(check.machine or None)
    if check.where == CheckPlace.OUTSIDE:
        result = backend.exec_outside(
            machine, check.script, timeout=check.timeout, stdin=stdin, output_limit=CHECK_OUTPUT_BYTES
        )
    else:
        result = backend.exec(
            machine,
            check.script,
            user=check.user,
            timeout=check.timeout,
            stdin=stdin,
            output_limit=CHECK_OUTPUT_BYTES,
            check=True,
        )
    passed = result.exit_code == 0 and not result.timed_out
    feedback, truncated = clean_feedback(result.stdout, result.truncated)
    if result.timed_out:
        message = ngettext(
            "The check did not finish within %(seconds)s second, so it did not pass.",
            "The check did not finish within %(seconds)s seconds, so it did not pass.",
            round(check.timeout),
        ) % {"seconds": f"{check.timeout:g}"}
        feedback = f"{message}\n{feedback}".strip()
    if result.stderr and not passed:
        log.info("check %s in %s: exit %s, stderr: %s", check.id, handle.id, result.exit_code, _tail(result.stderr))
    return CheckOutcome(
        id=check.id,
        passed=passed,
        points=float(check.points) if passed else 0.0,
        max_points=check.points,
        feedback=feedback,
        exit_code=None if result.timed_out else result.exit_code,
        duration=result.duration,
        timed_out=result.timed_out,
        truncated=truncated,
    )


def check_flag(flag: Flag, answer: str) -> bool:
    """Whether ``answer`` is the (rendered) flag: whitespace-trimmed, compared in constant time."""
    if param_kinds.REFERENCE.search(flag.value):
        log.error("flag %s compared before rendering; refusing every answer", flag.id)
        return False
    return hmac.compare_digest((answer or "").strip().encode("utf-8"), flag.value.strip().encode("utf-8"))


def run_solve(backend: Backend, handle: SandboxHandle, step: Step) -> ExecResult:
    """Run a step's solve script as its user (root unless ``<solve user="learner">``).

    A learner solve walks the learner's own path (their permissions, their ``sudo``), so a passing
    ``kafaat lab test`` also shows the lab can be done from the learner's terminal.
    """
    if step.solve is None:
        raise ValueError(f"step {step.id!r} has no solve script")
    started = time.monotonic()
    result = backend.exec(
        handle.machine(step.solve_machine or None), step.solve, user=step.solve_user, timeout=SOLVE_TIMEOUT
    )
    log.debug("solve of %s in %s took %.2fs", step.id, handle.id, time.monotonic() - started)
    return result
