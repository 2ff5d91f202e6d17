"""A lab counts toward a track by its stable lab key, whatever its usage key in this runtime or course run."""

import pytest

from tests.certification.helpers import COURSE_KEY
from xblocks.certification import api, models
from xblocks.labs.signals import lab_result_recorded

pytestmark = pytest.mark.django_db

# The workbench names blocks by scenario; a rerun of the course gives every block a new usage key.
USAGE_KEYS = ["kafaat_lab.7.d0.u0", "block-v1:Kafaat+LABS101+2027+type@kafaat_lab+block@4f1c9a0e"]


def _labs_row(user):
    """The "Labs" group of the track (both labs passed: "Labs 2 / 2")."""
    progress = api.learner_progress(user, track_slug="cloud-devops-practitioner")[0]
    return next(
        node
        for _depth, node in progress.evaluation.walk()
        if node.children and all(child.kind == "lab_passed" for child in node.children)
    )


@pytest.mark.parametrize("usage_key", USAGE_KEYS)
def test_a_passed_lab_counts_by_its_lab_key_whatever_its_usage_key(cert_world, usage_key):
    yanis = cert_world.learner("yanis_a")
    for lab_key in ("cloud_reverse_proxy", "devops_make_hooks"):
        lab_result_recorded.send(
            sender=None,
            user=yanis,
            course_key=COURSE_KEY,
            usage_key=usage_key if lab_key == "devops_make_hooks" else f"{usage_key}-proxy",
            lab_key=lab_key,
            score=8.0,
            max_score=8.0,
            passed=True,
            completed_at=None,
        )
    assert models.Evidence.objects.filter(user=yanis, kind="lab", key="devops_make_hooks", passed=True).exists()
    assert _labs_row(yanis).met


def test_a_lab_without_a_key_is_known_by_its_block_id(cert_world):
    yanis = cert_world.learner("yanis_a")
    lab_result_recorded.send(
        sender=None,
        user=yanis,
        course_key=COURSE_KEY,
        usage_key="block-v1:Kafaat+LABS101+2026+type@kafaat_lab+block@devops_make_hooks",
        lab_key="",
        score=8.0,
        max_score=8.0,
        passed=True,
        completed_at=None,
    )
    assert models.Evidence.objects.filter(user=yanis, kind="lab", key="devops_make_hooks").exists()


def test_lab_evidence_answers_what_certification_holds_for_a_lab_by_its_key_or_block(cert_world):
    yanis, other = cert_world.learner("yanis_a"), cert_world.learner("lina_b")
    api.record_lab_result(
        yanis, usage_key=USAGE_KEYS[0], course_key=COURSE_KEY, score=2.0, max_score=4.0, passed=False, completed_at=None
    )
    assert api.lab_evidence([yanis.pk, other.pk], USAGE_KEYS[0]) == {yanis.pk: (0.5, False)}
    assert api.lab_evidence([yanis.pk], "kafaat_lab.7.d1.u0") == {}  # another block of the same scenario
