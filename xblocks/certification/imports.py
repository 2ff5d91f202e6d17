"""Hours ledger imports from CSV: validate every row, report each rejection, and never half-import.

Columns (header row required, any order): ``username`` or ``email``, ``cohort`` (slug, or
``school-slug/slug`` when two of the importer's schools share the slug), ``source``
(school, company, elearning), ``minutes``, ``date`` (YYYY-MM-DD); optional ``category``, ``note``,
``work_process``. In dry-run nothing is written; in commit mode any bad row rejects the whole file
unless ``skip_invalid`` is set, and everything happens in one transaction.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import uuid

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from xblocks.certification import models, permissions, tasks
from xblocks.certification.conf import cert_settings
from xblocks.certification.data import ImportProblem, ImportReport
from xblocks.core.cells import looks_like_formula
from xblocks.core.i18n import gettext as _

REQUIRED = ("cohort", "source", "minutes", "date")
OPTIONAL = ("username", "email", "category", "note", "work_process")
MAX_MINUTES_PER_ROW = 24 * 60
_CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,63}$")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(_("The file is not UTF-8 text (byte %(position)d).") % {"position": error.start}) from None


def _cohorts_by_name(actor) -> tuple[dict[str, models.Cohort], set[str]]:
    """Cohorts the actor may record hours in, by ``slug`` and by ``school-slug/slug``.

    Cohort slugs are unique within a school only: a slug that two of the actor's schools use is
    ambiguous and must be written with its school, or a platform-wide import could land in the
    wrong school's cohort.
    """
    cohorts = list(permissions.cohort_queryset(actor, change=True).select_related("school"))
    by_name: dict[str, models.Cohort] = {}
    seen: dict[str, int] = {}
    for cohort in cohorts:
        by_name[f"{cohort.school.slug}/{cohort.slug}"] = cohort
        seen[cohort.slug] = seen.get(cohort.slug, 0) + 1
    ambiguous = {slug for slug, count in seen.items() if count > 1}
    for cohort in cohorts:
        if cohort.slug not in ambiguous:
            by_name[cohort.slug] = cohort
    return by_name, ambiguous


def import_hours_csv(actor, raw: bytes | str, *, dry_run: bool = True, skip_invalid: bool = False) -> ImportReport:
    """Validate (and unless ``dry_run``, record) the hours in a CSV file for cohorts ``actor`` manages."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > cert_settings.CERT_MAX_IMPORT_BYTES:
        return ImportReport(0, 0, dry_run, (ImportProblem(0, "", _("The file is too large.")),))
    try:
        text = _decode(raw)
    except ValueError as error:
        return ImportReport(0, 0, dry_run, (ImportProblem(0, "", str(error)),))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [name for name in REQUIRED if name not in header]
    if "username" not in header and "email" not in header:
        missing.insert(0, "username")
    if missing:
        problems = tuple(ImportProblem(1, name, _("Missing column.")) for name in missing)
        return ImportReport(0, 0, dry_run, problems)

    rows = list(enumerate(reader, start=2))
    visible, ambiguous = _cohorts_by_name(actor)
    enrolled = set(
        models.Enrollment.objects.filter(cohort__in=set(visible.values())).values_list("user_id", "cohort_id")
    )
    names = {(row.get("username") or "").strip() for _n, row in rows} - {""}
    emails = {(row.get("email") or "").strip().lower() for _n, row in rows} - {""}
    users = get_user_model().objects.filter(Q(username__in=names) | Q(email__in=emails))
    by_name = {u.username: u for u in users}
    by_email = {u.email.lower(): u for u in users}
    existing = set(
        models.HoursEntry.objects.filter(cohort__in=set(visible.values()), corrects__isnull=True).values_list(
            "user_id", "cohort_id", "source", "category", "minutes", "date"
        )
    )

    problems: list[ImportProblem] = []
    valid: list[models.HoursEntry] = []
    seen: dict[tuple, int] = {}
    today = timezone.localdate()
    for number, row in rows:
        row_problems = _check_row(number, row, visible, ambiguous, by_name, by_email, enrolled, today)
        if not row_problems:
            entry = _entry(row, visible, by_name, by_email, actor)
            key = (entry.user_id, entry.cohort_id, entry.source, entry.category, entry.minutes, entry.date)
            if key in seen:
                row_problems = [ImportProblem(number, "", _("Duplicate of row %(row)d.") % {"row": seen[key]})]
            elif key in existing:
                row_problems = [ImportProblem(number, "", _("This entry was already recorded."))]
            else:
                seen[key] = number
                valid.append(entry)
        problems.extend(row_problems)

    write = not dry_run and (not problems or skip_invalid)
    created: tuple[int, ...] = ()
    if write and valid:
        batch = uuid.uuid4().hex
        with transaction.atomic():
            for entry in valid:
                entry.import_batch = batch
                entry.save()
            created = tuple(entry.pk for entry in valid)
            for user_id in {entry.user_id for entry in valid}:
                tasks.enqueue(tasks.evaluate_learner, user_id)
    return ImportReport(len(rows), len(created), dry_run, tuple(problems), created)


