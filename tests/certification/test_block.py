"""The kafaat_certification block: learner progress, certificate links, the roster and the workbench scenarios."""

from __future__ import annotations

import pytest
from django.utils import translation

from tests.certification.helpers import CHECKOUT, BlockHarness
from xblocks.certification import api
from xblocks.certification.block import CertificationBlock

pytestmark = pytest.mark.django_db


def test_a_learner_sees_each_requirement_and_what_is_missing(cert_world, cert_block):
    html = cert_block("yanis_a").html()
    assert "Lab: nginx as a reverse proxy" in html
    assert "Pass the lab “Lab: nginx as a reverse proxy”" in html
    assert "20 h more" in html
    assert "kafaat-cert__bar" in html
    assert "Cohort roster" not in html  # learners get no roster
    assert 'dir="ltr"' in html


def test_a_certified_learner_gets_verify_and_pdf_links(certified, cert_block):
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel

    number = models.Certificate.objects.get(user=certified.learner("amina_a")).number
    html = cert_block("amina_a").html()
    assert f"/kafaat/credentials/verify/{number}/" in html
    assert f"/kafaat/credentials/pdf/{number}/" in html
    assert "valid until" in html


def test_the_block_root_is_rtl_in_arabic(cert_world, cert_block):
    with translation.override("ar"):
        html = cert_block("yanis_a").html()
    assert 'dir="rtl"' in html


def test_learner_text_is_escaped(cert_world, cert_block):
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel

    models.Cohort.objects.filter(slug="cloud-a").update(name="<script>alert(1)</script>")
    html = cert_block("yanis_a").html()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_a_coordinator_gets_the_roster_of_their_cohorts_only(certified, cert_block):
    html = cert_block("coord_a").html()
    assert "Cohort roster" in html
    assert "Cloud A" in html and "Cloud B" not in html
    status, body = cert_block("coord_a").call("roster", {"cohort": certified.cohort_a.id, "state": "certified"})
    assert [row["username"] for row in body["rows"]] == ["amina_a"]
    assert body["rows"][0]["certificate"].startswith("KAF-")


def test_the_progress_handler_returns_only_the_callers_enrolments(certified, cert_block):
    status, body = cert_block("yanis_a").call("progress")
    assert status == 200
    assert [t["username"] for t in body["tracks"]] == ["yanis_a"]


def test_the_roster_csv_has_a_column_per_requirement(certified, cert_block):
    response = cert_block("coord_a").get("roster_csv", f"cohort={certified.cohort_a.id}")
    lines = response.body.decode("utf-8-sig").splitlines()
    assert lines[0].startswith('"Username","Full name","Employee ID"')
    assert '"Lab: nginx as a reverse proxy"' in lines[0]
    assert len(lines) == 3
    assert response.headers["Content-Disposition"].startswith("attachment")


def test_only_staff_can_change_the_settings(cert_world, cert_block):
    status, body = cert_block("yanis_a").call("save_settings", {"track_slug": "security-analyst"})
    assert body == {"error": "forbidden"}
    block = cert_block("staff")
    assert block.call("save_settings", {"track_slug": "nope"})[1] == {"error": "unknown track"}
    assert block.call("save_settings", {"track_slug": "security-analyst", "display_name": "Mine"})[1] == {"ok": True}
    assert block.block.track_slug == "security-analyst"


@pytest.mark.parametrize("scenario", CertificationBlock.workbench_scenarios(), ids=lambda s: s[0])
def test_every_workbench_scenario_renders_for_a_learner_and_for_staff(sample_tracks, scenario):
    for student in ("student_1", "staff"):
        html = BlockHarness(scenario[1], student).html()
        assert "kafaat-cert" in html
    studio = BlockHarness(scenario[1], "staff").block.render("studio_view", {}).content
    assert "Cloud &amp; DevOps practitioner" in studio


def _course_certification_blocks() -> list[str]:
    """The sample course's ``<kafaat_certification>`` elements, written inline in their verticals."""
    from lxml import etree  # pylint: disable=import-outside-toplevel

    return [
        etree.tostring(element, encoding="unicode", with_tail=False)
        for path in sorted((CHECKOUT / "course_content" / "vertical").glob("*.xml"))
        for element in etree.parse(str(path)).getroot().iter("kafaat_certification")
    ]


