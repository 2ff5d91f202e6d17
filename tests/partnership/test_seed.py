"""The partnership demo seed: a dashboard with a story on first open, and a second run that changes nothing."""

import pytest
from django.core.management import call_command

from xblocks.partnership import api, models

pytestmark = pytest.mark.django_db


def test_the_seed_tells_a_story_and_runs_twice_without_duplicates(django_user_model):
    call_command("kafaat_seed_partnership")
    member = django_user_model.objects.get(username="committee")
    board = api.dashboard(member)
    assert len(board.rows) == 4  # four schools
    assert board.totals.certified.value and board.totals.certified.value >= 20
    assert any(row.enrolled.shown == "< 5" for row in board.rows)  # the small school, suppressed
    gaps = {row.label.split(": ", 1)[1]: row for row in board.needs}
    assert any(row.gap.value for row in gaps.values())
    assert {row.key for row in board.domains} >= {"cloud", "cybersecurity", "devops", "data"}
    counts = (django_user_model.objects.count(), models.Need.objects.count())
    call_command("kafaat_seed_partnership")
    assert (django_user_model.objects.count(), models.Need.objects.count()) == counts
    assert member.check_password("committee")
