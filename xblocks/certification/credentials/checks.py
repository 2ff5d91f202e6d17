"""System check of credentials already signed: do their links still point at this site?"""

from __future__ import annotations

from django.core import checks
from django.db import DatabaseError


def check_signed_credentials(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """The newest signed credential's issuer URL against the site's root URL (``migrate`` runs this)."""
    if not databases:
        return []
    from xblocks.certification.credentials.models import SignedCredential  # pylint: disable=import-outside-toplevel
    from xblocks.core import site  # pylint: disable=import-outside-toplevel

    try:
        latest = SignedCredential.objects.order_by("-pk").values_list("document", flat=True).first()
    except DatabaseError:  # tables not created yet: nothing was signed
        return []
    issuer = (latest or {}).get("issuer") or {}
    signed_at = site.origin(issuer.get("id", "") if isinstance(issuer, dict) else str(issuer))
    here = site.origin(site.root_url())
    if latest is None or not signed_at or signed_at == here:
        return []
    return [
        checks.Warning(
            f"Credentials were signed with links to {signed_at}, but the site is now at {here or 'no URL'}: "
            "their QR codes, verification links and status lists point where this site does not answer.",
            hint="Serve the site at its former address again (LMS_ROOT_URL), or re-issue those credentials.",
            id="kafaat.W005",
        )
    ]
