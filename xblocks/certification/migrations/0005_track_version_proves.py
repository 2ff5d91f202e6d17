"""Track versions name the catalogue skills their certificate proves (read by the partnership app).

Numbered 0005 and depending on 0002 only: 0003 and 0004 are reserved for work in flight on other
branches; whoever merges second re-points the dependency (or adds a merge migration).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kafaat_certification", "0002_hours_and_signoffs_belong_to_a_cohort"),
    ]

    operations = [
        migrations.AddField(
            model_name="trackversion",
            name="proves",
            field=models.JSONField(
                blank=True, default=list, help_text="ids of catalogue skills a certificate of this version proves"
            ),
        ),
    ]
