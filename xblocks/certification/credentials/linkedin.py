"""LinkedIn's "Add to profile" link for a certificate: a plain link built here, nothing is sent to LinkedIn."""

from __future__ import annotations

import urllib.parse

from xblocks.certification.credentials.conf import credentials_settings


def linkedin_url(certificate, verification_url: str) -> str:
    """The link that pre-fills a LinkedIn certification with ``certificate`` (a ``CertificateData``)."""
    params = {
        "startTask": "CERTIFICATION_NAME",
        "name": certificate.track.title,
        "organizationName": certificate.school.name or str(credentials_settings.ISSUER_NAME),
        "issueYear": certificate.valid_from.year,
        "issueMonth": certificate.valid_from.month,
        "certUrl": verification_url,
        "certId": certificate.number,
    }
    if certificate.valid_until:
        params["expirationYear"] = certificate.valid_until.year
        params["expirationMonth"] = certificate.valid_until.month
    return "https://www.linkedin.com/profile/add?" + urllib.parse.urlencode(params)
