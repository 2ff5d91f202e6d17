"""A learner holds at most MAX_LIVE_LABS_PER_LEARNER live labs across blocks and courses, even when Starts race."""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import connection
from django.utils import translation

from xblocks.labs import api
from xblocks.labs.data import LiveLabLimit
from xblocks.labs.models import LabSession

USAGE = "course-v1:Kafaat+Labs+2026.kafaat_lab.cap.{}"
FSI, PDI = "\u2068", "\u2069"  # first-strong isolate, pop directional isolate


@pytest.mark.mariadb
@pytest.mark.django_db
def test_a_fourth_lab_is_refused_with_a_message_naming_the_labs_to_stop(lab_factory, no_dispatch, caplog):
    labs = [lab_factory(name) for name in ("files_and_flags", "three_checks", "slow_setup")]
    started = [lab.ok("start")["session_id"] for lab in labs]
    fourth = lab_factory("paced_checks")
    with caplog.at_level(logging.INFO, logger="xblocks.labs.api"):
        status, body = fourth.call("start")
    assert status == 409
    assert body["error"] == (
        f"You already have 3 labs running: “{FSI}Files and flags{PDI}”, “{FSI}Three checks{PDI}”, "
        f"“{FSI}Slow setup{PDI}”. Stop one of them from its page, then start this one."
    )
    assert all(f"session {session_id} requested in" in caplog.text for session_id in started)  # for operators
    assert LabSession.objects.count() == 3 and len(no_dispatch) == 3
    assert labs[0].ok("start")["session_id"] == started[0]  # the learner's own live labs still answer
    labs[1].ok("stop")
    assert fourth.ok("start")["state"] == "requested"
    assert sorted(LabSession.objects.exclude(live_slot=None).values_list("live_slot", flat=True)) == [
        f"{LabSession.objects.first().user_id}:{n}" for n in (1, 2, 3)
    ]


@pytest.mark.django_db
def test_a_reset_at_the_cap_gives_a_fresh_lab(lab_factory, no_dispatch):
    labs = [lab_factory(name) for name in ("files_and_flags", "three_checks", "slow_setup")]
    first = [lab.ok("start")["session_id"] for lab in labs][0]
    fresh = labs[0].ok("reset")
    assert fresh["session_id"] != first and fresh["state"] == "requested"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", "Vous avez déjà 1 lab en cours : « Files and flags ». Arrêtez-le depuis sa page, puis lancez celui-ci."),
        ("ar", "لديك بالفعل مختبر واحد قيد التشغيل: «Files and flags». أوقفه من صفحته، ثم ابدأ هذا المختبر."),
        # (each lab name is wrapped in bidi isolates, removed before comparing)
    ],
)
@pytest.mark.django_db
def test_the_cap_message_is_in_the_learner_language(lab_factory, no_dispatch, monkeypatch, language, expected):
    monkeypatch.setenv("KAFAAT_MAX_LIVE_LABS_PER_LEARNER", "1")
    lab_factory("files_and_flags").ok("start")
    other = lab_factory("three_checks")
    with translation.override(language):
        with pytest.raises(LiveLabLimit) as refused:
            api.start_session(_user(other), other.usage_key, "", other.block.definition())
    assert refused.value.learner_message.replace(FSI, "").replace(PDI, "") == expected
    assert f"{FSI}Files and flags{PDI}" in refused.value.learner_message


def _user(lab):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=lab.student)


@pytest.mark.django_db
def test_no_cap_when_the_setting_is_zero(lab_factory, no_dispatch, monkeypatch):
    monkeypatch.setenv("KAFAAT_MAX_LIVE_LABS_PER_LEARNER", "0")
    for name in ("files_and_flags", "three_checks", "slow_setup", "paced_checks"):
        assert lab_factory(name).ok("start")["state"] == "requested"
    assert LabSession.objects.filter(live_slot__isnull=False).count() == 0


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_of_different_labs_never_exceed_the_cap(user_factory, definition_of, no_dispatch):
    user = user_factory("racer")
    definition = definition_of("files_and_flags")
    barrier = threading.Barrier(6)
    started, refused, errors = [], [], []

    def start(index: int):
        try:
            barrier.wait()
            started.append(api.start_session(user, USAGE.format(index), "", definition).session_id)
        except LiveLabLimit as error:
            refused.append(error.learner_message)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(started) == 3 and len(refused) == 3
    assert LabSession.objects.filter(user=user).count() == 3
    assert all(message.startswith("You already have 3 labs running") for message in refused)
