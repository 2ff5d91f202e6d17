"""Certificate branding (logo, signatures) per school and per track.

Depends on 0006 (contact consent and the project requirement kind).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kafaat_certification", "0006_consent_contact_and_project_kind"),
    ]

    operations = [
        migrations.AddField(
            model_name="school",
            name="branding",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='Certificate logo and signatures: {"logo": "data:image/png;base64,...", '
                '"signatures": [{"name": "...", "role": "...", "image": "data:..."}]} (PNG, JPEG or SVG)',
            ),
        ),
        migrations.AddField(
            model_name="track",
            name="branding",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
