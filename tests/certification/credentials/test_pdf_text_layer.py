"""The PDF read by tools nobody here wrote: poppler's pdftotext finds the logical Arabic, pypdf sees the tags.

``pdftotext`` is the extractor search indexers and ``grep`` users run; it must find the holder's name
and the track's title as typed (logical order, base letters, lam-alef ligatures included). pypdf reads
the document structure: catalog ``/Lang``, ``MarkInfo``, the structure tree whose elements carry the
exact logical text, and the Title metadata.
"""

import base64
import dataclasses
import io
import shutil
import subprocess

import pypdf
import pytest
from PIL import Image

from xblocks.certification.credentials import api
from xblocks.core import images

pytestmark = [pytest.mark.django_db]

NAME = "خديجة العلوي"
TRACK = "محلل الأمن السيبراني للأنظمة الإلكترونية"  # three lam-alef ligatures (الأمن، للأنظمة، الإلكترونية)
PDFTOTEXT = shutil.which("pdftotext")


def _pdftotext(data: bytes, tmp_path) -> str:
    if PDFTOTEXT is None:
        pytest.fail("pdftotext is missing: scripts/system-deps.sh installs poppler-utils")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(data)
    return subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout.decode()


def _arabic_certificate(certificates, **overrides):
    base = certificates.add()
    learner = dataclasses.replace(base.learner, legal_name=NAME)
    track = dataclasses.replace(base.track, title=TRACK)
    return certificates.add(learner=learner, track=track, **overrides)


def _png(width=240, height=80, colour=(20, 60, 110)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return images.to_data_uri("image/png", buffer.getvalue())


@pytest.mark.parametrize("language", ["ar", "fr", "en"])
def test_pdftotext_finds_the_arabic_name_and_title_in_logical_order(certificates, tmp_path, language):
    certificate = _arabic_certificate(certificates)
    text = _pdftotext(api.render_pdf(certificate.id, language), tmp_path)
    assert NAME in text
    assert TRACK in text
    assert NAME[::-1] not in text
    assert not any("\ufb50" <= char <= "\ufeff" for char in text)  # no presentation forms left
    assert certificate.number in text


def test_pdftotext_finds_the_french_and_english_wording(certificates, tmp_path):
    certificate = certificates.add()
    assert "Le présent certificat atteste que" in _pdftotext(api.render_pdf(certificate.id, "fr"), tmp_path)
    assert "This certifies that" in _pdftotext(api.render_pdf(certificate.id, "en"), tmp_path)


@pytest.mark.parametrize(
    "language,title",
    [("ar", "الشهادة KAF-2026-000005"), ("fr", "Certificat KAF-2026-000005"), ("en", "Certificate KAF-2026-000005")],
)
def test_tagged_pdf_with_language_structure_and_logical_title(certificates, language, title):
    certificate = _arabic_certificate(certificates)
    reader = pypdf.PdfReader(io.BytesIO(api.render_pdf(certificate.id, language)))
    root = reader.trailer["/Root"]
    assert root["/Lang"] == language
    assert root["/MarkInfo"]["/Marked"] is True or root["/MarkInfo"]["/Marked"] == True  # noqa: E712
    assert reader.metadata.title == title  # logical order, not reversed for display
    assert reader.metadata.author == "École du Nord"
    tree = root["/StructTreeRoot"].get_object()
    document = tree["/K"].get_object()
    assert document["/S"] == "/Document" and document["/Lang"] == language
    elements = [kid.get_object() for kid in document["/K"]]
    texts = [element.get("/ActualText") for element in elements]
    assert NAME in texts and TRACK in texts
    assert any(element["/S"] == "/H1" for element in elements)
    qr = [element for element in elements if element["/S"] == "/Figure"]
    assert qr and "/Alt" in qr[-1]
    page = reader.pages[0]
    assert page["/StructParents"] == 0
    # Every element names its marked content on the page, and the page's stream has each MCID once.
    content = page.get_contents().get_data().decode("latin-1")
    for mcid, element in enumerate(elements):
        assert element["/K"] == mcid
        assert content.count(f"<</MCID {mcid}>> BDC") == 1
    parents = tree["/ParentTree"].get_object()["/Nums"]
    assert parents[0] == 0 and len(parents[1]) == len(elements)


def test_logo_and_signatures_from_the_track_over_the_school(certificates, tmp_path):
    base = certificates.add()
    school = dataclasses.replace(
        base.school, branding={"logo": _png(colour=(200, 0, 0)), "signatures": [{"name": "Old Principal", "role": "x"}]}
    )
    track = dataclasses.replace(
        base.track,
        branding={
            "signatures": [
                {"name": "سلمى بنعلي", "role": "مديرة المدرسة", "image": _png(200, 60)},
                {"name": "Jean Dupont", "role": "Directeur des études"},
            ]
        },
    )
    certificate = certificates.add(school=school, track=track)
    data = api.render_pdf(certificate.id, "ar")
    text = _pdftotext(data, tmp_path)
    assert "سلمى بنعلي" in text and "مديرة المدرسة" in text and "Directeur des études" in text
    assert "Old Principal" not in text  # the track's signatures replace the school's
    reader = pypdf.PdfReader(io.BytesIO(data))
    drawn = list(reader.pages[0].images)
    assert len(drawn) == 2  # the school's logo (the track has none) and the one signature image
    figures = [
        kid.get_object().get("/Alt")
        for kid in reader.trailer["/Root"]["/StructTreeRoot"]["/K"].get_object()["/K"]
        if kid.get_object()["/S"] == "/Figure"
    ]
    # The signature image's alternative text names the signatory (the wording is the catalog's).
    assert any("سلمى بنعلي" in (alt or "") for alt in figures)


def test_an_svg_signature_is_left_out_of_the_pdf_and_nothing_breaks(certificates):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><path d="M0 0L10 10"/></svg>'
    uri = images.to_data_uri(*images.clean(svg))
    base = certificates.add()
    track = dataclasses.replace(base.track, branding={"signatures": [{"name": "A", "role": "B", "image": uri}]})
    certificate = certificates.add(track=track)
    reader = pypdf.PdfReader(io.BytesIO(api.render_pdf(certificate.id, "en")))
    assert list(reader.pages[0].images) == []
    assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"<svg")
