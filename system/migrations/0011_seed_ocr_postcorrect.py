"""Configuration key of the OCR post-correction (ocr.postcorrect), off: measured neutral (README)."""

from django.db import migrations

KEY = "ocr.postcorrect"


def seed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.get_or_create(
        key=KEY,
        defaults={
            "value_type": "bool",
            "value": False,
            "validation_rules": {},
            "category": "ocr",
            "description": (
                "Unsichere Wörter im Fließtext (nie Zahlen, Beträge, Daten, Kennungen) mit dem deutschen "
                "Wörterbuch (wngerman) nachkorrigieren. Aus, solange bench postcorrect keinen Gewinn misst."
            ),
        },
    )


def unseed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.filter(key=KEY).delete()


class Migration(migrations.Migration):
    dependencies = [("system", "0010_encrypt_secret_config_values")]
    operations = [migrations.RunPython(seed, unseed)]
