"""Who may export what: the requester's schools and cohorts and the employer's consent, re-checked here.

The certification api already scopes ``iter_certificate_records`` to what the requester may see and,
given an employer, to learners who consented to it. Every export path (api, view, command, delivery)
goes through ``Scope`` as well, which refuses an unknown employer or a cohort the requester may not
see and drops any record outside the requester's schools: a fault in one layer leaks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.exceptions import PermissionDenied

from xblocks.certification import api
from xblocks.core.i18n import gettext as _

log = logging.getLogger(__name__)


def certification_api():
    """The certification app's door, through which every record is read."""
    return api


def employer_slugs() -> list[str]:
    return [employer.slug for employer in certification_api().list_employers()]


def resolve_employer(employer: str | None) -> str:
    """The employer an export is for: the one named, or the only one there is; never none."""
    slugs = employer_slugs()
    if employer:
        if employer not in slugs:
            raise PermissionDenied(_("Unknown employer."))
        return employer
    if len(slugs) == 1:
        return slugs[0]
    raise PermissionDenied(_("Choose the employer the export is for."))


class Scope:
    """The certificates one requester may send to one employer, optionally limited to cohorts."""

    def __init__(
        self,
        user: Any,
        employer: str | None,
        cohort_ids: Iterable[int] | None = None,
        *,
        modified_since: Any = None,
    ):
        api = certification_api()
        # a delta: only certificates issued or changed (status, expiry, renewal) at or after this time
        self.modified_since = modified_since
        if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
            raise PermissionDenied(_("Sign in to export records."))
        self.user = user
        self.employer = resolve_employer(employer)
        visible = api.visible_school_ids(user)
        # None is the certification app's "every school" (platform staff)
        self.school_ids: frozenset[int] | None = None if visible is None else frozenset(visible)
        if self.school_ids is not None and not self.school_ids:
            raise PermissionDenied(_("You do not coordinate any school."))
        self.cohort_ids = tuple(sorted({int(c) for c in cohort_ids or ()}))
        for cohort_id in self.cohort_ids:
            if not api.can_view_cohort(user, cohort_id):
                raise PermissionDenied(_("You may not export this cohort."))
        self._cohort_allowed: dict[int | None, bool] = {}

    def query(self, statuses: Iterable[str] | None = None) -> dict[str, Any]:
        return {
            "cohort_ids": list(self.cohort_ids) or None,
            "employer_slug": self.employer,
            "statuses": list(statuses) if statuses else None,
            "modified_since": self.modified_since,
        }

    def count(self, statuses: Iterable[str] | None = None) -> int:
        return certification_api().count_certificate_records(self.user, **self.query(statuses))

    def allows(self, cert: Any) -> bool:
        if self.school_ids is not None and cert.school.id not in self.school_ids:
            return False
        if self.cohort_ids and cert.cohort_id not in self.cohort_ids:
            return False
        allowed = self._cohort_allowed.get(cert.cohort_id)
        if allowed is None:
            allowed = cert.cohort_id is not None and bool(
                certification_api().can_view_cohort(self.user, cert.cohort_id)
            )
            self._cohort_allowed[cert.cohort_id] = allowed
        return allowed

    def certificates(self, statuses: Iterable[str] | None = None, chunk_size: int = 2000) -> Iterator[Any]:
        """The scoped certificates, streamed in chunks by the certification api."""
        records = certification_api().iter_certificate_records(self.user, chunk_size=chunk_size, **self.query(statuses))
        for cert in records:
            if self.allows(cert):
                yield cert
            else:
                log.error(
                    "certificate %s outside the scope of user %s (employer %s) came from the certification api",
                    cert.number,
                    self.user.pk,
                    self.employer,
                )

    def consenting_ids(self) -> set[int]:
        """Ids of the certificates in scope now (consent and roles as they stand at this moment)."""
        return {cert.id for cert in self.certificates()}
