"""Defaults of every certification setting, overridable in ``settings.KAFAAT`` (the sub-apps keep their own)."""

from xblocks.core.conf import AppSettings

cert_settings = AppSettings(
    {
        # Certificate numbers: ``{year}`` and ``{code}`` (random, check-digited: see ``numbers``). A
        # ``{seq}`` (per-year sequence, under a row lock) still works but lets anyone guess the
        # neighbours of a number; existing certificates keep the numbers they were issued with.
        "CERTIFICATE_NUMBER_FORMAT": "KAF-{year}-{code}",
        # Days before expiry at which a reminder e-mail goes out (each one once per certificate).
        "CERT_REMINDER_DAYS": [60, 30, 7],
        "CERT_FROM_EMAIL": "certification@kafaat.example",
        # Public pages served by the credentials app; ``{number}`` is the certificate number.
        "CERT_VERIFY_URL": "/kafaat/credentials/verify/{number}/",
        "CERT_PDF_URL": "/kafaat/credentials/pdf/{number}/",
        # The learner's offers and invitations page, linked from the block beside the consents when the
        # partnership app is installed ("" hides the link).
        "CERT_INVITATIONS_URL": "/kafaat/partnership/invitations/",
        # Folder of track definitions loaded by ``kafaat cert tracks load`` without an argument.
        "CERT_TRACKS_DIR": "",
        # Hours CSV imports larger than this are refused before parsing.
        "CERT_MAX_IMPORT_BYTES": 5 * 1024 * 1024,
        # Tokens accepted by the hours JSON API besides the session (``Authorization: Bearer <token>``):
        # {token: username}; the user's own permissions apply.
        "CERT_API_TOKENS": {},
        # How far back (seconds) the periodic healing re-reads lab results to repair lost lab evidence;
        # ``kafaat cert heal-labs --all`` goes back to the beginning.
        "CERT_LAB_HEAL_WINDOW": 7 * 24 * 3600,
    }
)
