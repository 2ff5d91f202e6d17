"""The lab block end to end through its handlers, with real sandboxes (Celery eager: Start provisions in-line)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.labs.helpers import assert_inert, solve_in_sandbox
from xblocks.labs import api
from xblocks.labs.models import CheckRun, LabSession, SessionEvent, label_prefix
from xblocks.labs.sandbox.base import SandboxHandle

pytestmark = [pytest.mark.sandbox, pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cleanup(backend):
    """Destroy every sandbox a test's sessions left (stopped sessions already have none)."""
    yield
    for handle in backend.inventory():
        if handle.label.startswith(label_prefix()):
            backend.destroy(handle)


def start_ready(lab) -> dict:
    status = lab.ok("start")
    assert status["state"] == "ready", status
    assert status["phase"] == "ready" and status["seconds_left"] > 500
    return status


def test_start_gives_a_ready_sandbox_with_the_lab_files_in_it(lab_factory, backend, cleanup):
    lab = lab_factory("files_and_flags")
    status = start_ready(lab)
    handle = api.terminal_target(status["session_id"])
    assert backend.alive(handle)
    row = LabSession.objects.get(pk=status["session_id"])
    result = backend.exec(handle, "cat /home/learner/.flag", user="learner")
    assert result.stdout.strip() == row.params["secret"]
    phases = list(SessionEvent.objects.filter(session=row).values_list("to_state", flat=True))
    assert phases == ["requested", "provisioning", "ready"]
    assert lab.ok("status")["state"] == "ready" and lab.ok("start")["session_id"] == row.pk


