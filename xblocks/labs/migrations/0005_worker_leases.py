# A lease per held start and check run, so the reaper takes over work whose worker process died.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("kafaat_labs", "0004_outbox_and_result_times"),
    ]

    operations = [
        migrations.AddField(
            model_name="labsession",
            name="held_until",
            field=models.DateTimeField(
                blank=True,
                help_text="While provisioning: the lease of the worker process making it (renewed).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="checkrun",
            name="held_until",
            field=models.DateTimeField(
                blank=True, help_text="While running: the lease of the worker process running it (renewed).", null=True
            ),
        ),
    ]
