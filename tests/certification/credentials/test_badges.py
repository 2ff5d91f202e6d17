"""Badge artwork and baked badges, read back by code nobody here wrote.

Extraction: ``openbadgeslib`` (PyPI, an OB 3.0 library with its own baking reader: the
``openbadges:credential`` element and the ``openbadgecredential`` iTXt chunk), Pillow's PNG text
chunks, and lxml for the SVG. Verification of what comes out: Digital Bazaar's verifier and the
1EdTech JSON Schema in the interop tier.
"""

import io
import json
import xml.etree.ElementTree as ET

import pytest
from openbadgeslib import baking
from PIL import Image

from tests.certification.credentials.test_interop import _verify, issued  # noqa: F401 (fixture)
from xblocks.certification.credentials import api, badges
from xblocks.certification.credentials.models import Verification

pytestmark = [pytest.mark.django_db]


def _get(client, url: str):
    response = client.get(url.removeprefix(api.base_url()))
    assert response.status_code == 200, (url, response.status_code)
    return response


def test_the_credential_names_its_badge_image_and_the_image_is_served(issued, client):  # noqa: F811
    credential = api.credential_json(issued.id)
    image = credential["credentialSubject"]["achievement"]["image"]
    assert image == {
        "id": api.badge_image_url(issued.track.slug, issued.track.version),
        "type": "Image",
        "caption": issued.track.title,
    }
    response = _get(client, image["id"])
    assert response["Content-Type"].startswith("image/svg+xml")
    assert (
        "default-src 'none'" in response["Content-Security-Policy"] and "sandbox" in response["Content-Security-Policy"]
    )
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert issued.track.title in "".join(root.itertext())
    assert client.get("/kafaat/credentials/achievements/no-such-track/1/badge.svg").status_code == 404


def test_baked_svg_gives_back_the_signed_credential_and_it_still_verifies(issued, client):  # noqa: F811
    signed = api.credential_json(issued.id)
    data = _get(client, api.baked_badge_url(issued.number, "svg")).content
    # openbadgeslib's reader: the OB 3.0 element, its text (CDATA) when there is no verify attribute.
    extracted = baking.extract_svg(data, element=baking.SVG_ELEMENT_OB3, text_fallback=True)
    credential = json.loads(extracted)
    assert credential == signed
    # The element is in the OB 3.0 namespace, first inside the root, as §5.3 shows it (plain XML parser).
    root = ET.fromstring(data)
    assert root[0].tag == f"{{{badges.OB3_NS}}}credential"
    answer = _verify(client, credential)
    assert answer["credential"]["ok"], answer["credential"]
    assert answer["schema"]["ok"], answer["schema"]["errors"]


def test_baked_png_gives_back_the_signed_credential_and_it_still_verifies(issued, client):  # noqa: F811
    signed = api.credential_json(issued.id)
    response = _get(client, api.baked_badge_url(issued.number, "png"))
    assert response["Content-Type"] == "image/png"
    data = response.content
    extracted = baking.extract_png(data, keyword=baking.ITXT_KEYWORD_OB3)
    assert json.loads(extracted) == signed
    # Pillow reads the same iTXt chunk (and the image itself decodes).
    image = Image.open(io.BytesIO(data))
    assert image.size == (512, 512)
    assert json.loads(image.text["openbadgecredential"]) == signed
    answer = _verify(client, json.loads(extracted))
    assert answer["credential"]["ok"], answer["credential"]


def test_a_tampered_baked_credential_fails_verification(issued, client):  # noqa: F811
    data = _get(client, api.baked_badge_url(issued.number, "png")).content
    credential = json.loads(baking.extract_png(data, keyword=baking.ITXT_KEYWORD_OB3))
    credential["credentialSubject"]["creditsEarned"] = 999.0
    assert not _verify(client, credential)["credential"]["ok"]


def test_badge_downloads_are_logged_and_limited_like_every_public_door(certificates, client, settings):
    certificate = certificates.add()
    settings.KAFAAT = {**settings.KAFAAT, "VERIFY_RATE_LIMIT": 2}
    from django.core.cache import cache

    cache.clear()
    assert client.get(f"/kafaat/credentials/verify/{certificate.number}/badge.png").status_code == 200
    assert client.get(f"/kafaat/credentials/verify/{certificate.number}/badge.svg").status_code == 200
    assert client.get(f"/kafaat/credentials/verify/{certificate.number}/badge.svg").status_code == 429
    assert Verification.objects.filter(number=certificate.number, channel="badge").exists()
    assert client.get("/kafaat/credentials/verify/KAF-2026-NOPE/badge.svg").status_code in (404, 429)


@pytest.mark.parametrize(
    "proves,domain",
    [
        (("cybersecurity.log-triage", "data.sql", "cybersecurity.x"), "cybersecurity"),
        (("devops.version-control",), "devops"),
        (("unknown.x",), "default"),
        ((), "default"),
    ],
)
def test_the_domain_is_the_one_most_proven_skills_belong_to(proves, domain):
    assert badges.domain_of(proves) == domain


@pytest.mark.parametrize("domain", [*badges.DOMAINS, "default"])
def test_every_domain_has_artwork_with_the_name_escaped_and_arabic_right_to_left(domain):
    hostile = 'Tests & "<script>alert(1)</script>"'
    root = ET.fromstring(badges.svg(hostile, domain))
    assert all(node.tag != "{http://www.w3.org/2000/svg}script" for node in root.iter())
    assert "<script>" in "".join(root.itertext())  # shown as text, not markup
    arabic = ET.fromstring(badges.svg("محلل البيانات والإحصاء التطبيقي", domain))
    texts = [node for node in arabic.iter("{http://www.w3.org/2000/svg}text")]
    assert texts and all(node.get("direction") == "rtl" for node in texts)
    assert " ".join(node.text for node in texts) == "محلل البيانات والإحصاء التطبيقي"
    png = Image.open(io.BytesIO(badges.png("محلل البيانات", domain)))
    assert png.size == (512, 512) and png.mode == "RGBA"


def test_a_long_title_is_wrapped_and_cut_to_three_lines():
    lines, size = badges._lines("word " * 40)
    assert len(lines) == 3 and lines[2].endswith("…") and 14 <= size <= 28


def test_the_verification_page_shows_the_badge_and_offers_the_baked_downloads(certificates, client):
    certificate = certificates.add()
    page = client.get(f"/kafaat/credentials/verify/{certificate.number}/?lang=ar").content.decode()
    assert f'src="{api.badge_image_url("cloud-ops", 2)}"' in page
    assert api.baked_badge_url(certificate.number, "svg") in page
    assert api.baked_badge_url(certificate.number, "png") in page
    links = client.get(f"/kafaat/credentials/api/v1/certificates/{certificate.number}/").json()["links"]
    assert links["badge_png"] == api.baked_badge_url(certificate.number, "png")
