"""Lab completion through edx-completion's real models and handler, published as the LMS routes events.

The LMS handles a block's ``grade`` event by updating the learner's score, which sends
``PROBLEM_WEIGHTED_SCORE_CHANGED``; edx-completion's ``scorable_block_completion`` listens to it and
marks any scored block complete unless the block has custom completion. The ``completion`` event goes
straight to ``BlockCompletion.objects.submit_completion``. The runtime below does exactly that.
"""

import pytest
from opaque_keys.edx.keys import UsageKey
from xblock.field_data import DictFieldData
from xblock.fields import ScopeIds
from xblock.test.tools import TestRuntime

from tests.certification.helpers import COURSE_KEY

pytestmark = [pytest.mark.lms, pytest.mark.django_db]

OLX = """<kafaat_lab display_name="Two steps" image="base" gating="free">
  <step id="one" title="One"><instructions>First.</instructions><check id="a" points="2">true</check></step>
  <step id="two" title="Two"><instructions>Second.</instructions><check id="b" points="3">true</check></step>
</kafaat_lab>"""
USAGE_KEY = UsageKey.from_string(f"block-v1:{COURSE_KEY.removeprefix('course-v1:')}+type@kafaat_lab+block@two_steps")


class LmsEventRuntime(TestRuntime):
    """Routes ``publish`` as the LMS does for the two events a lab sends."""

    def __init__(self, user):
        super().__init__(services={})
        self.user = user

    def publish(self, block, event_type, event):
        from completion.handlers import scorable_block_completion  # pylint: disable=import-outside-toplevel
        from completion.models import BlockCompletion  # pylint: disable=import-outside-toplevel

        usage_id = block.scope_ids.usage_id
        if event_type == "grade":
            scorable_block_completion(
                sender=None,
                weighted_earned=event["value"],
                weighted_possible=event["max_value"],
                user_id=self.user.pk,
                anonymous_user_id=None,
                course_id=str(usage_id.course_key),
                usage_id=str(usage_id),
                only_if_higher=False,
                modified=None,
                score_db_table="csm",
                score_deleted=False,
                grader_response=False,
            )
        elif event_type == "completion":
            BlockCompletion.objects.submit_completion(
                user=self.user, block_key=usage_id, completion=event["completion"]
            )


@pytest.fixture
def lab(django_user_model):
    from waffle.models import Switch  # pylint: disable=import-outside-toplevel

    from xblocks.labs.block import LabBlock  # pylint: disable=import-outside-toplevel

    Switch.objects.create(name="completion.enable_completion_tracking", active=True)
    learner = django_user_model.objects.create_user("learner", "learner@example.com", "pw")
    runtime = LmsEventRuntime(learner)
    scope_ids = ScopeIds(learner.pk, "kafaat_lab", "two_steps_def", USAGE_KEY)
    block = runtime.construct_xblock_from_class(LabBlock, scope_ids, field_data=DictFieldData({"olx": OLX}))
    return block, learner


def _record(block, learner, passed_steps: set[str]):
    """Progress as check runs leave it, then the status the block publishes from (the api's own)."""
    from xblocks.labs import api  # pylint: disable=import-outside-toplevel
    from xblocks.labs.models import LabSession  # pylint: disable=import-outside-toplevel

    definition = block.definition()
    points = {step.id: float(step.max_points) for step in definition.steps}
    progress = {
        "steps": {
            step_id: {"check_points": points[step_id], "checks_passed": True, "attempts": 1} for step_id in passed_steps
        }
    }
    LabSession.objects.update_or_create(
        user=learner,
        usage_key=str(USAGE_KEY),
        defaults={
            "course_key": COURSE_KEY,
            "definition": block.olx,
            "definition_hash": "x",
            "seed": "00" * 32,
            "state": "stopped",
            "progress": progress,
        },
    )
    return api.learner_status(learner, str(USAGE_KEY), definition)


def _completion(learner) -> float | None:
    from completion.models import BlockCompletion  # pylint: disable=import-outside-toplevel

    row = BlockCompletion.objects.filter(user=learner, block_key=USAGE_KEY).first()
    return row.completion if row else None


def test_the_lab_declares_custom_completion_to_the_platform():
    from xblock.completable import XBlockCompletionMode  # pylint: disable=import-outside-toplevel
    from xblock.core import XBlock  # pylint: disable=import-outside-toplevel

    block_class = XBlock.load_class("kafaat_lab")
    assert getattr(block_class, "has_custom_completion", False) is True
    assert XBlockCompletionMode.get_mode(block_class) == XBlockCompletionMode.COMPLETABLE


def test_a_first_check_at_zero_points_does_not_complete_the_lab(lab):
    block, learner = lab
    status = _record(block, learner, set())
    block._publish_grade(status)
    assert status.score == 0
    assert _completion(learner) == 0.0


def test_a_partly_done_lab_shows_the_share_of_steps_passed(lab):
    block, learner = lab
    block._publish_grade(_record(block, learner, {"one"}))
    assert _completion(learner) == 0.5


def test_a_passed_lab_is_complete(lab):
    block, learner = lab
    block._publish_grade(_record(block, learner, {"one"}))
    block._publish_grade(_record(block, learner, {"one", "two"}))
    assert _completion(learner) == 1.0


def test_edx_completion_still_completes_a_block_without_custom_completion(lab, django_user_model):
    """The control: the handler the lab opts out of marks an ordinary scored block (xblock-sdk's problem) complete."""
    from completion.handlers import scorable_block_completion  # pylint: disable=import-outside-toplevel
    from completion.models import BlockCompletion  # pylint: disable=import-outside-toplevel

    _, learner = lab
    problem = UsageKey.from_string(f"block-v1:{COURSE_KEY.removeprefix('course-v1:')}+type@problem_demo+block@quiz")
    scorable_block_completion(
        sender=None,
        user_id=learner.pk,
        course_id=COURSE_KEY,
        usage_id=str(problem),
        weighted_earned=0,
        weighted_possible=1,
        score_deleted=False,
    )
    assert BlockCompletion.objects.get(user=learner, block_key=problem).completion == 1.0
