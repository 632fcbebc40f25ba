"""Secret configuration values (API keys, passwords) move into an encrypted column.

Add the column, then move each secret row's JSON value into it and empty ``value``.
"""

import json

from django.db import migrations

import system.crypto


def forwards(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    for config in SystemConfig.objects.filter(is_secret=True):
        config.value_encrypted = json.dumps(config.value)
        config.value = None
        config.save(update_fields=["value", "value_encrypted"])


def backwards(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    for config in SystemConfig.objects.filter(is_secret=True).exclude(value_encrypted=""):
        config.value = json.loads(config.value_encrypted)
        config.save(update_fields=["value"])


class Migration(migrations.Migration):
    dependencies = [("system", "0009_seed_ingest_options")]

    operations = [
        migrations.AddField(
            model_name="systemconfig",
            name="value_encrypted",
            field=system.crypto.EncryptedTextField(blank=True, editable=False, verbose_name="Wert (verschlüsselt)"),
        ),
        migrations.RunPython(forwards, backwards),
    ]
