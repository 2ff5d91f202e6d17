"""Certificate branding: logo and signatures from the track file or the school, images cleaned on the way in."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from tests.certification.helpers import TRACKS_DIR
from xblocks.certification import api, branding, models, tracks
from xblocks.core import images

COURSE = TRACKS_DIR.parent


def _png(path=None) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 30), (1, 2, 3)).save(buffer, "PNG")
    if path is not None:
        path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _track_file(tmp_path, certificate) -> None:
    data = json.loads((TRACKS_DIR / "security-analyst.json").read_text(encoding="utf-8"))
    data["certificate"] = certificate
    (tmp_path / "sec.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.mark.django_db
def test_track_file_images_are_read_from_the_tracks_folder_cleaned_and_stored(tmp_path, sample_tracks):
    (tmp_path / "branding").mkdir()
    _png(tmp_path / "branding" / "logo.png")
    (tmp_path / "branding" / "sig.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" onload="x()"><path d="M0 0L1 1"/></svg>', encoding="utf-8"
    )
    _track_file(
        tmp_path,
        {
            "logo": "branding/logo.png",
            "signatures": [{"name": "سلمى بنعلي", "role": "مديرة", "image": "branding/sig.svg"}],
        },
    )
    report = tracks.load_directory(tmp_path, lab_paths=[COURSE])
    assert not report.errors, report.errors
    stored = models.Track.objects.get(slug="security-analyst").branding
    assert stored["logo"].startswith("data:image/png;base64,")
    signature = stored["signatures"][0]
    assert signature["name"] == "سلمى بنعلي" and signature["role"] == "مديرة"
    media_type, svg = images.from_data_uri(signature["image"])
    assert media_type == "image/svg+xml" and b"onload" not in svg
    assert api.get_track("security-analyst").branding == stored


@pytest.mark.django_db
@pytest.mark.parametrize(
    "certificate,message",
    [
        ({"logo": "../../etc/passwd"}, "outside the tracks folder"),
        ({"logo": "/etc/hostname"}, "outside the tracks folder"),
        ({"logo": "notes.txt"}, "not a readable PNG or JPEG"),
        ({"signatures": [{"name": "x" * 200}]}, "at most 120"),
        ({"signatures": [{"name": str(n)} for n in range(4)]}, "at most 3"),
        ({"stamp": "x"}, "'logo' and 'signatures' only"),
    ],
)
def test_bad_branding_refuses_the_track_file(tmp_path, sample_tracks, certificate, message):
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    _track_file(tmp_path, certificate)
    report = tracks.load_directory(tmp_path, lab_paths=[COURSE])
    assert report.errors and message in report.errors[0]


@pytest.mark.django_db
def test_school_branding_is_cleaned_by_the_model_and_refused_when_unsafe():
    school = models.School(slug="s", name="S", branding={"logo": "https://example.org/logo.png"})
    with pytest.raises(ValidationError, match="data: URI"):
        school.full_clean()
    school.branding = {"logo": images.to_data_uri("image/png", _png() + b"trailing")}
    school.full_clean()
    assert images.from_data_uri(school.branding["logo"])[1].endswith(b"IEND\xaeB`\x82")


def test_clean_without_a_folder_accepts_only_data_uris():
    with pytest.raises(ValueError, match="data: URI"):
        branding.clean({"logo": "logo.png"})
    assert branding.clean({}) == {} and branding.clean(None) == {}
