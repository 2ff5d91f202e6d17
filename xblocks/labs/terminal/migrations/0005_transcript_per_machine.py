from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kafaat_terminal", "0004_terminaltoken_service"),
    ]

    operations = [
        migrations.AddField(
            model_name="transcript",
            name="machine",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.AlterField(
            model_name="transcript",
            name="session_id",
            field=models.BigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="transcript",
            constraint=models.UniqueConstraint(fields=("session_id", "machine"), name="kafaat_transcript_machine"),
        ),
    ]
