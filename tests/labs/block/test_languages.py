"""The lab page in the learner's language: text, direction, hints and keyed check feedback; staff see every language."""

from __future__ import annotations

import pathlib

import pytest
from django.utils import translation

from tests.labs.helpers import checked
from xblocks.labs import api
from xblocks.labs.models import label_prefix

FIXTURE = (pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "olx" / "languages.xml").read_text(
    encoding="utf-8"
)


@pytest.fixture
def cleanup(backend):
    yield
    for handle in backend.inventory():
        if handle.label.startswith(label_prefix()):
            backend.destroy(handle)


def _page(lab, language: str) -> str:
    with translation.override(language):
        return lab.block.runtime.render(lab.block, "student_view").content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "title", "instructions", "content"),
    [
        ("fr", "Les sinistres dans un fichier", "Écrivez le nombre de sinistres", 'lang="fr" dir="ltr"'),
        ("ar", "المطالبات في ملف", "اكتب عدد المطالبات", 'lang="ar" dir="rtl"'),
        ("en", "Claims in a file", "Write the number of claims", 'lang="en" dir="ltr"'),
        ("de", "Claims in a file", "Write the number of claims", 'lang="en" dir="ltr"'),
    ],
)
def test_the_page_shows_the_learners_language_with_its_direction(lab_factory, language, title, instructions, content):
    page = _page(lab_factory(FIXTURE), language)
    assert title in page and instructions in page
    assert f'class="kafaat-lab__step-body" {content}' in page
    assert '<code dir="ltr">/tmp/count</code>' in page  # a path keeps its order in Arabic text


@pytest.mark.django_db
def test_the_status_carries_step_titles_in_the_learners_language(lab_factory):
    lab = lab_factory(FIXTURE)
    with translation.override("ar"):
        assert lab.ok("status")["steps"][0]["title"] == "عُدّ المطالبات"
    with translation.override("fr"):
        assert lab.ok("status")["steps"][0]["title"] == "Comptez les sinistres"


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["author_view"])
def test_staff_previews_show_every_language(lab_factory, view):
    lab = lab_factory(FIXTURE, student="staff")
    page = lab.block.runtime.render(lab.block, view).content
    for text in ("Count the lines.", "Comptez les lignes.", "عُدّ الأسطر.", "Terminé.", "انتهى."):
        assert text in page
    assert 'lang="ar" dir="rtl"' in page and 'lang="fr" dir="ltr"' in page


@pytest.mark.django_db
def test_studio_preview_shows_every_language(lab_factory):
    staff = lab_factory(FIXTURE, student="staff")
    preview = staff.ok("studio_validate", {"olx": FIXTURE})["preview"]
    assert "Lisez les sinistres." in preview and "اقرأ المطالبات." in preview and "Read the claims." in preview


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_hints_and_keyed_check_feedback_reach_the_learner_in_their_language(lab_factory, cleanup):
    lab = lab_factory(FIXTURE)
    lab.ok("start")
    with translation.override("fr"):
        done = checked(lab, "count")
        assert done["passed"] is False
        [result] = done["results"]
        assert result["feedback"].startswith("Il n'y a pas encore de `/tmp/count`")
        assert "kafaat-feedback" not in result["feedback"]
        assert lab.ok("hint", {"step": "count"})["html"] == "<p>Comptez les lignes.</p>"
    with translation.override("ar"):  # the same stored run, read again in another language
        again = lab.ok("check_status", {"run_id": done["run_id"]})
        assert again["results"][0]["feedback"].startswith("لا يوجد `/tmp/count` بعد")
        assert lab.ok("status")["steps"][0]["hints"] == ["<p>عُدّ الأسطر.</p>"]
    session_id = api.live_session_id(_user(lab), lab.usage_key)
    api.stop_session(session_id, actor="test", reason="done")


def _user(lab):
    from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel

    return get_user_model().objects.get(username=lab.student)


@pytest.mark.django_db
def test_studio_saves_a_lab_missing_a_translation_and_says_where(lab_factory):
    staff = lab_factory(FIXTURE, student="staff")
    partial = FIXTURE.replace('    <hint lang="ar">عُدّ الأسطر.</hint>\n', "")
    result = staff.ok("studio_submit", {"olx": partial})
    assert result["saved"] is True and result["errors"] == []
    [warning] = result["warnings"]
    assert warning["message"] == "Step count: hint 1 has no text in ar, which other texts of this lab have."
    assert warning["line"] == partial.splitlines().index('    <hint cost="1">Count the lines.</hint>') + 1
