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


def test_the_seed_tells_the_offers_placements_and_projects_story(django_user_model):
    from xblocks.partnership.management.commands.kafaat_seed_partnership import DEMO_LEARNER

    call_command("kafaat_seed_partnership")
    member = django_user_model.objects.get(username="committee")
    board = api.dashboard(member)
    offers = {row.key: row.figures[0] for row in board.offers}
    assert offers["offers"].value == 3 and offers["places"].value == 12
    assert offers["invited"].shown != "0"
    projects = {row.key: row.figures[0].value for row in board.projects}
    assert projects["status:active"] == 1 and projects["status:completed"] == 1 and projects["status:proposed"] == 1
    hr = django_user_model.objects.get(username="sahara-hr")
    assert hr.check_password("employer")
    assert any(p.kind == "hire" for p in api.list_placements(hr))
    learner = django_user_model.objects.get(username=DEMO_LEARNER)
    assert learner.check_password("learner")
    assert [i.status for i in api.learner_invitations(learner)] == ["invited"]
    counts = (models.Offer.objects.count(), models.Invitation.objects.count(), models.Project.objects.count())
    call_command("kafaat_seed_partnership")
    assert (models.Offer.objects.count(), models.Invitation.objects.count(), models.Project.objects.count()) == counts