@pytest.mark.parametrize("olx", _course_certification_blocks())
def test_sample_course_certification_blocks_name_a_loaded_track(sample_tracks, olx):
    harness = BlockHarness(olx, "student_1")
    assert api.get_track(harness.block.track_slug) is not None
    assert "kafaat-cert" in harness.html()


def test_a_learner_grants_and_withdraws_consent_on_their_own_enrolment(certified, cert_block):
    block = cert_block("amina_a")
    enrollment = certified.enrollments["amina_a"]
    assert 'value="insurer"' in block.html()
    assert block.call("set_consent", {"enrollment": enrollment, "employer": "insurer", "granted": True})[1]["ok"]
    records = api.iter_certificate_records(certified.staff, employer_slug="insurer")
    assert [r.learner.username for r in records] == ["amina_a"]
    assert "checked" in block.html()
    assert block.call("set_consent", {"enrollment": enrollment, "employer": "insurer", "granted": False})[1]["ok"]
    assert api.count_certificate_records(certified.staff, employer_slug="insurer") == 0


def test_the_block_links_to_the_offers_and_invitations_page_and_withdrawing_sharing_withdraws_contact(
    certified, cert_block, settings
):
    block = cert_block("amina_a")
    enrollment = certified.enrollments["amina_a"]
    assert 'href="/kafaat/partnership/invitations/"' in block.html()
    api.set_own_contact_consent(certified.learner("amina_a"), enrollment, "insurer", True)
    assert api.learner_offer_consents(certified.learner("amina_a"))[enrollment][0][1:] == (True, True)
    assert block.call("set_consent", {"enrollment": enrollment, "employer": "insurer", "granted": False})[1]["ok"]
    assert api.learner_offer_consents(certified.learner("amina_a"))[enrollment][0][1:] == (False, False)
    settings.KAFAAT = {**getattr(settings, "KAFAAT", {}), "CERT_INVITATIONS_URL": ""}
    assert "kafaat-cert__invitations" not in cert_block("amina_a").html()


@pytest.mark.parametrize(
    "payload",
    [
        {"enrollment": "lina_b", "employer": "insurer", "granted": True},  # someone else's enrolment
        {"enrollment": "amina_a", "employer": "nobody", "granted": True},
        {"enrollment": "not-a-number", "employer": "insurer", "granted": True},
    ],
)
def test_consent_cannot_be_set_on_someone_elses_enrolment(certified, cert_block, payload):
    data = dict(payload)
    data["enrollment"] = certified.enrollments.get(data["enrollment"], data["enrollment"])
    status, body = cert_block("amina_a").call("set_consent", data)
    assert body == {"error": "forbidden"}
    assert api.count_certificate_records(certified.staff, employer_slug="insurer") == 0


def test_a_learner_sees_who_verified_their_certificate_and_nobody_else_does(certified, cert_block):
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel
    from xblocks.certification.credentials import api as credentials_api  # pylint: disable=import-outside-toplevel

    number = models.Certificate.objects.get(user=certified.learner("amina_a")).number
    _plain, token = credentials_api.create_employer_token("HR import", "<b>Sahara Assurance</b>")
    credentials_api.verify_certificate(number, channel="api", ip="127.0.0.1", token=models_token(token))

    html = cert_block("amina_a").html()
    assert "Who verified my certificates" in html
    assert f"checked certificate {number}" in html
    assert "&lt;b&gt;Sahara Assurance&lt;/b&gt;" in html and "<b>Sahara" not in html
    assert f"checked certificate {number}" not in cert_block("yanis_a").html()


def models_token(data):
    from xblocks.certification.credentials.models import EmployerToken  # pylint: disable=import-outside-toplevel

    return EmployerToken.objects.get(pk=data.id)


def test_a_learner_sees_their_public_profile_switch_in_the_block(certified, cert_block):
    from xblocks.certification.credentials import api as credentials_api  # pylint: disable=import-outside-toplevel

    html = cert_block("amina_a").html()
    assert "Your public profile is off." in html and credentials_api.manage_profile_url() in html
    profile = credentials_api.set_public_profile(certified.learner("amina_a"), True)
    html = cert_block("amina_a").html()
    assert "Your public profile is on." in html and profile.url in html
