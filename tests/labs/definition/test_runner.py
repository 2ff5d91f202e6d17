"""The lab runner against real sandboxes: provisioning, check semantics, caps, and symlink tricks."""

import hashlib
import os
import pathlib
import tempfile
import uuid

import pytest

from xblocks.labs import runner
from xblocks.labs.definition import Check, LabFile, Step, generate_params, parse_lab, render
from xblocks.labs.sandbox.base import get_backend

pytestmark = pytest.mark.sandbox

LAB = """<kafaat_lab display_name="Runner test lab" time_limit="10" idle_timeout="5" memory="256M" pids="64">
  <param name="word" kind="word"/>
  <file path="/home/learner/project/notes.txt" owner="learner" mode="0640">
    notes for {{ lab.param.word }}
  </file>
  <file path="/opt/tool/run.sh" owner="root" mode="0750"><![CDATA[
    #!/bin/sh
    echo tool
  ]]></file>
  <setup user="root">echo "{{ lab.param.word }}" > /root/setup-ran</setup>
  <setup user="learner">touch /home/learner/learner-setup-ran</setup>
  <step id="create" title="Create a file">
    <check id="exists" points="2" timeout="5"><![CDATA[
      if [ -f /home/learner/done ]; then echo "Found it."; else echo "No /home/learner/done yet."; exit 1; fi
    ]]></check>
    <solve>runuser -u learner -- touch /home/learner/done</solve>
  </step>
</kafaat_lab>"""


def _check(script: str, *, user: str = "root", timeout: float = 5.0, points: int = 1) -> Check:
    return Check(id="probe", points=points, timeout=timeout, user=user, script=script)


@pytest.fixture(scope="module")
def backend():
    return get_backend("local")


@pytest.fixture(scope="module")
def lab():
    definition = parse_lab(LAB)
    return render(definition, generate_params(definition, b"runner-tests"))


@pytest.fixture(scope="module")
def provisioned(backend, lab):
    phases: list[str] = []
    handle = runner.provision(backend, lab, label=f"test-runner-{uuid.uuid4().hex[:8]}", on_phase=phases.append)
    yield handle, phases
    backend.destroy(handle)


def _run(backend, handle, script: str, user: str = "root") -> str:
    result = backend.exec(handle, script, user=user, timeout=10)
    assert result.ok, result.stderr
    return result.stdout


def test_provisioning_reports_its_phases_in_order(provisioned):
    _handle, phases = provisioned
    assert phases == ["creating", "copying_files", "running_setup", "ready"]


def test_files_are_placed_with_their_owner_mode_and_rendered_content(backend, provisioned, lab):
    handle, _phases = provisioned
    word = generate_params(parse_lab(LAB), b"runner-tests")["word"]
    assert _run(backend, handle, "stat -c '%U %a' /home/learner/project/notes.txt /opt/tool/run.sh").split("\n")[
        :2
    ] == ["learner 640", "root 750"]
    assert _run(backend, handle, "cat /home/learner/project/notes.txt") == f"notes for {word}\n"
    assert _run(backend, handle, "stat -c %U /home/learner/project") == "learner\n"
    assert _run(backend, handle, "cat /root/setup-ran") == f"{word}\n"
    assert _run(backend, handle, "stat -c %U /home/learner/learner-setup-ran") == "learner\n"


def test_a_check_fails_on_the_fresh_lab_and_passes_after_the_solve(backend, provisioned, lab):
    handle, _phases = provisioned
    step = lab.step("create")
    fresh = runner.run_check(backend, handle, step.checks[0])
    assert (fresh.passed, fresh.points, fresh.max_points, fresh.exit_code) == (False, 0.0, 2, 1)
    assert fresh.feedback == "No /home/learner/done yet."
    assert runner.run_solve(backend, handle, step).ok
    solved = runner.run_check(backend, handle, step.checks[0])
    assert (solved.passed, solved.points, solved.feedback, solved.timed_out) == (True, 2.0, "Found it.", False)


def test_a_learner_solve_runs_with_the_learner_s_permissions(backend, provisioned):
    handle, _phases = provisioned
    step = Step(id="x", title="X", instructions="", solve="id -u; touch /root/forbidden", solve_user="learner")
    result = runner.run_solve(backend, handle, step)
    assert result.stdout.startswith("1000") and not result.ok
    with pytest.raises(ValueError):
        runner.run_solve(backend, handle, Step(id="y", title="Y", instructions=""))


