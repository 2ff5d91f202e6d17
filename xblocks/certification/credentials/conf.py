"""Defaults of every credentials setting, overridable through ``settings.KAFAAT`` (see ``xblocks.core.conf``).

Where credentials point (``PUBLIC_BASE_URL``, else ``LMS_ROOT_URL``) is the site's: see ``xblocks.core.site``.
"""

from xblocks.core.conf import AppSettings

credentials_settings = AppSettings(
    {
        # Issuer name for certificates that have no school (no cohort).
        "ISSUER_NAME": "Kafaat",
        # Signing keys per issuer (school slug) plus "default". Each value is one key source or a list of
        # them, the active key first and retired keys after it (still accepted when verifying):
        #   {"seed_hex": "<64 hex>"} | {"secret_key_multibase": "z..."} | {"file": "/path/keys.json"}
        # A key file holds {"keys": [{"secretKeyMultibase": "z...", "created": "..."}]}, newest last.
        "CREDENTIAL_KEYS": {},
        # Where ``kafaat cert rotate-key`` and the first signature create key files when no key is configured.
        "CREDENTIAL_KEY_DIR": "",
        # Secret of the keyed hashes (pseudonymous subject ids, hashed visitor IPs); "" = Django SECRET_KEY.
        # (The e-mail hash of each credential has its own random salt, kept in ``SignedCredential``.)
        "EMAIL_HASH_SALT": "",
        # Print each credential's random e-mail salt in it (OB 3.0 ``IdentityObject.salt``), as verifiers
        # expect: without it they must assume an unsalted hash. Off: the issuer keeps the salt and only
        # verifiers it hands the salt to can match an address (docs/decisions/0019).
        "IDENTITY_SALT_IN_CREDENTIAL": True,
        # Bits per status list; the spec asks for at least 131,072 so one learner cannot be singled out.
        "STATUS_LIST_SIZE": 131072,
        # Seconds a verifier may cache a status list credential (``ttl`` in the list, in milliseconds there).
        "STATUS_LIST_TTL": 300,
        # Public lookups (verification page, JSON API, PDF, credential.json, credential.jwt, bulk requests):
        # requests per window per visitor (IP hash), and the window in seconds. Answer 429 beyond.
        "VERIFY_RATE_LIMIT": 60,
        "VERIFY_RATE_WINDOW": 60,
        # Bulk verification: rows per window per employer token (or staff account), window in seconds.
        "BULK_RATE_LIMIT": 20000,
        "BULK_RATE_WINDOW": 3600,
        # The learner's verification log records verifications, not reloads: one entry per verifier (employer
        # token, else signed-in account, else hashed IP) per certificate and outcome in this many seconds.
        "VERIFICATION_LOG_WINDOW": 3600,
        # Bulk verification: most rows accepted in one CSV.
        "BULK_MAX_ROWS": 5000,
        # Timeout (seconds) when ``kafaat cert verify`` fetches a remote status list.
        "STATUS_FETCH_TIMEOUT": 5,
        # Include the VC-JWT form beside the embedded proof.
        "ISSUE_JWT": True,
        # Who may frame the embeddable verification snippet (CSP frame-ancestors): "*" = any site.
        "EMBED_FRAME_ANCESTORS": "*",
    }
)
