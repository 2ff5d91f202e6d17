"""The lab's stable key travels from its OLX to the result the labs app announces."""

import pytest
from django.db import transaction

from xblocks.labs.api import results
from xblocks.labs.definition import parse_lab
from xblocks.labs.models import LabSession
from xblocks.labs.signals import lab_result_recorded

OLX = """<kafaat_lab display_name="Keyed" lab_key="linux_basics">
  <step id="s" title="S"><instructions>x</instructions><check id="c" points="2">true</check></step>
</kafaat_lab>"""


@pytest.mark.django_db
def test_a_recorded_result_carries_the_lab_key_of_its_definition(django_user_model, django_capture_on_commit_callbacks):
    learner = django_user_model.objects.create_user("keyed", "keyed@example.com", "pw")
    row = LabSession.objects.create(
        user=learner,
        usage_key="kafaat_lab.3.d0.u0",
        definition=OLX,
        definition_hash="x",
        seed="00" * 32,
        state="stopped",
        progress={"steps": {"s": {"check_points": 2.0, "checks_passed": True, "attempts": 1}}},
        best_score=2.0,
    )
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    lab_result_recorded.connect(receiver, dispatch_uid="test-lab-key")
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            results._publish_result(row, parse_lab(OLX))
    finally:
        lab_result_recorded.disconnect(dispatch_uid="test-lab-key")
    assert received[0]["lab_key"] == "linux_basics"
    assert received[0]["passed"] is True and received[0]["usage_key"] == "kafaat_lab.3.d0.u0"
