"""A learner's consent to an employer extends to "may be contacted for offers"; a ``project`` requirement kind
signed off by a project's mentor (evidence of kind ``project``), both read by the partnership app."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kafaat_certification", "0005_track_version_proves"),
    ]

    operations = [
        migrations.AddField(
            model_name="consent",
            name="contact_for_offers",
            field=models.BooleanField(
                default=False, help_text="the learner also agrees that this employer contacts them about offers"
            ),
        ),
        migrations.AddField(
            model_name="consent",
            name="contact_changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="evidence",
            name="kind",
            field=models.CharField(
                choices=[
                    ("lab", "lab"),
                    ("block_score", "block score"),
                    ("course_grade", "course grade"),
                    ("completion", "completion"),
                    ("project", "project"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="requirement",
            name="kind",
            field=models.CharField(
                choices=[
                    ("all", "all"),
                    ("any", "any"),
                    ("lab_passed", "lab passed"),
                    ("block_score", "block score"),
                    ("course_grade", "course grade"),
                    ("completion", "completion"),
                    ("hours", "hours"),
                    ("attestation", "attestation"),
                    ("school_share", "school share"),
                    ("project", "project"),
                ],
                max_length=20,
            ),
        ),
    ]
