"""Baked badge and embedded snippet lookups are logged as their own channels; learners' public profiles."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import xblocks.certification.credentials.models


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
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
                    ("embed", "embed"),
                ],
                max_length=8,
            ),
        ),
        migrations.CreateModel(
            name="PublicProfile",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "slug",
                    models.CharField(
                        default=xblocks.certification.credentials.models._profile_slug, max_length=32, unique=True
                    ),
                ),
                ("enabled", models.BooleanField(default=False)),
                ("changed", models.DateTimeField(auto_now=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="kafaat_public_profile",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
    ]
