"""Hours and sign-offs belong to one cohort and count toward it only.

Before, an hours entry without a cohort counted for every cohort of its learner and a sign-off counted
for every cohort whatever its own; a coordinator could so reach another school's learner through the
admin. This migration keeps each learner's results where they were legitimately earned:

* an hours entry or sign-off without a cohort moves to the learner's cohorts that its author
  (``created_by`` for hours, ``attester`` for sign-offs) could manage: every cohort of the learner when
  the author is platform staff or unknown, only the cohorts of the author's schools when the author is
  a coordinator. The row itself takes the first such cohort; a copy (same values, the note saying where
  it came from) goes to each other one, so each cohort counts exactly what it counted before.
  Corrections follow their entry into the same cohort.
* a sign-off that has a cohort is copied to the learner's other cohorts of the same school (a school's
  sign-off kept counting for that school's cohorts; it no longer counts for another school's).
* a row whose author could manage none of the learner's cohorts (the cross-school write this closes)
  keeps no cohort: it stays in the ledger, visible to platform staff, and counts nowhere.

Reversing keeps the rows as they are (copies included): nothing is deleted from a ledger.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

COPY_NOTE = "copied from entry #{pk} when hours and sign-offs became per cohort"


def _author_schools(apps, user_id):
    """None: the author may manage every school (platform staff, superuser, unknown); else their schools."""
    if user_id is None:
        return None
    User = apps.get_model(*_user_model_label(apps))
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.is_superuser:
        return None
    schools = set(
        apps.get_model("kafaat_certification", "SchoolCoordinator")
        .objects.filter(user_id=user_id)
        .values_list("school_id", flat=True)
    )
    if schools or not user.is_staff:
        return schools
    return None


def _user_model_label(apps):
    return settings.AUTH_USER_MODEL.split(".")


def _learner_cohorts(apps, user_id, schools):
    Enrollment = apps.get_model("kafaat_certification", "Enrollment")
    queryset = Enrollment.objects.filter(user_id=user_id).order_by("enrolled_at", "pk")
    if schools is not None:
        queryset = queryset.filter(cohort__school_id__in=schools)
    return list(dict.fromkeys(queryset.values_list("cohort_id", flat=True)))


def _copy(row, **changes):
    values = {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields if not f.primary_key}
    values.update(changes)
    return type(row).objects.create(**values)


def forwards(apps, schema_editor):
    HoursEntry = apps.get_model("kafaat_certification", "HoursEntry")
    Attestation = apps.get_model("kafaat_certification", "Attestation")
    Cohort = apps.get_model("kafaat_certification", "Cohort")

    placed = {}  # (original entry id, cohort id) -> the entry (or copy) in that cohort
    for entry in HoursEntry.objects.filter(cohort__isnull=False).only("pk", "cohort_id"):
        placed[(entry.pk, entry.cohort_id)] = entry.pk
    # Originals before their corrections (a correction always has the larger id).
    for entry in HoursEntry.objects.filter(cohort__isnull=True).order_by("pk"):
        cohorts = _learner_cohorts(apps, entry.user_id, _author_schools(apps, entry.created_by_id))
        if not cohorts:
            continue
        first, *others = cohorts
        HoursEntry.objects.filter(pk=entry.pk).update(
            cohort_id=first, corrects_id=placed.get((entry.corrects_id, first), entry.corrects_id)
        )
        placed[(entry.pk, first)] = entry.pk
        for cohort_id in others:
            copy = _copy(
                entry,
                cohort_id=cohort_id,
                corrects_id=placed.get((entry.corrects_id, cohort_id), entry.corrects_id),
                note=(entry.note + "\n" if entry.note else "") + COPY_NOTE.format(pk=entry.pk),
                import_batch=f"migration-0002-{entry.pk}",
            )
            HoursEntry.objects.filter(pk=copy.pk).update(created_at=entry.created_at)
            placed[(entry.pk, cohort_id)] = copy.pk

    school_of = dict(Cohort.objects.values_list("pk", "school_id"))
    for sign_off in Attestation.objects.order_by("pk"):
        if sign_off.cohort_id is None:
            cohorts = _learner_cohorts(apps, sign_off.user_id, _author_schools(apps, sign_off.attester_id))
        else:
            same_school = {school_of[sign_off.cohort_id]}
            cohorts = [sign_off.cohort_id] + [
                c for c in _learner_cohorts(apps, sign_off.user_id, same_school) if c != sign_off.cohort_id
            ]
        if not cohorts:
            continue
        first, *others = cohorts
        if sign_off.cohort_id is None:
            Attestation.objects.filter(pk=sign_off.pk).update(cohort_id=first)
        for cohort_id in others:
            if not Attestation.objects.filter(
                user_id=sign_off.user_id, cohort_id=cohort_id, competency=sign_off.competency
            ).exists():
                _copy(
                    sign_off,
                    cohort_id=cohort_id,
                    note=(sign_off.note + "\n" if sign_off.note else "") + COPY_NOTE.format(pk=sign_off.pk),
                )


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("kafaat_certification", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="hoursentry",
            name="cohort",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="hours",
                to="kafaat_certification.cohort",
            ),
        ),
        migrations.AlterField(
            model_name="attestation",
            name="cohort",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="attestations",
                to="kafaat_certification.cohort",
            ),
        ),
    ]
