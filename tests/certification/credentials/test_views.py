"""Public verification page and JSON API, downloads, status lists, issuer documents, bulk verification, log."""

import base64
import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from xblocks.certification.credentials import api, loader
from xblocks.certification.credentials.models import Verification

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]


@pytest.fixture
def client():
    return Client(REMOTE_ADDR="203.0.113.9")


def test_verification_page_shows_the_facts_and_a_valid_status(client, certificates):
    certificate = certificates.add()
    response = client.get(f"/kafaat/credentials/verify/{certificate.number}/?lang=en")
    page = response.content.decode()
    assert response.status_code == 200
    assert "kafaat-verify__status--ok" in page
    assert "أمينة بن علي" in page and "verified legal name" in page
    assert "Cloud Operations Associate" in page and "École du Nord" in page
    assert "126.5 h (120 h required)" in page
    assert "linkedin.com/profile/add" in page
    assert 'dir="ltr"' in page


def test_verification_page_is_right_to_left_in_arabic(client, certificates):
    certificate = certificates.add()
    page = client.get(f"/kafaat/credentials/verify/{certificate.number}/?lang=ar").content.decode()
    assert '<html lang="ar" dir="rtl">' in page


def test_verification_page_escapes_names(client, certificates):
    from xblocks.certification.data import LearnerData

    learner = LearnerData(9, "x", "x@example.org", "<script>alert(1)</script>", "", "en")
    certificate = certificates.add(learner=learner)
    page = client.get(f"/kafaat/credentials/verify/{certificate.number}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_revoked_certificate_is_shown_revoked_on_page_and_api(client, certificates):
    certificate = certificates.add()
    api.credential_json(certificate.id)
    api.apply_status(certificate.id, "revoked")
    certificates.set_status(certificate.id, "revoked")
    page = client.get(f"/kafaat/credentials/verify/{certificate.number}/?lang=en").content.decode()
    assert "kafaat-verify__status--bad" in page and "Revoked" in page
    assert "linkedin.com" not in page
    data = client.get(f"/kafaat/credentials/api/v1/certificates/{certificate.number}/").json()
    assert data["ok"] is False and data["status"] == "revoked"


def test_status_change_not_yet_in_the_lists_still_shows_fails_closed(client, certificates):
    certificate = certificates.add()
    api.credential_json(certificate.id)
    certificates.set_status(certificate.id, "suspended")  # the task that flips the bit has not run yet
    data = client.get(f"/kafaat/credentials/api/v1/certificates/{certificate.number}/").json()
    assert data["ok"] is False and data["status"] == "suspended"


def test_json_api_returns_the_same_facts_by_number_and_by_credential_id(client, certificates):
    certificate = certificates.add()
    credential_id = api.credential_json(certificate.id)["id"]
    by_number = client.get(f"/kafaat/credentials/api/v1/certificates/{certificate.number}/").json()
    by_id = client.get(f"/kafaat/credentials/api/v1/certificates/{credential_id}/").json()
    assert by_number == by_id
    assert by_number["ok"] is True and by_number["status"] == "active"
    assert by_number["holder"] == {"name": "أمينة بن علي", "legal_name_verified": True}
    assert by_number["track"] == {"slug": "cloud-ops", "title": "Cloud Operations Associate", "version": 2}
    assert by_number["hours"] == 126.5
    assert {c["name"] for c in by_number["checks"]} >= {"proof", "status", "validity"}


def test_database_ids_are_not_accepted_publicly(client, certificates):
    certificate = certificates.add()
    assert client.get(f"/kafaat/credentials/api/v1/certificates/{certificate.id}/").status_code == 404
    assert client.get(f"/kafaat/credentials/pdf/{certificate.id}/").status_code == 404


def test_unknown_certificate_is_a_404_and_is_logged(client, certificates):
    response = client.get("/kafaat/credentials/api/v1/certificates/KAF-1999-000001/")
    assert response.status_code == 404 and response.json()["found"] is False
    assert Verification.objects.filter(number="KAF-1999-000001", ok=False).exists()


def test_every_verification_is_logged_with_a_hashed_ip(client, certificates):
    certificate = certificates.add()
    client.get(f"/kafaat/credentials/verify/{certificate.number}/")
    client.get(f"/kafaat/credentials/api/v1/certificates/{certificate.number}/")
    rows = list(Verification.objects.filter(number=certificate.number).order_by("id"))
    assert [r.channel for r in rows] == ["page", "api"]
    assert all(r.ip_hash and "203.0.113.9" not in r.ip_hash for r in rows)


def test_rate_limit_answers_429(client, certificates, settings):
    settings.KAFAAT = {**settings.KAFAAT, "VERIFY_RATE_LIMIT": 2}
    from django.core.cache import cache

    cache.clear()
    certificate = certificates.add()
    codes = [client.get(f"/kafaat/credentials/api/v1/certificates/{certificate.number}/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_credential_downloads_are_the_signed_documents(client, certificates):
    certificate = certificates.add()
    document = json.loads(client.get(f"/kafaat/credentials/verify/{certificate.number}/credential.json").content)
    assert api.verify_credential(document).ok
    token = client.get(f"/kafaat/credentials/verify/{certificate.number}/credential.jwt").content.decode()
    assert api.verify_credential(token).ok


def test_status_list_and_issuer_documents_are_served(client, certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    url = document["credentialStatus"]["statusListCredential"]
    listing = client.get(url.replace(api.base_url(), ""))
    assert listing.status_code == 200 and "BitstringStatusListCredential" in listing.json()["type"]
    issuer = client.get(document["issuer"]["id"].replace(api.base_url(), "")).json()
    assert document["proof"]["verificationMethod"] in issuer["assertionMethod"]
    # Verifiers expand the issuer document as JSON-LD in safe mode: every term must be defined.
    assert loader.CID_V1 in issuer["@context"]
    assert "https://w3id.org/security#assertionMethod" in loader.canonicalize(issuer, strict=True)
    methods = {method["id"]: method for method in issuer["verificationMethod"]}
    assert set(issuer["assertionMethod"]) == set(methods)
    token_kid = json.loads(base64.urlsafe_b64decode(api.credential_jwt(certificate.id).split(".")[0] + "=="))["kid"]
    assert methods[token_kid]["type"] == "JsonWebKey" and methods[token_kid]["publicKeyJwk"]["crv"] == "Ed25519"
    assert all("publicKeyJwk" not in m for m in methods.values() if m["type"] == "Multikey")
    assert client.get("/kafaat/credentials/issuers/nobody/").status_code == 404


def test_learner_sees_who_verified_them(client, certificates):
    certificate = certificates.add()
    user_model = get_user_model()
    learner = user_model.objects.create(pk=certificate.learner.user_id, username="amina")
    recruiter = user_model.objects.create(username="recruiter", first_name="Rita", last_name="Recruiter")
    client.force_login(recruiter)
    client.get(f"/kafaat/credentials/verify/{certificate.number}/")
    client.logout()
    client.get(f"/kafaat/credentials/verify/{certificate.number}/")
    records = api.verifications_for(learner)
    assert [r.verifier for r in records] == ["An anonymous visitor", "Rita Recruiter"]
    client.force_login(learner)
    data = client.get("/kafaat/credentials/api/v1/me/verifications/").json()
    assert len(data["verifications"]) == 2
    client.logout()
    assert client.get("/kafaat/credentials/api/v1/me/verifications/").status_code == 401


def _rows(text):
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_bulk_verification_with_an_employer_token(client, certificates):
    good = certificates.add()
    revoked = certificates.add(id=6, number="KAF-2026-000006", status="revoked")
    raw, _ = api.create_employer_token("ATS", "ACME Insurance")
    body = (
        "number,name,email\n"
        f"{good.number},  أمينة   بن علي ,amina.benali@example.org\n"
        f"{revoked.number},Someone Else,other@example.org\n"
        "KAF-1999-000001,,\n"
    )
    response = client.post(
        "/kafaat/credentials/api/v1/bulk-verify/",
        data=body,
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 200
    rows = _rows(response.content.decode())
    header = rows[0]
    table = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert [(r["number"], r["valid"], r["status"]) for r in table] == [
        (good.number, "yes", "active"),
        (revoked.number, "no", "revoked"),
        ("KAF-1999-000001", "no", ""),
    ]
    assert table[0]["name_matches"] == "yes" and table[0]["email_matches"] == "yes"
    assert table[1]["name_matches"] == "no" and table[1]["email_matches"] == "no"
    logged = Verification.objects.filter(channel="bulk")
    assert logged.count() == 3 and all(row.employer_token.organisation == "ACME Insurance" for row in logged)


def test_bulk_output_is_safe_from_formula_injection(client, certificates):
    raw, _ = api.create_employer_token("ATS", "ACME")
    body = '=HYPERLINK("http://evil.example","x"),@SUM(1),+1\n'
    response = client.post(
        "/kafaat/credentials/api/v1/bulk-verify/",
        data=body,
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    rows = _rows(response.content.decode())
    assert rows[1][0].startswith("'=")
    assert all(not cell or cell[0] not in "=+-@" for row in rows for cell in row)


@pytest.mark.parametrize("auth", ["", "Bearer kfv_wrong", "Bearer nonsense"])
def test_bulk_verification_refuses_anonymous_and_bad_tokens(client, certificates, auth):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    response = client.post(
        "/kafaat/credentials/api/v1/bulk-verify/", data="KAF-2026-000005\n", content_type="text/csv", **extra
    )
    assert response.status_code == 401


def test_bulk_verification_refuses_a_deactivated_token(client, certificates):
    from xblocks.certification.credentials.models import EmployerToken

    raw, data = api.create_employer_token("ATS", "ACME")
    EmployerToken.objects.filter(pk=data.id).update(active=False)
    response = client.post(
        "/kafaat/credentials/api/v1/bulk-verify/",
        data="KAF-2026-000005\n",
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 401


def test_bulk_verification_refuses_signed_in_non_staff_and_needs_csrf_for_staff(certificates):
    user_model = get_user_model()
    learner = user_model.objects.create(username="learner")
    staff = user_model.objects.create(username="boss", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(learner)
    assert (
        client.post("/kafaat/credentials/api/v1/bulk-verify/", data="x\n", content_type="text/csv").status_code == 403
    )
    client.force_login(staff)
    assert (
        client.post("/kafaat/credentials/api/v1/bulk-verify/", data="x\n", content_type="text/csv").status_code == 403
    )
    relaxed = Client()
    relaxed.force_login(staff)
    assert (
        relaxed.post("/kafaat/credentials/api/v1/bulk-verify/", data="x\n", content_type="text/csv").status_code == 200
    )


def test_bulk_verification_caps_the_number_of_rows(client, certificates, settings):
    settings.KAFAAT = {**settings.KAFAAT, "BULK_MAX_ROWS": 3}
    raw, _ = api.create_employer_token("ATS", "ACME")
    body = "\n".join(f"KAF-2026-{n:06d}" for n in range(5))
    response = client.post(
        "/kafaat/credentials/api/v1/bulk-verify/",
        data=body,
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 400


def test_achievement_id_dereferences_to_the_signed_achievement(client, certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    url = document["credentialSubject"]["achievement"]["id"]
    served = client.get(url.replace(api.base_url(), "")).json()
    assert served["id"] == url and served["achievementType"] == "Certification"
    assert client.get("/kafaat/credentials/achievements/nothing/1/").status_code == 404


def test_issuer_document_gives_jwt_verifiers_the_key_as_a_jwk_without_private_parts(client, certificates):
    import base64

    certificate = certificates.add()
    token = api.credential_jwt(certificate.id)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    issuer = client.get(api.issuer_url("ecole-nord").replace(api.base_url(), "")).json()
    method = next(m for m in issuer["verificationMethod"] if m["id"] == header["kid"])
    assert method["publicKeyJwk"]["kty"] == "OKP" and "d" not in method["publicKeyJwk"]


def test_bulk_verification_accepts_a_file_upload_and_refuses_a_form_without_one(client, certificates):
    from django.core.files.uploadedfile import SimpleUploadedFile

    certificate = certificates.add()
    raw, _ = api.create_employer_token("ATS", "ACME")
    upload = SimpleUploadedFile("candidates.csv", f"{certificate.number}\n".encode(), content_type="text/csv")
    response = client.post(
        "/kafaat/credentials/api/v1/bulk-verify/", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 200 and _rows(response.content.decode())[1][2] == "yes"
    response = client.post("/kafaat/credentials/api/v1/bulk-verify/", {"x": "1"}, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 400
