# The warm pool: sandboxes made ahead for a lab definition on a lab host, claimed by one session each.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("kafaat_labs", "0005_worker_leases"),
    ]

    operations = [
        migrations.CreateModel(
            name="PoolSandbox",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("host", models.CharField(blank=True, db_index=True, max_length=255)),
                ("definition_hash", models.CharField(db_index=True, max_length=64)),
                (
                    "state",
                    models.CharField(
                        choices=[("creating", "Creating"), ("ready", "Ready"), ("claimed", "Claimed")],
                        db_index=True,
                        default="creating",
                        max_length=16,
                    ),
                ),
                ("handle", models.JSONField(blank=True, null=True)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("ready_at", models.DateTimeField(blank=True, null=True)),
                ("expires_at", models.DateTimeField(help_text="Destroyed unclaimed after this time.")),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "session",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="pool_sandbox",
                        to="kafaat_labs.labsession",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["host", "definition_hash", "state"], name="kafaat_lab_pool_pick")
                ],
            },
        ),
    ]