def test_a_check_that_runs_out_of_time_is_a_timeout_and_never_a_pass(backend, provisioned):
    handle, _phases = provisioned
    outcome = runner.run_check(backend, handle, _check("echo started; sleep 30; exit 0", timeout=1))
    assert outcome.timed_out and not outcome.passed and outcome.points == 0
    assert outcome.exit_code is None
    assert outcome.duration < 5
    assert "did not finish within 1 second," in outcome.feedback


def test_a_flood_of_output_is_truncated_with_a_marker(backend, provisioned):
    handle, _phases = provisioned
    outcome = runner.run_check(backend, handle, _check("head -c 2000000 /dev/zero | tr '\\0' a; exit 0"))
    assert outcome.passed and outcome.truncated
    assert outcome.feedback.endswith("[output truncated]")
    assert len(outcome.feedback) <= runner.FEEDBACK_CHARS + 40


def test_feedback_is_plain_text_without_terminal_escapes(backend, provisioned):
    handle, _phases = provisioned
    outcome = runner.run_check(
        backend, handle, _check(r"printf '\033[31mred\033[0m \033]0;title\007<img src=x onerror=alert(1)>\r\n'; exit 1")
    )
    assert outcome.feedback == "red <img src=x onerror=alert(1)>"  # escaped by the page, never rendered as HTML


@pytest.mark.parametrize(("user", "uid"), [("root", "0"), ("learner", "1000")])
def test_a_check_runs_as_its_declared_user(backend, provisioned, user, uid):
    handle, _phases = provisioned
    outcome = runner.run_check(backend, handle, _check(f'[ "$(id -u)" = {uid} ] && echo "uid $(id -u)"', user=user))
    assert outcome.passed, outcome.feedback


def test_a_check_reads_the_command_history_on_stdin(backend, provisioned):
    handle, _phases = provisioned
    check = _check("grep -qx 'make test'")
    assert runner.run_check(backend, handle, check, stdin=b"ls\nmake test\n").passed
    assert not runner.run_check(backend, handle, check, stdin=b"ls\n").passed


def test_a_check_script_is_never_written_where_the_sandbox_can_see_it(backend, provisioned):
    handle, _phases = provisioned
    marker = f"kafaat-marker-{uuid.uuid4().hex}"
    assert runner.run_check(backend, handle, _check(f"true {marker}")).passed
    found = _run(backend, handle, f"grep -rlsF {marker} /tmp /var/tmp /home /root /run /dev/shm /opt || true")
    assert found == ""


def test_a_planted_symlink_at_a_lab_file_path_cannot_redirect_provisioning(backend, provisioned):
    handle, _phases = provisioned
    with tempfile.NamedTemporaryFile("w", prefix="kafaat-host-", delete=False) as host_file:
        host_file.write("host content\n")
    host = pathlib.Path(host_file.name)
    try:
        before = hashlib.sha256(host.read_bytes()).hexdigest()
        passwd_before = _run(backend, handle, "sha256sum /etc/passwd")
        _run(
            backend,
            handle,
            f"ln -sfn {host} /home/learner/to-host; ln -sfn /etc/passwd /home/learner/to-passwd",
            user="learner",
        )
        runner.place_files(
            backend,
            handle,
            [
                LabFile(path="/home/learner/to-host", mode=0o644, owner="root", content="lab content\n"),
                LabFile(path="/home/learner/to-passwd", mode=0o644, owner="root", content="lab content\n"),
            ],
        )
        assert hashlib.sha256(host.read_bytes()).hexdigest() == before
        assert _run(backend, handle, "sha256sum /etc/passwd") == passwd_before
        assert (
            _run(backend, handle, "stat -c %F /home/learner/to-host /home/learner/to-passwd")
            == "regular file\nregular file\n"
        )
        assert _run(backend, handle, "cat /home/learner/to-host") == "lab content\n"
    finally:
        os.unlink(host)


def test_a_planted_hard_link_at_a_lab_file_path_is_replaced_not_written_through(backend, provisioned):
    handle, _phases = provisioned
    _run(
        backend,
        handle,
        "echo original > /home/learner/keep.txt && ln -f /home/learner/keep.txt /home/learner/linked.txt",
        user="learner",
    )
    runner.place_files(
        backend, handle, [LabFile(path="/home/learner/linked.txt", mode=0o600, owner="learner", content="lab\n")]
    )
    assert _run(backend, handle, "cat /home/learner/keep.txt") == "original\n"
    assert _run(backend, handle, "stat -c '%h %a' /home/learner/linked.txt /home/learner/keep.txt") == "1 600\n1 644\n"


