"""The public URLs of credentials, issuers, achievements and status lists, all under the site's root URL."""

from __future__ import annotations

import logging
import re
import urllib.parse

from xblocks.certification.credentials import linkedin
from xblocks.core import site

log = logging.getLogger(__name__)


PREFIX = "/kafaat/credentials"


def base_url() -> str:
    """The site's root URL (``xblocks.core.site``): every credential, QR code and export links under it."""

    return site.root_url()


def _url(path: str) -> str:
    return f"{base_url()}{PREFIX}/{path}"


def _quote(value: str) -> str:
    return urllib.parse.quote(str(value), safe="")


def issuer_url(slug: str) -> str:
    return _url(f"issuers/{_quote(slug)}/")


def achievement_url(track_slug: str, version: int) -> str:
    return _url(f"achievements/{_quote(track_slug)}/{int(version)}/")


def badge_image_url(track_slug: str, version: int) -> str:
    """The track version's badge artwork (``achievement.image``): an SVG naming nobody."""
    return _url(f"achievements/{_quote(track_slug)}/{int(version)}/badge.svg")


def baked_badge_url(number: str, kind: str) -> str:
    """A certificate's badge with its signed credential baked in (``kind``: svg or png)."""
    return _url(f"verify/{_quote(number)}/badge.{'png' if kind == 'png' else 'svg'}")


def verification_url(number: str) -> str:
    """The public verification page of a certificate (the QR code and LinkedIn point here)."""
    return _url(f"verify/{_quote(number)}/")


def pdf_url(number: str) -> str:
    return _url(f"pdf/{_quote(number)}/")


def credential_url(number: str) -> str:
    return _url(f"verify/{_quote(number)}/credential.json")


def jwt_url(number: str) -> str:
    return _url(f"verify/{_quote(number)}/credential.jwt")


def api_url(number: str) -> str:
    return _url(f"api/v1/certificates/{_quote(number)}/")


def status_list_url(issuer: str, purpose: str, sequence: int) -> str:
    return _url(f"status/{_quote(issuer)}/{purpose}/{int(sequence)}/")


def _issuer_slug(url: str) -> str | None:
    match = re.fullmatch(re.escape(_url("issuers/")) + r"([A-Za-z0-9_.~%-]+)/", str(url or ""))
    return urllib.parse.unquote(match.group(1)) if match else None


def _status_list_key(url: str) -> tuple[str, str, int] | None:
    match = re.fullmatch(
        re.escape(_url("status/")) + r"([A-Za-z0-9_.~%-]+)/(message|revocation|suspension)/(\d+)/", str(url or "")
    )
    if not match:
        return None
    return urllib.parse.unquote(match.group(1)), match.group(2), int(match.group(3))


def linkedin_url(certificate) -> str:
    """LinkedIn's "Add to profile" link for a certification (a plain link: nothing is sent by us)."""
    return linkedin.linkedin_url(certificate, verification_url(certificate.number))
