"""Configuration key for load shedding: how many documents may wait in the pipeline before new
uploads are refused with 503 and Retry-After."""

from django.db import migrations

KEY = "ingest.max_queued_documents"


def seed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.get_or_create(
        key=KEY,
        defaults={
            "value_type": "int",
            "value": 5000,
            "validation_rules": {"min": 0, "max": 10000000},
            "category": "ingest",
            "description": (
                "Höchstzahl an Dokumenten, die auf Verarbeitung warten oder gerade verarbeitet werden. "
                "Darüber werden neue Uploads (Browser und API) mit 503 und Retry-After abgewiesen, bis "
                "die Warteschlange abgearbeitet ist; Postfach und Eingangsordner warten stattdessen (0 = aus)."
            ),
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("system", "SystemConfig").objects.filter(key=KEY).delete()


class Migration(migrations.Migration):
    dependencies = [("system", "0011_seed_ocr_postcorrect")]
    operations = [migrations.RunPython(seed, unseed)]
