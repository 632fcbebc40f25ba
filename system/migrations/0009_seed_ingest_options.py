"""Configuration keys of the ways in: duplicates, ZIP archives, upload rate limit."""

from django.db import migrations

INGEST_OPTIONS = [
    ("ingest.duplicates", "string", "link", {"choices": ["reject", "link"]},
     "Dieselbe Datei ein zweites Mal vom selben Benutzer: reject (ablehnen) oder link (annehmen und als "
     "Duplikat mit dem ersten Dokument verknüpfen)."),
    ("ingest.zip_enabled", "bool", False, {},
     "ZIP-Archive annehmen und jede enthaltene Datei als eigenes Dokument verarbeiten."),
    ("ingest.zip_max_entries", "int", 50, {"min": 1, "max": 1000}, "Höchstzahl an Dateien in einem ZIP-Archiv."),
    ("ingest.zip_max_total_mb", "int", 200, {"min": 1, "max": 10000},
     "Höchste entpackte Gesamtgröße eines ZIP-Archivs in MB."),
    ("ingest.zip_max_ratio", "int", 100, {"min": 2, "max": 10000},
     "Höchstes Verhältnis entpackte zu gepackte Größe je Eintrag (Schutz vor ZIP-Bomben)."),
    ("ingest.uploads_per_minute", "int", 120, {"min": 0, "max": 100000},
     "Höchstzahl an Dateien je Benutzer und Minute über Browser und API (0 = unbegrenzt)."),
]  # fmt: skip


def seed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    for key, value_type, value, rules, description in INGEST_OPTIONS:
        SystemConfig.objects.get_or_create(
            key=key,
            defaults={"value_type": value_type, "value": value, "validation_rules": rules, "category": "ingest",
                      "description": description},
        )  # fmt: skip


def unseed(apps, schema_editor):
    SystemConfig = apps.get_model("system", "SystemConfig")
    SystemConfig.objects.filter(key__in=[entry[0] for entry in INGEST_OPTIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [("system", "0008_seed_retention")]
    operations = [migrations.RunPython(seed, unseed)]
