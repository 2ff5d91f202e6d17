"""Defaults of every exports setting, overridable through ``settings.KAFAAT`` (read late)."""

from xblocks.core.conf import AppSettings

exports_settings = AppSettings(
    {
        # Where finished export files are kept for download (under the demo's var/ by default).
        "EXPORT_DIR": "",
        # Rows between two progress updates written to the Export row (and the CLI's display).
        "EXPORT_PROGRESS_EVERY": 500,
        # Rows fetched per database round trip by the certification api.
        "EXPORT_CHUNK_SIZE": 2000,
        # Export files older than this are deleted by the beat task.
        "EXPORT_RETENTION_DAYS": 7,
        # Column values that do not come from the certificate.
        "EXPORT_SOURCE_SYSTEM": "Kafaat",
        "EXPORT_ISSUER_ORG": "Kafaat",
        "EXPORT_TIMEZONE": "UTC",
        # The "CSV for Excel" delimiter: the list separator of the Windows region the files are opened
        # in (";" in France, Morocco and most of Europe, where the decimal mark is a comma; "," in
        # English-speaking regions, where it is a point). Decimals follow: "," with ";", "." with ",".
        "EXPORT_EXCEL_CSV_DELIMITER": ";",
        # xAPI: Kafaat-owned verb IRIs for events without an ADL verb, and the actor name salt.
        "XAPI_VERB_BASE": "https://w3id.org/kafaat/xapi/verbs/",
        "XAPI_ACTOR_SALT": "",
        # Deliveries: endpoints must be https; plain http only to loopback and only when allowed.
        "DELIVERY_ALLOW_HTTP_LOOPBACK": False,
        "DELIVERY_TIMEOUT": 10,
        "DELIVERY_BACKOFF_BASE": 60,  # seconds before the first retry; doubles each attempt
        "DELIVERY_BACKOFF_CAP": 900,  # never wait longer than this between two attempts
        "DELIVERY_GIVE_UP_AFTER": 3 * 24 * 3600,  # a record failing this long is marked failed
        "DELIVERY_BATCH": 200,  # records sent per task run and endpoint
        "DELIVERY_FILE_DROP_ROOT": "",  # file-drop endpoints may only write below this folder
    }
)
