"""Celery wiring of the labs app (beat entries, self-test on worker start) and the page's language direction."""

from __future__ import annotations

import pytest
from celery.signals import worker_ready
from django.utils import translation

from xblocks.labs import tasks


@pytest.mark.parametrize(
    "task",
    [
        tasks.provision_session,
        tasks.teardown_session,
        tasks.stop_session,
        tasks.reap_sessions,
        tasks.reconcile_sessions,
    ],
)
def test_session_tasks_acknowledge_late_so_a_killed_worker_leaves_them_queued(task):
    assert task.acks_late is True


def test_the_sandbox_self_test_runs_when_a_worker_starts():
    receivers = [ref() for _, ref in worker_ready.receivers]
    assert tasks._self_test_on_worker_start in receivers


@pytest.mark.parametrize(("language", "direction"), [("en", "ltr"), ("fr", "ltr"), ("ar", "rtl")])
@pytest.mark.django_db
def test_the_lab_page_sets_its_direction_from_the_language(lab_factory, language, direction):
    lab = lab_factory("files_and_flags")
    with translation.override(language):
        page = lab.block.runtime.render(lab.block, "student_view").content
    assert f'dir="{direction}"' in page and f'lang="{language}"' in page


@pytest.mark.django_db
def test_authored_instructions_take_their_own_direction_in_an_arabic_page(lab_factory):
    lab = lab_factory("files_and_flags")
    with translation.override("ar"):
        page = lab.block.runtime.render(lab.block, "student_view").content
    # the lab has no Arabic: its English instructions say so, and stay left to right in the Arabic page
    assert 'class="kafaat-lab__step-body" lang="en" dir="ltr"' in page