def test_a_lab_file_at_an_existing_directory_fails_closed(backend, provisioned):
    handle, _phases = provisioned
    _run(backend, handle, "mkdir -p /home/learner/adir/inner", user="learner")
    with pytest.raises(runner.ProvisionError):
        runner.place_files(
            backend, handle, [LabFile(path="/home/learner/adir", mode=0o644, owner="learner", content="x\n")]
        )
    assert _run(backend, handle, "test -d /home/learner/adir/inner && echo kept") == "kept\n"


def test_a_planted_directory_symlink_makes_provisioning_fail_closed(backend, provisioned):
    handle, _phases = provisioned
    _run(backend, handle, "ln -sfn /etc /home/learner/conf", user="learner")
    with pytest.raises(runner.ProvisionError) as error:
        runner.place_files(
            backend, handle, [LabFile(path="/home/learner/conf/evil.conf", mode=0o644, owner="root", content="x\n")]
        )
    assert "symbolic link" in error.value.detail
    assert _run(backend, handle, "test -e /etc/evil.conf && echo present || echo absent") == "absent\n"


def test_a_failing_setup_destroys_the_sandbox_and_keeps_details_from_the_learner(backend):
    lab = parse_lab("""<kafaat_lab display_name="Broken setup">
      <setup user="root"><![CDATA[echo "operator-only detail" >&2; exit 3]]></setup>
      <step id="s" title="S"><check id="c">true</check></step>
    </kafaat_lab>""")
    label = f"test-broken-{uuid.uuid4().hex[:8]}"
    phases: list[str] = []
    with pytest.raises(runner.ProvisionError) as error:
        runner.provision(backend, lab, label=label, on_phase=phases.append)
    assert "operator-only detail" in error.value.detail and "exit 3" in error.value.detail
    assert "operator-only" not in error.value.learner_message
    assert phases == ["creating", "copying_files", "running_setup"]
    assert label not in {handle.label for handle in backend.inventory()}


def test_an_unrendered_lab_is_refused_before_any_sandbox_exists(backend):
    with pytest.raises(runner.ProvisionError, match="render"):
        runner.provision(backend, parse_lab(LAB), label="never-created")


MACHINES_LAB = """<kafaat_lab display_name="Machines" time_limit="10" idle_timeout="5">
  <machine name="attacker"/>
  <machine name="portal" sudo="true"/>
  <machine name="db" terminal="false"/>
  <network><deny from="attacker" to="db"/></network>
  <setup machine="db" user="root">echo db > /etc/role</setup>
  <file machine="portal" path="/home/learner/app.txt" owner="learner">portal file</file>
  <file path="/home/learner/notes.txt" owner="learner">attacker file</file>
  <step id="s1" title="Serve">
    <setup machine="portal" user="learner">echo step-setup > /tmp/step</setup>
    <check id="on-portal" machine="portal"><![CDATA[test "$(hostname)" = portal && test -f /tmp/served]]></check>
    <check id="on-attacker"><![CDATA[test "$(hostname)" = attacker && test -f /home/learner/notes.txt]]></check>
    <check id="db-outside" machine="db" where="outside">grep -q db /lab/etc/role</check>
    <solve machine="portal" user="learner">cat /home/learner/app.txt /tmp/step > /tmp/served</solve>
  </step>
</kafaat_lab>"""


def test_files_setup_checks_and_solves_run_on_their_machine(backend):
    lab = parse_lab(MACHINES_LAB)
    handle = runner.provision(backend, lab, label=f"test-machines-{uuid.uuid4().hex[:6]}", reached=("s1",))
    try:
        assert handle.machines == ("attacker", "portal", "db")
        step = lab.step("s1")
        before = [runner.run_check(backend, handle, check).passed for check in step.checks]
        assert before == [False, True, True]
        assert runner.run_solve(backend, handle, step).ok
        assert all(runner.run_check(backend, handle, check).passed for check in step.checks)
        served = backend.exec(handle.machine("portal"), "cat /tmp/served").stdout
        assert served == "portal file\nstep-setup\n"
        assert backend.exec(handle.machine("attacker"), "test -e /tmp/served || echo absent").stdout == "absent\n"
    finally:
        backend.destroy(handle)
    assert not backend.alive(handle)
