"""Kafaat's credentials as independent implementations see them (the interop tier, tests/interop/verify.mjs).

A real certificate is issued by the certification app; the site's documents (issuer document, status
list) are fetched through its views, as any verifier would, and handed to Digital Bazaar's verifier,
`jose` and the 1EdTech JSON Schema, which have no network: they see exactly what the site serves.
"""

import base64
import copy
import json

import pytest

from tests.interop import runner
from xblocks.certification.credentials import api

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def issued(cert_world, keys_dir, django_capture_on_commit_callbacks):
    from tests.certification.helpers import complete_cloud_track
    from xblocks.certification import api as certification_api

    with django_capture_on_commit_callbacks(execute=True):
        complete_cloud_track(cert_world, "amina_a")
    progress = certification_api.evaluate_learner("amina_a")
    number = next(item.certificate_number for item in progress if item.certificate_number)
    return certification_api.get_certificate(number)


def _served(client, url: str) -> dict:
    response = client.get(url.removeprefix(api.base_url()))
    assert response.status_code == 200, url
    return response.json()


def _site(client, credential: dict) -> dict[str, dict]:
    """What a verifier fetches for this credential, through the site's own views."""
    status_list = credential["credentialStatus"]["statusListCredential"]
    return {
        credential["issuer"]["id"]: _served(client, credential["issuer"]["id"]),
        status_list: _served(client, status_list),
    }


def _verify(client, credential: dict) -> dict:
    return runner.run({"credential": credential, "documents": _site(client, credential)})


def test_digital_bazaars_verifier_accepts_the_credential_with_its_issuer_document(issued, client):
    credential = api.credential_json(issued.id)
    answer = _verify(client, credential)["credential"]
    assert answer["ok"], answer
    assert [check["verified"] and check["purpose"] for check in answer["proof"]] == [True]
    assert answer["status"]["statuses"] == [{"purpose": "message", "size": 2, "value": 0, "message": "valid"}]


def test_digital_bazaars_verifier_refuses_a_tampered_copy(issued, client):
    credential = copy.deepcopy(api.credential_json(issued.id))
    credential["credentialSubject"]["creditsEarned"] = 999.0
    answer = _verify(client, credential)["credential"]
    assert not answer["ok"]
    assert "Invalid signature" in answer["error"] or not answer["proof"][0]["verified"], answer


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (["suspended"], (1, "suspended")),
        (["suspended", "active"], (0, "valid")),
        (["revoked"], (2, "revoked")),
        (["suspended", "revoked"], (2, "revoked")),
    ],
    ids=["suspended", "reinstated", "revoked", "revoked-while-suspended"],
)
def test_digital_bazaars_verifier_sees_each_status_change(
    issued, client, cert_world, django_capture_on_commit_callbacks, changes, expected
):
    from xblocks.certification import api as certification_api

    credential = api.credential_json(issued.id)
    for status in changes:
        with django_capture_on_commit_callbacks(execute=True):
            certification_api.set_certificate_status(issued.id, status, reason="interop", actor=cert_world.staff)
    answer = _verify(client, credential)["credential"]
    # The status list credential verified (its proof, its issuer, its purpose), then the slot is read.
    assert answer["status"]["verified"], answer
    value, message = expected
    assert answer["status"]["statuses"] == [{"purpose": "message", "size": 2, "value": value, "message": message}]


def test_a_tampered_status_list_is_refused(issued, client):
    credential = api.credential_json(issued.id)
    site = _site(client, credential)
    site[credential["credentialStatus"]["statusListCredential"]]["validFrom"] = "2001-01-01T00:00:00Z"
    answer = runner.run({"credential": credential, "documents": site})["credential"]
    assert not answer["ok"] and not answer["status"]["verified"], answer


def test_the_vc_jwt_verifies_with_jose_and_its_kid_names_a_jwk(issued, client):
    credential = api.credential_json(issued.id)
    token = api.credential_jwt(issued.id)
    answer = runner.run({"jwt": token, "documents": _site(client, credential)})["jwt"]
    assert answer["ok"], answer
    assert (answer["alg"], answer["typ"]) == ("EdDSA", "JWT")
    assert answer["iss"] == credential["issuer"]["id"]
    assert answer["jti"] == credential["id"]
    assert answer["sub"] == credential["credentialSubject"]["id"]


def test_jose_refuses_a_vc_jwt_whose_payload_was_changed(issued, client):
    credential = api.credential_json(issued.id)
    header, payload, signature = api.credential_jwt(issued.id).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["creditsEarned"] = 999.0
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    answer = runner.run({"jwt": f"{header}.{forged}.{signature}", "documents": _site(client, credential)})["jwt"]
    assert not answer["ok"] and answer["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", answer


def test_the_credential_conforms_to_the_1edtech_json_schema_it_declares(issued, client):
    credential = api.credential_json(issued.id)
    answer = _verify(client, credential)["schema"]
    assert [schema["id"] for schema in credential["credentialSchema"]] == [answer["schema"]]
    assert answer["ok"], answer["errors"]


def test_the_schema_refuses_two_status_entries(issued, client):
    """The form Kafaat signed before decision 0053 (a list of two entries) is what the schema refuses."""
    signed = api.credential_json(issued.id)
    credential = copy.deepcopy(signed)
    credential["credentialStatus"] = [credential["credentialStatus"], credential["credentialStatus"]]
    answer = runner.run({"credential": credential, "documents": _site(client, signed)})["schema"]
    assert not answer["ok"]
    assert any(error.startswith("/credentialStatus") for error in answer["errors"]), answer["errors"]


def test_without_the_controlled_identifiers_context_the_issuer_document_is_refused(issued, client):
    """The issuer document as Kafaat served it before: its controller terms undefined, its keys mixed."""
    credential = api.credential_json(issued.id)
    site = _site(client, credential)
    issuer = site[credential["issuer"]["id"]]
    issuer["@context"] = [context for context in issuer["@context"] if context != "https://www.w3.org/ns/cid/v1"]
    answer = runner.run({"credential": credential, "documents": site})["credential"]
    assert not answer["ok"]
    assert "Safe mode validation error" in answer["error"], answer
