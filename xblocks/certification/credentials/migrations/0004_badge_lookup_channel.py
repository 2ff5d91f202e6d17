"""Downloads of a baked badge (SVG or PNG carrying the credential) are logged as their own channel."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kafaat_credentials", "0003_one_status_entry_per_credential"),
    ]

    operations = [
        migrations.AlterField(
            model_name="verification",
            name="channel",
            field=models.CharField(
                choices=[
                    ("page", "page"),
                    ("api", "api"),
                    ("bulk", "bulk"),
                    ("pdf", "pdf"),
                    ("json", "json"),
                    ("jwt", "jwt"),
                    ("badge", "badge"),
                ],
                max_length=8,
            ),
        ),
    ]
