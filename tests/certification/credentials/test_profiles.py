"""Public profiles (off by default, the learner's own switch, valid certificates only) and the embeddable snippet."""

import dataclasses
import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from xblocks.certification.credentials import api
from xblocks.certification.credentials.models import PublicProfile, Verification

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def learner(django_user_model):
    return django_user_model.objects.create_user("amina", email="Amina.Benali@Example.org", password="pw")


def _certificate(certificates, learner, number, **overrides):
    base = certificates.add()
    certificate = certificates.add(
        id=100 + len(certificates.by_id),
        number=number,
        learner=dataclasses.replace(base.learner, user_id=learner.pk),
        **overrides,
    )
    api.credential_json(certificate.id)
    return certificate


def test_off_by_default_and_the_same_404_as_an_unknown_link(client, learner):
    profile = api.my_public_profile(learner)
    assert not profile.enabled
    assert client.get(f"/kafaat/credentials/profile/{profile.slug}/").status_code == 404
    assert client.get("/kafaat/credentials/profile/nothing-here/").status_code == 404


def test_only_the_learner_switches_their_profile(client, learner, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True, is_superuser=True)
    api.my_public_profile(learner)
    row = PublicProfile.objects.get(user=learner)
    # The api acts for the signed-in user only: a superuser switches their own, never the learner's.
    api.set_public_profile(staff, True)
    assert not PublicProfile.objects.get(pk=row.pk).enabled
    with pytest.raises(PermissionDenied):
        api.set_public_profile(None, True)
    # The page: sign-in required, CSRF enforced.
    assert client.get("/kafaat/credentials/me/profile/").status_code == 302
    client.force_login(learner)
    assert client.post("/kafaat/credentials/me/profile/", {"enabled": "1"}).status_code == 302
    assert PublicProfile.objects.get(pk=row.pk).enabled
    from django.test import Client

    forged = Client(enforce_csrf_checks=True)
    forged.force_login(learner)
    assert forged.post("/kafaat/credentials/me/profile/", {"enabled": "0"}).status_code == 403
    assert PublicProfile.objects.get(pk=row.pk).enabled


def test_the_public_page_lists_valid_certificates_and_nothing_personal(client, certificates, learner):
    today = dt.date.today()
    valid = _certificate(certificates, learner, "KAF-2026-VALID-00001")
    revoked = _certificate(certificates, learner, "KAF-2026-REVOK-00002")
    suspended = _certificate(certificates, learner, "KAF-2026-SUSPE-00003")
    expired = _certificate(
        certificates,
        learner,
        "KAF-2026-EXPIR-00004",
        valid_from=today - dt.timedelta(days=400),
        valid_until=today - dt.timedelta(days=2),
    )
    api.apply_status(revoked.id, "revoked")
    certificates.set_status(revoked.id, "revoked")
    api.apply_status(suspended.id, "suspended")
    certificates.set_status(suspended.id, "suspended")
    certificates.set_status(expired.id, "expired")
    profile = api.set_public_profile(learner, True)
    response = client.get(f"/kafaat/credentials/profile/{profile.slug}/?lang=ar")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'dir="rtl"' in page and "أمينة بن علي" in page
    assert valid.number in page
    for hidden in (revoked, suspended, expired):
        assert hidden.number not in page
    for personal in ("Example.org", "example.org", "amina", "E-1", "Nord 2026"):
        assert personal not in page
    assert response["Cache-Control"] == "no-store"
    # Switched off: gone at once.
    api.set_public_profile(learner, False)
    assert client.get(f"/kafaat/credentials/profile/{profile.slug}/").status_code == 404


def test_the_public_page_spends_the_visitors_lookup_budget(client, learner, settings):
    from django.core.cache import cache

    settings.KAFAAT = {**settings.KAFAAT, "VERIFY_RATE_LIMIT": 2}
    cache.clear()
    profile = api.set_public_profile(learner, True)
    codes = [client.get(f"/kafaat/credentials/profile/{profile.slug}/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_embed_snippet_may_be_framed_shows_the_live_status_and_is_logged(client, certificates, settings):
    certificate = certificates.add()
    response = client.get(f"/kafaat/credentials/embed/{certificate.number}/?lang=fr")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors *" in csp and "default-src 'none'" in csp
    assert "kafaat-embed__status--ok" in response.content.decode()
    assert Verification.objects.filter(number=certificate.number, channel="embed").count() == 1
    api.apply_status(certificate.id, "revoked")
    certificates.set_status(certificate.id, "revoked")
    revoked = client.get(f"/kafaat/credentials/embed/{certificate.number}/?lang=en").content.decode()
    assert "kafaat-embed__status--bad" in revoked and "Revoked" in revoked
    settings.KAFAAT = {**settings.KAFAAT, "EMBED_FRAME_ANCESTORS": "https://employer.example"}
    narrowed = client.get(f"/kafaat/credentials/embed/{certificate.number}/")
    assert narrowed["Content-Security-Policy"].endswith("frame-ancestors https://employer.example")
    # The verification page hands out the snippet; other pages stay unframeable.
    page = client.get(f"/kafaat/credentials/verify/{certificate.number}/")
    assert api.embed_url(certificate.number) in page.content.decode()
    assert page.get("X-Frame-Options") == "DENY" or "frame-ancestors" not in page.get("Content-Security-Policy", "")
