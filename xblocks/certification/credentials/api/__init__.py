"""The one door to verifiable credentials: signing, status, verification, the verification log and PDFs.

Views, tasks, the CLI, the certification block and the exports app call these functions; they read
certificates only through ``xblocks.certification.api`` and return dicts or frozen dataclasses. One topic
per module: ``links`` (public URLs), ``signing``, ``documents`` (what the issuer serves),
``verification``, ``employers`` (tokens, rate limits, bulk verification), ``pdf_tools`` (fonts and
Arabic shaping for other apps' PDFs).
"""

from xblocks.certification.credentials.api.documents import (
    achievement_document,
    controller_document,
    credential_json,
    credential_jwt,
    status_list_document,
)
from xblocks.certification.credentials.api.employers import (
    BULK_COLUMNS,
    BulkInputError,
    BulkRateLimited,
    authenticate_employer_token,
    bulk_rate_limited,
    bulk_verify,
    create_employer_token,
    rate_limited,
    take,
)
from xblocks.certification.credentials.api.links import (
    PREFIX,
    achievement_url,
    api_url,
    base_url,
    credential_url,
    issuer_url,
    jwt_url,
    linkedin_url,
    pdf_url,
    status_list_url,
    verification_url,
)
from xblocks.certification.credentials.api.pdf_tools import (
    pdf_fonts,
    pdf_text,
)
from xblocks.certification.credentials.api.signing import (
    CredentialUnavailable,
    apply_status,
    endorse_track,
    identity_salt,
    issue_credential,
    new_identity_salt,
    rotate_key,
    subject_id,
)
from xblocks.certification.credentials.api.verification import (
    check_certificate,
    log_verification,
    public_certificate,
    record_download,
    record_lookup,
    render_pdf,
    verifications_for,
    verify_certificate,
    verify_credential,
)

__all__ = [
    "BULK_COLUMNS",
    "BulkInputError",
    "BulkRateLimited",
    "CredentialUnavailable",
    "PREFIX",
    "achievement_document",
    "achievement_url",
    "api_url",
    "apply_status",
    "authenticate_employer_token",
    "base_url",
    "bulk_rate_limited",
    "bulk_verify",
    "check_certificate",
    "controller_document",
    "create_employer_token",
    "credential_json",
    "credential_jwt",
    "credential_url",
    "endorse_track",
    "identity_salt",
    "issue_credential",
    "issuer_url",
    "jwt_url",
    "linkedin_url",
    "log_verification",
    "new_identity_salt",
    "pdf_fonts",
    "pdf_text",
    "pdf_url",
    "public_certificate",
    "rate_limited",
    "record_download",
    "record_lookup",
    "render_pdf",
    "rotate_key",
    "status_list_document",
    "status_list_url",
    "subject_id",
    "take",
    "verification_url",
    "verifications_for",
    "verify_certificate",
    "verify_credential",
]
