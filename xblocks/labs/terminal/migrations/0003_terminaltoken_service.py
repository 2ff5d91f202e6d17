from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("kafaat_terminal", "0002_chunk_history"),
    ]

    operations = [
        migrations.AddField(
            model_name="terminaltoken",
            name="service",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
    ]
