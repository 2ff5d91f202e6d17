"""The one door to exports and deliveries: views, tasks, the command and the CLI call these functions.

Every path goes through ``scope.Scope`` (requester's schools and cohorts, employer consent). Exports
stream certificates from the certification api into a ``formats`` writer; deliveries collect one
receipt per record and endpoint (unique idempotency key), then send due receipts with backoff until
a 2xx answer, re-checking consent just before each send. One topic per module: ``presets``, ``files``
(export files), ``deliveries``.
"""

from xblocks.certification.exports.api.deliveries import (
    collect,
    create_endpoint,
    deliver_endpoint,
    endpoints_for_event,
    receipts,
    resend,
    scheduled_endpoint_ids,
    send_due,
)
from xblocks.certification.exports.api.files import (
    STALE_EXPORT,
    count_records,
    credential_of,
    export_dir,
    export_file,
    export_filename,
    get_export,
    list_exports,
    purge_exports,
    run_export,
    start_export,
    validate_export,
    write_export,
)
from xblocks.certification.exports.api.presets import (
    get_preset,
    list_presets,
    save_preset,
)
from xblocks.certification.exports.api.sheets import (
    write_sheets,
)

__all__ = [
    "STALE_EXPORT",
    "collect",
    "count_records",
    "create_endpoint",
    "credential_of",
    "deliver_endpoint",
    "endpoints_for_event",
    "export_dir",
    "export_file",
    "export_filename",
    "get_export",
    "get_preset",
    "list_exports",
    "list_presets",
    "purge_exports",
    "receipts",
    "resend",
    "run_export",
    "save_preset",
    "scheduled_endpoint_ids",
    "send_due",
    "start_export",
    "validate_export",
    "write_sheets",
    "write_export",
]