def _user(row, by_name, by_email):
    name = (row.get("username") or "").strip()
    if name:
        return by_name.get(name)
    return by_email.get((row.get("email") or "").strip().lower())


def _check_row(number, row, visible, ambiguous, by_name, by_email, enrolled, today) -> list[ImportProblem]:
    problems = []
    if None in row:  # more cells than header columns
        problems.append(ImportProblem(number, "", _("The row has more cells than the header.")))
    for column in ("username", "email", "cohort", "category", "source", "work_process", "note"):
        value = row.get(column) or ""
        if column != "note" and looks_like_formula(value):
            problems.append(ImportProblem(number, column, _("The value looks like a spreadsheet formula.")))
    user = _user(row, by_name, by_email)
    column = "username" if (row.get("username") or "").strip() else "email"
    if user is None:
        problems.append(ImportProblem(number, column, _("Unknown learner.")))
    cohort_name = (row.get("cohort") or "").strip()
    cohort = visible.get(cohort_name)
    if cohort_name in ambiguous:
        problems.append(
            ImportProblem(
                number, "cohort", _("Several of your schools have a cohort with this name: write school/cohort.")
            )
        )
    elif cohort is None:
        problems.append(ImportProblem(number, "cohort", _("Unknown cohort.")))
    elif user is not None and (user.pk, cohort.pk) not in enrolled:
        problems.append(ImportProblem(number, column, _("This learner is not enrolled in this cohort.")))
    if (row.get("source") or "").strip().lower() not in set(models.HoursSource):
        problems.append(ImportProblem(number, "source", _("Source must be school, company or elearning.")))
    raw_minutes = (row.get("minutes") or "").strip()
    try:
        minutes = int(raw_minutes)
    except ValueError:
        problems.append(ImportProblem(number, "minutes", _("Minutes must be a whole number.")))
    else:
        if minutes <= 0:
            problems.append(
                ImportProblem(number, "minutes", _("Minutes must be positive; corrections go through the ledger."))
            )
        elif minutes > MAX_MINUTES_PER_ROW:
            problems.append(ImportProblem(number, "minutes", _("More than 24 hours in one row.")))
    try:
        day = datetime.date.fromisoformat((row.get("date") or "").strip())
    except ValueError:
        problems.append(ImportProblem(number, "date", _("Date must be YYYY-MM-DD.")))
    else:
        if day > today:
            problems.append(ImportProblem(number, "date", _("The date is in the future.")))
    category = (row.get("category") or "").strip()
    if category and not _CATEGORY.match(category):
        problems.append(
            ImportProblem(
                number, "category", _("Category may hold letters, digits, spaces, dots, dashes and underscores.")
            )
        )
    return problems


def _entry(row, visible, by_name, by_email, actor) -> models.HoursEntry:
    return models.HoursEntry(
        user=_user(row, by_name, by_email),
        cohort=visible[(row.get("cohort") or "").strip()],
        source=(row.get("source") or "").strip().lower(),
        category=(row.get("category") or "").strip(),
        minutes=int((row.get("minutes") or "").strip()),
        date=datetime.date.fromisoformat((row.get("date") or "").strip()),
        note=(row.get("note") or "").strip(),
        work_process=(row.get("work_process") or "").strip(),
        created_by=actor,
    )
