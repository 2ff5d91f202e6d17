"""What a certificate shows of its issuer: a logo and up to three signatures (name, role, optional image).

Set per school (``School.branding``, in the admin) or per track (``"certificate"`` in the track file,
stored on ``Track.branding``); a track's setting wins over its school's, key by key. Images are a
``data:`` URI or a path relative to the tracks folder (never outside it), cleaned once here by
``xblocks.core.images`` (PNG, JPEG re-encoded as PNG; SVG sanitised) and stored as data URIs.
"""

from __future__ import annotations

import pathlib

from xblocks.core import images
from xblocks.core.files import read_limited

MAX_SIGNATURES = 3
MAX_TEXT = 120


def _image(value, base: pathlib.Path | None, where: str) -> str:
    if not value:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: an image is a data: URI or a file path")
    try:
        if value.startswith("data:"):
            return images.clean_data_uri(value)
        if base is None:
            raise ValueError(f"{where}: give the image as a data: URI")
        root = base.resolve()
        path = (root / value).resolve()
        if root not in path.parents:
            raise ValueError(f"{where}: {value!r} is outside the tracks folder")
        return images.to_data_uri(*images.clean(read_limited(path, images.MAX_IMAGE_BYTES)))
    except images.ImageRefused as error:
        raise ValueError(f"{where}: {error}") from None


def _text(value, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"{where}: a text of at most {MAX_TEXT} characters")
    return value.strip()


def clean(value, base: pathlib.Path | None = None, name: str = "certificate") -> dict:
    """The stored form of a branding setting; raises ValueError naming what is wrong."""
    if not value:
        return {}
    if not isinstance(value, dict) or set(value) - {"logo", "signatures"}:
        raise ValueError(f"{name}: an object with 'logo' and 'signatures' only")
    cleaned: dict = {}
    if value.get("logo"):
        cleaned["logo"] = _image(value["logo"], base, f"{name}.logo")
    signatures = value.get("signatures") or []
    if not isinstance(signatures, list) or len(signatures) > MAX_SIGNATURES:
        raise ValueError(f"{name}.signatures: a list of at most {MAX_SIGNATURES} signatures")
    cleaned_signatures = []
    for index, signature in enumerate(signatures):
        where = f"{name}.signatures[{index}]"
        if not isinstance(signature, dict) or set(signature) - {"name", "role", "image"} or "name" not in signature:
            raise ValueError(f"{where}: an object with 'name', 'role' and an optional 'image'")
        entry = {"name": _text(signature["name"], where + ".name"), "role": _text(signature.get("role", ""), where)}
        if signature.get("image"):
            entry["image"] = _image(signature["image"], base, where + ".image")
        cleaned_signatures.append(entry)
    if cleaned_signatures:
        cleaned["signatures"] = cleaned_signatures
    return cleaned