def test_check_fails_on_a_fresh_lab_and_passes_after_the_work_is_done(lab_factory, backend, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    first = lab.ok("check", {"step": "write"})
    assert (
        first["passed"] is False and first["results"][0]["feedback"].strip() == "answer.txt does not hold the word yet"
    )
    assert first["status"]["steps"][0]["attempts_left"] == 2
    assert lab.grades() == [{"value": 0.0, "max_value": 3.0}]
    solve_in_sandbox(backend, session_id, "write")
    second = lab.ok("check", {"step": "write"})
    assert second["passed"] is True and second["status"]["score"] == 2.0
    assert lab.grades()[-1] == {"value": 2.0, "max_value": 3.0}
    runs = list(CheckRun.objects.filter(session_id=session_id).values_list("passed", "points"))
    assert runs == [(False, 0.0), (True, 2.0)]


def test_the_flag_step_opens_after_the_first_and_completes_the_lab(lab_factory, backend, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    status, body = lab.call("submit_flag", {"step": "flag", "flag": "found", "answer": "KAFAAT{guess}"})
    assert status == 409 and "previous" in body["error"]  # sequential gating
    solve_in_sandbox(backend, session_id, "write")
    lab.ok("check", {"step": "write"})
    wrong = lab.ok("submit_flag", {"step": "flag", "flag": "found", "answer": "KAFAAT{guess}"})
    assert wrong["passed"] is False
    secret = LabSession.objects.get(pk=session_id).params["secret"]
    right = lab.ok("submit_flag", {"step": "flag", "flag": "found", "answer": f"  {secret} "})
    assert right["passed"] is True and right["status"]["completed"] is True and right["status"]["score"] == 3.0
    assert lab.grades()[-1] == {"value": 3.0, "max_value": 3.0}
    assert ("completion", {"completion": 1.0}) in lab.published["alice"]


def test_parameters_differ_between_learners_and_a_copied_flag_fails(lab_factory, backend, cleanup):
    alice = lab_factory("files_and_flags", student="alice")
    bob = alice.as_("bob")
    a_id, b_id = start_ready(alice)["session_id"], start_ready(bob)["session_id"]
    a_row, b_row = LabSession.objects.get(pk=a_id), LabSession.objects.get(pk=b_id)
    assert a_row.params["word"] != b_row.params["word"] and a_row.params["secret"] != b_row.params["secret"]
    a_page = alice.block.runtime.render(alice.block, "student_view").content
    assert a_row.params["word"] in a_page and b_row.params["word"] not in a_page
    solve_in_sandbox(backend, b_id, "write")
    bob.ok("check", {"step": "write"})
    copied = bob.ok("submit_flag", {"step": "flag", "flag": "found", "answer": a_row.params["secret"]})
    assert copied["passed"] is False


def test_attempts_run_out_and_no_further_check_runs(lab_factory, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    for left in (2, 1, 0):
        assert lab.ok("check", {"step": "write"})["status"]["steps"][0]["attempts_left"] == left
    status, body = lab.call("check", {"step": "write"})
    assert status == 409 and "no attempts left" in body["error"]
    assert CheckRun.objects.filter(session_id=session_id).count() == 3


def test_a_hint_costs_points_and_a_solution_shown_before_passing_makes_the_step_ungraded(lab_factory, backend, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    hint = lab.ok("hint", {"step": "write"})
    assert hint["cost"] == 1 and "echo" in hint["html"]
    solution = lab.ok("solution", {"step": "write"})
    assert "answer.txt" in solution["script"] and solution["status"]["score"] == 0.0
    assert solution["status"]["steps"][0]["solution_ungraded"] is True
    solve_in_sandbox(backend, session_id, "write")
    again = lab.ok("check", {"step": "write"})
    assert again["passed"] is True and again["graded"] is False and again["status"]["score"] == 0.0
    assert again["status"]["steps"][1]["open"] is True  # passing still opens the next step
    assert lab.grades()[-1]["value"] == 0.0


def test_showing_the_solution_of_a_passed_step_keeps_its_points(lab_factory, backend, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    solve_in_sandbox(backend, session_id, "write")
    assert lab.ok("check", {"step": "write"})["status"]["score"] == 2.0
    solution = lab.ok("solution", {"step": "write"})
    step = solution["status"]["steps"][0]
    assert "answer.txt" in solution["script"] and solution["status"]["score"] == 2.0
    assert step["points"] == 2.0 and step["solution_revealed"] is True and step["solution_ungraded"] is False
    assert lab.grades()[-1] == {"value": 2.0, "max_value": 3.0}
    again = lab.ok("check", {"step": "write"})  # checking again after reading it still counts
    assert again["graded"] is True and again["status"]["score"] == 2.0
    assert lab.ok("status")["steps"][0]["solution"] is not None  # the page can show it again after a reload


def test_stop_destroys_the_sandbox_and_start_again_keeps_progress(lab_factory, backend, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    handle = api.terminal_target(session_id)
    solve_in_sandbox(backend, session_id, "write")
    lab.ok("check", {"step": "write"})
    stopped = lab.ok("stop")
    assert stopped["state"] == "stopped" and not backend.alive(handle)
    assert lab.call("check", {"step": "write"})[0] == 409
    again = start_ready(lab)
    assert again["session_id"] != session_id and again["score"] == 2.0 and again["steps"][0]["passed"]
    assert again["steps"][0]["attempts_left"] == 2  # attempts are not refilled by a new start


def test_reset_gives_a_fresh_environment(lab_factory, backend, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    old = api.terminal_target(session_id)
    solve_in_sandbox(backend, session_id, "write")
    fresh = lab.ok("reset")
    assert fresh["state"] == "ready" and fresh["session_id"] != session_id
    assert not backend.alive(old)
    assert LabSession.objects.get(pk=session_id).state == "stopped"
    assert lab.ok("check", {"step": "write"})["passed"] is False  # the learner's file went with the old sandbox


def test_check_output_and_hints_stay_inert_text(lab_factory, cleanup):
    lab = lab_factory("hostile")
    start_ready(lab)
    result = lab.ok("check", {"step": "xss"})
    feedback = result["results"][0]["feedback"]
    assert (
        "<img src=x onerror=alert(1)></script><script>alert(4)</script>" in feedback
    )  # plain text; the page sets textContent
    hint = lab.ok("hint", {"step": "xss"})
    assert_inert(hint["html"])
    for html in lab.ok("status")["steps"][0]["hints"]:
        assert_inert(html)
    page = lab.block.runtime.render(lab.block, "student_view").content
    assert_inert(page)


def test_terminal_tokens_only_for_the_learner_own_ready_lab(lab_factory, cleanup):
    alice = lab_factory("files_and_flags", student="alice")
    session_id = start_ready(alice)["session_id"]
    grant = alice.ok("terminal_token")
    assert grant["token"] and str(session_id) in grant["url"]
    bob = alice.as_("bob")
    assert bob.call("terminal_token", {"session_id": session_id})[0] == 409
    assert bob.call("staff_terminal_token", {"session_id": session_id})[0] == 403


def test_the_ready_status_brings_the_learner_own_terminal_token_when_asked(lab_factory, cleanup):
    alice = lab_factory("files_and_flags", student="alice")
    started = alice.ok("start", {"terminal": True})
    assert started["state"] == "ready" and started["terminal"]["token"]  # eager: ready in the start answer
    session_id = started["session_id"]
    status = alice.ok("status", {"terminal": True})
    assert status["terminal"]["token"] != started["terminal"]["token"]
    assert str(session_id) in status["terminal"]["url"]
    assert "terminal" not in alice.ok("status")  # not asked: no token minted
    bob = alice.as_("bob")
    for asked in ({"terminal": True}, {"terminal": True, "session_id": session_id}):
        body = bob.ok("status", asked)
        assert body["session_id"] is None and body["state"] == "" and "terminal" not in body


def test_staff_see_every_learner_and_can_extend_watch_reset_and_stop(lab_factory, backend, cleanup):
    alice = lab_factory("files_and_flags", student="alice")
    session_id = start_ready(alice)["session_id"]
    alice.ok("check", {"step": "write"})
    staff = alice.as_("staff")
    rows = staff.ok("staff_sessions")["sessions"]
    assert [(r["username"], r["state"], r["current_step"], r["attempts"], r["last_check_passed"]) for r in rows] == [
        ("alice", "ready", "write", 1, False)
    ]
    before = LabSession.objects.get(pk=session_id).ends_at
    staff.ok("staff_extend", {"session_id": session_id, "seconds": 600})
    assert LabSession.objects.get(pk=session_id).ends_at - before == timedelta(seconds=600)
    assert staff.ok("staff_terminal_token", {"session_id": session_id})["token"]
    assert "cast" in staff.ok("staff_transcript", {"session_id": session_id})
    reset = staff.ok("staff_reset", {"session_id": session_id})
    assert reset["state"] == "ready" and reset["session_id"] != session_id
    staff.ok("staff_stop", {"session_id": reset["session_id"]})
    assert LabSession.objects.get(pk=reset["session_id"]).state == "stopped"
    assert alice.grades() and not staff.grades("staff")  # staff actions publish no grade for anyone


def test_the_reaper_ends_labs_past_their_time_limit_or_idle_timeout(lab_factory, backend, cleanup):
    timed = lab_factory("files_and_flags", student="alice")
    idle = timed.as_("bob")
    t_id, i_id = start_ready(timed)["session_id"], start_ready(idle)["session_id"]
    t_handle, i_handle = api.terminal_target(t_id), api.terminal_target(i_id)
    LabSession.objects.filter(pk=t_id).update(ends_at=timezone.now() - timedelta(seconds=1))
    LabSession.objects.filter(pk=i_id).update(last_activity=timezone.now() - timedelta(minutes=6))
    report = api.reap_sessions()
    assert set(report.stopped) == {t_id, i_id}
    assert LabSession.objects.get(pk=t_id).state == LabSession.objects.get(pk=i_id).state == "stopped"
    assert not backend.alive(t_handle) and not backend.alive(i_handle)
    reasons = set(SessionEvent.objects.filter(to_state="stopping").values_list("reason", flat=True))
    assert reasons == {"time limit", "idle timeout"}


def test_activity_from_the_terminal_keeps_a_lab_from_idling_out(lab_factory, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    LabSession.objects.filter(pk=session_id).update(last_activity=timezone.now() - timedelta(minutes=6))
    api.record_activity(session_id)
    assert api.reap_sessions().stopped == ()
    assert LabSession.objects.get(pk=session_id).state == "ready"


def test_the_reconciler_destroys_sandboxes_no_live_session_owns(backend, cleanup):
    from xblocks.labs.sandbox.base import SandboxSpec

    stray = backend.create(SandboxSpec(label=f"{label_prefix()}987654"))
    report = api.reconcile_sessions()
    assert stray.id in report.destroyed and not backend.alive(stray)


def test_the_reconciler_fails_sessions_whose_sandbox_vanished_with_a_message(lab_factory, backend, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    backend.destroy(SandboxHandle.from_json(LabSession.objects.get(pk=session_id).handle))
    report = api.reconcile_sessions()
    assert report.failed == (session_id,)
    status = lab.ok("status")
    assert status["state"] == "failed" and "stopped unexpectedly" in status["learner_message"]
    assert "inventory" not in status["learner_message"]  # operator detail stays out of the page
    assert start_ready(lab)["session_id"] != session_id


def test_a_check_on_a_vanished_sandbox_fails_the_session_and_refunds_the_attempt(lab_factory, backend, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    backend.destroy(api.terminal_target(session_id))
    run = lab.ok("check", {"step": "write"})  # the press is recorded; its run then cannot run
    assert run["state"] == "error" and run["finished"] and "stopped unexpectedly" in run["message"]
    assert "results" not in run and run["status"]["state"] == "failed"
    row = LabSession.objects.get(pk=session_id)
    assert row.state == "failed" and row.progress["steps"]["write"]["attempts"] == 0
    assert CheckRun.objects.get(pk=run["run_id"]).attempt_refunded


def test_keepalive_from_the_page_pushes_the_idle_timeout_back(lab_factory, cleanup):
    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]
    LabSession.objects.filter(pk=session_id).update(last_activity=timezone.now() - timedelta(minutes=4, seconds=30))
    assert lab.ok("status")["idle_seconds_left"] <= 30  # the page now shows its idle warning
    assert lab.ok("keepalive")["idle_seconds_left"] > 290
    assert api.reap_sessions(now=timezone.now() + timedelta(minutes=1)).stopped == ()


def test_a_refusing_engine_during_a_check_gives_the_attempt_back_with_a_message(lab_factory, monkeypatch, cleanup):
    from xblocks.labs import runner
    from xblocks.labs.sandbox.base import BackendUnavailable

    lab = lab_factory("files_and_flags")
    session_id = start_ready(lab)["session_id"]

    def refuse(*args, **kwargs):
        raise BackendUnavailable("self-test failed: fork bomb escaped")

    monkeypatch.setattr(runner, "run_check", refuse)  # the engine's own refusal path, as while a self-test fails
    run = lab.ok("check", {"step": "write"})
    assert run["state"] == "error" and "try again" in run["message"] and "fork bomb" not in run["message"]
    row = LabSession.objects.get(pk=session_id)
    assert row.state == "ready" and row.progress["steps"]["write"]["attempts"] == 0
    recorded = CheckRun.objects.get(session_id=session_id)
    assert recorded.outcomes == [] and "fork bomb" in recorded.detail  # the operator's detail stays server-side
    assert lab.grades() == []


def test_stop_all_ends_every_live_lab_and_leaves_no_sandbox(lab_factory, backend, cleanup):
    from io import StringIO

    from django.core.management import call_command

    lab = lab_factory("files_and_flags")
    handle = api.terminal_target(start_ready(lab)["session_id"])
    out = StringIO()
    call_command("kafaat_lab_sessions", "--stop-all", stdout=out)
    assert "stopped 1 live lab session" in out.getvalue()
    assert not backend.alive(handle)
    assert not [h for h in backend.inventory() if h.label.startswith(label_prefix())]
    assert LabSession.objects.get().state == "stopped"


def test_a_steps_setup_runs_when_the_learner_reaches_it_and_reading_steps_pass_on_their_own(
    lab_factory, backend, cleanup
):
    lab = lab_factory("pages_and_reading_steps")
    status = start_ready(lab)
    session_id = status["session_id"]
    handle = api.terminal_target(session_id)
    read, config, later = status["steps"]
    assert read["passed"] and config["open"] and not later["open"]  # nothing to check: read on
    port = LabSession.objects.get(pk=session_id).params["port"]
    reached = backend.exec(handle, "cat /home/learner/site.conf; test -e /home/learner/reached.txt", user="learner")
    assert reached.stdout == "listen 1\n" and not reached.ok  # the step reached ran its setup; the later one not yet
    backend.exec(handle, f"echo 'listen {port}' > /home/learner/site.conf", user="learner")
    assert lab.ok("check", {"step": "config"})["passed"] is True
    after = backend.exec(handle, "cat /home/learner/reached.txt", user="learner")
    assert after.stdout == "prepared\nagain\n"  # reaching the step ran its two scripts, in order
    solve_in_sandbox(backend, session_id, "later")
    done = lab.ok("check", {"step": "later"})
    assert done["passed"] is True and done["status"]["score"] == 3.0 and done["status"]["completed"] is True


def test_a_restarted_lab_runs_the_setup_of_every_step_already_reached(lab_factory, backend, cleanup):
    lab = lab_factory("pages_and_reading_steps")
    session_id = start_ready(lab)["session_id"]
    solve_in_sandbox(backend, session_id, "config")
    assert lab.ok("check", {"step": "config"})["passed"] is True
    lab.ok("stop")
    again = start_ready(lab)
    handle = api.terminal_target(again["session_id"])
    result = backend.exec(handle, "cat /home/learner/site.conf /home/learner/reached.txt", user="learner")
    assert result.stdout == "listen 1\nprepared\nagain\n"  # a fresh environment, prepared up to where the learner is


MACHINES_LAB = """<kafaat_lab display_name="Two machines" time_limit="20">
  <machine name="web"/>
  <machine name="db" terminal="false"/>
  <network><deny from="web" to="db"/></network>
  <file machine="db" path="/home/learner/db/data.txt" owner="learner">rows</file>
  <step id="s" title="Copy the data">
    <check id="copied" machine="web"><![CDATA[test "$(cat /home/learner/data.txt 2>/dev/null)" = rows]]></check>
  </step>
</kafaat_lab>"""


def test_a_lab_of_machines_starts_checks_on_its_machine_and_stops_to_nothing(lab_factory, backend, cleanup):
    lab = lab_factory(MACHINES_LAB)
    session_id = start_ready(lab)["session_id"]
    handle = api.terminal_target(session_id)
    assert handle.machines == ("web", "db") and backend.alive(handle)
    row = LabSession.objects.get(pk=session_id)
    assert SandboxHandle.from_json(row.handle).machines == ("web", "db")  # the session stores its machines
    assert backend.exec(handle.machine("db"), "cat /home/learner/db/data.txt").stdout == "rows\n"
    assert lab.ok("check", {"step": "s"})["passed"] is False
    # the learner copies the file by hand (the machines share no disk, and web may not reach db)
    backend.exec(handle.machine("web"), "echo rows > /home/learner/data.txt")
    assert lab.ok("check", {"step": "s"})["passed"] is True
    lab.ok("stop")
    assert not backend.alive(handle)
    assert all(found.id != handle.id for found in backend.inventory())


def test_the_reconciler_destroys_a_lab_of_machines_no_live_session_owns_and_keeps_a_live_one(
    lab_factory, backend, cleanup
):
    from xblocks.labs.sandbox.base import MachineSpec, SandboxSpec

    stray = backend.create(
        SandboxSpec(machines=(MachineSpec("one"), MachineSpec("two")), label=f"{label_prefix()}987655")
    )
    live = api.terminal_target(start_ready(lab_factory(MACHINES_LAB))["session_id"])
    report = api.reconcile_sessions()
    assert stray.id in report.destroyed and not backend.alive(stray)
    # its machines went with it, and they were never listed on their own
    assert not {stray.machine(name).id for name in stray.machines} & set(report.destroyed)
    assert not (backend.root / stray.machine("two").id).exists()
    assert live.id not in report.destroyed and backend.alive(live)


TARGET_FIRST_LAB = """<kafaat_lab display_name="Target first" time_limit="20">
  <machine name="target" terminal="false"/>
  <machine name="attacker"/>
  <machine name="helper"/>
  <step id="s" title="Scan">
    <check id="on-attacker" machine="attacker"><![CDATA[grep -qx 'nmap target' && ! grep -q 'cat notes']]></check>
    <check id="on-helper" machine="helper"><![CDATA[grep -qx 'cat notes' && ! grep -q nmap]]></check>
    <check id="on-target" machine="target"><![CDATA[test "$(wc -c)" = 0]]></check>
  </step>
</kafaat_lab>"""


def test_no_shell_opens_on_a_first_machine_without_a_terminal_and_each_check_reads_its_machines_history(
    lab_factory, backend, cleanup
):
    from xblocks.labs.terminal import api as terminal_api
    from xblocks.labs.terminal.models import TerminalToken

    lab = lab_factory(TARGET_FIRST_LAB)
    session_id = start_ready(lab)["session_id"]
    # asked for no machine (the page's first tab, the status's token, a hostile {}), the token opens the
    # first machine that has a terminal, never the target
    with_status = lab.ok("status", {"terminal": True})
    assert with_status["terminal"]["token"]
    for data in ({}, {"machine": ""}, {"machine": None}):
        assert lab.ok("terminal_token", data)["token"]
    assert set(TerminalToken.objects.filter(session_id=session_id).values_list("machine", flat=True)) == {"attacker"}
    for machine in ("target", "nowhere"):
        assert lab.call("terminal_token", {"machine": machine})[0] == 400
    # what the learner typed on each machine (as the gateway records it) reaches that machine's checks only
    terminal_api.append_transcript(session_id, 1, "", b"nmap target\n", size=0, truncated=False, machine="attacker")
    terminal_api.append_transcript(session_id, 1, "", b"cat notes\n", size=0, truncated=False, machine="helper")
    results = {r["id"]: r["passed"] for r in lab.ok("check", {"step": "s"})["results"]}
    assert results == {"on-attacker": True, "on-helper": True, "on-target": True}, results
